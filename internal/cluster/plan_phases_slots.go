package cluster

import (
	"fmt"
	"slices"
)

// Plan's slot phases: who claims each slot, slots an undeclared node
// serves, the master each shard is planned from, slot assignments and
// moves, and the order moves run in.

// slotClaims reads, for each slot, the declared (or removed) master that
// claims it in its own view ("" for none), and the slots some node has
// left importing or migrating. Two claims for a slot happen briefly after
// a failover, until the old master hears of it: the higher config epoch
// wins (on a tie, the later address in d.Observed()).
func slotClaims(d Desired, obs *Observed) (*[SlotCount]string, SlotSet) {
	claims := new([SlotCount]string)
	var open SlotBuilder
	for _, a := range d.Observed() {
		self := obs.Node(a).Self()
		for slot := range self.Migrating {
			open.Add(slot)
		}
		for slot := range self.Importing {
			open.Add(slot)
		}
		if !self.IsMaster() {
			continue
		}
		for _, slot := range self.Slots.Slots() {
			if prev := claims[slot]; prev != "" && obs.Node(prev).Self().ConfigEpoch > self.ConfigEpoch {
				continue
			}
			claims[slot] = a
		}
	}
	return claims, open.Set()
}

// foreignOwners refuses the plan when some member believes a node that is
// not declared (nor stale) serves slots: the planner never takes slots
// from a node the configuration does not name. One ForeignSlotsError per
// such node, by ID.
func (p *planner) foreignOwners() error {
	foreign := map[string]SlotSet{}
	for _, a := range p.addrs {
		for l := range p.obs.Node(a).known() {
			// Most lines are declared members: one lookup skips them.
			if p.obs.AddrOf(l.ID) != "" || p.stale[l.ID] != "" || l.Slots.Empty() {
				continue
			}
			foreign[l.ID] = foreign[l.ID].Union(l.Slots)
		}
	}
	var errs Errors
	for _, id := range sortedKeys(foreign) {
		errs = append(errs, &ForeignSlotsError{ID: id, Slots: foreign[id]})
	}
	if len(errs) > 0 {
		return errs
	}
	return nil
}

// actingMasters sets the master each shard is planned from this round: a
// leaving master whose shard the declared master takes over by failover
// (takeoverSource; marked in handover when the slots also change), else
// the member acting as master (currentMaster).
func (p *planner) actingMasters() {
	p.current = make([]string, len(p.d.Shards))
	p.handover = map[string]bool{}
	for i := range p.d.Shards {
		if src, exact := takeoverSource(p.d, p.obs, i); src != "" && !slices.Contains(p.current, src) {
			p.current[i] = src
			p.handover[src] = !exact
		}
	}
	for i, s := range p.d.Shards {
		if p.current[i] == "" {
			p.current[i], _ = currentMaster(p.obs, s)
		}
	}
}

// slotSteps plans each shard's slots onto its acting master: slots no node
// serves are added (adds, run first: the rejoin delay starts then), slots
// another declared master serves move with their keys, and open slots are
// settled (moves, run once every node knows every other). A shard being
// handed over moves nothing this round.
func (p *planner) slotSteps() (adds, moves []Step) {
	for i, s := range p.d.Shards {
		cur := p.current[i]
		if p.handover[cur] {
			continue
		}
		var unowned SlotBuilder
		from := map[string]*SlotBuilder{}
		for _, slot := range s.Slots.Slots() {
			owner := p.claims[slot]
			switch {
			case p.open.Has(slot):
				moves = append(moves, Step{Kind: StepFixSlot, Addr: cur, TargetID: p.obs.ID(cur), Slots: NewSlotSet(SlotRange{slot, slot}),
					Why: fmt.Sprintf("slot %d was left importing/migrating by an interrupted move; apply moves its keys to %s and closes it", slot, cur)})
			case owner == "":
				unowned.Add(slot)
			case owner != cur:
				if from[owner] == nil {
					from[owner] = &SlotBuilder{}
				}
				from[owner].Add(slot)
			}
		}
		if u := unowned.Set(); !u.Empty() {
			adds = append(adds, Step{Kind: StepAddSlots, Addr: cur, Slots: u,
				Why: fmt.Sprintf("slots %s are served by no node; apply assigns them to %s", u, cur)})
		}
		for _, src := range sortedKeys(from) {
			if p.handover[src] {
				continue // it moves from the new master next round
			}
			m := from[src].Set()
			moves = append(moves, Step{Kind: StepMoveSlots, Addr: src, Target: cur, TargetID: p.obs.ID(cur), Slots: m,
				Why: fmt.Sprintf("slots %s are served by %s but declared on %s; apply moves them back with their keys", m, src, cur)})
		}
	}
	return adds, moves
}

// orderMoves records the slots each source gives away (for the role and
// removal phases), holds back the last slot of a master that also
// receives slots (holdLastSlots), and numbers the moves in waves: the
// held-back ones in waves of their own, after the others.
func (p *planner) orderMoves(moves []Step) []Step {
	p.outgoing = outgoingSlots(moves)
	rest, held := holdLastSlots(p.d, moves, p.claimed)
	out := inWaves(rest, 0)
	return append(out, inWaves(held, lastWave(out)+1)...)
}

// holdLastSlots keeps every declared master serving at least one slot
// while it also receives slots: Redis turns a master that gives away its
// last slot into a replica of the new owner (cluster-allow-replica-
// migration), and a replica accepts no slots. For such a master, the last
// slot of its last outgoing move is split off into a move of its own, to
// run after all the others (by then it has received its new slots). It
// returns the moves without those slots, and the held-back moves.
func holdLastSlots(d Desired, moves []Step, claimed map[string]SlotSet) (rest, held []Step) {
	outgoing := outgoingSlots(moves)
	last := map[string]int{}
	incoming := map[string]bool{}
	for i, m := range moves {
		if m.Kind == StepMoveSlots {
			last[m.Addr] = i
		}
		incoming[m.Target] = true
	}
	rest = slices.Clone(moves)
	for _, src := range sortedKeys(last) {
		role, _, _ := d.Role(src)
		if role != RoleMaster || !incoming[src] || !claimed[src].Minus(outgoing[src]).Empty() {
			continue
		}
		m := &rest[last[src]]
		slot := lastSlot(m.Slots)
		one := NewSlotSet(SlotRange{slot, slot})
		h := *m
		h.Slots = one
		m.Slots = m.Slots.Minus(one)
		held = append(held, h)
	}
	rest = slices.DeleteFunc(rest, func(m Step) bool { return m.Kind == StepMoveSlots && m.Slots.Empty() })
	return rest, held
}

// outgoingSlots maps each move's source to the slots it gives away.
func outgoingSlots(moves []Step) map[string]SlotSet {
	out := map[string]SlotSet{}
	for _, m := range moves {
		if m.Kind == StepMoveSlots {
			out[m.Addr] = out[m.Addr].Union(m.Slots)
		}
	}
	return out
}

func lastWave(steps []Step) int {
	w := -1
	for _, s := range steps {
		if s.Kind == StepMoveSlots || s.Kind == StepFixSlot {
			w = max(w, s.Wave)
		}
	}
	return w
}

// inWaves orders slot moves into waves in which no node is both a source
// and a target, keeping the planner's order inside a wave. Waves are
// numbered from first.
func inWaves(moves []Step, first int) []Step {
	var out []Step
	rest := moves
	for wave := first; len(rest) > 0; wave++ {
		src, dst := map[string]bool{}, map[string]bool{}
		var later []Step
		for _, m := range rest {
			if dst[m.Addr] || src[m.Target] {
				later = append(later, m)
				continue
			}
			m.Wave = wave
			src[m.Addr], dst[m.Target] = true, true
			out = append(out, m)
		}
		rest = later
	}
	return out
}

// takeoverSource returns the master that shard i's declared master replaces
// by replication and failover rather than by moving keys: a node being
// removed, or declared a replica elsewhere, that the declared master
// already replicates, or that serves exactly the shard's declared slots
// while the declared master holds no slots and no keys. exact tells that it
// serves exactly the declared slots. "" when there is none.
func takeoverSource(d Desired, obs *Observed, i int) (src string, exact bool) {
	s := d.Shards[i]
	m := obs.Node(s.Master)
	mSelf := m.Self()
	if mSelf == nil || s.Slots.Empty() {
		return "", false
	}
	// Masters that stop being masters: nodes being removed, and nodes now
	// declared replicas of another shard. (A declared replica of this
	// shard serving its slots is a failover: currentMaster handles it.)
	leaving := slices.Clone(d.Remove)
	for j, o := range d.Shards {
		if j != i {
			leaving = append(leaving, o.Replicas...)
		}
	}
	for _, r := range leaving {
		x := obs.Node(r).Self()
		if x == nil || !x.IsMaster() || x.Slots.Empty() {
			continue
		}
		// A replica of the leaving master takes over whatever it serves
		// (slots that change move afterwards); an empty master only a
		// shard with the same slots.
		if mSelf.IsReplica() && mSelf.MasterID == x.ID {
			return r, x.Slots.Equal(s.Slots)
		}
		if x.Slots.Equal(s.Slots) && mSelf.IsMaster() && mSelf.Slots.Empty() && m.Keys == 0 {
			return r, true
		}
	}
	return "", false
}

// currentMaster is the member of s acting as its master: the declared
// master when it serves slots (or when no member does), else a declared
// replica that serves them since a failover. promoted says which case.
func currentMaster(obs *Observed, s Shard) (addr string, promoted bool) {
	m := obs.Node(s.Master).Self()
	mServes := m != nil && m.IsMaster() && !m.Slots.Empty()
	for _, r := range s.Replicas {
		self := obs.Node(r).Self()
		if self == nil || !self.IsMaster() || self.Slots.Empty() {
			continue
		}
		// An old master that just came back may still claim its slots
		// until it hears of the failover: the higher config epoch wins.
		if !mServes || (!m.Slots.Intersect(self.Slots).Empty() && self.ConfigEpoch > m.ConfigEpoch) {
			return r, true
		}
	}
	return s.Master, false
}
