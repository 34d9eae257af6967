package cluster

import (
	"context"
	"fmt"
	"iter"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// NodeState is one node as read through its own address.
type NodeState struct {
	Addr string // the address as declared (before address_map)
	// Err is set when the node could not be read; the other fields are then empty.
	Err error

	ID      string            // CLUSTER MYID
	Info    map[string]string // CLUSTER INFO
	Version string            // redis_version (Valkey reports its Redis-compatible one)
	Keys    int64             // DBSIZE
	// Engine is "valkey" (INFO server's server_name) or "redis", and
	// EngineVersion that engine's own version (valkey_version or
	// redis_version).
	Engine, EngineVersion string
	// View is the node's CLUSTER NODES; nil when the observation skipped it.
	View []NodeLine
	// IP is the address the node is dialed at, resolved, for CLUSTER MEET.
	IP string
	// ConfigFile is INFO server's config_file: "" when the node was not
	// started from a config file (CONFIG REWRITE cannot persist settings).
	ConfigFile string
	// Config holds CONFIG GET of the settings the observation asked for
	// (ObserveOptions): a setting the node does not know is absent. Nil
	// when none was asked for, or when ConfigErr is set.
	Config map[string]string
	// ConfigErr is why CONFIG GET failed (an ACL user without +config|get,
	// say); the rest of the observation is still valid.
	ConfigErr error
	// Repl is INFO replication, when the observation asked for the safety
	// facts (nil otherwise, or when it failed).
	Repl map[string]string

	// idx indexes View by node ID (see setView); it is used only while it
	// still describes View, so a copy given another View falls back to
	// scanning it.
	idx *viewIndex
}

// viewIndex maps node IDs to their line in one View, and the myself line.
type viewIndex struct {
	first *NodeLine // &View[0] when built
	n     int       // len(View) when built
	byID  map[string]int
	self  int // -1: no myself line
}

// setView sets the node's view and indexes it, so that Lookup and Self
// cost a map access instead of a scan: at hundreds of nodes, the plan asks
// for every node's view of every other.
func (n *NodeState) setView(v []NodeLine) {
	n.View = v
	n.idx = nil
	if len(v) == 0 {
		return
	}
	ix := &viewIndex{first: &v[0], n: len(v), byID: make(map[string]int, len(v)), self: -1}
	for i := range v {
		if _, dup := ix.byID[v[i].ID]; !dup {
			ix.byID[v[i].ID] = i
		}
		if ix.self < 0 && v[i].Myself() {
			ix.self = i
		}
	}
	n.idx = ix
}

// index returns the view's index when it describes the current View.
func (n *NodeState) index() *viewIndex {
	if ix := n.idx; ix != nil && len(n.View) == ix.n && ix.n > 0 && &n.View[0] == ix.first {
		return ix
	}
	return nil
}

// OK tells whether the node answered.
func (n *NodeState) OK() bool { return n != nil && n.Err == nil }

// ConfigOrNil returns the settings read, nil when the node or its
// settings were not read.
func (n *NodeState) ConfigOrNil() map[string]string {
	if !n.OK() {
		return nil
	}
	return n.Config
}

// Self is the node's own line in its view ("myself"), or nil.
func (n *NodeState) Self() *NodeLine {
	if !n.OK() {
		return nil
	}
	if ix := n.index(); ix != nil {
		if ix.self < 0 {
			return nil
		}
		return &n.View[ix.self]
	}
	for i := range n.View {
		if n.View[i].Myself() {
			return &n.View[i]
		}
	}
	return nil
}

// Lookup returns the node's view of node id, or nil when it does not know it.
func (n *NodeState) Lookup(id string) *NodeLine {
	if !n.OK() {
		return nil
	}
	if ix := n.index(); ix != nil {
		if i, ok := ix.byID[id]; ok {
			return &n.View[i]
		}
		return nil
	}
	for i := range n.View {
		if n.View[i].ID == id {
			return &n.View[i]
		}
	}
	return nil
}

// Known lists the nodes this node knows besides itself, skipping handshake
// and address-less entries (they carry random or stale IDs).
func (n *NodeState) Known() []NodeLine {
	if n == nil || len(n.View) == 0 {
		return nil
	}
	out := make([]NodeLine, 0, len(n.View)-1)
	for j := range n.View {
		l := &n.View[j]
		if l.Myself() || l.Handshake() || l.HasFlag("noaddr") {
			continue
		}
		out = append(out, *l)
	}
	return out
}

// known is Known without copying the lines or allocating: the plan and
// the members walk every view of hundreds of nodes.
func (n *NodeState) known() iter.Seq[*NodeLine] {
	return func(yield func(*NodeLine) bool) {
		if n == nil {
			return
		}
		for i := range n.View {
			l := &n.View[i]
			if l.Myself() || l.Handshake() || l.HasFlag("noaddr") {
				continue
			}
			if !yield(l) {
				return
			}
		}
	}
}

// knowsOthers tells whether the node knows any node besides itself.
func (n *NodeState) knowsOthers() bool {
	for range n.known() {
		return true
	}
	return false
}

// State is cluster_state from CLUSTER INFO ("ok", "fail"), "" if unknown.
func (n *NodeState) State() string { return n.Info["cluster_state"] }

// InfoInt reads an integer field of CLUSTER INFO, 0 when absent.
func (n *NodeState) InfoInt(k string) int64 {
	v, _ := strconv.ParseInt(n.Info[k], 10, 64)
	return v
}

// EngineOf names the server and its own version from INFO server:
// server_name:valkey with valkey_version on Valkey, else redis with
// redis_version.
func EngineOf(server map[string]string) (engine, version string) {
	if server["server_name"] == "valkey" {
		return "valkey", server["valkey_version"]
	}
	return "redis", server["redis_version"]
}

// AtLeast tells whether the server version is at least major.minor.
func (n *NodeState) AtLeast(major, minor int) bool {
	parts := strings.SplitN(n.Version, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, _ := strconv.Atoi(parts[0])
	mi, _ := strconv.Atoi(parts[1])
	return ma > major || (ma == major && mi >= minor)
}

// Observed is one read of a set of nodes, keyed by declared address.
type Observed struct {
	Nodes map[string]*NodeState

	// addrOf indexes the nodes read by ID for AddrOf, built on first use.
	mu     sync.Mutex
	addrOf map[string]string
	// splits remembers FindSplit's answers (see there).
	splits map[string]*Split
}

// Node returns the observation of addr (nil when it was not observed).
func (o *Observed) Node(addr string) *NodeState { return o.Nodes[addr] }

// ID returns the node ID read at addr, "" when unknown.
func (o *Observed) ID(addr string) string {
	if n := o.Nodes[addr]; n.OK() {
		return n.ID
	}
	return ""
}

// AddrOf returns the observed address whose node has ID id, "" when none.
func (o *Observed) AddrOf(id string) string {
	if id == "" {
		return ""
	}
	o.mu.Lock()
	if o.addrOf == nil {
		o.addrOf = make(map[string]string, len(o.Nodes))
		// Lowest address first, as the scan below finds some address.
		for _, a := range sortedKeys(o.Nodes) {
			if n := o.Nodes[a]; n.OK() && n.ID != "" {
				if _, dup := o.addrOf[n.ID]; !dup {
					o.addrOf[n.ID] = a
				}
			}
		}
	}
	a, ok := o.addrOf[id]
	o.mu.Unlock()
	// The index is checked against the nodes, which callers may replace
	// after it was built; a miss or a stale entry scans them.
	if n := o.Nodes[a]; ok && n.OK() && n.ID == id {
		return a
	}
	for a, n := range o.Nodes {
		if n.OK() && n.ID == id {
			return a
		}
	}
	return ""
}

// Failed lists the nodes that could not be read, sorted by address.
func (o *Observed) Failed() []*NodeState {
	var out []*NodeState
	for _, n := range o.Nodes {
		if !n.OK() {
			out = append(out, n)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

// Observe reads every address concurrently, one pipelined round trip per
// node (INFO server, CLUSTER MYID, CLUSTER INFO, DBSIZE and, when views is
// true, CLUSTER NODES). An unreachable node is recorded, not fatal.
func Observe(ctx context.Context, pool *Pool, addrs []string, views bool) *Observed {
	return ObserveWith(ctx, pool, addrs, ObserveOptions{Views: views})
}

// ObserveOptions says what an observation reads besides the topology.
type ObserveOptions struct {
	// Views: CLUSTER NODES.
	Views bool
	// Config: settings to read with CONFIG GET (declared ones).
	Config []string
	// Safety: the facts the safety checks need (the settings that should
	// match, persistence settings, INFO replication).
	Safety bool

	cache *parseCache // shared by the views of one observation
}

// keys lists the settings to read, without duplicates.
func (o ObserveOptions) keys() []string {
	var out []string
	seen := map[string]bool{}
	add := func(ks []string) {
		for _, k := range ks {
			if !seen[k] {
				seen[k] = true
				out = append(out, k)
			}
		}
	}
	add(o.Config)
	if o.Safety {
		add(SafetyKeys)
	}
	return out
}

// ObserveWith is Observe reading what opts asks for, still in one
// pipelined round trip per node: CONFIG GET per setting and INFO
// replication go in the same pipeline. A refused CONFIG GET or INFO
// replication leaves the node observed, with ConfigErr set.
func ObserveWith(ctx context.Context, pool *Pool, addrs []string, opts ObserveOptions) *Observed {
	obs := &Observed{Nodes: make(map[string]*NodeState, len(addrs))}
	if opts.Views && len(addrs) > 1 {
		opts.cache = newParseCache()
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Add(1)
		go func(a string) {
			defer wg.Done()
			n := observeNodeWith(ctx, pool, a, opts)
			mu.Lock()
			obs.Nodes[a] = n
			mu.Unlock()
		}(a)
	}
	wg.Wait()
	return obs
}

func observeNode(ctx context.Context, pool *Pool, addr string, views bool) *NodeState {
	return observeNodeWith(ctx, pool, addr, ObserveOptions{Views: views})
}

func observeNodeWith(ctx context.Context, pool *Pool, addr string, opts ObserveOptions) *NodeState {
	views := opts.Views
	keys := opts.keys()
	n := &NodeState{Addr: addr}
	// A node that accepts connections but never answers (stopped, swapping)
	// costs a bounded time too: the dial plus one short round trip.
	ctx, cancel := context.WithTimeout(ctx, 2*pool.DialTimeout())
	defer cancel()
	c := pool.Client(addr)
	var server, myid, info, nodes *redis.StringCmd
	var dbsize *redis.IntCmd
	var repl *redis.StringCmd
	gets := make([]*redis.MapStringStringCmd, len(keys))
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		server = p.Info(ctx, "server")
		myid = p.ClusterMyID(ctx)
		info = p.ClusterInfo(ctx)
		dbsize = p.DBSize(ctx)
		if views {
			nodes = p.ClusterNodes(ctx)
		}
		// One CONFIG GET per setting: Redis before 7.0 takes one pattern.
		for i, k := range keys {
			gets[i] = p.ConfigGet(ctx, k)
		}
		if opts.Safety {
			repl = p.Info(ctx, "replication")
		}
		return nil
	})
	// The topology commands decide whether the node was read; a refused
	// CONFIG GET or INFO replication only takes from it. (When the
	// connection itself failed, no command carries an error.)
	if err != nil && server.Err() == nil && myid.Err() == nil && info.Err() == nil &&
		dbsize.Err() == nil && (!views || nodes.Err() == nil) {
		extra := repl != nil && repl.Err() != nil
		for _, g := range gets {
			extra = extra || g.Err() != nil
		}
		if extra {
			err = nil
		}
	}
	if err != nil {
		// The first failing command says why; a server without cluster
		// support answers INFO but refuses CLUSTER MYID.
		switch {
		case server.Err() != nil:
			n.Err = nodeErr(addr, "", server.Err())
		case myid.Err() != nil:
			n.Err = nodeErr(addr, "CLUSTER MYID", myid.Err())
		case info.Err() != nil:
			n.Err = nodeErr(addr, "CLUSTER INFO", info.Err())
		case dbsize.Err() != nil:
			n.Err = nodeErr(addr, "DBSIZE", dbsize.Err())
		case views && nodes.Err() != nil:
			n.Err = nodeErr(addr, "CLUSTER NODES", nodes.Err())
		default:
			// The connection itself failed (dial, TLS, AUTH at connect).
			n.Err = nodeErr(addr, "connect", err)
		}
		return n
	}
	srv := ParseInfo(server.Val())
	n.Version = srv["redis_version"]
	n.Engine, n.EngineVersion = EngineOf(srv)
	n.ID = strings.TrimSpace(myid.Val())
	n.Info = ParseInfo(info.Val())
	n.Keys = dbsize.Val()
	n.ConfigFile = srv["config_file"]
	if len(keys) > 0 {
		n.Config = map[string]string{}
		for i, k := range keys {
			if e := gets[i].Err(); e != nil {
				n.Config, n.ConfigErr = nil, nodeErr(addr, "CONFIG GET "+k, e)
				break
			}
			if v, ok := gets[i].Val()[k]; ok {
				n.Config[k] = v
			}
		}
	}
	if repl != nil {
		if e := repl.Err(); e != nil {
			n.ConfigErr = nodeErr(addr, "INFO replication", e)
		} else {
			n.Repl = ParseInfo(repl.Val())
		}
	}
	if views {
		v, err := parseNodes(nodes.Val(), opts.cache)
		if err != nil {
			n.Err = &NodeError{Addr: addr, Kind: ErrOther, Op: "CLUSTER NODES", Err: err}
			return n
		}
		n.setView(v)
	}
	// MEET goes to where peers reach the node: the address it is declared
	// (announced) at; the one Terraform dials differs behind address_map.
	n.IP = resolveIP(ctx, addr)
	if n.IP == "" {
		n.IP = resolveIP(ctx, pool.DialAddress(addr))
	}
	return n
}

// resolveIP returns the IP of host:port's host ("" when it cannot be resolved).
func resolveIP(ctx context.Context, hostport string) string {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); ip != nil {
		return ip.String()
	}
	ips, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil || len(ips) == 0 {
		return ""
	}
	for _, ip := range ips {
		if ip.IP.To4() != nil {
			return ip.IP.String()
		}
	}
	return ips[0].IP.String()
}

// describe renders a node for messages: "10.0.0.11:6379 (id 58e21837)".
func describe(addr, id string) string {
	if id == "" {
		return addr
	}
	if len(id) > 8 {
		id = id[:8]
	}
	return fmt.Sprintf("%s (%s)", addr, id)
}
