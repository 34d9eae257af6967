package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
)

// JoinNode makes the node at spec.Addr a member with its declared role,
// master and slots, and returns once it and its peers agree (NodeReady).
// On create the node is checked first, and nothing changes when it cannot
// join.
//
// It works in rounds, as Apply does: observe the node, its seeds and
// declared master and the members they know; repair what is particular to
// the node (old IDs kept at its address, slots an interrupted move left
// open, a replica declared master); plan with NodePlan, the whole-cluster
// planner scoped to the node; run the steps. A round that sends MEETs ends
// once the node and the nodes it met know each other, and the next one
// plans from a fresh read. When the plan is empty, JoinNode waits until
// the node is ready, or until a plan has steps again. It stops with a
// StalledError when the same steps come back noProgressRounds times.
func (e *Executor) JoinNode(ctx context.Context, spec NodeSpec, create bool) (*Observed, error) {
	if err := spec.Validate(); err != nil {
		return nil, err
	}
	obs, err := e.observeLoaded(ctx, spec)
	if err != nil {
		return obs, err
	}
	reachable, err := e.checkJoin(ctx, spec, obs, create)
	if err != nil {
		return obs, err
	}
	forgotten := forgottenBy(spec, obs)
	e.coord().Declare(spec)

	j := &nodeJoin{e: e, spec: spec, create: create, release: func() {}}
	defer func() { j.release() }()
	for round := 1; ; round++ {
		if round > defaultMaxRounds+j.banRounds {
			return obs, &StalledError{Rounds: defaultMaxRounds, Steps: j.last, Cap: true}
		}
		if round > 1 {
			if obs, err = e.observeLoaded(ctx, spec); err != nil {
				return obs, err
			}
			if n := obs.Node(spec.Addr); !n.OK() {
				return obs, n.Err
			}
		}
		var done bool
		if obs, done, err = j.round(ctx, round, obs); err != nil || done {
			if err != nil {
				return obs, err
			}
			break
		}
	}
	if len(forgotten) > 0 {
		if err := e.holdRejoin(ctx, spec, forgotten, reachable, obs.ID(spec.Master)); err != nil {
			return obs, err
		}
	}
	return Observe(ctx, e.Pool, spec.Addrs(), true), nil
}

// nodeJoin is what one JoinNode learns across its rounds.
type nodeJoin struct {
	e      *Executor
	spec   NodeSpec
	create bool
	opt    NodePlanOptions
	// release ends the takeover claimed in this join, if any.
	release func()
	// last is the last round's steps; same counts rounds in a row that
	// planned them; unread counts rounds in a row that could not read a
	// master serving slots.
	last         []Step
	same, unread int
	// meetsSince is when a plan of MEETs alone began to repeat;
	// banRounds counts the rounds that repeated it inside a forget's ban
	// (they do not count against the round limit).
	meetsSince time.Time
	banRounds  int
}

// forgetBan is how long CLUSTER FORGET keeps a node out of the
// forgetting node's gossip (60 s in every engine).
const forgetBan = 60 * time.Second

// onlyMeets tells whether steps only join nodes (MEETs and the wait).
func onlyMeets(steps []Step) bool {
	for _, s := range steps {
		if s.Kind != StepMeet && s.Kind != StepAnnounce && s.Kind != StepWaitKnown {
			return false
		}
	}
	return len(steps) > 0
}

// round repairs, plans and runs one round from obs; done once the node is
// ready (or the plan leaves a failover as it is).
func (j *nodeJoin) round(ctx context.Context, round int, obs *Observed) (*Observed, bool, error) {
	e, spec := j.e, j.spec
	obs, p, err := j.plan(ctx, obs)
	if err != nil || p == nil {
		return obs, false, err
	}
	switch {
	case p.Swapped:
		// A failover swapped the pair and the declaration keeps the
		// roles as they are: the plan reports it, apply changes nothing.
		return obs, true, nil
	case p.HandBack:
		return obs, false, e.waitHandBack(ctx, spec, obs)
	case p.Takeover != "" && j.opt.TakingOver == "":
		ok, rel := e.coord().ClaimTakeover(p.Takeover)
		if !ok {
			// Its own delete is handing the slots off: they come back
			// with their keys instead.
			j.opt.NoTakeover = true
			e.info(ctx, "the master serving the node's slots is handing them off; taking them with their keys instead", map[string]any{"address": spec.Addr, "master": p.Takeover})
			return obs, false, nil
		}
		j.release, j.opt.TakingOver = rel, p.Takeover
		e.info(ctx, "taking the shard over by failover", map[string]any{"address": spec.Addr, "acting_master": p.Takeover})
	}
	if len(p.Steps) == 0 {
		if p.Wait != "" {
			return obs, false, e.waitNodePlan(ctx, spec, obs, j.opt, p.Wait)
		}
		ready, err := e.waitNodeReady(ctx, spec, obs, j.opt)
		return obs, ready, err
	}
	if sameSteps(p.Steps, j.last) {
		j.same++
		pause := replanAfter
		if onlyMeets(p.Steps) {
			// Peers that forget the node again after each MEET: a
			// CLUSTER FORGET that newer engines spread to every member
			// (Valkey 9.1, Redis 8.6), whose 60 s ban drops the node
			// again at the next gossip. Meet again, less often, until
			// the ban is over.
			if j.meetsSince.IsZero() {
				j.meetsSince = time.Now()
			}
			if time.Since(j.meetsSince) < forgetBan+rejoinSettle {
				j.banRounds++
				pause = rejoinSettle
				e.info(ctx, "peers keep forgetting the node (a spread CLUSTER FORGET bans it for 60 s): meeting again", map[string]any{"address": spec.Addr, "changes": stepsSummary(p.Steps), "elapsed_ms": time.Since(j.meetsSince).Milliseconds()})
			} else if j.same >= noProgressRounds {
				return obs, false, &StalledError{Rounds: j.same, Steps: p.Steps}
			}
		} else if j.same >= noProgressRounds {
			return obs, false, &StalledError{Rounds: j.same, Steps: p.Steps}
		}
		if err := sleep(ctx, pause); err != nil {
			return obs, false, fmt.Errorf("node %s: timed out before running the same steps again: %s", spec.Addr, strings.Join(Drift(p.Steps), "; "))
		}
	} else {
		j.same, j.meetsSince = 1, time.Time{}
	}
	j.last = p.Steps
	e.info(ctx, "applying node plan", map[string]any{"address": spec.Addr, "round": round, "steps": len(p.Steps), "changes": stepsSummary(p.Steps)})
	return obs, false, j.run(ctx, obs, p.Steps)
}

// plan repairs what is particular to the node, then plans; a nil plan
// (and no error) means: read again and plan in the next round.
func (j *nodeJoin) plan(ctx context.Context, obs *Observed) (*Observed, *NodePlanResult, error) {
	e, spec := j.e, j.spec
	obs, err := e.repairNode(ctx, spec, obs, j.create)
	if err != nil {
		if !changedUnder(err) {
			return obs, nil, err
		}
		e.info(ctx, "planning again: the cluster changed under the repair", map[string]any{"address": spec.Addr, "why": err.Error()})
		return obs, nil, nil
	}
	j.opt.Declared = e.coord().Declared()
	p, err := NodePlan(spec, obs, j.opt)
	var unread *ownerUnreadableError
	if errors.As(err, &unread) && j.unread < unreadableRounds {
		// A master busy with a MIGRATE does not answer for a while: read
		// again before giving up.
		j.unread++
		e.info(ctx, "a master serving slots did not answer; reading again", map[string]any{"address": spec.Addr, "why": err.Error()})
		return obs, nil, sleep(ctx, replanAfter)
	}
	if err != nil {
		return obs, nil, err
	}
	j.unread = 0
	return obs, &p, nil
}

// run runs a round's steps; a failover refused because the acting master
// is leaving, or a cluster that changed under the steps, plans again.
func (j *nodeJoin) run(ctx context.Context, obs *Observed, steps []Step) error {
	e, spec := j.e, j.spec
	err := e.runNodeSteps(ctx, spec, obs, steps)
	var lv *leavingError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &lv):
		if j.opt.Leaving == nil {
			j.opt.Leaving = map[string]bool{}
		}
		j.opt.Leaving[lv.addr] = true
		e.info(ctx, "the acting master is leaving the cluster: no failover against it; waiting until it has handed its slots off", map[string]any{"address": spec.Addr, "acting_master": lv.addr})
		return nil
	case changedUnder(err):
		e.info(ctx, "planning again: the cluster changed under the plan", map[string]any{"address": spec.Addr, "why": err.Error()})
		return nil
	}
	return err
}

// changedUnder tells whether err says that the cluster changed under a
// node's steps or repairs, so that planning again from a fresh read is the
// answer: a step asked for it, a source has not heard yet that the target
// of a move is a master, or an end of a move turned replica (another node
// took its last slot). A plan that keeps coming back the same stops as
// stalled.
func changedUnder(err error) bool {
	return onlyReplan(err) || isTargetNotMaster(err) || isSetSlotNotMaster(err)
}

// unreadableRounds bounds the rounds a node plan reads again while a
// master serving slots does not answer.
const unreadableRounds = 5

// checkJoin checks the node and its peers before anything changes (the
// node itself only on create: see CheckNodeJoinable), and returns the
// peers that answered.
func (e *Executor) checkJoin(ctx context.Context, spec NodeSpec, obs *Observed, create bool) ([]string, error) {
	n := obs.Node(spec.Addr)
	if !n.OK() {
		return nil, n.Err
	}
	if err := CheckPeers(spec, obs); err != nil {
		return nil, err
	}
	if create {
		if err := CheckNodeJoinable(spec, obs); err != nil {
			return nil, err
		}
	}
	var reachable []string
	for _, p := range spec.peers() {
		if obs.Node(p).OK() {
			reachable = append(reachable, p)
		} else {
			e.info(ctx, "peer unreachable; skipped", map[string]any{"address": spec.Addr, "peer": p, "error": obs.Node(p).Err.Error()})
		}
	}
	if spec.Role == RoleReplica && !obs.Node(spec.Master).OK() {
		return nil, fmt.Errorf("declared master of %s cannot be read: %w", spec.Addr, obs.Node(spec.Master).Err)
	}
	if len(spec.Seeds) > 0 && len(reachable) == 0 && len(n.Known()) == 0 {
		return nil, fmt.Errorf("node %s: none of its seeds can be read, so it cannot join: %v", spec.Addr, obs.Failed()[0].Err)
	}
	return reachable, nil
}

// runNodeSteps runs a node plan's steps. MEETs (with the slot assignments
// and epochs that go before them) run alone: the round ends once the node
// and the nodes it met know each other. Moves into the node and fail-backs
// run under the coordinator's locks (the other end's resource may do the
// same work at the same time); the rest runs as Apply runs it.
func (e *Executor) runNodeSteps(ctx context.Context, spec NodeSpec, obs *Observed, steps []Step) error {
	var met []string
	var early []Step
	for _, s := range steps {
		if s.Kind.Stage() <= StepMeet.Stage() {
			early = append(early, s)
		}
		if s.Kind == StepMeet {
			other := s.Target
			if other == spec.Addr {
				other = s.Addr
			}
			met = append(met, other)
		}
	}
	if len(met) > 0 {
		if err := e.Run(ctx, Desired{}, obs, early); err != nil {
			return err
		}
		return e.waitFor(ctx, addrsDesired(append([]string{spec.Addr}, met...)), obs, spec.Addr+" knows its peers", func(o *Observed) (bool, string) {
			for _, p := range met {
				if !knows(o, spec.Addr, p) {
					return false, fmt.Sprintf("%s does not know %s yet", spec.Addr, p)
				}
				if !knows(o, p, spec.Addr) {
					return false, fmt.Sprintf("%s does not know %s yet", p, spec.Addr)
				}
			}
			return true, ""
		})
	}
	for i := 0; i < len(steps); {
		j := i
		for j < len(steps) && steps[j].Kind.Stage() == steps[i].Kind.Stage() {
			j++
		}
		var err error
		switch steps[i].Kind {
		case StepMoveSlots:
			for _, s := range steps[i:j] {
				if err = e.Pool.CheckAccess(ctx, []string{s.Addr, s.Target}, AccessMove); err != nil {
					break
				}
				if err = e.takeFrom(ctx, obs, s.Target, s.TargetID, s.Addr, obs.ID(s.Addr), s.Slots); err != nil {
					break
				}
				if err = e.afterStep(ctx, s); err != nil {
					break
				}
			}
		case StepAnnounce:
			err = e.sendMeets(ctx, obs, steps[i:j], true)
		default:
			var rest []Step
			for _, s := range steps[i:j] {
				if s.Kind == StepFailover {
					// The acting master's own delete may be handing its
					// slots off: no failover against it meanwhile.
					// Slots moving into the acting master (a leaving
					// master's hand-off) arrive first.
					if err = e.coord().WaitIncoming(ctx, s.Target); err != nil {
						break
					}
					ok, release := e.coord().ClaimTakeover(s.Target)
					if !ok {
						err = &leavingError{addr: s.Target}
						break
					}
					err = e.failbackNode(ctx, s.Addr, s.Target)
					release()
					if err == nil {
						err = e.afterStep(ctx, s)
					}
					if err != nil {
						break
					}
					continue
				}
				rest = append(rest, s)
			}
			if err == nil && len(rest) > 0 {
				err = e.Run(ctx, Desired{}, obs, rest)
			}
		}
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}

// waitNodeReady waits until the node is ready (true), or until a plan
// from the live view has steps that have stood for replanAfter (false:
// plan again).
func (e *Executor) waitNodeReady(ctx context.Context, spec NodeSpec, obs *Observed, opt NodePlanOptions) (bool, error) {
	var since, checked time.Time
	replan := false
	err := e.waitFor(ctx, addrsDesired(sortedKeys(obs.Nodes)), obs, spec.Addr+" is ready", func(o *Observed) (bool, string) {
		ok, why := NodeReady(spec, o, o.ID(spec.Master))
		if ok {
			return true, ""
		}
		if time.Since(checked) < 10*e.poll() {
			return false, why
		}
		checked = time.Now()
		opt.Declared = e.coord().Declared()
		p, err := NodePlan(spec, o, opt)
		switch {
		case err != nil || (len(p.Steps) == 0 && !p.HandBack && !p.Swapped && p.Wait == "" && (p.Takeover == "" || opt.TakingOver != "")):
			since = time.Time{}
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= replanAfter:
			replan = true
			return true, "a step repairs what is left"
		}
		return false, why
	})
	return err == nil && !replan, err
}

// waitNodePlan waits while the node's plan waits on another node's
// change (what says which).
func (e *Executor) waitNodePlan(ctx context.Context, spec NodeSpec, obs *Observed, opt NodePlanOptions, what string) error {
	return e.waitFor(ctx, addrsDesired(sortedKeys(obs.Nodes)), obs, spec.Addr+" can go on ("+what+")", func(o *Observed) (bool, string) {
		opt.Declared = e.coord().Declared()
		p, err := NodePlan(spec, o, opt)
		if err != nil || p.Wait == "" {
			return true, ""
		}
		return false, p.Wait
	})
}

// leavingError stops a node plan's failover against a master whose delete
// is handing its slots off.
type leavingError struct{ addr string }

func (e *leavingError) Error() string {
	return fmt.Sprintf("%s is handing its slots off (its resource is deleting it)", e.addr)
}

// afterStep reports a step done outside Run to the AfterStep hook.
func (e *Executor) afterStep(ctx context.Context, s Step) error {
	if e.AfterStep == nil {
		return nil
	}
	return e.AfterStep(ctx, -1, s)
}
