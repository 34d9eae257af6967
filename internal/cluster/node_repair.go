package cluster

import (
	"context"
	"fmt"
	"maps"
	"net"
	"slices"
	"strings"
	"time"
)

// A node resource repairs, besides its role, master and slots, what an
// interrupted or outside change left around the node: entries its peers
// keep for an old node ID at its address (the node was reset or replaced),
// and slots left importing or migrating on it by an interrupted move.

// selfAddrs lists the addresses the node at spec.Addr may appear under in
// its peers' views: as declared, as it announces itself, as dialed.
func selfAddrs(spec NodeSpec, n *NodeState) map[string]bool {
	out := map[string]bool{spec.Addr: true}
	if self := n.Self(); self != nil && self.Addr() != "" {
		out[self.Addr()] = true
	}
	if _, port, err := net.SplitHostPort(spec.Addr); err == nil && n.OK() && n.IP != "" {
		out[net.JoinHostPort(n.IP, port)] = true
	}
	return out
}

// staleIDs maps each old node ID the observed nodes keep at the node's
// address to the observed addresses that know it. Within milliseconds of
// the new node answering at that address, Redis marks the old entry
// noaddr (a PONG with a mismatching ID), so an address-less entry counts
// too when it looks like this node's old self: a replica of its declared
// master, or a master (or a replica of the master) serving its declared
// slots. Other address-less entries belong to other resources' nodes,
// except, when the node is being (re)created (anyone), an address-less
// entry serving no slot: a master replaced after its replica took over
// leaves one that nothing ties to an address any more, and it serves and
// follows nothing, so any joining node may clear it.
//
// An ID that lives elsewhere is never stale, whatever it looks like in
// one view: one an observed node answers with, or one a member knows with
// an address that is not this node's. CLUSTER FORGET of a live node bans
// it from the forgetting node's gossip for 60 s, newer engines spread the
// forget to every member (seen on Redis 8.6.3, not on 7.0.15), and Redis
// 8.6 ignores MEET during the ban: a wrong forget costs a minute at least.
func staleIDs(spec NodeSpec, obs *Observed, anyone bool) map[string][]string {
	n := obs.Node(spec.Addr)
	if !n.OK() || n.ID == "" {
		return nil
	}
	mine := selfAddrs(spec, n)
	live := liveElsewhere(obs, mine)
	masterID := obs.ID(spec.Master)
	ours := func(p *NodeState, l *NodeLine) bool {
		if mine[l.Addr()] {
			return true
		}
		if !l.HasFlag("noaddr") {
			return false
		}
		if anyone && l.IsMaster() && l.Slots.Empty() {
			return true
		}
		switch spec.Role {
		case RoleReplica:
			return l.IsReplica() && masterID != "" && l.MasterID == masterID
		case RoleMaster:
			if l.IsMaster() {
				return !l.Slots.Intersect(spec.Slots).Empty()
			}
			// A replica of the acting master serving its slots (the node
			// was wiped after a failover), not a replica of itself.
			m := p.Lookup(l.MasterID)
			return m != nil && m.ID != n.ID && !m.Slots.Intersect(spec.Slots).Empty()
		}
		return false
	}
	out := map[string][]string{}
	for _, a := range sortedKeys(obs.Nodes) {
		p := obs.Node(a)
		if !p.OK() || p.ID == n.ID {
			continue
		}
		for j := range p.View {
			l := &p.View[j]
			if l.ID != n.ID && !l.Myself() && !l.Handshake() && !live[l.ID] && ours(p, l) {
				out[l.ID] = append(out[l.ID], a)
			}
		}
	}
	return out
}

// liveElsewhere lists the IDs of live nodes: the IDs observed nodes answer
// with (the node's own included; staleIDs skips it anyway), and the IDs
// any observed view lists (handshake entries aside) with an address not
// in mine.
func liveElsewhere(obs *Observed, mine map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, a := range sortedKeys(obs.Nodes) {
		p := obs.Node(a)
		if !p.OK() {
			continue
		}
		if p.ID != "" {
			out[p.ID] = true
		}
		for j := range p.View {
			l := &p.View[j]
			if !l.Handshake() && !l.HasFlag("noaddr") && l.Addr() != "" && !mine[l.Addr()] {
				out[l.ID] = true
			}
		}
	}
	return out
}

// openSlot is a slot left importing or migrating on the node, and where
// apply settles it.
type openSlot struct {
	slot  int
	state string // "importing from node X" or "migrating to node X"
	owner string // address of the node the slot and its keys go to
	// source is the address of the node the slot was moving from ("" when
	// unknown): a move out of it in this run holds its move lock.
	source string
}

// openSlots lists the node's open slots. A slot it declares settles on it;
// one it imports without declaring goes back to the node it came from;
// one it migrates without declaring goes on to its target.
func openSlots(spec NodeSpec, obs *Observed) ([]openSlot, error) {
	n := obs.Node(spec.Addr)
	self := n.Self()
	if self == nil || !self.IsMaster() {
		return nil, nil
	}
	addrOf := func(id string) string {
		if a := obs.AddrOf(id); a != "" {
			return a
		}
		if l := n.Lookup(id); l != nil {
			return l.Addr()
		}
		return ""
	}
	var out []openSlot
	add := func(slot int, state, other string) error {
		o := openSlot{slot: slot, state: state + " node " + short(other), owner: spec.Addr, source: spec.Addr}
		if state == "importing from" {
			o.source = addrOf(other)
		}
		if spec.Role != RoleMaster || !spec.Slots.Has(slot) {
			o.owner = addrOf(other)
			if o.owner == "" {
				return fmt.Errorf("node %s: slot %d is left %s, whose address is unknown: settle it by hand (CLUSTER SETSLOT %d STABLE on %s, once its keys are where they belong)",
					spec.Addr, slot, o.state, slot, spec.Addr)
			}
		}
		out = append(out, o)
		return nil
	}
	for _, s := range slices.Sorted(maps.Keys(self.Migrating)) {
		if err := add(s, "migrating to", self.Migrating[s]); err != nil {
			return nil, err
		}
	}
	for _, s := range slices.Sorted(maps.Keys(self.Importing)) {
		if err := add(s, "importing from", self.Importing[s]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// NodeDrift says in words what apply repairs on the node beyond its role,
// master and slots. Pure.
func NodeDrift(spec NodeSpec, obs *Observed) []string {
	var out []string
	stale := staleIDs(spec, obs, false)
	for _, id := range sortedKeys(stale) {
		out = append(out, fmt.Sprintf("%s still know node ID %s at %s or without an address, which no node has any more (a node was reset or replaced); apply makes every member forget it",
			strings.Join(stale[id], ", "), short(id), spec.Addr))
	}
	for _, p := range forgottenBy(spec, obs) {
		out = append(out, fmt.Sprintf("%s does not know %s (it was forgotten); apply makes them meet again", p, spec.Addr))
	}
	open, err := openSlots(spec, obs)
	if err != nil {
		return append(out, err.Error())
	}
	for _, o := range open {
		out = append(out, fmt.Sprintf("slot %d is left %s on %s by an interrupted move; apply settles it on %s with its keys", o.slot, o.state, spec.Addr, o.owner))
	}
	return out
}

// forgottenBy lists the node's peers that forgot it: members (they know
// other nodes) that do not know the node while it is a member itself
// (CLUSTER FORGET, or a reset of the peer's own view). Pure.
func forgottenBy(spec NodeSpec, obs *Observed) []string {
	n := obs.Node(spec.Addr)
	if !n.OK() || len(n.Known()) == 0 {
		return nil
	}
	var out []string
	for _, p := range spec.peers() {
		pn := obs.Node(p)
		if pn.OK() && pn.ID != n.ID && len(pn.Known()) > 0 && pn.Lookup(n.ID) == nil {
			out = append(out, p)
		}
	}
	return out
}

// rejoinSettle is how long the node must stay known by the peers that had
// forgotten it before apply trusts the rejoin: several gossip rounds of a
// small cluster, in which a spread forget reaches every member again.
const rejoinSettle = 2 * time.Second

// holdRejoin returns once the node, ready after meeting peers that had
// forgotten it, stays ready for rejoinSettle. Newer engines spread
// CLUSTER FORGET to every member (seen on Valkey 9.1 and Redis 8.6.3, not
// on Redis 7.0.15): until the forget's 60 s ban ends, each member that
// meets the node again forgets it at the next gossip that carries the
// forget, so one ready reading may not hold (Redis 8.6 even ignores the
// MEET meanwhile). While it does not hold, MEET again and wait.
func (e *Executor) holdRejoin(ctx context.Context, spec NodeSpec, forgotten, reachable []string, masterID string) error {
	addrs := spec.Addrs()
	ready := func(o *Observed) (bool, string) { return NodeReady(spec, o, masterID) }
	for {
		if err := sleep(ctx, rejoinSettle); err != nil {
			return fmt.Errorf("node %s: waiting for %s, which had forgotten it, to keep knowing it: %w", spec.Addr, strings.Join(forgotten, ", "), err)
		}
		obs := Observe(ctx, e.Pool, addrs, true)
		ok, why := ready(obs)
		if ok {
			return nil
		}
		e.info(ctx, "peers forgot the node again (a spread CLUSTER FORGET bans it for 60 s): meeting again", map[string]any{"address": spec.Addr, "waiting_on": why})
		if obs.Node(spec.Addr).OK() {
			_ = e.sendMeets(ctx, obs, missingMeets(obs, spec.Addr, reachable), true)
		}
		if err := e.waitFor(ctx, addrsDesired(addrs), obs, spec.Addr+" is known again by the peers that forgot it", ready); err != nil {
			return err
		}
	}
}

// nodeMembers lists the members the node and its peers know of (their
// announced addresses, the observed peers included), the node excluded.
func (e *Executor) nodeMembers(spec NodeSpec, obs *Observed) []string {
	id := obs.ID(spec.Addr)
	var members []string
	for _, a := range spec.Addrs() {
		for _, l := range obs.Node(a).Known() {
			if l.ID == id || l.Addr() == "" {
				continue
			}
			members = append(members, e.Pool.AnnouncedAddress(l.Addr()))
		}
		if a != spec.Addr && obs.Node(a).OK() && obs.ID(a) != id {
			members = append(members, a)
		}
	}
	return dedup(members)
}

// forgetStale makes every member forget the old IDs kept at the node's
// address. A replica of an old ID cannot forget its master ("Can't forget
// my master"): it is left to follow its declared master first.
func (e *Executor) forgetStale(ctx context.Context, spec NodeSpec, obs *Observed, create bool) (bool, error) {
	if len(staleIDs(spec, obs, create)) == 0 {
		return false, nil
	}
	all := Observe(ctx, e.Pool, dedup(append([]string{spec.Addr}, e.nodeMembers(spec, obs)...)), true)
	stale := staleIDs(spec, all, create)
	byNode := map[string][]string{}
	for _, id := range sortedKeys(stale) {
		for _, a := range stale[id] {
			if self := all.Node(a).Self(); self != nil && self.MasterID == id {
				continue
			}
			byNode[a] = append(byNode[a], id)
		}
	}
	err := e.each(ctx, sortedKeys(byNode), "CLUSTER FORGET", func(ctx context.Context, a string) error {
		for _, id := range byNode[a] {
			if err := e.Pool.Client(a).ClusterForget(ctx, id).Err(); err != nil && !isUnknownNode(err) {
				return err
			}
			e.info(ctx, "forgot stale node ID", map[string]any{"address": a, "node_id": id, "at": spec.Addr})
		}
		return nil
	})
	return len(byNode) > 0, err
}

// settleOpenSlots settles the node's open slots (see openSlots), keys
// kept, over every master the node and its peers know.
func (e *Executor) settleOpenSlots(ctx context.Context, spec NodeSpec, obs *Observed) (bool, error) {
	open, err := openSlots(spec, obs)
	if err != nil || len(open) == 0 {
		return false, err
	}
	all := Observe(ctx, e.Pool, dedup(append([]string{spec.Addr}, e.nodeMembers(spec, obs)...)), true)
	if err := e.Pool.CheckAccess(ctx, sortedKeys(all.Nodes), AccessMove); err != nil {
		return false, err
	}
	for _, o := range open {
		done, err := e.settleOpenSlot(ctx, spec, all, o)
		if err != nil {
			return true, err
		}
		if done {
			e.info(ctx, "settled open slot", map[string]any{"address": spec.Addr, "slot": o.slot, "owner": o.owner, "was": o.state})
		}
	}
	return true, nil
}

// settleOpenSlot settles one slot under a per-slot lock: the node at each
// end of an interrupted move sees it open, and both resources repair it.
func (e *Executor) settleOpenSlot(ctx context.Context, spec NodeSpec, all *Observed, o openSlot) (bool, error) {
	// A move of this run out of the source (a leaving master handing its
	// slots off, another node taking its declared slots) opened the slot
	// and settles it itself: wait for it, then look again.
	if o.source != "" {
		defer e.coord().Lock("move:" + o.source)()
	}
	defer e.coord().Lock(fmt.Sprintf("slot:%d", o.slot))()
	cur := Observe(ctx, e.Pool, sortedKeys(all.Nodes), true)
	still := false
	for _, a := range sortedKeys(cur.Nodes) {
		if self := cur.Node(a).Self(); self != nil {
			_, m := self.Migrating[o.slot]
			_, i := self.Importing[o.slot]
			still = still || m || i
		}
	}
	if !still {
		return false, nil // the resource at the other end settled it
	}
	if !cur.Node(o.owner).OK() {
		return false, fmt.Errorf("slot %d on %s must settle on %s, which cannot be read: %w", o.slot, spec.Addr, o.owner, cur.Node(o.owner).Err)
	}
	one := SlotSet{}
	one.Add(o.slot)
	return true, e.fixSlot(ctx, cur, Step{Kind: StepFixSlot, Addr: o.owner, TargetID: cur.ID(o.owner), Slots: one})
}

// repairNode repairs what the planner does not see from a node's point of
// view: old IDs its peers keep at its address, a replica declared master
// (reset, its data is a copy), slots an interrupted move left open on it.
// It returns a fresh observation when it changed anything.
func (e *Executor) repairNode(ctx context.Context, spec NodeSpec, obs *Observed, create bool) (*Observed, error) {
	changed, err := e.forgetStale(ctx, spec, obs, create)
	if err != nil {
		return obs, err
	}
	if changed {
		obs = e.observeMembers(ctx, spec)
	}
	if self := obs.Node(spec.Addr).Self(); spec.Role == RoleMaster && self != nil && self.IsReplica() {
		if failedOverFrom(spec, obs) == "" && !takingOverFrom(spec, obs) {
			if err := e.Pool.Client(spec.Addr).ClusterResetSoft(ctx).Err(); err != nil {
				return obs, nodeErr(spec.Addr, "CLUSTER RESET SOFT", err)
			}
			e.info(ctx, "reset replica to make it a master", map[string]any{"address": spec.Addr})
			obs = e.observeMembers(ctx, spec)
		}
	}
	if spec.Role == RoleMaster {
		settled, err := e.settleOpenSlots(ctx, spec, obs)
		if err != nil {
			return obs, err
		}
		if settled {
			obs = e.observeMembers(ctx, spec)
		}
	}
	return obs, nil
}

// takingOverFrom tells whether the node, declared master, replicates the
// master that serves exactly its declared slots: a takeover under way.
func takingOverFrom(spec NodeSpec, obs *Observed) bool {
	self := obs.Node(spec.Addr).Self()
	if self == nil || !self.IsReplica() || spec.Slots.Empty() {
		return false
	}
	m := obs.Node(obs.AddrOf(self.MasterID)).Self()
	return m != nil && m.IsMaster() && m.Slots.Equal(spec.Slots)
}
