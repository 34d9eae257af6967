package cluster

import (
	"context"
	"fmt"
	"strings"
)

// NodeSpec declares one node's membership and role, for clusters composed
// of one resource per node (redis_cluster_node).
type NodeSpec struct {
	Addr string
	// Seeds are members (or nodes joining alongside) to meet.
	Seeds []string
	// Role is RoleMaster or RoleReplica.
	Role string
	// Master is the declared master's address (replicas only).
	Master string
	// Slots the node serves (masters only).
	Slots SlotSet
	// Failback: when a failover swapped this node and its declared master
	// (or replica), hand mastership back.
	Failback bool
	// ForceDestroy: when the node leaves as a master whose keys have no
	// master that stays to go to, discard them instead of refusing.
	ForceDestroy bool
}

// Addrs lists the node, its seeds and its declared master, without duplicates.
func (s NodeSpec) Addrs() []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range append(append([]string{s.Addr}, s.Seeds...), s.Master) {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// peers lists the seeds and the declared master (not the node itself).
func (s NodeSpec) peers() []string { return s.Addrs()[1:] }

// desired wraps addresses so that Executor.refresh reads them.
func addrsDesired(addrs []string) Desired {
	d := Desired{}
	for _, a := range addrs {
		d.Shards = append(d.Shards, Shard{Master: a})
	}
	return d
}

// Validate checks a spec's shape before anything talks to Redis.
func (s NodeSpec) Validate() error {
	if err := ValidateAddress(s.Addr); err != nil {
		return fmt.Errorf("address: %w", err)
	}
	for _, a := range s.Seeds {
		if err := ValidateAddress(a); err != nil {
			return fmt.Errorf("seeds: %w", err)
		}
	}
	switch s.Role {
	case RoleMaster:
		if s.Master != "" {
			return fmt.Errorf("master is set, but role is %q: only a replica follows a master; remove master or set role = %q", RoleMaster, RoleReplica)
		}
	case RoleReplica:
		if s.Master == "" {
			return fmt.Errorf("role is %q but master is not set: declare the address of the master it follows", RoleReplica)
		}
		if err := ValidateAddress(s.Master); err != nil {
			return fmt.Errorf("master: %w", err)
		}
		if s.Master == s.Addr {
			return fmt.Errorf("master is the node's own address %s", s.Addr)
		}
		if !s.Slots.Empty() {
			return fmt.Errorf("slots are set, but role is %q: a replica serves no slots of its own; remove slots or set role = %q", RoleReplica, RoleMaster)
		}
	default:
		return fmt.Errorf("role must be %q or %q, got %q", RoleMaster, RoleReplica, s.Role)
	}
	return nil
}

// NodeStatus is one node as read back for its resource.
type NodeStatus struct {
	// Reachable is false when the node did not answer (Err says why).
	Reachable bool
	Err       error
	ID        string
	Role      string
	// Master is the address of the master a replica follows: the declared
	// master address when the IDs match, else the address in the view.
	Master    string
	Slots     SlotSet
	LinkState string
	Flags     []string
	// Engine ("redis" or "valkey") and its own version, from INFO server.
	Engine, Version string
	// Lone: the node knows no other node and serves no slot.
	Lone bool
	Keys int64
	// Drift says in words what apply repairs beyond role, master and
	// slots (see NodeDrift).
	Drift []string
}

// CheckNodeJoinable tells whether the node at spec.Addr may join as
// declared: reachable, in cluster mode, no keys unless already a member,
// not a replica of anyone but its declared master, no slots beyond its
// declaration. Pure: it looks at obs only.
func CheckNodeJoinable(spec NodeSpec, obs *Observed) error {
	n := obs.Node(spec.Addr)
	if n == nil || !n.OK() {
		if n != nil {
			return n.Err
		}
		return fmt.Errorf("node %s was not observed", spec.Addr)
	}
	self := n.Self()
	if self == nil {
		return fmt.Errorf("node %s: its CLUSTER NODES has no line for itself", spec.Addr)
	}
	member := len(n.Known()) > 0
	var probs []string
	if n.Keys > 0 && !member && spec.Role == RoleMaster {
		probs = append(probs, fmt.Sprintf("it holds %d keys; a node joins empty: FLUSHALL it (or move the data away) first", n.Keys))
	}
	if self.IsReplica() {
		want := obs.ID(spec.Master)
		if spec.Role != RoleReplica || (want != "" && self.MasterID != want) {
			probs = append(probs, fmt.Sprintf("it replicates node %s, not its declared master; run CLUSTER RESET on it, or declare that master", short(self.MasterID)))
		}
	}
	if extra := self.Slots.Minus(spec.Slots); !extra.Empty() {
		probs = append(probs, fmt.Sprintf("it serves slots %s beyond its declaration; declare them, or move them away (CLUSTER RESET on an empty node)", extra))
	}
	if spec.Role == RoleReplica {
		if m := obs.Node(spec.Master); !m.OK() {
			if m != nil {
				return fmt.Errorf("declared master of %s cannot be read: %w", spec.Addr, m.Err)
			}
			return fmt.Errorf("declared master %s of %s was not observed", spec.Master, spec.Addr)
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("node %s cannot join as declared: %s", describe(spec.Addr, n.ID), strings.Join(probs, "; "))
	}
	return nil
}

// NodeReady tells whether the node and its reachable peers agree that it
// has its declared role, master and slots, no handshake entry remains in
// their views, and, once all 16384 slots are assigned in its view, it
// reports cluster_state:ok. masterID is the declared master's node ID.
func NodeReady(spec NodeSpec, obs *Observed, masterID string) (bool, string) {
	n := obs.Node(spec.Addr)
	if !n.OK() {
		return false, fmt.Sprintf("%s cannot be read", spec.Addr)
	}
	self := n.Self()
	if self == nil {
		return false, fmt.Sprintf("%s has no line for itself", spec.Addr)
	}
	check := func(who string, l *NodeLine) (bool, string) {
		if l == nil {
			return false, fmt.Sprintf("%s does not know %s yet", who, spec.Addr)
		}
		if l.Handshake() {
			return false, fmt.Sprintf("%s is still in handshake with %s", who, spec.Addr)
		}
		if l.Role() != spec.Role {
			return false, fmt.Sprintf("%s sees %s as %q", who, spec.Addr, l.Role())
		}
		if spec.Role == RoleReplica && l.MasterID != masterID {
			return false, fmt.Sprintf("%s sees %s following %s, not %s", who, spec.Addr, short(l.MasterID), short(masterID))
		}
		if spec.Role == RoleMaster && !spec.Slots.Minus(l.Slots).Empty() {
			return false, fmt.Sprintf("%s sees %s serving %q, not all of %s", who, spec.Addr, l.Slots.String(), spec.Slots)
		}
		return true, ""
	}
	if ok, why := check(spec.Addr, self); !ok {
		return false, why
	}
	for _, a := range append([]string{spec.Addr}, spec.peers()...) {
		p := obs.Node(a)
		if !p.OK() {
			continue
		}
		for j := range p.View {
			l := &p.View[j]
			if l.Handshake() {
				return false, fmt.Sprintf("%s still has a handshake entry for %s", a, l.Addr())
			}
		}
		if a == spec.Addr {
			continue
		}
		if len(p.Known()) == 0 && p.Lookup(n.ID) == nil {
			continue // a lone peer (it left the cluster): nothing to agree with
		}
		if ok, why := check(a, p.Lookup(n.ID)); !ok {
			return false, why
		}
	}
	if n.InfoInt("cluster_slots_assigned") == SlotCount && n.State() != "ok" {
		return false, fmt.Sprintf("%s reports cluster_state:%s", spec.Addr, n.State())
	}
	return true, ""
}

// swapped tells whether a failover swapped the node and its declared
// partner: a declared master now replicating the node serving its declared
// slots (the acting master), or a declared replica now master of its
// declared master.
// It returns the address that must send CLUSTER FAILOVER to fail back, and
// the acting master's address.
func swapped(spec NodeSpec, obs *Observed) (replica, acting string) {
	n := obs.Node(spec.Addr)
	self := n.Self()
	if self == nil {
		return "", ""
	}
	switch spec.Role {
	case RoleMaster:
		if !self.IsReplica() {
			return "", ""
		}
		l := n.Lookup(self.MasterID)
		// Only a master that declares slots can have lost them to a
		// failover: its acting master serves some of them.
		if l == nil || !l.IsMaster() || spec.Slots.Empty() || l.Slots.Intersect(spec.Slots).Empty() {
			return "", ""
		}
		addr := obs.AddrOf(self.MasterID)
		if addr == "" {
			addr = l.Addr()
		}
		return spec.Addr, addr
	case RoleReplica:
		m := obs.Node(spec.Master)
		ms := m.Self()
		if !self.IsMaster() || ms == nil || !ms.IsReplica() || ms.MasterID != n.ID {
			return "", ""
		}
		return spec.Master, spec.Addr
	}
	return "", ""
}

// ReadNode reads the node at spec.Addr as its resource reports it.
func ReadNode(ctx context.Context, pool *Pool, spec NodeSpec) (NodeStatus, *Observed) {
	obs := Observe(ctx, pool, spec.Addrs(), true)
	return NodeStatusOf(spec, obs, pool.AnnouncedAddress), obs
}

// NodeStatusOf derives a node's status from an observation. Pure.
func NodeStatusOf(spec NodeSpec, obs *Observed, announced func(string) string) NodeStatus {
	n := obs.Node(spec.Addr)
	if !n.OK() {
		st := NodeStatus{LinkState: "unreachable"}
		if n != nil {
			st.Err = n.Err
		}
		return st
	}
	st := NodeStatus{Reachable: true, ID: n.ID, Keys: n.Keys, LinkState: "connected", Engine: n.Engine, Version: n.EngineVersion}
	self := n.Self()
	if self == nil {
		return st
	}
	st.Role = self.Role()
	st.Flags = withoutMyself(self.Flags)
	if self.IsMaster() {
		st.Slots = self.Slots
	}
	if self.IsReplica() {
		if self.MasterID == obs.ID(spec.Master) && self.MasterID != "" {
			st.Master = spec.Master
		} else if a := obs.AddrOf(self.MasterID); a != "" {
			st.Master = a
		} else if l := n.Lookup(self.MasterID); l != nil {
			st.Master = l.Addr()
			if announced != nil && st.Master != "" {
				st.Master = announced(st.Master)
			}
		}
	}
	st.Lone = len(n.Known()) == 0 && self.Slots.Empty()
	st.Drift = NodeDrift(spec, obs)
	for _, p := range spec.peers() {
		if l := obs.Node(p).Lookup(n.ID); l != nil && !l.Handshake() {
			st.LinkState, st.Flags = l.LinkState, l.Flags
			break
		}
	}
	// Without failback, a failover that swapped the pair is not drift.
	if !spec.Failback {
		if fb, _ := swapped(spec, obs); fb != "" {
			st.Role, st.Master = spec.Role, spec.Master
			if spec.Role == RoleMaster {
				st.Slots = spec.Slots
			} else {
				st.Slots = SlotSet{}
			}
		}
	}
	return st
}

// IsNodeGone tells whether a read shows that the node left its cluster: it
// answered, knows no other node and serves no slot, while its resource
// says it was a member (had an ID), or its ID changed (it was reset).
func IsNodeGone(st NodeStatus, priorID string) bool {
	if !st.Reachable || priorID == "" {
		return false
	}
	return st.Lone || st.ID != priorID
}
