package cluster

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// NodeLine is one line of CLUSTER NODES: one node as seen by the node that
// answered. The same node can look different from different members (flags,
// link state, even role and slots while gossip is spreading).
type NodeLine struct {
	ID          string
	IP          string // may be empty: a node that has not learned its own IP, or noaddr
	Port        int
	BusPort     int
	Hostname    string            // announced hostname (Redis 7+), may be empty
	Aux         map[string]string // auxiliary fields (Redis 7.2+: shard-id=..., tls-port=...)
	Flags       []string
	MasterID    string // "" when the node is a master ("-" on the wire)
	PingSent    int64
	PongRecv    int64
	ConfigEpoch int64
	LinkState   string
	Slots       SlotSet
	Migrating   map[int]string // slot -> target node ID ([slot->-id])
	Importing   map[int]string // slot -> source node ID ([slot-<-id])
}

// Addr is the announced ip:port, "" when the node has no known address.
func (n *NodeLine) Addr() string {
	if n.IP == "" {
		return ""
	}
	return net.JoinHostPort(n.IP, strconv.Itoa(n.Port))
}

// HasFlag tells whether the node carries flag f (for example "fail?" or "handshake").
func (n *NodeLine) HasFlag(f string) bool {
	for _, x := range n.Flags {
		if x == f {
			return true
		}
	}
	return false
}

// Myself tells whether this line describes the node that answered.
func (n *NodeLine) Myself() bool { return n.HasFlag("myself") }

// IsMaster tells whether the node is flagged master.
func (n *NodeLine) IsMaster() bool { return n.HasFlag("master") }

// IsReplica tells whether the node is flagged slave.
func (n *NodeLine) IsReplica() bool { return n.HasFlag("slave") }

// Failing tells whether the node is suspected (fail?) or agreed (fail) to be down.
func (n *NodeLine) Failing() bool { return n.HasFlag("fail") || n.HasFlag("fail?") }

// Handshake tells whether the node is still in the MEET handshake.
func (n *NodeLine) Handshake() bool { return n.HasFlag("handshake") }

// Role is "master" or "replica" from the flags, "" when neither is set (handshake).
func (n *NodeLine) Role() string {
	switch {
	case n.IsMaster():
		return RoleMaster
	case n.IsReplica():
		return RoleReplica
	}
	return ""
}

// Roles of a cluster node.
const (
	RoleMaster  = "master"
	RoleReplica = "replica"
)

// ParseNodes parses the whole reply of CLUSTER NODES. Blank lines are skipped;
// a malformed line is an error that quotes it.
func ParseNodes(text string) ([]NodeLine, error) { return parseNodes(text, nil) }

// parseNodes is ParseNodes sharing slot sets through cache (nil: none).
func parseNodes(text string, cache *parseCache) ([]NodeLine, error) {
	out := make([]NodeLine, 0, strings.Count(text, "\n")+1)
	for line := range strings.SplitSeq(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n, err := parseNodeLine(line, cache)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}

// ParseNodeLine parses one CLUSTER NODES line:
//
//	<id> <ip:port@cport[,hostname[,aux=val]*]> <flags> <master> <ping-sent> <pong-recv> <config-epoch> <link-state> <slot>...
func ParseNodeLine(line string) (NodeLine, error) { return parseNodeLine(line, nil) }

// parseCache shares what the views of one refresh have in common: every
// member of a 200-node cluster lists the same 200 nodes, and a refresh
// parses 200 views (40,000 lines).
//
//   - lines: a plain line (see plainLine) parses to the same NodeLine as
//     any line that differs from it only in ping-sent and pong-recv (the
//     fields that change every gossip round), so those two are parsed and
//     the rest copied. Copies share Flags, Aux and Slots, which nothing
//     changes once parsed.
//   - sets: lines that list the same slots share one set, so that 20,000
//     lines hold 100 sets. Sets never change once made (see SlotSet).
//
// Safe for concurrent use.
type parseCache struct {
	lines syncMap[lineKey, NodeLine]
	sets  syncMap[string, SlotSet] // the slot fields of a line, as sent -> their set
}

// lineKey is a plain line without its ping-sent and pong-recv fields:
// what precedes them and what follows them, as sent.
type lineKey struct{ head, tail string }

func newParseCache() *parseCache {
	return &parseCache{lines: syncMap[lineKey, NodeLine]{m: map[lineKey]NodeLine{}}, sets: syncMap[string, SlotSet]{m: map[string]SlotSet{}}}
}

// syncMap is a map guarded for concurrent use.
type syncMap[K comparable, V any] struct {
	mu sync.RWMutex
	m  map[K]V
}

func (s *syncMap[K, V]) get(k K) (V, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[k]
	return v, ok
}

func (s *syncMap[K, V]) put(k K, v V) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
}

// pingFields splits a plain line (see plainLine) around its ping-sent and
// pong-recv fields (the 5th and 6th); ok is false when it has fewer than
// six fields.
func pingFields(line string) (k lineKey, ping, pong string, ok bool) {
	var start, end [6]int
	i := 0
	for f := range 6 {
		for i < len(line) && line[i] == ' ' {
			i++
		}
		if i == len(line) {
			return lineKey{}, "", "", false
		}
		start[f] = i
		for i < len(line) && line[i] != ' ' {
			i++
		}
		end[f] = i
	}
	return lineKey{line[:start[4]], line[end[5]:]}, line[start[4]:end[4]], line[start[5]:end[5]], true
}

// plainLine tells whether line is printable ASCII split by single or
// repeated spaces, with no open slot ("[..]"): then slotFields finds the
// fields fields does.
func plainLine(line string) bool {
	for i := 0; i < len(line); i++ {
		if c := line[i]; c < ' ' || c > '~' || c == '[' {
			return false
		}
	}
	return true
}

// slotFields returns what follows the first 8 fields of a plain line (see
// plainLine): its slot fields, as sent.
func slotFields(line string) string {
	rest := line
	for range 8 {
		rest = strings.TrimLeft(rest, " ")
		i := strings.IndexByte(rest, ' ')
		if i < 0 {
			return ""
		}
		rest = rest[i:]
	}
	return strings.TrimSpace(rest)
}

func parseNodeLine(line string, cache *parseCache) (NodeLine, error) {
	if cache == nil || !plainLine(line) {
		return parseLine(line, nil)
	}
	k, ping, pong, ok := pingFields(line)
	if !ok {
		return parseLine(line, cache)
	}
	if n, hit := cache.lines.get(k); hit {
		var err1, err2 error
		n.PingSent, err1 = strconv.ParseInt(ping, 10, 64)
		n.PongRecv, err2 = strconv.ParseInt(pong, 10, 64)
		if err1 == nil && err2 == nil {
			return n, nil
		}
		return parseLine(line, nil) // says which field is bad
	}
	n, err := parseLine(line, cache)
	if err == nil {
		cache.lines.put(k, n)
	}
	return n, err
}

// parseLine parses one line, sharing its slot set through cache (nil:
// none; only for a plain line, whose slot fields slotFields finds).
func parseLine(line string, cache *parseCache) (NodeLine, error) {
	var buf [24]string
	f := fields(line, buf[:0])
	if len(f) < 8 {
		return NodeLine{}, fmt.Errorf("CLUSTER NODES line has %d fields, want at least 8: %q", len(f), line)
	}
	bad := func(what string, err error) (NodeLine, error) {
		if err != nil {
			return NodeLine{}, fmt.Errorf("CLUSTER NODES line: bad %s: %v: %q", what, err, line)
		}
		return NodeLine{}, fmt.Errorf("CLUSTER NODES line: bad %s: %q", what, line)
	}
	n := NodeLine{ID: f[0], LinkState: f[7]}
	if !validNodeID(n.ID) {
		return bad("node ID", nil)
	}
	if err := n.parseAddr(f[1]); err != nil {
		return bad("address", err)
	}
	if f[2] != "noflags" {
		n.Flags = strings.Split(f[2], ",")
	}
	if f[3] != "-" {
		if !validNodeID(f[3]) {
			return bad("master ID", nil)
		}
		n.MasterID = f[3]
	}
	var err error
	if n.PingSent, err = strconv.ParseInt(f[4], 10, 64); err != nil {
		return bad("ping-sent", err)
	}
	if n.PongRecv, err = strconv.ParseInt(f[5], 10, 64); err != nil {
		return bad("pong-recv", err)
	}
	if n.ConfigEpoch, err = strconv.ParseInt(f[6], 10, 64); err != nil {
		return bad("config-epoch", err)
	}
	if len(f) == 8 {
		return n, nil
	}
	// The slot fields as sent, to share their set with lines that list the
	// same (open slots aside: they are parsed into the line itself).
	key := ""
	if cache != nil {
		key = slotFields(line)
		if set, ok := cache.sets.get(key); ok {
			n.Slots = set
			return n, nil
		}
	}
	if what, err := n.parseSlotFields(f[8:]); err != nil {
		return bad(what, err)
	}
	if key != "" {
		cache.sets.put(key, n.Slots)
	}
	return n, nil
}

// parseSlotFields reads a line's slot fields into n: ranges into Slots,
// open slots into Migrating and Importing. On error, what names the field.
func (n *NodeLine) parseSlotFields(fs []string) (what string, err error) {
	var slots SlotBuilder // on the stack: Set copies it once
	hasSlots := false
	for _, s := range fs {
		if strings.HasPrefix(s, "[") {
			if err := n.parseOpenSlot(s); err != nil {
				return "migrating/importing slot", err
			}
			continue
		}
		r, err := ParseSlotRange(s)
		if err != nil {
			return "slot range", err
		}
		slots.AddRange(r)
		hasSlots = true
	}
	if hasSlots {
		n.Slots = slots.Set()
	}
	return "", nil
}

// fields splits s as strings.Fields does, appending to out: with out on
// the caller's stack, an ASCII line allocates nothing (a refresh of 200
// nodes parses 40,000 lines).
func fields(s string, out []string) []string {
	start := -1
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf:
			return strings.Fields(s) // Unicode spaces count too
		case c == ' ' || (c >= '\t' && c <= '\r'):
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
		case start < 0:
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

func (n *NodeLine) parseAddr(s string) error {
	parts := strings.Split(s, ",")
	hostPort, bus, hasBus := strings.Cut(parts[0], "@")
	i := strings.LastIndexByte(hostPort, ':')
	if i < 0 {
		return fmt.Errorf("no port in %q", parts[0])
	}
	n.IP = strings.Trim(hostPort[:i], "[]")
	var ok bool
	if n.Port, ok = parsePort(hostPort[i+1:]); !ok {
		return fmt.Errorf("bad port in %q", parts[0])
	}
	if hasBus {
		if n.BusPort, ok = parsePort(bus); !ok {
			return fmt.Errorf("bad bus port in %q", parts[0])
		}
	}
	for i, p := range parts[1:] {
		if k, v, ok := strings.Cut(p, "="); ok {
			if n.Aux == nil {
				n.Aux = map[string]string{}
			}
			n.Aux[k] = v
		} else if i == 0 {
			n.Hostname = p
		}
	}
	return nil
}

// parsePort accepts 1 to 5 ASCII digits with a value up to 65535.
func parsePort(s string) (int, bool) {
	if s == "" || len(s) > 5 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, false
	}
	p, err := strconv.Atoi(s)
	return p, err == nil && p <= 65535
}

// parseOpenSlot parses "[slot->-target]" or "[slot-<-source]".
func (n *NodeLine) parseOpenSlot(s string) error {
	if !strings.HasSuffix(s, "]") {
		return fmt.Errorf("unterminated %q", s)
	}
	body := s[1 : len(s)-1]
	if a, id, ok := strings.Cut(body, "->-"); ok {
		slot, err := parseSlot(a)
		if err != nil || !validNodeID(id) {
			return fmt.Errorf("bad migrating entry %q", s)
		}
		if n.Migrating == nil {
			n.Migrating = map[int]string{}
		}
		n.Migrating[slot] = id
		return nil
	}
	if a, id, ok := strings.Cut(body, "-<-"); ok {
		slot, err := parseSlot(a)
		if err != nil || !validNodeID(id) {
			return fmt.Errorf("bad importing entry %q", s)
		}
		if n.Importing == nil {
			n.Importing = map[int]string{}
		}
		n.Importing[slot] = id
		return nil
	}
	return fmt.Errorf("unknown entry %q", s)
}

// validNodeID accepts the 40 lowercase hex characters Redis uses for node IDs.
func validNodeID(id string) bool {
	if len(id) != 40 {
		return false
	}
	for _, c := range id {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParseInfo parses an INFO-style "key:value" reply (CLUSTER INFO, INFO keyspace).
func ParseInfo(text string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			out[k] = v
		}
	}
	return out
}
