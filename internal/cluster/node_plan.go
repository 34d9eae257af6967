package cluster

import (
	"fmt"
	"slices"
)

// A redis_cluster_node resource declares one node, not the cluster. It
// plans with the same Plan as a whole-cluster declaration: NodeDesired
// builds the cluster as its nodes report it, with this one node as
// declared, and NodePlan keeps the steps that the node takes part in. The
// other members' own resources change them; this one never does.

// NodePlanOptions steer NodePlan in what the executor has learned during
// an apply.
type NodePlanOptions struct {
	// TakingOver names the master this node is taking over by failover in
	// the current apply (it follows that master until it can fail over),
	// whatever Failback says.
	TakingOver string
	// NoTakeover: the master serving the node's slots is handing them off
	// (its own resource is deleting it), so the slots move with their keys
	// instead.
	NoTakeover bool
	// Leaving lists masters whose delete is handing their slots off: no
	// failover against them; a node they swapped with waits until they
	// have left.
	Leaving map[string]bool
	// Declared holds the declarations of other nodes joining in the same
	// run, by address. A master declared with slots it holds none of yet
	// keeps its last current slot until it has some: Redis turns a master
	// that gives its last slot away into a replica, and its own resource
	// may already have finished.
	Declared map[string]NodeSpec
}

// NodePlanResult is what a node resource's apply does next.
type NodePlanResult struct {
	// Steps are Plan's steps, for the cluster the node's declaration
	// implies (every other member as it is, this node as declared), that
	// the node takes part in, in
	// Plan's order, barriers left out: the executor waits on the node and
	// its peers only (see NodeReady).
	Steps []Step
	// Takeover names the master whose shard the node takes over by
	// replication and failover (it came back empty, or is new, while that
	// master serves exactly its declared slots).
	Takeover string
	// Swapped: a failover swapped the node and its declared partner, and
	// the declaration does not ask for the roles back (Failback off).
	Swapped bool
	// HandBack: the node, declared a replica, serves slots as a master
	// (not from a failover of its declared master): it waits for the
	// masters that declare them to take them.
	HandBack bool
	// Wait says what the node waits on before Plan has anything to do for
	// it (its declared master is itself a replica just now, say).
	Wait string
}

// NodePlan plans a node resource's apply from an observation of the node,
// its seeds and declared master, and the members they know. Pure.
func NodePlan(spec NodeSpec, obs *Observed, opt NodePlanOptions) (NodePlanResult, error) {
	var res NodePlanResult
	n := obs.Node(spec.Addr)
	if !n.OK() {
		if n != nil {
			return res, n.Err
		}
		return res, fmt.Errorf("node %s was not observed", spec.Addr)
	}
	if n.Self() == nil {
		return res, fmt.Errorf("node %s: its CLUSTER NODES has no line for itself", spec.Addr)
	}
	if err := unreadableOwners(obs); err != nil {
		return res, err
	}
	nd := &nodeDesire{spec: spec, obs: obs, opt: opt, members: nodeMembersOf(spec, obs)}
	nd.shards, nd.shardOf = observedShards(obs, nd.members)
	nd.d = Desired{Failback: spec.Failback}
	var done bool
	if spec.Role == RoleMaster {
		done = nd.master(&res)
	} else {
		done = nd.replica(&res)
	}
	if done {
		return res, nil
	}
	for _, s := range nd.shards {
		if s.Master != "" {
			nd.d.Shards = append(nd.d.Shards, s)
		}
	}
	steps, err := Plan(nd.d, obs)
	if err != nil {
		return res, err
	}
	res.Steps, res.Wait = holdLastSlot(obs, opt, nodeScope(spec, obs, steps))
	return res, nil
}

// nodeDesire builds NodePlan's Desired: the observed shards, with the
// node placed as declared.
type nodeDesire struct {
	spec    NodeSpec
	obs     *Observed
	opt     NodePlanOptions
	members []string
	shards  []Shard
	shardOf map[string]int
	d       Desired
}

// master places a node declared master: its shard gets its declared
// slots (and keeps what it serves), other shards lose them; a master it
// takes over, or fails back from, joins its shard. It returns true when
// the plan ends here (res says why).
func (nd *nodeDesire) master(res *NodePlanResult) bool {
	spec, obs, n := nd.spec, nd.obs, nd.obs.Node(nd.spec.Addr)
	mine := Shard{Master: spec.Addr, Slots: spec.Slots.Union(selfClaims(n.Self()))}
	// The shard whose master the node replaces or hands back to.
	from := ""
	if acting := failedOverFrom(spec, obs); acting != "" {
		if !spec.Failback && acting != nd.opt.TakingOver {
			res.Swapped = true
			return true
		}
		if nd.opt.Leaving[acting] {
			res.Wait = fmt.Sprintf("acting master %s is leaving the cluster and handing its slots off", acting)
			return true
		}
		from = acting
	} else if src := takeoverOf(spec, obs, nd.shards, nd.opt); src != "" {
		from, res.Takeover = src, src
	}
	if i, ok := nd.shardOf[from]; ok && from != "" {
		// The acting (or replaced) master and its replicas join the
		// node's shard: Plan makes the node follow it, then fail over.
		mine.Replicas = append(mine.Replicas, nd.shards[i].Members()...)
		mine.Slots = mine.Slots.Union(nd.shards[i].Slots)
		nd.shards[i] = Shard{}
		nd.d.Failback = true
	}
	for i := range nd.shards {
		nd.shards[i].Slots = nd.shards[i].Slots.Minus(spec.Slots)
	}
	// The node's own followers stay in its shard.
	mine.Replicas = append(mine.Replicas, followersOf(obs, nd.members, n.ID, mine.Replicas)...)
	nd.d.Shards = append(nd.d.Shards, mine)
	return false
}

// replica places a node declared replica in its declared master's shard,
// or in a shard of its own with that master when a failover swapped them.
// It returns true when the plan ends here: a swap kept as it is, slots the
// node still serves (HandBack), or a declared master that is not a master
// yet (Wait).
func (nd *nodeDesire) replica(res *NodePlanResult) bool {
	spec, obs, n := nd.spec, nd.obs, nd.obs.Node(nd.spec.Addr)
	self, ms := n.Self(), obs.Node(spec.Master).Self()
	if fb, _ := swapped(spec, obs); fb != "" {
		if !spec.Failback {
			res.Swapped = true
			return true
		}
		// The node serves its declared master's slots since a failover:
		// the shard is the node's, with the master in it.
		nd.d.Failback = true
		reps := append([]string{spec.Addr}, followersOf(obs, nd.members, n.ID, []string{spec.Master})...)
		nd.d.Shards = append(nd.d.Shards, Shard{Master: spec.Master, Replicas: reps, Slots: selfClaims(self)})
		return false
	}
	if self.IsMaster() && !self.Slots.Empty() {
		res.HandBack = true
		return true
	}
	i, ok := nd.shardOf[spec.Master]
	if !ok || ms == nil || !ms.IsMaster() {
		res.Wait = fmt.Sprintf("declared master %s is not a master yet", spec.Master)
		if ms != nil && ms.IsReplica() {
			res.Wait = fmt.Sprintf("declared master %s is a replica of %s just now", spec.Master, followed(obs, ms))
		}
		return true
	}
	nd.shards[i].Replicas = append(nd.shards[i].Replicas, spec.Addr)
	return false
}

// holdLastSlot drops the moves that would take the last slots of a master
// declared (in this run) with slots it holds none of yet, and says what the
// node waits for instead.
func holdLastSlot(obs *Observed, opt NodePlanOptions, steps []Step) ([]Step, string) {
	var out []Step
	var wait string
	for _, s := range steps {
		if s.Kind == StepMoveSlots {
			d, ok := opt.Declared[s.Addr]
			src := obs.Node(s.Addr).Self()
			if ok && d.Role == RoleMaster && !d.Slots.Empty() && src != nil &&
				src.Slots.Minus(s.Slots).Empty() && src.Slots.Intersect(d.Slots).Empty() {
				last := lastSlot(s.Slots)
				s.Slots = s.Slots.Minus(NewSlotSet(SlotRange{last, last}))
				wait = fmt.Sprintf("slot %d stays on %s until it has some of its own declared slots (a master without slots turns replica)", last, s.Addr)
				if s.Slots.Empty() {
					continue
				}
			}
		}
		out = append(out, s)
	}
	if wait != "" && !slices.ContainsFunc(out, func(s Step) bool { return s.Kind != StepAnnounce }) {
		return nil, wait
	}
	return out, ""
}

// failedOverFrom returns the acting master when a failover swapped the
// node, declared master, and the replica that took its shard over: the
// node follows a master that serves only slots declared on the node. A
// master that also serves other slots is not this node's shard (a leaving
// master's last slots made the node follow the master that took them):
// the node resets and takes its slots with their keys instead.
func failedOverFrom(spec NodeSpec, obs *Observed) string {
	fb, acting := swapped(spec, obs)
	if fb == "" {
		return ""
	}
	self := obs.Node(spec.Addr).Self()
	l := obs.Node(spec.Addr).Lookup(self.MasterID)
	if l == nil || !l.Slots.Minus(spec.Slots).Empty() {
		return ""
	}
	return acting
}

// nodeScope keeps the steps a node resource runs: those sent to the node,
// the MEETs between it and its peers (seeds and declared master), and the
// moves and failover aimed at it. Other members learn of the node by
// gossip: a MEET (or announce) to a member that is not a peer could reach
// a node that its own resource resets meanwhile, and join it again. A
// move from a
// master the node does not know yet (SETSLOT IMPORTING names it by ID)
// becomes a MEET with that master; the move comes in the next round.
// Config epochs, barriers, removals and settings belong to whole-cluster
// declarations (a lone node's epoch cannot be set once another resource
// met it); open slots and other members' stale IDs are repaired by the
// node's own checks (node_repair.go).
func nodeScope(spec NodeSpec, obs *Observed, steps []Step) []Step {
	peer := map[string]bool{}
	for _, p := range spec.peers() {
		peer[p] = true
	}
	var out []Step
	met := map[string]bool{}
	meet := func(other string) {
		if !met[other] {
			met[other] = true
			if !knows(obs, spec.Addr, other) {
				out = append(out, meetStep(StepMeet, obs, spec.Addr, other))
			} else {
				out = append(out, meetStep(StepMeet, obs, other, spec.Addr))
			}
		}
	}
	for _, s := range steps {
		switch s.Kind {
		case StepAddSlots:
			// Only slots no line of the node's own view serves: ADDSLOTS
			// refuses a slot with any owner there ("already busy").
			if s.Addr == spec.Addr {
				s.Slots = s.Slots.Minus(servedIn(obs.Node(spec.Addr)))
				if !s.Slots.Empty() {
					out = append(out, s)
				}
			}
		case StepReplicate, StepForget:
			if s.Addr == spec.Addr {
				out = append(out, s)
			}
		case StepAnnounce:
			// An announce is a MEET too: to peers only.
			if s.Addr == spec.Addr && peer[s.Target] {
				out = append(out, s)
			}
		case StepMeet:
			if s.Addr == spec.Addr && peer[s.Target] || s.Target == spec.Addr && peer[s.Addr] {
				met[s.Addr+" "+s.Target] = true
				out = append(out, s)
			}
		case StepMoveSlots:
			if s.Target != spec.Addr {
				continue
			}
			if !knows(obs, spec.Addr, s.Addr) || !knows(obs, s.Addr, spec.Addr) {
				meet(s.Addr)
				continue
			}
			out = append(out, s)
		case StepFailover:
			if s.Addr == spec.Addr || s.Target == spec.Addr {
				out = append(out, s)
			}
		}
	}
	// Announces follow the node's own changes; on their own (the plan
	// changes other members only) there is nothing to announce.
	if !slices.ContainsFunc(out, func(s Step) bool { return s.Kind != StepAnnounce }) {
		return nil
	}
	return out
}

// nodeMembersOf lists the addresses NodeDesired counts as members: the
// node's seeds and declared master, and every other observed node that
// some observed node knows by the ID it answers with. A node reset or
// replaced at a member's address answers with a new ID nobody knows yet:
// it is not a member until its own resource joins it.
func nodeMembersOf(spec NodeSpec, obs *Observed) []string {
	known := map[string]bool{}
	for _, a := range sortedKeys(obs.Nodes) {
		st := obs.Node(a)
		if !st.OK() {
			continue
		}
		for _, l := range st.Known() {
			known[l.ID] = true
		}
	}
	var out []string
	for _, a := range sortedKeys(obs.Nodes) {
		st := obs.Node(a)
		if a == spec.Addr || !st.OK() || st.Self() == nil || st.ID == obs.ID(spec.Addr) {
			continue
		}
		if known[st.ID] || slices.Contains(spec.peers(), a) {
			out = append(out, a)
		}
	}
	return out
}

// observedShards groups the members as they report themselves: one shard
// per master (its own slot claims), with the replicas that follow it.
// shardOf maps each master's address to its shard.
func observedShards(obs *Observed, members []string) ([]Shard, map[string]int) {
	var shards []Shard
	shardOf := map[string]int{}
	byID := map[string]string{}
	for _, a := range members {
		self := obs.Node(a).Self()
		if self.IsMaster() {
			shardOf[a] = len(shards)
			byID[self.ID] = a
			shards = append(shards, Shard{Master: a, Slots: self.Slots})
		}
	}
	for _, a := range members {
		self := obs.Node(a).Self()
		if !self.IsReplica() {
			continue
		}
		if m, ok := byID[self.MasterID]; ok {
			i := shardOf[m]
			shards[i].Replicas = append(shards[i].Replicas, a)
		}
	}
	return shards, shardOf
}

// selfClaims is what the node serves as a master by its own claim.
func selfClaims(self *NodeLine) SlotSet {
	if self.IsMaster() {
		return self.Slots
	}
	return SlotSet{}
}

// followersOf lists the members that replicate the node, skipping those
// already listed.
func followersOf(obs *Observed, members []string, id string, listed []string) []string {
	var out []string
	for _, a := range members {
		if self := obs.Node(a).Self(); self.IsReplica() && self.MasterID == id && !slices.Contains(listed, a) {
			out = append(out, a)
		}
	}
	return out
}

// takeoverOf returns the master whose shard the node takes over by
// replication and failover: one that serves exactly the node's declared
// slots while the node, a master, holds no slot and no key (it is new, or
// came back empty). "" when there is none, or when opt says the master is
// handing its slots off.
func takeoverOf(spec NodeSpec, obs *Observed, shards []Shard, opt NodePlanOptions) string {
	if opt.TakingOver != "" {
		return opt.TakingOver
	}
	n := obs.Node(spec.Addr)
	self := n.Self()
	if opt.NoTakeover || spec.Slots.Empty() || !self.IsMaster() || !self.Slots.Empty() || n.Keys > 0 {
		return ""
	}
	for _, s := range shards {
		if s.Master == "" || !s.Slots.Equal(spec.Slots) {
			continue
		}
		// Not one the node sees failing: it could not sync from it.
		if l := n.Lookup(obs.ID(s.Master)); l != nil && (l.Failing() || l.Handshake()) {
			continue
		}
		return s.Master
	}
	return ""
}

// unreadableOwners reports masters that the node or its peers see serving
// slots but that could not be read: Plan cannot tell where those slots
// belong. Address-less entries are left to the stale-ID repair.
func unreadableOwners(obs *Observed) error {
	var errs Errors
	seen := map[string]bool{}
	for _, a := range sortedKeys(obs.Nodes) {
		st := obs.Node(a)
		if !st.OK() {
			continue
		}
		for _, l := range st.Known() {
			if !l.IsMaster() || l.Slots.Empty() || seen[l.ID] || obs.AddrOf(l.ID) != "" {
				continue
			}
			seen[l.ID] = true
			at := l.Addr()
			cause := "it was not read"
			if m := obs.Node(at); m.OK() {
				continue // another node answers there: a stale entry
			} else if m != nil {
				cause = m.Err.Error()
			}
			errs = append(errs, &ownerUnreadableError{fmt.Sprintf("slots %s are served by %s, which cannot be read (%s): the node's plan needs every master that serves slots to answer; bring it back, or fail it over", l.Slots, describe(at, l.ID), cause)})
		}
	}
	return errs.Err()
}

// servedIn is every slot some line of the node's view serves.
func servedIn(n *NodeState) SlotSet {
	var out SlotBuilder
	for j := range n.View {
		l := &n.View[j]
		if l.IsMaster() {
			out.AddSet(l.Slots)
		}
	}
	return out.Set()
}

// ownerUnreadableError: a master serving slots did not answer the read a
// node plan needs (it may be busy: a MIGRATE blocks its source).
type ownerUnreadableError struct{ msg string }

func (e *ownerUnreadableError) Error() string { return e.msg }
