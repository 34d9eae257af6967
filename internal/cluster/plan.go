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
	// StepWaitKnown: barrier until every declared node knows every other;
	// Target is the hub the plan met every node with, if any.
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
	// StepDetach: CLUSTER RESET SOFT on Addr, a declared master that
	// replicates Target, a master outside its shard, then CLUSTER MEET
	// Target (IP, Port, BusPort): it rejoins as a master with no slots.
	StepDetach
)

var stepNames = map[StepKind]string{
	StepAddSlots: "add slots", StepSetEpoch: "set config epoch", StepMeet: "meet",
	StepWaitKnown: "wait until all nodes know each other", StepMoveSlots: "move slots",
	StepForget: "forget", StepFixSlot: "fix open slot", StepDrop: "forget removed node", StepReset: "reset removed node",
	StepReplicate: "replicate", StepFailover: "failover", StepAnnounce: "announce",
	StepWaitReady: "wait until the cluster is ready", StepConfigSet: "config set", StepDetach: "make master again",
}

func (k StepKind) String() string { return stepNames[k] }

// Barrier tells whether the step waits for the cluster rather than changing it.
func (k StepKind) Barrier() bool { return k == StepWaitKnown || k == StepWaitReady }

// Stage orders step kinds: the executor runs consecutive steps of one stage
// concurrently across nodes (in order on each node) and finishes a stage
// before the next one starts.
func (k StepKind) Stage() int {
	switch k {
	case StepDetach, StepAddSlots, StepSetEpoch:
		// A node accepts SET-CONFIG-EPOCH only before it meets anyone; a
		// detached node needs no epoch, and adds slots once a master.
		return 0
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
	// agreed marks an announce whose target already shows what it would
	// tell: the executor does not send it (see markAgreed).
	agreed bool
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
	case StepDetach:
		return fmt.Sprintf("%s: reset to a master with no slots (it replicated %s), then meet %s", s.Addr, s.Target, s.Target)
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
//
// Plan is a composition of phases, in the order their steps run: slot
// assignments and moves (plan_phases_slots.go), config epochs, stale
// forgets and meets (plan_phases_members.go), roles and fail-backs,
// removals, announce and wait (plan_phases_roles.go), and settings
// (configSteps), which go first.
func Plan(d Desired, obs *Observed) ([]Step, error) {
	if err := requireAll(d, obs); err != nil {
		return nil, err
	}
	p := newPlanner(d, obs)
	if err := p.foreignOwners(); err != nil {
		return nil, err
	}
	p.actingMasters()
	detach, err := p.detachSteps()
	if err != nil {
		return nil, err
	}
	adds, moves := p.slotSteps()
	steps := append(detach, adds...)
	steps = append(steps, p.epochSteps()...)
	steps = append(steps, p.forgetSteps()...)
	meets, hub := p.meetSteps()
	ordered := p.orderMoves(moves)
	roles, err := p.roleSteps()
	if err != nil {
		return nil, err
	}
	steps = append(steps, meets...)
	// Moves need every node to know every other first. So do failovers
	// (a replica needs the masters' votes); a CLUSTER REPLICATE needs
	// only its master, which a hub plan meets it with: while gossip
	// completes such a mesh, replicas already follow their masters, so
	// the handshakes carry their roles.
	lateWait := hub != "" && len(ordered) == 0 && !slices.ContainsFunc(roles, func(s Step) bool { return s.Kind != StepReplicate })
	wait := Step{Kind: StepWaitKnown, Target: hub}
	if (len(meets) > 0 || len(detach) > 0) && !lateWait {
		steps = append(steps, wait)
	}
	steps = append(steps, ordered...)
	steps = append(steps, roles...)
	if len(meets) > 0 && lateWait {
		steps = append(steps, wait)
	}
	steps = append(steps, p.removalSteps()...)
	steps = append(steps, p.announceSteps(len(steps) > 0)...)
	cfg, err := configSteps(d, obs)
	if err != nil {
		return nil, err
	}
	return append(cfg, steps...), nil
}

// planner holds what Plan's phases share: the inputs, what the first
// phases find (claims, acting masters, moves), and what the role and
// removal phases leave for the announce phase.
type planner struct {
	d     Desired
	obs   *Observed
	addrs []string
	// stale maps node IDs no declared node has any more to the reason
	// (staleEntries).
	stale map[string]string
	// claims: who serves each slot, by each master's own claim ("" for
	// none); open: slots left importing or migrating by an interrupted
	// move.
	claims *[SlotCount]string
	open   SlotSet
	// current[i] is the master shard i is planned from this round: a
	// leaving master handing it over, else the acting one (actingMasters).
	current []string
	// handover marks leaving masters whose shard a new master takes over
	// by failover while the slots also change: their slots move from the
	// new master in the next round.
	handover map[string]bool
	// claimed is claims by address; outgoing the slots this round's moves
	// take from each source (orderMoves).
	claimed, outgoing map[string]SlotSet
	// expect is what the final wait expects when partial; deferred: this
	// round leaves work for the next one, so it ends without waiting.
	expect            Desired
	partial, deferred bool
}

// newPlanner reads the slot claims, open slots and stale entries of obs.
func newPlanner(d Desired, obs *Observed) *planner {
	p := &planner{d: d, obs: obs, addrs: d.Addrs(), stale: staleEntries(d, obs)}
	p.claims, p.open = slotClaims(d, obs)
	sets := map[string]*SlotBuilder{}
	for slot, a := range p.claims {
		if a == "" {
			continue
		}
		if sets[a] == nil {
			sets[a] = &SlotBuilder{}
		}
		sets[a].Add(slot)
	}
	p.claimed = map[string]SlotSet{}
	for a, s := range sets {
		p.claimed[a] = s.Set()
	}
	p.outgoing = map[string]SlotSet{}
	return p
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

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
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
	for j := range n.View {
		l := &n.View[j]
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
				if !l.Slots.Equal(s.Slots) {
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
