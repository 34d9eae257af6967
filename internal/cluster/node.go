package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
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

// ownedElsewhere returns, for each slot of want served by another node in
// the views of the observed nodes, the owner's ID, and the union of slots
// anybody serves.
func ownedElsewhere(obs *Observed, selfID string, want SlotSet) (map[string]SlotSet, SlotSet) {
	owners := map[string]SlotSet{}
	var served SlotSet
	for _, a := range sortedKeys(obs.Nodes) {
		n := obs.Node(a)
		if !n.OK() {
			continue
		}
		for _, l := range n.View {
			if l.Handshake() || !l.IsMaster() {
				continue
			}
			served = served.Union(l.Slots)
			if l.ID == selfID {
				continue
			}
			if o := l.Slots.Intersect(want); !o.Empty() {
				owners[l.ID] = owners[l.ID].Union(o)
			}
		}
	}
	return owners, served
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
		for _, l := range p.View {
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

// missingMeets lists the MEETs that make addr and each of the peers know
// each other, from whichever side misses the other.
func missingMeets(obs *Observed, addr string, peers []string) []Step {
	var meets []Step
	for _, p := range peers {
		if !knows(obs, addr, p) {
			meets = append(meets, meetStep(StepMeet, obs, addr, p))
		} else if !knows(obs, p, addr) {
			meets = append(meets, meetStep(StepMeet, obs, p, addr))
		}
	}
	return meets
}

// handBackStall bounds how long a replica-declared node serving slots
// waits for its declared master's resource without any progress.
const handBackStall = time.Minute

// waitHandBack waits until the node no longer serves slots (its declared
// master took them with their keys) or follows its declared master (a
// failback), as long as the number of slots it serves keeps falling or a
// move is under way; after handBackStall without either it gives up.
func (e *Executor) waitHandBack(ctx context.Context, spec NodeSpec, obs *Observed) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	last, since, stalled := -1, time.Now(), false
	err := e.waitFor(wctx, addrsDesired([]string{spec.Addr}), obs, spec.Addr+" hands its slots back to its declared master", func(o *Observed) (bool, string) {
		s := o.Node(spec.Addr).Self()
		if s == nil {
			return false, spec.Addr + " cannot be read"
		}
		// Done once it serves nothing: as an empty master, or as a replica
		// of whichever node took its last slot (Redis re-points an
		// emptied master there); the next round re-points it as declared.
		if s.IsReplica() || s.Slots.Empty() {
			return true, ""
		}
		if n := s.Slots.Len(); n != last || len(s.Migrating) > 0 {
			last, since = n, time.Now()
		} else if time.Since(since) > handBackStall {
			stalled = true
			cancel()
		}
		return false, fmt.Sprintf("%s still serves %d slots", spec.Addr, s.Slots.Len())
	})
	if err != nil && stalled && ctx.Err() == nil {
		return fmt.Errorf("node %s serves slots %s, so it cannot become a replica, and its declared master %s has not taken them for %s; declare those slots on another master, or let the master's resource take them (apply it too)",
			describe(spec.Addr, obs.ID(spec.Addr)), obs.Node(spec.Addr).Self().Slots, spec.Master, handBackStall)
	}
	return err
}

// sendMeets sends MEETs (or announces, whose errors are ignored), pipelined per node.
func (e *Executor) sendMeets(ctx context.Context, obs *Observed, steps []Step, bestEffort bool) error {
	if len(steps) == 0 {
		return nil
	}
	byNode := map[string][]Step{}
	for _, s := range steps {
		byNode[s.Addr] = append(byNode[s.Addr], s)
	}
	return e.each(ctx, sortedKeys(byNode), "CLUSTER MEET", func(ctx context.Context, a string) error {
		cmds := make([]*redis.Cmd, len(byNode[a]))
		_, _ = e.Pool.Client(a).Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, s := range byNode[a] {
				cmds[i] = p.Do(ctx, commandFor(obs.Node(a), s)...)
			}
			return nil
		})
		for i, cmd := range cmds {
			if err := cmd.Err(); err != nil && !bestEffort {
				return err
			}
			if !bestEffort {
				e.info(ctx, byNode[a][i].String(), map[string]any{"address": a})
			}
		}
		return nil
	})
}

// takeFrom moves slots from the master at from under that source's move
// lock (its own delete may be handing them off at the same time), moving
// only those it still serves once the lock is held.
func (e *Executor) takeFrom(ctx context.Context, obs *Observed, to, toID, from, fromID string, slots SlotSet) error {
	defer e.coord().Lock("move:" + from)()
	cur := Observe(ctx, e.Pool, []string{from, to}, true)
	src := cur.Node(from).Self()
	if !cur.Node(from).OK() || src == nil || cur.ID(from) != fromID || !src.IsMaster() {
		return nil // it left meanwhile: the wait for readiness tells
	}
	slots = slots.Intersect(src.Slots)
	if slots.Empty() {
		return nil
	}
	return e.moveSlots(ctx, obs, Step{Kind: StepMoveSlots, Addr: from, Target: to, TargetID: toID, Slots: slots})
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range in {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// failbackNode hands mastership back to replica (the declared master) from
// acting, once: the pair's two resources both see the swap, so it runs
// under a per-shard lock and re-checks the roles first.
func (e *Executor) failbackNode(ctx context.Context, replica, acting string) error {
	defer e.coord().Lock("failback:" + replica)()
	role, err := e.Pool.Client(replica).Do(ctx, "ROLE").Slice()
	if err != nil {
		return nodeErr(replica, "ROLE", err)
	}
	if len(role) > 0 && role[0] == "master" {
		return nil // the other resource of the pair did it
	}
	return e.failover(ctx, Step{Kind: StepFailover, Addr: replica, Target: acting})
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

// LeaveNode takes the node at spec.Addr out of its cluster: a master's
// slots go to other reachable masters that stay, with their keys (once a
// node taking its shard over by failover, if any, is done), every member
// found in its own and its seeds' views forgets it, and it is reset to an
// empty lone node. It never waits on another node's delete.
func (e *Executor) LeaveNode(ctx context.Context, spec NodeSpec) error {
	obs := Observe(ctx, e.Pool, spec.Addrs(), true)
	n := obs.Node(spec.Addr)
	if !n.OK() {
		return n.Err
	}
	self := n.Self()
	if self == nil {
		return fmt.Errorf("node %s: its CLUSTER NODES has no line for itself", spec.Addr)
	}
	if len(n.Known()) == 0 && self.Slots.Empty() && n.Keys == 0 {
		return nil // already a lone empty node
	}
	id := n.ID
	e.Departures.Leave(spec.Addr)
	members := e.nodeMembers(spec, obs)
	all := Observe(ctx, e.Pool, dedup(append([]string{spec.Addr}, members...)), true)
	if self.IsMaster() && !self.Slots.Empty() {
		// Keys may still be moving in from another leaving master.
		if err := e.Departures.WaitIncoming(ctx, spec.Addr); err != nil {
			return fmt.Errorf("node %s: waiting for keys moving into it before it leaves: %w", spec.Addr, err)
		}
		// A node taking this master's shard over by failover finishes
		// first; then nothing is left to hand off.
		if err := e.coord().BeginHandOff(ctx, spec.Addr); err != nil {
			return fmt.Errorf("node %s: waiting for the node taking its shard over: %w", spec.Addr, err)
		}
		// A target may turn replica under the hand-off (its own resource
		// hands its shard to a replica by failover): hand the rest off
		// again from a fresh read, to the masters there are then.
		for attempt := 1; ; attempt++ {
			err := e.handOff(ctx, spec, all, members)
			if err == nil {
				break
			}
			if attempt == handOffAttempts || !isSetSlotNotMaster(err) {
				return err
			}
			e.info(ctx, "a master receiving the node's slots turned replica; handing the rest off again", map[string]any{"address": spec.Addr, "error": err.Error()})
			all = Observe(ctx, e.Pool, dedup(append([]string{spec.Addr}, members...)), true)
		}
	}
	// Forget it everywhere it is known (a replica of it answers "Can't
	// forget my master": CLUSTER RESET below leaves it a failed entry).
	_ = e.each(ctx, members, "CLUSTER FORGET", func(ctx context.Context, a string) error {
		if !all.Node(a).OK() || all.ID(a) == id {
			return nil
		}
		err := e.Pool.Client(a).ClusterForget(ctx, id).Err()
		if err == nil {
			e.info(ctx, "forgot removed node", map[string]any{"address": a, "removed": spec.Addr, "node_id": id})
		} else {
			e.debug(ctx, "forget failed", map[string]any{"address": a, "removed": spec.Addr, "error": err.Error()})
		}
		return nil
	})
	c := e.Pool.Client(spec.Addr)
	err := c.ClusterResetHard(ctx).Err()
	if err != nil && isResetWithKeys(err) {
		// A master with keys but no slot left (a replica turned master,
		// or keys of slots handed off): refuse while it serves any slot.
		if err := refuseKeysIfServing(ctx, c, spec.Addr); err != nil {
			return err
		}
		if err := c.FlushAll(ctx).Err(); err != nil {
			return nodeErr(spec.Addr, "FLUSHALL", err)
		}
		err = c.ClusterResetHard(ctx).Err()
	}
	if err != nil {
		return nodeErr(spec.Addr, "CLUSTER RESET HARD", err)
	}
	e.info(ctx, "reset node", map[string]any{"address": spec.Addr, "node_id": id})
	e.sweepForgotten(ctx, spec, id)
	return nil
}

// sweepForgotten makes members that still know a node's old ID forget it,
// once the node was reset: a node that joined while this one was leaving
// (another resource's create, in the same run) may have learned the ID by
// gossip after the first round of FORGET, and would keep it as an
// address-less entry. Best effort: the members that forgot it first ban it
// from gossip, so it cannot spread again.
func (e *Executor) sweepForgotten(ctx context.Context, spec NodeSpec, id string) {
	seeds := Observe(ctx, e.Pool, spec.Addrs(), true)
	members := e.nodeMembers(spec, seeds)
	all := Observe(ctx, e.Pool, members, true)
	for _, a := range members {
		if n := all.Node(a); n.OK() && n.ID != id && n.Lookup(id) != nil {
			if err := e.Pool.Client(a).ClusterForget(ctx, id).Err(); err == nil {
				e.info(ctx, "forgot removed node (learned while it was leaving)", map[string]any{"address": a, "removed": spec.Addr, "node_id": id})
			}
		}
	}
}

// refuseKeysIfServing refuses to flush a master that still serves slots.
func refuseKeysIfServing(ctx context.Context, c *redis.Client, addr string) error {
	txt, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return nodeErr(addr, "CLUSTER NODES", err)
	}
	view, err := ParseNodes(txt)
	if err != nil {
		return err
	}
	for _, l := range view {
		if l.Myself() && l.IsMaster() && !l.Slots.Empty() {
			return &NodeError{Addr: addr, Kind: ErrOther, Op: "CLUSTER RESET HARD",
				Err: fmt.Errorf("it still serves slots %s and holds keys; nothing was flushed. Move its slots to another master (declare them there) and destroy again", l.Slots)}
		}
	}
	return nil
}

// handOff gives a leaving master's slots to the other masters that stay:
// split over the reachable masters (not failing, not leaving in this run)
// in slot order, each slot with its keys (moveSlots; while the cluster is
// down, empty slots by SETSLOT alone). When no master stays, the node is
// the last of its cluster: with no keys there is nothing to hand off; with
// keys it refuses, unless spec.ForceDestroy, which flushes them.
func (e *Executor) handOff(ctx context.Context, spec NodeSpec, obs *Observed, members []string) error {
	addr := spec.Addr
	defer e.coord().Lock("move:" + addr)()
	obs = Observe(ctx, e.Pool, sortedKeys(obs.Nodes), true)
	n := obs.Node(addr)
	self := n.Self()
	if self == nil || !self.IsMaster() || self.Slots.Empty() {
		return nil // another resource took them meanwhile
	}
	id := n.ID
	if n.Keys > 0 && e.Departures != nil {
		// Let deletes started in the same wave say they leave too.
		if err := sleep(ctx, settleDelay); err != nil {
			return err
		}
	}
	var targets []string
	for _, a := range members {
		m := obs.Node(a)
		ms := m.Self()
		if !m.OK() || ms == nil || !ms.IsMaster() || m.ID == id || len(m.Known()) == 0 {
			continue
		}
		if l := n.Lookup(m.ID); l == nil || l.Failing() || l.Handshake() {
			continue
		}
		targets = append(targets, a)
	}
	sort.Strings(targets)
	targets, release := e.Departures.Reserve(targets)
	defer release()
	if len(targets) == 0 {
		return e.lastMaster(ctx, spec, n.Keys, self.Slots)
	}
	// While the cluster serves clients, every slot moves as a slot
	// migration, empty or not: a client may write a new key into a slot
	// counted empty a moment before, and only MIGRATING (which redirects
	// new keys to the target) and the source's refusal to give up a slot
	// that holds keys keep that write. A slot reassigned with SETSLOT
	// alone left such keys behind on the node about to be reset (seen
	// under a live writer: 3 acknowledged writes lost in one replacement).
	// A cluster that is down (slots unassigned: one being built, or torn
	// down) takes no write, and moves no key either (CLUSTERDOWN): its
	// empty slots are reassigned with SETSLOT alone.
	down := n.State() != "ok"
	slots := self.Slots.Slots()
	per := (len(slots) + len(targets) - 1) / len(targets)
	c := e.Pool.Client(addr)
	var errs Errors
	for i, t := range targets {
		lo, hi := i*per, min((i+1)*per, len(slots))
		if lo >= hi {
			break
		}
		part := slots[lo:hi]
		var withKeys, empty []int
		if down {
			counts := make([]*redis.IntCmd, len(part))
			_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for k, s := range part {
					counts[k] = p.ClusterCountKeysInSlot(ctx, s)
				}
				return nil
			})
			for k, s := range part {
				if counts[k].Val() > 0 || counts[k].Err() != nil {
					withKeys = append(withKeys, s)
				} else {
					empty = append(empty, s)
				}
			}
		} else {
			withKeys = part
		}
		tid := obs.ID(t)
		if len(empty) > 0 {
			if err := e.assignEmpty(ctx, obs, addr, t, empty); err != nil {
				// The target is leaving too (reset, or turned replica):
				// these slots hold no keys, so nothing is lost.
				e.info(ctx, "could not hand off empty slots; the target is probably leaving too", map[string]any{"address": addr, "to": t, "error": err.Error()})
			}
		}
		if len(withKeys) > 0 {
			var set SlotSet
			for _, s := range withKeys {
				set.Add(s)
			}
			if err := e.moveSlots(ctx, obs, Step{Kind: StepMoveSlots, Addr: addr, Target: t, TargetID: tid, Slots: set}); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		e.info(ctx, "handed off slots", map[string]any{"address": addr, "to": t, "slots": len(part), "slots_with_keys": len(withKeys)})
	}
	return errs.Err()
}

// handOffAttempts bounds how often a leaving master hands its slots off
// again after a target turned replica under it.
const handOffAttempts = 3

// settleDelay is how long a leaving master with keys waits for the other
// deletes of the same run to say they leave too (see Departures): they
// arrive within milliseconds of each other, and correctness never depends
// on it (a master that received keys and then leaves hands them on).
const settleDelay = 250 * time.Millisecond

// lastMaster handles a leaving master that no master stays to take its
// slots: it is the last of its cluster, or every other master is leaving
// in the same run.
func (e *Executor) lastMaster(ctx context.Context, spec NodeSpec, keys int64, slots SlotSet) error {
	c := e.Pool.Client(spec.Addr)
	if keys == 0 {
		e.info(ctx, "no master stays to take its slots, and they hold no keys: nothing to hand off", map[string]any{"address": spec.Addr})
		return nil
	}
	if !spec.ForceDestroy {
		return &KeysHeldError{Addr: spec.Addr, Keys: keys, Slots: slots}
	}
	if err := c.FlushAll(ctx).Err(); err != nil {
		return nodeErr(spec.Addr, "FLUSHALL", err)
	}
	e.info(ctx, "force destroy: no master stays to take the keys, flushed them", map[string]any{"address": spec.Addr, "keys": keys})
	return nil
}

// assignEmpty reassigns slots holding no keys from one master to another
// without MIGRATE: IMPORTING then NODE on the target (which bumps its
// epoch so its claim wins), NODE on the source, then on every other master
// (best effort: gossip tells them too).
func (e *Executor) assignEmpty(ctx context.Context, obs *Observed, from, to string, slots []int) error {
	fromID, toID := obs.ID(from), obs.ID(to)
	tgt := e.Pool.Client(to)
	cmds := make([]*redis.Cmd, 0, 2*len(slots))
	_, _ = tgt.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, s := range slots {
			cmds = append(cmds, p.Do(ctx, "CLUSTER", "SETSLOT", s, "IMPORTING", fromID))
			cmds = append(cmds, p.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", toID))
		}
		return nil
	})
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			if i%2 == 0 && isAlreadySlotOwner(err) {
				continue
			}
			return nodeErr(to, "CLUSTER SETSLOT", err)
		}
	}
	if _, err := setSlotsNode(ctx, e.Pool.Client(from), slots, toID); err != nil {
		return nodeErr(from, "CLUSTER SETSLOT NODE", err)
	}
	var others []string
	for _, a := range sortedKeys(obs.Nodes) {
		if s := obs.Node(a).Self(); s != nil && s.IsMaster() && a != from && a != to {
			others = append(others, a)
		}
	}
	_ = e.each(ctx, others, "CLUSTER SETSLOT NODE", func(ctx context.Context, a string) error {
		_, _ = setSlots(ctx, e.Pool.Client(a), slots, "NODE", toID)
		return nil
	})
	return nil
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
