package cluster

import (
	"fmt"
	"sort"
	"strings"
)

// Member is one node of the cluster as last read, for the `nodes` attribute.
type Member struct {
	Addr      string
	ID        string
	Role      string // "master", "replica" or "" when unknown
	MasterID  string
	Slots     SlotSet
	LinkState string
	Flags     []string
	// Engine ("redis" or "valkey") and its version, as read from the node
	// itself; empty for a node Terraform did not read.
	Engine, Version string
	// Reachable is false for a declared node that could not be read; its
	// fields then come from another member's view, when any has it.
	Reachable bool
}

// Members describes every node: the declared addresses (from their own
// view, with link state and flags as the other members see them) and any
// node the members know that no shard declares (joined by hand), keyed by
// its announced address. pool maps announced addresses back to declared
// ones when address_map is used; it may be nil.
func Members(addrs []string, obs *Observed, announced func(string) string) map[string]Member {
	out := map[string]Member{}
	// During a partition the majority side's views come first: a node cut
	// off from it is shown as the majority sees it (a stale master that
	// still claims its slots is not the shard's master).
	split := FindSplit(addrs, obs)
	views := addrs
	if split != nil && !split.NoMajority {
		views = append(append([]string(nil), split.Majority...), addrs...)
	}
	// A peer's view gives link state and flags as the cluster sees a node.
	peerView := func(id, except string) *NodeLine {
		for _, a := range views {
			if a == except {
				continue
			}
			if l := obs.Node(a).Lookup(id); l != nil {
				return l
			}
		}
		return nil
	}
	known := map[string]bool{}
	for _, a := range addrs {
		n := obs.Node(a)
		if !n.OK() {
			m := Member{Addr: a, Reachable: false, LinkState: "unreachable"}
			// What the others last heard of it, found by its address.
			for _, b := range addrs {
				for l := range obs.Node(b).known() {
					if l.Addr() == a || (announced != nil && announced(l.Addr()) == a) {
						m.ID, m.Role, m.MasterID, m.Slots, m.Flags = l.ID, l.Role(), l.MasterID, l.Slots, l.Flags
						known[l.ID] = true
					}
				}
			}
			out[a] = m
			continue
		}
		known[n.ID] = true
		m := Member{Addr: a, ID: n.ID, Reachable: true, LinkState: "connected", Engine: n.Engine, Version: n.EngineVersion}
		if self := n.Self(); self != nil {
			m.Role, m.MasterID, m.Slots = self.Role(), self.MasterID, self.Slots
			m.Flags = withoutMyself(self.Flags)
		}
		if l := peerView(n.ID, a); l != nil {
			m.LinkState, m.Flags = l.LinkState, l.Flags
			if split.IsCutOff(a) && !split.NoMajority {
				m.Role, m.MasterID, m.Slots = l.Role(), l.MasterID, l.Slots
			}
		}
		out[a] = m
	}
	for _, a := range addrs {
		for l := range obs.Node(a).known() {
			if known[l.ID] || l.Addr() == "" {
				continue
			}
			known[l.ID] = true
			addr := l.Addr()
			if announced != nil {
				addr = announced(addr)
			}
			if _, dup := out[addr]; dup {
				continue // a stale entry for a declared address (the node was replaced)
			}
			out[addr] = Member{Addr: addr, ID: l.ID, Role: l.Role(), MasterID: l.MasterID, Slots: l.Slots,
				LinkState: l.LinkState, Flags: l.Flags, Reachable: true}
		}
	}
	return out
}

func withoutMyself(flags []string) []string {
	var out []string
	for _, f := range flags {
		if f != "myself" {
			out = append(out, f)
		}
	}
	return out
}

// State summarizes cluster_state over the reachable declared nodes: "ok"
// when all say ok, else the first other value in address order, or
// "unknown" when none could be read.
//
// During a partition only the majority side counts: the nodes cut off from
// it report fail, but the cluster is what the majority serves.
func State(addrs []string, obs *Observed) string {
	if s := FindSplit(addrs, obs); s != nil && !s.NoMajority && len(s.CutOff) > 0 {
		addrs = s.Majority
	}
	sorted := append([]string(nil), addrs...)
	sort.Strings(sorted)
	state := "unknown"
	for _, a := range sorted {
		n := obs.Node(a)
		if !n.OK() {
			continue
		}
		if s := n.State(); s != "ok" {
			return s
		}
		state = "ok"
	}
	return state
}

// Gone tells whether the cluster no longer exists: every declared node was
// read and each is a lone node serving no slot. Unreachable nodes are never
// proof of anything.
func Gone(addrs []string, obs *Observed) bool {
	for _, a := range addrs {
		n := obs.Node(a)
		if !n.OK() {
			return false
		}
		self := n.Self()
		if self == nil || n.knowsOthers() || !self.Slots.Empty() {
			return false
		}
	}
	return len(addrs) > 0
}

// ObservedShards maps what the cluster reports onto the declared shards, in
// the declared shape, so that a configuration compared with it shows drift
// as a plan diff:
//   - a shard whose declared master lost mastership to one of its replicas
//     lists that replica as master, unless the declared master follows it
//     (a plain failover: the members' roles show it);
//   - a replica that follows the master of another shard is listed there;
//   - a member that is not in the cluster as declared (reset, forgotten by
//     its master, replaced by a node with a new ID, a master without slots)
//     is left out, so the plan shows it being added back;
//   - each master's slots are those it serves, less any slot it is still
//     migrating away (a half-done move).
//
// A node that could not be read keeps its declared place.
//
// A node cut off from the majority by a partition keeps its declared place
// too: what it says of itself is stale, and apply changes nothing until it
// rejoins (the members show it as the majority sees it).
func ObservedShards(prior []Shard, obs *Observed) []Shard {
	var addrs []string
	for _, s := range prior {
		addrs = append(addrs, s.Members()...)
	}
	split := FindSplit(addrs, obs)
	cutOff := func(a string) bool { return split != nil && !split.NoMajority && split.IsCutOff(a) }
	out := make([]Shard, len(prior))
	acting := make([]string, len(prior))
	shardOf := map[string]int{} // node ID of a shard's acting master -> shard index
	for i, s := range prior {
		cur, promoted := currentMaster(obs, s)
		acting[i] = cur
		shown := s.Master
		if promoted {
			m := obs.Node(s.Master).Self()
			// A plain failover (the declared master now follows the
			// promoted replica) keeps the declared shape: the members'
			// roles show it (with failback, the plan's nodes show the
			// hand-back), so the shards do not say it twice.
			plainFailover := (m != nil && m.IsReplica() && m.MasterID == obs.ID(cur)) || cutOff(s.Master)
			if !plainFailover {
				shown = cur
			}
		}
		out[i] = Shard{Master: shown, Slots: s.Slots}
		if n := obs.Node(cur); n.OK() {
			out[i].Slots = servedSlots(n.Self())
		}
		if id := obs.ID(cur); id != "" {
			shardOf[id] = i
		}
	}
	for i, s := range prior {
		for _, x := range s.Members() {
			if x == out[i].Master {
				continue
			}
			n := obs.Node(x)
			if !n.OK() || x == acting[i] || cutOff(x) {
				out[i].Replicas = append(out[i].Replicas, x)
				continue
			}
			self := n.Self()
			if !self.IsReplica() {
				continue // a lone node or a master without slots: not in the cluster as declared
			}
			j, ok := shardOf[self.MasterID]
			if !ok {
				if !obs.Node(acting[i]).OK() {
					out[i].Replicas = append(out[i].Replicas, x) // its master cannot be read: no proof
				}
				continue // follows a node no shard has as master
			}
			if m := obs.Node(acting[j]); m.OK() && !knows(obs, acting[j], x) {
				continue // its master forgot it, or knows an older ID at its address
			}
			out[j].Replicas = append(out[j].Replicas, x)
		}
	}
	return out
}

// servedSlots are the slots a master serves, less those it is migrating away.
func servedSlots(self *NodeLine) SlotSet {
	if self == nil {
		return SlotSet{}
	}
	out := self.Slots
	for slot := range self.Migrating {
		out.Remove(slot)
	}
	return out
}

// ShardsFromView builds the shards of a live cluster from one member's
// CLUSTER NODES: one shard per master that serves slots, ordered by its
// lowest slot, replicas ordered by address. announced maps announced
// addresses to the addresses to declare (nil keeps them).
func ShardsFromView(view []NodeLine, announced func(string) string) ([]Shard, error) {
	addr := func(l NodeLine) string {
		a := l.Addr()
		if announced != nil {
			a = announced(a)
		}
		return a
	}
	var shards []Shard
	idx := map[string]int{}
	var masters []NodeLine
	for _, l := range view {
		if l.IsMaster() && !l.Slots.Empty() && !l.HasFlag("fail") {
			masters = append(masters, l)
		}
	}
	sort.Slice(masters, func(i, j int) bool { return masters[i].Slots.First() < masters[j].Slots.First() })
	for _, m := range masters {
		if addr(m) == "" {
			return nil, fmt.Errorf("master %s serving slots %s has no known address", m.ID, m.Slots)
		}
		idx[m.ID] = len(shards)
		shards = append(shards, Shard{Master: addr(m), Slots: m.Slots})
	}
	if len(shards) == 0 {
		return nil, fmt.Errorf("the node is not part of a cluster: no master serves any slot")
	}
	var all SlotSet
	for _, s := range shards {
		all = all.Union(s.Slots)
	}
	if missing := all.Complement(); !missing.Empty() {
		return nil, fmt.Errorf("slots %s are served by no master: fix the cluster (redis-cli --cluster fix) before importing it", missing)
	}
	var orphans []string
	for _, l := range view {
		if !l.IsReplica() || l.HasFlag("fail") || l.Handshake() {
			continue
		}
		i, ok := idx[l.MasterID]
		if !ok {
			orphans = append(orphans, addr(l))
			continue
		}
		shards[i].Replicas = append(shards[i].Replicas, addr(l))
	}
	for i := range shards {
		sort.Strings(shards[i].Replicas)
	}
	if len(orphans) > 0 {
		return shards, fmt.Errorf("replicas %s follow no master that serves slots", strings.Join(orphans, ", "))
	}
	return shards, nil
}
