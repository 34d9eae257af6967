package cluster

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// StepKind names one kind of change the executor knows how to make.
type StepKind int

// Step kinds, in the order a plan uses them.
const (
	// StepAddSlots: CLUSTER ADDSLOTS(RANGE) on Addr for Slots no node owns.
	StepAddSlots StepKind = iota
	// StepSetEpoch: CLUSTER SET-CONFIG-EPOCH on a lone, fresh node, so
	// masters start with distinct epochs as redis-cli makes them.
	StepSetEpoch
	// StepMeet: CLUSTER MEET from Addr to Target.
	StepMeet
	// StepWaitKnown: barrier until every declared node knows every other.
	StepWaitKnown
	// StepForget: CLUSTER FORGET TargetID on Addr (a stale entry).
	StepForget
	// StepMoveSlots: move Slots with their keys from Addr to Target.
	StepMoveSlots
	// StepFixSlot: settle a slot left importing/migrating: move every key
	// of it to Addr (its declared owner) and assign it there everywhere.
	StepFixSlot
	// StepReplicate: CLUSTER REPLICATE on Addr to the node at Target.
	StepReplicate
	// StepFailover: CLUSTER FAILOVER on Addr (a replica) once it is in sync.
	StepFailover
	// StepDrop: CLUSTER FORGET TargetID (a node being removed) on Addr.
	StepDrop
	// StepReset: CLUSTER RESET HARD on Addr, a node being removed.
	StepReset
	// StepAnnounce: a second MEET from Addr to Target, which both already
	// know, so Target reads Addr's new role and slots at once instead of
	// waiting for gossip.
	StepAnnounce
	// StepWaitReady: barrier until every declared node reports
	// cluster_state:ok and agrees on roles and slot owners.
	StepWaitReady
	// StepConfigSet: CONFIG SET of Settings on Addr (declared settings
	// that differ there), read back, and CONFIG REWRITE where the node
	// has a config file.
	StepConfigSet
)

var stepNames = map[StepKind]string{
	StepAddSlots: "add slots", StepSetEpoch: "set config epoch", StepMeet: "meet",
	StepWaitKnown: "wait until all nodes know each other", StepMoveSlots: "move slots",
	StepForget: "forget", StepFixSlot: "fix open slot", StepDrop: "forget removed node", StepReset: "reset removed node",
	StepReplicate: "replicate", StepFailover: "failover", StepAnnounce: "announce",
	StepWaitReady: "wait until the cluster is ready", StepConfigSet: "config set",
}

func (k StepKind) String() string { return stepNames[k] }

// Barrier tells whether the step waits for the cluster rather than changing it.
func (k StepKind) Barrier() bool { return k == StepWaitKnown || k == StepWaitReady }

// Stage orders step kinds: the executor runs consecutive steps of one stage
// concurrently across nodes (in order on each node) and finishes a stage
// before the next one starts.
func (k StepKind) Stage() int {
	switch k {
	case StepAddSlots, StepSetEpoch:
		return 0 // a node accepts SET-CONFIG-EPOCH only before it meets anyone
	case StepMeet, StepForget:
		return 1
	case StepWaitKnown:
		return 2
	case StepMoveSlots, StepFixSlot:
		return 3
	case StepReplicate, StepFailover:
		return 4
	case StepDrop:
		return 5 // after moves and re-pointing: a replica cannot forget its master
	case StepReset:
		return 6
	case StepAnnounce:
		return 7
	case StepConfigSet:
		return -1 // settings depend on no topology change: first
	}
	return 8
}

// Step is one change, sent to the node at Addr.
type Step struct {
	Kind   StepKind
	Addr   string
	Target string // the other node: MEET/announce target, REPLICATE master, slot destination
	Slots  SlotSet
	Epoch  int64
	// Meet destination, resolved from the observation: IP, port and bus port.
	IP      string
	Port    int
	BusPort int
	// TargetID is the node ID at Target (REPLICATE, MoveSlots), or the
	// ID to forget.
	TargetID string
	// Why says in words what drifted, for plan warnings and logs.
	Why string
	// Wave orders slot moves: moves of one wave run concurrently and no
	// node is both a source and a target in it (MIGRATE blocks the source
	// until the target answers, so A->B with B->A would deadlock).
	Wave int
	// Expect is what StepWaitReady waits for when a round only gets part
	// of the way (a demoted master first follows the acting one; it fails
	// back in the next round). Nil means the desired cluster itself.
	Expect *Desired
	// Settings are the declared settings a StepConfigSet applies.
	Settings map[string]string
	// EndsOnly: a move tells its new owner to the two ends only, not to
	// the other masters. Node resources move slots concurrently, and a
	// late "SETSLOT NODE" from one move, reaching a master that has since
	// taken the slot in another, would take the slot from it (seen: two
	// masters each believing the other served 1,024 slots).
	EndsOnly bool
}

func (s Step) String() string {
	switch s.Kind {
	case StepAddSlots:
		return fmt.Sprintf("%s: add slots %s", s.Addr, s.Slots)
	case StepSetEpoch:
		return fmt.Sprintf("%s: set config epoch %d", s.Addr, s.Epoch)
	case StepMeet, StepAnnounce:
		return fmt.Sprintf("%s: %s %s", s.Addr, s.Kind, s.Target)
	case StepMoveSlots:
		return fmt.Sprintf("move slots %s from %s to %s", s.Slots, s.Addr, s.Target)
	case StepReplicate:
		return fmt.Sprintf("%s: replicate %s", s.Addr, describe(s.Target, s.TargetID))
	case StepFailover:
		return fmt.Sprintf("%s: failover (take mastership back)", s.Addr)
	case StepForget:
		return fmt.Sprintf("%s: forget %s", s.Addr, short(s.TargetID))
	case StepFixSlot:
		return fmt.Sprintf("fix open slot %s on %s", s.Slots, s.Addr)
	case StepDrop:
		return fmt.Sprintf("%s: forget removed node %s", s.Addr, describe(s.Target, s.TargetID))
	case StepReset:
		return fmt.Sprintf("%s: reset (removed from the cluster)", s.Addr)
	case StepConfigSet:
		parts := make([]string, 0, len(s.Settings))
		for _, k := range sortedKeys(s.Settings) {
			parts = append(parts, fmt.Sprintf("%s %q", k, s.Settings[k]))
		}
		return fmt.Sprintf("%s: config set %s", s.Addr, strings.Join(parts, " "))
	}
	return s.Kind.String()
}

// Plan compares the desired cluster with an observation of its declared
// nodes (read with views) and returns the ordered steps that make the
// cluster match. It is a pure function. An empty plan means nothing needs
// to change, though gossip may still be spreading (see Converged). Each
// step that changes something carries in Why what drifted, in words.
//
// Every declared node must have been read; Plan reports those that were
// not. Slots owned by nodes that are not declared are reported too: the
// planner never takes slots from a node the configuration does not name.
func Plan(d Desired, obs *Observed) ([]Step, error) {
	if err := requireAll(d, obs); err != nil {
		return nil, err
	}
	addrs := d.Addrs()
	var steps, moveSteps []Step
	stale := staleEntries(d, obs)

	// Who serves each slot, by each master's own claim; and slots left
	// importing or migrating by an interrupted move.
	claims := map[int]string{} // slot -> declared (or removed) address
	open := map[int]bool{}
	for _, a := range d.Observed() {
		self := obs.Node(a).Self()
		for slot := range self.Migrating {
			open[slot] = true
		}
		for slot := range self.Importing {
			open[slot] = true
		}
		if !self.IsMaster() {
			continue
		}
		for _, slot := range self.Slots.Slots() {
			// Two claims for a slot happen briefly after a failover, until
			// the old master hears of it: the higher config epoch wins.
			if prev, ok := claims[slot]; ok && obs.Node(prev).Self().ConfigEpoch > self.ConfigEpoch {
				continue
			}
			claims[slot] = a
		}
	}
	// Slots that some member believes an undeclared node serves.
	foreign := map[string]SlotSet{}
	for _, a := range addrs {
		for _, l := range obs.Node(a).known() {
			if l.Slots.Empty() || stale[l.ID] != "" || obs.AddrOf(l.ID) != "" {
				continue
			}
			f := foreign[l.ID]
			f = f.Union(l.Slots)
			foreign[l.ID] = f
		}
	}
	var errs Errors
	for _, id := range sortedKeys(foreign) {
		errs = append(errs, &ForeignSlotsError{ID: id, Slots: foreign[id]})
	}
	if len(errs) > 0 {
		return nil, errs
	}

	// 1. Slots: add the unowned ones first (the rejoin delay starts then);
	// move the ones another declared master serves, and settle open ones,
	// once every node knows every other.
	current := make([]string, len(d.Shards))
	// A leaving master whose shard a new master takes over by failover
	// while the slots also change: this round only hands the shard over;
	// its slots move from the new master in the next one.
	handover := map[string]bool{}
	for i := range d.Shards {
		if src, exact := takeoverSource(d, obs, i); src != "" && !slices.Contains(current, src) {
			current[i] = src
			handover[src] = !exact
		}
	}
	for i, s := range d.Shards {
		cur := current[i]
		if cur == "" {
			cur, _ = currentMaster(obs, s)
			current[i] = cur
		}
		if handover[cur] {
			continue
		}
		var unowned SlotSet
		moves := map[string]SlotSet{}
		for _, slot := range s.Slots.Slots() {
			owner, ok := claims[slot]
			switch {
			case open[slot]:
				moveSteps = append(moveSteps, Step{Kind: StepFixSlot, Addr: cur, TargetID: obs.ID(cur), Slots: NewSlotSet(SlotRange{slot, slot}),
					Why: fmt.Sprintf("slot %d was left importing/migrating by an interrupted move; apply moves its keys to %s and closes it", slot, cur)})
			case !ok:
				unowned.Add(slot)
			case owner != cur:
				m := moves[owner]
				m.Add(slot)
				moves[owner] = m
			}
		}
		if !unowned.Empty() {
			steps = append(steps, Step{Kind: StepAddSlots, Addr: cur, Slots: unowned,
				Why: fmt.Sprintf("slots %s are served by no node; apply assigns them to %s", unowned, cur)})
		}
		for _, from := range sortedKeys(moves) {
			if handover[from] {
				continue // it moves from the new master next round
			}
			moveSteps = append(moveSteps, Step{Kind: StepMoveSlots, Addr: from, Target: cur,
				TargetID: obs.ID(cur), Slots: moves[from],
				Why: fmt.Sprintf("slots %s are served by %s but declared on %s; apply moves them back with their keys", moves[from], from, cur)})
		}
	}

	// 2. Distinct config epochs for nodes that have never met anyone.
	var maxEpoch int64
	for _, a := range addrs {
		if e := obs.Node(a).InfoInt("cluster_current_epoch"); e > maxEpoch {
			maxEpoch = e
		}
	}
	next := maxEpoch + 1
	for _, a := range addrs {
		n := obs.Node(a)
		if self := n.Self(); self.ConfigEpoch == 0 && len(n.View) == 1 &&
			n.InfoInt("cluster_current_epoch") == 0 {
			steps = append(steps, Step{Kind: StepSetEpoch, Addr: a, Epoch: next})
			next++
		}
	}

	// 3. Forget stale entries (a node reset or replaced at a declared
	// address leaves its old ID behind) on every member that still knows
	// them, except a replica of that ID: it cannot forget its master until
	// it follows another one, which a later round handles.
	for _, a := range addrs {
		self := obs.Node(a).Self()
		for _, l := range obs.Node(a).View {
			if why := stale[l.ID]; why != "" && !l.Myself() && self.MasterID != l.ID {
				steps = append(steps, Step{Kind: StepForget, Addr: a, TargetID: l.ID, Why: why})
			}
		}
	}

	// 4. Full-mesh MEET between declared nodes that do not know each other.
	met := false
	for i, a := range addrs {
		for _, b := range addrs[i+1:] {
			var st Step
			switch {
			case !knows(obs, a, b):
				st = meetStep(StepMeet, obs, a, b)
			case !knows(obs, b, a):
				st = meetStep(StepMeet, obs, b, a)
			default:
				continue
			}
			st.Why = fmt.Sprintf("%s and %s do not know each other; apply joins them with CLUSTER MEET", a, b)
			steps = append(steps, st)
			met = true
		}
	}
	if met {
		steps = append(steps, Step{Kind: StepWaitKnown})
	}
	claimed := map[string]SlotSet{}
	for slot, a := range claims {
		c := claimed[a]
		c.Add(slot)
		claimed[a] = c
	}
	outgoing := outgoingSlots(moveSteps)
	moveSteps, held := holdLastSlots(d, moveSteps, claimed)
	steps = append(steps, inWaves(moveSteps, 0)...)
	steps = append(steps, inWaves(held, lastWave(steps)+1)...)

	// 5. Roles. A shard whose declared master lost mastership to one of its
	// replicas (a failover, or the master was reset or replaced) is failed
	// back when Failback is set: the declared master first follows the
	// acting master, then takes over with CLUSTER FAILOVER once in sync
	// (the other replicas follow it by themselves). Without Failback the
	// acting master keeps the role and the others follow it.
	expect := Desired{Failback: d.Failback, Shards: append([]Shard(nil), d.Shards...)}
	partial, deferred := false, false
	for i, s := range d.Shards {
		cur := current[i]
		mSelf := obs.Node(s.Master).Self()
		followsActing := mSelf.IsReplica() && mSelf.MasterID == obs.ID(cur)
		// A master that stops being one (removed, or declared a replica
		// elsewhere) hands its shard to the declared master like a
		// fail-back, whatever Failback says: the declared master
		// replicates it, then takes over once in sync (takeoverSource).
		takeover := cur != s.Master && !slices.Contains(s.Members(), cur)
		failback := d.Failback || takeover
		if failback && cur != s.Master && !followsActing {
			// This round makes the declared master follow the acting one;
			// the failback itself comes in the next round.
			var reps []string
			for _, x := range s.Members() {
				if x != cur {
					reps = append(reps, x)
				}
			}
			expect.Shards[i] = Shard{Master: cur, Replicas: reps, Slots: s.Slots}
			partial = true
		}
		if cur != s.Master && failback && mSelf.IsReplica() && mSelf.MasterID == obs.ID(cur) {
			why := fmt.Sprintf("shard %d: declared master %s is a replica of %s, which is master since a failover; apply hands mastership back with CLUSTER FAILOVER", i+1, s.Master, cur)
			if takeover {
				why = takeoverWhy(i, s, cur)
			}
			steps = append(steps, Step{Kind: StepFailover, Addr: s.Master, Target: cur, TargetID: obs.ID(cur), Why: why})
			continue
		}
		curID := obs.ID(cur)
		for _, x := range s.Members() {
			if x == cur {
				continue
			}
			self := obs.Node(x).Self()
			switch {
			case self.IsReplica() && self.MasterID == curID:
				// as declared
			case self.IsMaster() && !self.Slots.Empty() && (x == s.Master || supersededBy(self, obs.Node(cur).Self())):
				// An old master (back from the dead, or just failed over)
				// still claims slots that a newer epoch took over; it turns
				// replica by itself, and a later round sees it as one.
			case self.IsMaster() && !self.Slots.Empty() &&
				(slices.Contains(current, x) || claimed[x].Minus(outgoing[x]).Empty()):
				// A master this plan empties (its slots move away, or it
				// hands its shard to a new master by failover): once it
				// has no slots, the next round makes it a replica here.
				deferred = true
			case self.IsMaster() && !self.Slots.Empty():
				errs = append(errs, fmt.Errorf("%s is declared a replica in the shard of %s but is a master serving slots %s: move its slots to a declared master first",
					x, s.Master, self.Slots))
			default:
				why := fmt.Sprintf("%s follows %s, declared to follow %s; apply re-points it with CLUSTER REPLICATE", x, followed(obs, self), cur)
				switch {
				case takeover:
					why = takeoverWhy(i, s, cur)
				case self.IsMaster():
					why = fmt.Sprintf("%s is a master without slots, declared to follow %s; apply makes it a replica with CLUSTER REPLICATE", x, cur)
				}
				steps = append(steps, Step{Kind: StepReplicate, Addr: x, Target: cur, TargetID: curID, Why: why})
			}
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}

	// 6. Nodes being removed: once their slots are gone and their replicas
	// follow declared masters, every declared member forgets them (all at
	// once, inside FORGET's 60 s ban) and they are reset. Members that do
	// not know a leaving node yet are told too: a node joining in this
	// apply learns it by gossip while slots move, and would otherwise keep
	// its ID, address-less, once the node is reset (FORGET of an unknown
	// ID is a no-op).
	for _, r := range d.Remove {
		rid := obs.ID(r)
		if rid == "" {
			continue
		}
		if slices.Contains(current, r) || !claimed[r].Minus(outgoing[r]).Empty() {
			// It still serves slots this round does not move (it hands
			// its shard over by failover first): it leaves once empty.
			deferred = true
			continue
		}
		if slices.ContainsFunc(addrs, func(a string) bool { return obs.Node(a).Lookup(rid) != nil }) {
			for _, a := range addrs {
				steps = append(steps, Step{Kind: StepDrop, Addr: a, Target: r, TargetID: rid,
					Why: fmt.Sprintf("%s is no longer declared; apply removes it from the cluster", r)})
			}
		}
		if n := obs.Node(r); len(n.View) > 1 || !n.Self().Slots.Empty() {
			steps = append(steps, Step{Kind: StepReset, Addr: r, TargetID: rid})
		}
	}

	// 7. If anything changed, a second MEET round spreads roles and slots
	// in one tick rather than by gossip; then wait until all agree.
	if len(steps) > 0 {
		for _, a := range addrs {
			for _, b := range addrs {
				if a != b {
					steps = append(steps, meetStep(StepAnnounce, obs, a, b))
				}
			}
		}
		// A round that leaves work for the next one (a node to re-point
		// once it has no slots) ends without waiting: the next round reads
		// the nodes and goes on.
		if !deferred {
			wait := Step{Kind: StepWaitReady}
			if partial {
				wait.Expect = &expect
			}
			steps = append(steps, wait)
		}
	}

	// 8. Declared settings that differ on a node: CONFIG SET, first (they
	// need no announce or wait, and are done before any wait starts).
	cfg, err := configSteps(d, obs)
	if err != nil {
		return nil, err
	}
	return append(cfg, steps...), nil
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

// Drift lists, in words, what the steps of a plan would change.
func Drift(steps []Step) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range steps {
		if s.Why != "" && !seen[s.Why] {
			seen[s.Why] = true
			out = append(out, s.Why)
		}
	}
	return out
}

func followed(obs *Observed, self *NodeLine) string {
	if a := obs.AddrOf(self.MasterID); a != "" {
		return a
	}
	return "node " + self.MasterID
}

// staleEntries finds node IDs that declared members still know but that
// no longer exist: an entry at a declared node's address with another ID
// (the node was reset hard or replaced), or an address-less entry whose ID
// no declared node has. It maps each ID to the reason.
func staleEntries(d Desired, obs *Observed) map[string]string {
	current := map[string]bool{}
	byAddr := map[string]string{} // announced address -> declared address
	for _, a := range d.Addrs() {
		current[obs.ID(a)] = true
		byAddr[a] = a
		if self := obs.Node(a).Self(); self != nil && self.Addr() != "" {
			byAddr[self.Addr()] = a
		}
	}
	out := map[string]string{}
	for _, a := range d.Addrs() {
		for _, l := range obs.Node(a).View {
			if current[l.ID] || l.Myself() || l.Handshake() {
				continue
			}
			if at, ok := byAddr[l.Addr()]; ok {
				out[l.ID] = fmt.Sprintf("node ID %s at %s was replaced by %s (the node was reset or replaced); apply makes every member forget the old ID", short(l.ID), at, short(obs.ID(at)))
			} else if l.HasFlag("noaddr") {
				out[l.ID] = fmt.Sprintf("node ID %s has no address and belongs to no declared node (a node that was reset or replaced); apply makes every member forget it", short(l.ID))
			}
		}
	}
	return out
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
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
			return r, x.Slots == s.Slots
		}
		if x.Slots == s.Slots && mSelf.IsMaster() && mSelf.Slots.Empty() && m.Keys == 0 {
			return r, true
		}
	}
	return "", false
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

// requireAll reports every declared node that was not read.
func requireAll(d Desired, obs *Observed) error {
	var errs Errors
	for _, a := range d.Observed() {
		n := obs.Node(a)
		switch {
		case n == nil:
			errs = append(errs, fmt.Errorf("node %s was not observed", a))
		case n.Err != nil:
			errs = append(errs, n.Err)
		case n.Self() == nil:
			errs = append(errs, fmt.Errorf("node %s: its CLUSTER NODES has no myself line", a))
		}
	}
	return errs.Err()
}

// knows tells whether the node at a knows the node at b by its current ID.
func knows(obs *Observed, a, b string) bool {
	l := obs.Node(a).Lookup(obs.ID(b))
	return l != nil && !l.Handshake() && !l.HasFlag("noaddr")
}

func meetStep(kind StepKind, obs *Observed, from, to string) Step {
	t := obs.Node(to)
	self := t.Self()
	ip := self.IP
	if ip == "" {
		ip = t.IP
	}
	port, bus := self.Port, self.BusPort
	return Step{Kind: kind, Addr: from, Target: to, IP: ip, Port: port, BusPort: bus}
}

// Converged tells whether every declared node reports cluster_state:ok,
// knows every other declared node (no handshake entries left), and agrees
// with the declaration on roles, masters and slot owners. When it is not,
// the reason names the first node and what it sees.
func Converged(d Desired, obs *Observed) (bool, string) {
	if err := requireAll(d, obs); err != nil {
		return false, err.Error()
	}
	for id, why := range staleEntries(d, obs) {
		return false, fmt.Sprintf("stale node %s: %s", short(id), why)
	}
	want := expectedRoles(d, obs)
	for _, a := range d.Addrs() {
		if why := nodeDisagrees(d, obs, a, want); why != "" {
			return false, why
		}
	}
	return true, ""
}

// Disagreements lists, node by node, why the declared nodes have not
// converged on d (what Converged reports of the first one only): at most
// limit lines, then how many more nodes disagree. Empty when they agree
// or some node could not be read (Converged says which).
func Disagreements(d Desired, obs *Observed, limit int) []string {
	if requireAll(d, obs) != nil {
		return nil
	}
	want := expectedRoles(d, obs)
	var out []string
	more := 0
	for _, a := range d.Addrs() {
		why := nodeDisagrees(d, obs, a, want)
		switch {
		case why == "":
		case len(out) < limit:
			out = append(out, why)
		default:
			more++
		}
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("and %d more nodes", more))
	}
	return out
}

// role is what a member should be: master, or replica of master.
type role struct{ role, master string }

// expectedRoles maps every declared member to its role as Converged
// checks it: as declared, or, without Failback, by the shard's current
// master (a shard's members are then a set).
func expectedRoles(d Desired, obs *Observed) map[string]role {
	out := map[string]role{}
	for _, s := range d.Shards {
		cur := s.Master
		if !d.Failback {
			cur, _ = currentMaster(obs, s)
		}
		for _, b := range s.Members() {
			if b == cur {
				out[b] = role{RoleMaster, ""}
			} else {
				out[b] = role{RoleReplica, cur}
			}
		}
	}
	return out
}

// nodeDisagrees says what the node at a sees that differs from d, "" when
// nothing does.
func nodeDisagrees(d Desired, obs *Observed, a string, want map[string]role) string {
	n := obs.Node(a)
	if st := n.State(); st != "ok" {
		return fmt.Sprintf("%s reports cluster_state:%s", a, st)
	}
	for _, l := range n.View {
		if l.Handshake() {
			return fmt.Sprintf("%s still has a handshake entry for %s", a, l.Addr())
		}
	}
	self := n.Self()
	if len(self.Migrating)+len(self.Importing) > 0 {
		return fmt.Sprintf("%s has slots migrating or importing", a)
	}
	for _, s := range d.Shards {
		for _, b := range s.Members() {
			id := obs.ID(b)
			l := n.Lookup(id)
			if l == nil {
				return fmt.Sprintf("%s does not know %s", a, describe(b, id))
			}
			if l.Failing() {
				return fmt.Sprintf("%s flags %s as failing (%s)", a, describe(b, id), strings.Join(l.Flags, ","))
			}
			if !l.Myself() && l.LinkState != "connected" {
				return fmt.Sprintf("%s has its link to %s %s", a, describe(b, id), l.LinkState)
			}
			switch w := want[b]; w.role {
			case RoleMaster:
				if !l.IsMaster() {
					return fmt.Sprintf("%s sees %s as %s, want master", a, describe(b, id), l.Role())
				}
				if l.Slots != s.Slots {
					return fmt.Sprintf("%s sees %s serving slots %q, want %q", a, describe(b, id), l.Slots, s.Slots)
				}
			case RoleReplica:
				if !l.IsReplica() || l.MasterID != obs.ID(w.master) {
					return fmt.Sprintf("%s sees %s as %s of %q, want replica of %s", a, describe(b, id), l.Role(), l.MasterID, describe(w.master, obs.ID(w.master)))
				}
			}
		}
	}
	return ""
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
