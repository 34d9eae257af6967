package cluster

import (
	"fmt"
	"net"
	"strconv"
	"strings"
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
func ParseNodes(text string) ([]NodeLine, error) {
	lines := strings.Split(text, "\n")
	// NodeLine carries a 2 kB slot bitmap: grow the slice once.
	out := make([]NodeLine, 0, len(lines))
	for _, line := range lines {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		n, err := ParseNodeLine(line)
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
func ParseNodeLine(line string) (NodeLine, error) {
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
	for _, s := range f[8:] {
		if strings.HasPrefix(s, "[") {
			if err := n.parseOpenSlot(s); err != nil {
				return bad("migrating/importing slot", err)
			}
			continue
		}
		r, err := ParseSlotRange(s)
		if err != nil {
			return bad("slot range", err)
		}
		n.Slots.AddRange(r)
	}
	return n, nil
}

// fields splits s as strings.Fields does, appending to out: with out on
// the caller's stack, an ASCII line allocates nothing (a refresh of 200
// nodes parses 40,000 lines).
func fields(s string, out []string) []string {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return strings.Fields(s) // Unicode spaces count too
		}
	}
	start := -1
	for i := 0; i < len(s); i++ {
		if space := s[i] == ' ' || (s[i] >= '\t' && s[i] <= '\r'); !space && start < 0 {
			start = i
		} else if space && start >= 0 {
			out = append(out, s[start:i])
			start = -1
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
