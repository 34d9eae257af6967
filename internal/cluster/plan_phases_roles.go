package cluster

import (
	"fmt"
	"slices"
)

// Plan's role phases: fail-backs and replicas, nodes being removed, and
// the announce and wait that end a round.

// roleSteps plans each shard's roles. A shard whose declared master lost
// mastership to one of its replicas (a failover, or the master was reset
// or replaced) is failed back when Failback is set: the declared master
// first follows the acting master, then takes over with CLUSTER FAILOVER
// once in sync (the other replicas follow it by themselves). Without
// Failback the acting master keeps the role and the others follow it.
// A declared replica that serves slots nobody moves away is an error.
func (p *planner) roleSteps() ([]Step, error) {
	p.expect = Desired{Failback: p.d.Failback, Shards: append([]Shard(nil), p.d.Shards...)}
	var steps []Step
	var errs Errors
	for i := range p.d.Shards {
		st, err := p.shardRoleSteps(i)
		steps = append(steps, st...)
		errs = append(errs, err...)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return steps, nil
}

// shardRoleSteps plans shard i's roles (see roleSteps): a CLUSTER FAILOVER
// when its declared master follows the acting one and takes mastership
// back, else a CLUSTER REPLICATE for each member that follows the wrong
// master. It records in p.expect what a round that only gets part of the
// way waits for, and in p.deferred a re-point left to the next round.
func (p *planner) shardRoleSteps(i int) ([]Step, Errors) {
	s, cur, obs := p.d.Shards[i], p.current[i], p.obs
	mSelf := obs.Node(s.Master).Self()
	followsActing := mSelf.IsReplica() && mSelf.MasterID == obs.ID(cur)
	// A master that stops being one (removed, or declared a replica
	// elsewhere) hands its shard to the declared master like a
	// fail-back, whatever Failback says: the declared master
	// replicates it, then takes over once in sync (takeoverSource).
	takeover := cur != s.Master && !slices.Contains(s.Members(), cur)
	failback := p.d.Failback || takeover
	if failback && cur != s.Master && !followsActing {
		// This round makes the declared master follow the acting one;
		// the failback itself comes in the next round.
		var reps []string
		for _, x := range s.Members() {
			if x != cur {
				reps = append(reps, x)
			}
		}
		p.expect.Shards[i] = Shard{Master: cur, Replicas: reps, Slots: s.Slots}
		p.partial = true
	}
	if cur != s.Master && failback && followsActing {
		why := fmt.Sprintf("shard %d: declared master %s is a replica of %s, which is master since a failover; apply hands mastership back with CLUSTER FAILOVER", i+1, s.Master, cur)
		if takeover {
			why = takeoverWhy(i, s, cur)
		}
		return []Step{{Kind: StepFailover, Addr: s.Master, Target: cur, TargetID: obs.ID(cur), Why: why}}, nil
	}
	var steps []Step
	var errs Errors
	for _, x := range s.Members() {
		if x == cur {
			continue
		}
		st, err := p.memberRoleStep(i, x, takeover)
		if err != nil {
			errs = append(errs, err)
		} else if st != nil {
			steps = append(steps, *st)
		}
	}
	return steps, errs
}

// memberRoleStep plans member x of shard i, not its acting master: nothing
// when it follows the acting master, or when it is a master whose slots a
// newer epoch took over (it turns replica by itself) or this round empties
// (the next round re-points it; p.deferred); an error when it is a master
// serving slots nobody moves; else a CLUSTER REPLICATE of the acting
// master.
func (p *planner) memberRoleStep(i int, x string, takeover bool) (*Step, error) {
	s, cur, obs := p.d.Shards[i], p.current[i], p.obs
	curID := obs.ID(cur)
	self := obs.Node(x).Self()
	switch {
	case self.IsReplica() && self.MasterID == curID:
		// as declared
	case self.IsMaster() && !self.Slots.Empty() && (x == s.Master || supersededBy(self, obs.Node(cur).Self())):
		// An old master (back from the dead, or just failed over)
		// still claims slots that a newer epoch took over; it turns
		// replica by itself, and a later round sees it as one.
	case self.IsMaster() && !self.Slots.Empty() &&
		(slices.Contains(p.current, x) || p.claimed[x].Minus(p.outgoing[x]).Empty()):
		// A master this plan empties (its slots move away, or it
		// hands its shard to a new master by failover): once it
		// has no slots, the next round makes it a replica here.
		p.deferred = true
	case self.IsMaster() && !self.Slots.Empty():
		return nil, fmt.Errorf("%s is declared a replica in the shard of %s but is a master serving slots %s: move its slots to a declared master first",
			x, s.Master, self.Slots)
	default:
		why := fmt.Sprintf("%s follows %s, declared to follow %s; apply re-points it with CLUSTER REPLICATE", x, followed(obs, self), cur)
		switch {
		case takeover:
			why = takeoverWhy(i, s, cur)
		case self.IsMaster():
			why = fmt.Sprintf("%s is a master without slots, declared to follow %s; apply makes it a replica with CLUSTER REPLICATE", x, cur)
		}
		return &Step{Kind: StepReplicate, Addr: x, Target: cur, TargetID: curID, Why: why}, nil
	}
	return nil, nil
}

// detachSteps makes a declared master that replicates a node outside its
// shard a master again. Redis turns a master that gives its last slot
// away into a replica of the node that took it (cluster-allow-replica-
// migration, on by default), and a master may be re-pointed by hand; no
// failover brings it back, and no CLUSTER command makes a replica a
// master without taking slots. CLUSTER RESET SOFT does: the node keeps
// its ID and epochs, drops its data (a copy of the other shard's), and
// forgets the cluster; a MEET with the master it replicated brings it
// back in, and gossip tells the others it is a master. A replica of a
// master that does not answer may hold the only copy of that master's
// data: the plan fails then rather than reset it.
func (p *planner) detachSteps() ([]Step, error) {
	var steps []Step
	var errs Errors
	for i, s := range p.d.Shards {
		self := p.obs.Node(s.Master).Self()
		if p.current[i] != s.Master || !self.IsReplica() {
			continue
		}
		m := p.obs.AddrOf(self.MasterID)
		if slices.Contains(s.Members(), m) {
			continue // a fail-back (roleSteps)
		}
		if ms := p.obs.Node(m).Self(); !p.obs.Node(m).OK() || !ms.IsMaster() {
			errs = append(errs, fmt.Errorf("%s is declared master of shard %d but replicates %s, which was not read as a master (it is not declared, or does not answer): %s may hold the only copy of its data, so apply does not reset it; bring that master back or let the cluster fail over to %s, or, if its data is not needed, run CLUSTER RESET SOFT on %s, then apply again",
				s.Master, i+1, followed(p.obs, self), s.Master, s.Master, s.Master))
			continue
		}
		st := meetStep(StepDetach, p.obs, s.Master, m)
		st.TargetID = self.MasterID
		st.Why = fmt.Sprintf("shard %d: declared master %s is a replica of %s, outside its shard (a master that gives its last slot away becomes a replica of the node that took it); apply resets it to a master with CLUSTER RESET SOFT (its data is a copy of %s's) and meets it again", i+1, s.Master, m, m)
		steps = append(steps, st)
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return steps, nil
}

// removalSteps takes out the nodes being removed: once their slots are
// gone and their replicas follow declared masters, every declared member
// forgets them (all at once, inside FORGET's 60 s ban) and they are reset.
// Members that do not know a leaving node yet are told too: a node joining
// in this apply learns it by gossip while slots move, and would otherwise
// keep its ID, address-less, once the node is reset (FORGET of an unknown
// ID is a no-op). A node that still serves slots this round does not move
// leaves in a later round (p.deferred).
func (p *planner) removalSteps() []Step {
	var steps []Step
	for _, r := range p.d.Remove {
		rid := p.obs.ID(r)
		if rid == "" {
			continue
		}
		if slices.Contains(p.current, r) || !p.claimed[r].Minus(p.outgoing[r]).Empty() {
			// It still serves slots this round does not move (it hands
			// its shard over by failover first): it leaves once empty.
			p.deferred = true
			continue
		}
		if slices.ContainsFunc(p.addrs, func(a string) bool { return p.obs.Node(a).Lookup(rid) != nil }) {
			for _, a := range p.addrs {
				steps = append(steps, Step{Kind: StepDrop, Addr: a, Target: r, TargetID: rid,
					Why: fmt.Sprintf("%s is no longer declared; apply removes it from the cluster", r)})
			}
		}
		if n := p.obs.Node(r); len(n.View) > 1 || !n.Self().Slots.Empty() {
			steps = append(steps, Step{Kind: StepReset, Addr: r, TargetID: rid})
		}
	}
	return steps
}

// announceSteps ends a round that changed something: a second MEET from
// every declared node to every other spreads roles and slots in one tick
// rather than by gossip, then a wait until all agree (on p.expect when
// the round gets only part of the way). A round that leaves work for the
// next one (p.deferred) ends without waiting: the next round reads the
// nodes and goes on.
func (p *planner) announceSteps(changed bool) []Step {
	if !changed {
		return nil
	}
	var steps []Step
	for _, a := range p.addrs {
		for _, b := range p.addrs {
			if a != b {
				steps = append(steps, meetStep(StepAnnounce, p.obs, a, b))
			}
		}
	}
	if !p.deferred {
		wait := Step{Kind: StepWaitReady}
		if p.partial {
			expect := p.expect
			wait.Expect = &expect
		}
		steps = append(steps, wait)
	}
	return steps
}

func followed(obs *Observed, self *NodeLine) string {
	if a := obs.AddrOf(self.MasterID); a != "" {
		return a
	}
	return "node " + self.MasterID
}

func takeoverWhy(i int, s Shard, from string) string {
	return fmt.Sprintf("shard %d: %s replaces %s as master of slots %s: apply makes it a replica of %s, waits until it is in sync, then hands it the shard with CLUSTER FAILOVER (no key moves)", i+1, s.Master, from, s.Slots, from)
}

// supersededBy tells whether a master's slot claims are stale: another
// master claims some of the same slots with a higher config epoch.
func supersededBy(stale, newer *NodeLine) bool {
	return stale != nil && newer != nil && newer.IsMaster() && newer.ConfigEpoch > stale.ConfigEpoch &&
		!stale.Slots.Intersect(newer.Slots).Empty()
}
