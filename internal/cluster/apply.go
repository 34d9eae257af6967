package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// LogFunc receives progress messages with structured fields (address, node_id, ...).
type LogFunc func(ctx context.Context, msg string, fields map[string]any)

// Executor runs plans against live nodes and waits for the cluster to
// converge. It holds no state between calls besides the shared pool.
type Executor struct {
	Pool *Pool
	// Info and Debug receive progress logs; nil discards them.
	Info, Debug LogFunc
	// PollInterval is how often waits re-read the nodes (default 10 ms).
	PollInterval time.Duration
	// AfterStep, when set, is called after each step that changed the
	// cluster; an error aborts the run. Tests use it to kill nodes at every
	// point of an apply.
	AfterStep func(ctx context.Context, index int, s Step) error
	// MaxRounds bounds observe-plan-run rounds (default defaultMaxRounds).
	MaxRounds int
	// Departures coordinates node deletes running in the same process
	// (see Departures); nil coordinates nothing.
	Departures *Departures
	// own is the coordinator used when Departures is nil (see coord).
	ownOnce sync.Once
	own     *Departures
	// KeyByKey moves slots with MIGRATE even where the engines migrate
	// slots themselves (Redis 8.4+, Valkey 9.0+); benchmarks and tests
	// compare the two paths with it.
	KeyByKey bool
}

// coord returns the run's coordinator: Departures, or one of the
// executor's own when none was given.
func (e *Executor) coord() *Departures {
	if e.Departures != nil {
		return e.Departures
	}
	e.ownOnce.Do(func() { e.own = NewDepartures() })
	return e.own
}

func (e *Executor) info(ctx context.Context, msg string, f map[string]any) {
	if e.Info != nil {
		e.Info(ctx, msg, f)
	}
}

func (e *Executor) debug(ctx context.Context, msg string, f map[string]any) {
	if e.Debug != nil {
		e.Debug(ctx, msg, f)
	}
}

func (e *Executor) poll() time.Duration {
	if e.PollInterval > 0 {
		return e.PollInterval
	}
	return 10 * time.Millisecond
}

// Apply makes the cluster match d: observe, plan, run, and again until the
// plan is empty and the cluster has converged. obs, when not nil, is a fresh
// observation to start from. It returns the final observation.
//
// A round ends early when its readiness wait finds drift that a step can
// repair (an ID that a node learned by gossip while another was being reset,
// say): the next round plans from a fresh observation instead of waiting for
// something only a command fixes. Apply gives up when rounds stop making
// progress (the same plan noProgressRounds times in a row) or after
// MaxRounds, with an error naming what is left and on which nodes.
func (e *Executor) Apply(ctx context.Context, d Desired, obs *Observed) (*Observed, error) {
	rounds := e.MaxRounds
	if rounds <= 0 {
		rounds = defaultMaxRounds
	}
	addrs := d.Observed()
	if obs != nil && !obs.readSettings(d.ConfigKeys()) {
		obs = nil // observed without the declared settings: read again with them
	}
	var last []Step
	same := 0
	for round := 0; round < rounds; round++ {
		if obs == nil {
			obs = ObserveWith(ctx, e.Pool, addrs, ObserveOptions{Views: true, Config: d.ConfigKeys()})
		}
		// A node that just restarted answers LOADING until its dataset is
		// in memory: wait for it rather than fail the apply.
		for loading(obs) {
			e.info(ctx, "waiting for nodes loading their dataset", map[string]any{"round": round + 1})
			if err := sleep(ctx, 10*e.poll()); err != nil {
				return obs, fmt.Errorf("timed out waiting for nodes to load their dataset: %w", err)
			}
			obs = ObserveWith(ctx, e.Pool, addrs, ObserveOptions{Views: true, Config: d.ConfigKeys()})
		}
		// Nothing is sent while nodes are cut off from the majority: a
		// command there would act on a stale view (see awaitHealed).
		var err error
		if obs, err = e.awaitHealed(ctx, d, obs); err != nil {
			return obs, err
		}
		steps, err := Plan(d, obs)
		if err != nil {
			return obs, err
		}
		if len(steps) == 0 {
			if ok, _ := Converged(d, obs); ok {
				return obs, nil
			}
			// Nothing to send, but not there yet: gossip is spreading, or a
			// node is still settling (an old master turning replica). Wait
			// until it converges or there is something to do again.
			err := e.waitFor(ctx, d, obs, "the cluster settles", func(o *Observed) (bool, string) {
				if ok, why := Converged(d, o); !ok {
					if st, err := Plan(d, o); err == nil && len(st) == 0 {
						return false, why
					}
				}
				return true, ""
			})
			if err != nil {
				return obs, err
			}
			obs = nil
			continue
		}
		if sameSteps(steps, last) {
			same++
			if same >= noProgressRounds {
				return obs, &StalledError{Rounds: same, Steps: steps}
			}
			// The last run of these steps left the same plan: give gossip
			// a moment before sending them again.
			if err := sleep(ctx, replanAfter); err != nil {
				return obs, fmt.Errorf("timed out before running the same steps again: %s", strings.Join(Drift(steps), "; "))
			}
		} else {
			same = 1
		}
		last = steps
		e.info(ctx, "applying cluster plan", map[string]any{"round": round + 1, "steps": len(steps), "changes": strings.Join(Drift(steps), "; ")})
		err = e.Run(ctx, d, obs, steps)
		switch {
		case onlyReplan(err):
			e.info(ctx, "planning again: the cluster changed under the plan", map[string]any{"round": round + 1, "why": err.Error()})
		case err != nil:
			return obs, err
		}
		obs = nil
	}
	return obs, &StalledError{Rounds: rounds, Steps: last, Cap: true}
}

const (
	// defaultMaxRounds bounds observe-plan-run rounds. A day-2 change
	// takes one or two (a fail-back takes two); repairs found while
	// waiting add one each.
	defaultMaxRounds = 20
	// noProgressRounds: the same plan this many rounds in a row means
	// running it changes nothing, so Apply stops.
	noProgressRounds = 3
	// replanAfter is how long the readiness wait lets a repairable drift
	// stand before it ends the round: gossip settles most passing states
	// (a replica re-pointing itself after a failover) well within it.
	replanAfter = time.Second
)

// StalledError reports an apply whose rounds stopped making progress: what
// is left, in words that name the nodes.
type StalledError struct {
	Rounds int
	Steps  []Step
	// Cap: the round limit was reached (rather than the same plan repeating).
	Cap bool
}

func (e *StalledError) Error() string {
	left := Drift(e.Steps)
	if len(left) == 0 {
		left = []string{stepsSummary(e.Steps)}
	}
	what := fmt.Sprintf("the same changes were planned %d rounds in a row without taking effect", e.Rounds)
	if e.Cap {
		what = fmt.Sprintf("the cluster did not converge after %d rounds", e.Rounds)
	}
	return what + "; left to do:\n  - " + strings.Join(left, "\n  - ")
}

// replanError ends a round whose readiness wait found drift a step repairs.
type replanError struct{ why string }

func (e *replanError) Error() string { return e.why }

// onlyReplan tells whether err is made only of replanErrors: the plan is
// stale, not the cluster broken.
func onlyReplan(err error) bool {
	var es Errors
	if errors.As(err, &es) {
		for _, e := range es {
			if !onlyReplan(e) {
				return false
			}
		}
		return len(es) > 0
	}
	var rp *replanError
	return errors.As(err, &rp)
}

func sameSteps(a, b []Step) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].String() != b[i].String() {
			return false
		}
	}
	return true
}

// waitReady waits until the cluster matches want. It ends the round early
// (replanError) when a plan from the live view, for the whole declaration d,
// has repair steps that have stood for replanAfter: waiting would not fix
// what only a command fixes.
func (e *Executor) waitReady(ctx context.Context, d, want Desired, obs *Observed) error {
	var since, checked time.Time
	var repair string
	addrs := want.Addrs()
	err := e.wait(ctx, d, obs, waitSpec{what: "the cluster is ready", gate: func(infos map[string]map[string]string) (bool, string) {
		return infoFails(addrs, infos, "cluster_state", "ok", false)
	}, detail: func(o *Observed) []string { return Disagreements(want, o, 10) }, cond: func(o *Observed) (bool, string) {
		ok, why := Converged(want, o)
		if ok {
			return true, ""
		}
		// Planning costs more than a poll at hundreds of nodes: look for
		// repairs every few polls only.
		if time.Since(checked) < 10*e.poll() {
			return false, why
		}
		checked = time.Now()
		r, forgetOnly := repairs(d, o)
		switch {
		case r == "":
			since = time.Time{}
		case forgetOnly:
			// A stale ID never goes away by itself: repair it now.
			repair = r
			return true, "a step repairs what is left"
		case since.IsZero():
			since = time.Now()
		case time.Since(since) >= replanAfter:
			repair = r
			return true, "a step repairs what is left"
		}
		return false, why
	}})
	if err == nil && repair != "" {
		return &replanError{why: "drift found while waiting: " + repair}
	}
	return err
}

// repairs describes the changes a plan from o would make, or "" when it
// would only announce and wait (or cannot plan from o). forgetOnly tells
// that every change forgets a stale ID.
func repairs(d Desired, o *Observed) (what string, forgetOnly bool) {
	steps, err := Plan(d, o)
	if err != nil {
		return "", false
	}
	var act []Step
	forgetOnly = true
	for _, s := range steps {
		if !s.Kind.Barrier() && s.Kind != StepAnnounce {
			act = append(act, s)
			forgetOnly = forgetOnly && s.Kind == StepForget
		}
	}
	if len(act) == 0 {
		return "", false
	}
	if w := Drift(act); len(w) > 0 {
		return strings.Join(w, "; "), forgetOnly
	}
	return stepsSummary(act), forgetOnly
}

// loading tells whether a node answered LOADING (still reading its data).
func loading(obs *Observed) bool {
	for _, n := range obs.Nodes {
		if isLoading(n.Err) {
			return true
		}
	}
	return false
}

func stepsSummary(steps []Step) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, "; ")
}

// Run executes steps in stages: the steps of one stage run concurrently
// across nodes and in order on each node, simple commands to one node
// pipelined in one round trip.
func (e *Executor) Run(ctx context.Context, d Desired, obs *Observed, steps []Step) error {
	// An ACL user without the commands a step needs fails here, before
	// any slot opens, naming the nodes and the grant.
	if err := e.Pool.CheckStepAccess(ctx, steps, obs); err != nil {
		return err
	}
	steps = e.skipAnnounces(ctx, obs, steps)
	for i := 0; i < len(steps); {
		j := i
		for j < len(steps) && steps[j].Kind.Stage() == steps[i].Kind.Stage() && steps[j].Wave == steps[i].Wave {
			j++
		}
		start := time.Now()
		var err error
		switch k := steps[i].Kind; k {
		case StepWaitKnown:
			n := strconv.Itoa(len(d.Addrs()))
			err = e.wait(ctx, d, obs, waitSpec{what: "every node knows every other",
				cond: func(o *Observed) (bool, string) { return allKnown(d, o) },
				gate: func(infos map[string]map[string]string) (bool, string) {
					return infoFails(d.Addrs(), infos, "cluster_known_nodes", n, true)
				},
				detail: func(o *Observed) []string { return unknownPeers(d, o, 10) },
			})
		case StepWaitReady:
			want := d
			if steps[i].Expect != nil {
				want = *steps[i].Expect
			}
			err = e.waitReady(ctx, d, want, obs)
		default:
			err = e.runStage(ctx, obs, steps[i:j], i)
		}
		e.debug(ctx, "stage done", map[string]any{"stage": steps[i].Kind.String(), "steps": j - i, "elapsed_ms": time.Since(start).Milliseconds()})
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (e *Executor) runStage(ctx context.Context, obs *Observed, steps []Step, base int) error {
	byNode := map[string][]int{}
	var order []string
	for i, s := range steps {
		if _, ok := byNode[s.Addr]; !ok {
			order = append(order, s.Addr)
		}
		byNode[s.Addr] = append(byNode[s.Addr], i)
	}
	var (
		mu   sync.Mutex
		errs Errors
		wg   sync.WaitGroup
	)
	for _, addr := range order {
		wg.Add(1)
		go func(idx []int) {
			defer wg.Done()
			if err := e.runNode(ctx, obs, steps, idx, base, &mu); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(byNode[addr])
	}
	wg.Wait()
	return errs.Err()
}

// runNode runs one node's steps of a stage in order, pipelining runs of
// simple commands.
func (e *Executor) runNode(ctx context.Context, obs *Observed, steps []Step, idx []int, base int, hookMu *sync.Mutex) error {
	var batch []int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := e.pipeline(ctx, obs, steps, batch)
		done := batch
		batch = nil
		if err != nil {
			return err
		}
		return e.hook(ctx, hookMu, steps, done, base)
	}
	for _, i := range idx {
		s := steps[i]
		switch s.Kind {
		case StepAddSlots, StepSetEpoch, StepMeet, StepAnnounce, StepForget, StepDrop, StepReset:
			batch = append(batch, i)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		var err error
		switch s.Kind {
		case StepReplicate:
			err = e.replicate(ctx, s)
		case StepFailover:
			err = e.failover(ctx, s)
		case StepMoveSlots:
			err = e.moveSlots(ctx, obs, s)
		case StepFixSlot:
			err = e.fixSlot(ctx, obs, s)
		case StepConfigSet:
			err = e.configSet(ctx, obs, s)
		default:
			err = fmt.Errorf("step %s cannot run inside a stage", s.Kind)
		}
		if err != nil {
			return err
		}
		if err := e.hook(ctx, hookMu, steps, []int{i}, base); err != nil {
			return err
		}
	}
	return flush()
}

func (e *Executor) hook(ctx context.Context, mu *sync.Mutex, steps []Step, done []int, base int) error {
	if e.AfterStep == nil {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	for _, i := range done {
		if err := e.AfterStep(ctx, base+i, steps[i]); err != nil {
			return err
		}
	}
	return nil
}

// pipeline sends simple commands to one node in one round trip.
func (e *Executor) pipeline(ctx context.Context, obs *Observed, steps []Step, batch []int) error {
	addr := steps[batch[0]].Addr
	n := obs.Node(addr)
	cmds := make([]*redis.Cmd, len(batch))
	_, _ = e.Pool.Client(addr).Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, i := range batch {
			cmds[k] = p.Do(ctx, commandFor(n, steps[i])...)
		}
		return nil
	})
	for k, i := range batch {
		s := steps[i]
		if err := cmds[k].Err(); err != nil {
			if (s.Kind == StepForget || s.Kind == StepDrop) && isUnknownNode(err) {
				continue // already forgotten
			}
			if s.Kind == StepAnnounce {
				// Best effort: gossip delivers the same news a little later.
				e.debug(ctx, "announce failed", map[string]any{"address": addr, "target": s.Target, "error": err.Error()})
				continue
			}
			if s.Kind == StepAddSlots && isSlotBusy(err) {
				// The node learned an owner for the slot since the plan
				// was made (gossip): plan again from a fresh read.
				return &replanError{why: fmt.Sprintf("%s: %s: %v", addr, s, err)}
			}
			return nodeErr(addr, strings.ToUpper(commandName(s)), err)
		}
		if s.Kind != StepAnnounce {
			e.info(ctx, s.String(), map[string]any{"address": addr, "node_id": n.ID})
		}
	}
	return nil
}

func commandName(s Step) string {
	switch s.Kind {
	case StepAddSlots:
		return "cluster addslots"
	case StepSetEpoch:
		return "cluster set-config-epoch"
	case StepForget, StepDrop:
		return "cluster forget"
	case StepReset:
		return "cluster reset hard"
	}
	return "cluster meet"
}

func commandFor(n *NodeState, s Step) []any {
	switch s.Kind {
	case StepAddSlots:
		args := []any{"CLUSTER"}
		if n.AtLeast(7, 0) {
			args = append(args, "ADDSLOTSRANGE")
			for _, r := range s.Slots.Ranges() {
				args = append(args, r.Start, r.End)
			}
			return args
		}
		args = append(args, "ADDSLOTS")
		for _, slot := range s.Slots.Slots() {
			args = append(args, slot)
		}
		return args
	case StepSetEpoch:
		return []any{"CLUSTER", "SET-CONFIG-EPOCH", s.Epoch}
	case StepForget, StepDrop:
		return []any{"CLUSTER", "FORGET", s.TargetID}
	case StepReset:
		return []any{"CLUSTER", "RESET", "HARD"}
	}
	args := []any{"CLUSTER", "MEET", s.IP, s.Port}
	if s.BusPort != 0 && s.BusPort != s.Port+10000 {
		args = append(args, s.BusPort)
	}
	return args
}

// replicate sends CLUSTER REPLICATE, retrying while the node does not yet
// know the master as a master (gossip still on its way).
func (e *Executor) replicate(ctx context.Context, s Step) error {
	c := e.Pool.Client(s.Addr)
	start, lastLog := time.Now(), time.Now()
	for {
		err := c.ClusterReplicate(ctx, s.TargetID).Err()
		if err == nil {
			e.info(ctx, s.String(), map[string]any{"address": s.Addr, "master_id": s.TargetID})
			return nil
		}
		msg := err.Error()
		retry := isUnknownNode(err) || isReplicateNotMaster(err)
		if !retry {
			if isReplicateNotEmpty(err) {
				return &NodeError{Addr: s.Addr, Kind: ErrOther, Op: "CLUSTER REPLICATE",
					Err: fmt.Errorf("%v: the node holds keys or slots; empty it (FLUSHALL) or move its slots before it can replicate %s", err, s.Target)}
			}
			return nodeErr(s.Addr, "CLUSTER REPLICATE", err)
		}
		if time.Since(lastLog) > 2*time.Second {
			lastLog = time.Now()
			e.info(ctx, "waiting until the node knows its new master as a master before CLUSTER REPLICATE", map[string]any{"address": s.Addr, "master": s.Target, "master_id": s.TargetID, "last_error": msg, "elapsed_ms": time.Since(start).Milliseconds()})
		}
		if err := sleep(ctx, e.poll()); err != nil {
			return fmt.Errorf("node %s: waiting to replicate %s: it never learned that node as a master: %w", s.Addr, describe(s.Target, s.TargetID), err)
		}
	}
}

// failover hands mastership back to s.Addr (a replica) with a plain CLUSTER
// FAILOVER, never FORCE or TAKEOVER: it waits until the replica's link to
// its master is up, then until the replica reports itself master.
func (e *Executor) failover(ctx context.Context, s Step) error {
	c := e.Pool.Client(s.Addr)
	start, lastLog := time.Now(), time.Now()
	for {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return nodeErr(s.Addr, "INFO replication", err)
		}
		kv := ParseInfo(info)
		if kv["role"] == "master" {
			return nil
		}
		if kv["master_link_status"] == "up" && kv["master_sync_in_progress"] == "0" {
			break
		}
		if time.Since(lastLog) > 2*time.Second {
			e.info(ctx, "waiting until the replica is in sync before failing back", map[string]any{"address": s.Addr, "current_master": s.Target,
				"role": kv["role"], "master_link_status": kv["master_link_status"], "master_sync_in_progress": kv["master_sync_in_progress"],
				"elapsed_ms": time.Since(start).Milliseconds()})
			lastLog = time.Now()
		}
		if err := sleep(ctx, e.poll()); err != nil {
			return fmt.Errorf("node %s: waiting until it is in sync with %s before failing back: %w", s.Addr, s.Target, err)
		}
	}
	// A manual failover gives up after 5 s (CLUSTER_MF_TIMEOUT) when it
	// cannot win the election, for example when the masters voted for a
	// failover of this shard less than 2 x cluster-node-timeout ago: send
	// it again until it wins or ctx ends.
	for attempt := 1; ; attempt++ {
		e.info(ctx, "failing back", map[string]any{"address": s.Addr, "current_master": s.Target, "attempt": attempt})
		if err := c.ClusterFailover(ctx).Err(); err != nil {
			// The acting master is failing (just killed, say): the cluster
			// promotes this replica by itself after cluster-node-timeout,
			// so wait for that rather than FORCE over a master that may be
			// healthy a moment later.
			if !isFailoverMasterDown(err) {
				return nodeErr(s.Addr, "CLUSTER FAILOVER", err)
			}
			e.info(ctx, "acting master is failing; waiting for the cluster's own failover", map[string]any{"address": s.Addr})
		}
		deadline := time.Now().Add(manualFailoverTimeout)
		for time.Now().Before(deadline) {
			role, err := c.Do(ctx, "ROLE").Slice()
			if err == nil && len(role) > 0 && role[0] == "master" {
				return nil
			}
			// Promotion takes about 2 ms here: poll one node tightly.
			if err := sleep(ctx, 2*time.Millisecond); err != nil {
				return fmt.Errorf("node %s: CLUSTER FAILOVER sent %d times, but it did not become master: %w", s.Addr, attempt, err)
			}
		}
	}
}

// manualFailoverTimeout is a little over Redis' CLUSTER_MF_TIMEOUT (5 s).
const manualFailoverTimeout = 5500 * time.Millisecond

// waitFor polls the declared nodes' views until cond holds or ctx ends.
func (e *Executor) waitFor(ctx context.Context, d Desired, obs *Observed, what string, cond func(*Observed) (bool, string)) error {
	return e.wait(ctx, d, obs, waitSpec{what: what, cond: cond})
}

// waitSpec is one wait of an apply.
type waitSpec struct {
	what string // the condition, in words: "the cluster is ready"
	cond func(*Observed) (bool, string)
	// gate, when set, is a necessary condition of cond that CLUSTER INFO
	// alone shows: while it does not hold, a poll reads only CLUSTER INFO
	// of every node (a few hundred bytes) instead of CLUSTER NODES (a line
	// per node: at hundreds of nodes, reading and parsing every view at
	// every poll loads the machine the cluster runs on). The views are
	// still read at least every fullReadEvery.
	gate func(infos map[string]map[string]string) (bool, string)
	// detail, when set, names at a timeout every node that keeps the
	// condition from holding, and on what.
	detail func(*Observed) []string
}

const (
	// fullReadEvery bounds how long a gated wait goes without reading
	// the views (they show partitions and repairs that the gate cannot).
	fullReadEvery = time.Second
	// progressEvery is how often a wait logs what it waits for.
	progressEvery = 2 * time.Second
)

// wait polls until w.cond holds or ctx ends. It logs, every
// progressEvery, what it waits for and on which nodes; it fails at the
// deadline naming them. Between polls it sleeps at least as long as the
// last poll took, so that at hundreds of nodes the provider's reads take
// at most half of the time.
func (e *Executor) wait(ctx context.Context, d Desired, obs *Observed, w waitSpec) error {
	start := time.Now()
	lastLog := start
	cur := obs
	last := ""
	var split splitWatch
	polls := 0
	var lastFull time.Time
	fullSeen := false // cur was read during this wait
	for {
		began := time.Now()
		gated := false
		if w.gate != nil && time.Since(lastFull) < fullReadEvery {
			if infos, ok := e.readInfos(ctx, d); ok {
				if pass, why := w.gate(infos); !pass {
					gated, last = true, why
				}
			}
		}
		if !gated {
			cur = e.refresh(ctx, d, cur)
			lastFull, fullSeen = time.Now(), true
			if polls++; polls%10 == 1 {
				// A partition never ends by waiting: say so within PartitionGrace.
				if err := split.check(d, cur); err != nil {
					return err
				}
			}
			ok, why := w.cond(cur)
			if ctx.Err() != nil && last != "" {
				// The reads were cut short by the deadline itself: report what
				// the wait was on before it.
				why = last
			}
			last = why
			if ok && why != "" {
				e.info(ctx, "stopped waiting until "+w.what, map[string]any{"because": why, "elapsed_ms": time.Since(start).Milliseconds()})
				return nil
			}
			if ok {
				e.info(ctx, "converged: "+w.what, map[string]any{"elapsed_ms": time.Since(start).Milliseconds()})
				return nil
			}
		}
		if time.Since(lastLog) > progressEvery {
			e.info(ctx, "waiting until "+w.what, map[string]any{"waiting_on": last, "elapsed_ms": time.Since(start).Milliseconds()})
			lastLog = time.Now()
		}
		if err := sleep(ctx, max(e.poll(), time.Since(began))); err != nil {
			msg := fmt.Sprintf("timed out after %s waiting until %s: %s", time.Since(start).Round(time.Millisecond), w.what, last)
			if w.detail != nil && fullSeen {
				if nodes := w.detail(cur); len(nodes) > 0 {
					msg += "\nNodes that do not agree yet (as last read):\n  - " + strings.Join(nodes, "\n  - ")
				}
			}
			return errors.New(msg)
		}
	}
}

// readInfos reads CLUSTER INFO of every declared node, concurrently. ok is
// false when some node could not be read (the caller then reads the views,
// which say why).
func (e *Executor) readInfos(ctx context.Context, d Desired) (map[string]map[string]string, bool) {
	addrs := d.Observed()
	out := make(map[string]map[string]string, len(addrs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	ok := true
	for _, a := range addrs {
		wg.Add(1)
		go func(a string) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(ctx, 2*e.Pool.DialTimeout())
			defer cancel()
			v, err := e.Pool.Client(a).ClusterInfo(ctx).Result()
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				ok = false
				return
			}
			out[a] = ParseInfo(v)
		}(a)
	}
	wg.Wait()
	return out, ok
}

// infoFails lists the nodes whose CLUSTER INFO field k is not want (or,
// with atLeast, below it), for a gate's reason: "12 of 200 nodes report
// cluster_state other than ok: a (fail), b (fail), ...".
func infoFails(addrs []string, infos map[string]map[string]string, k, want string, atLeast bool) (bool, string) {
	var bad []string
	wantN, _ := strconv.Atoi(want)
	for _, a := range addrs {
		v := infos[a][k]
		if atLeast {
			if n, err := strconv.Atoi(v); err == nil && n >= wantN {
				continue
			}
		} else if v == want {
			continue
		}
		bad = append(bad, fmt.Sprintf("%s (%s)", a, v))
	}
	if len(bad) == 0 {
		return true, ""
	}
	cmp := "other than " + want
	if atLeast {
		cmp = "below " + want
	}
	shown := bad
	if len(shown) > 5 {
		shown = append(shown[:5:5], fmt.Sprintf("%d more", len(bad)-5))
	}
	return false, fmt.Sprintf("%d of %d nodes report %s %s: %s", len(bad), len(addrs), k, cmp, strings.Join(shown, ", "))
}

// refresh re-reads CLUSTER INFO and CLUSTER NODES of every declared node,
// keeping IDs and versions from the previous observation.
func (e *Executor) refresh(ctx context.Context, d Desired, prev *Observed) *Observed {
	out := &Observed{Nodes: make(map[string]*NodeState, len(prev.Nodes))}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range d.Observed() {
		p := prev.Node(a)
		if p == nil || !p.OK() {
			// Concurrently too: a node that does not answer costs up to
			// twice the dial timeout, and one after the other a hundred of
			// them (an overloaded machine) kept a wait from polling, or
			// saying anything, for minutes.
			wg.Add(1)
			go func(a string) {
				defer wg.Done()
				n := observeNode(ctx, e.Pool, a, true)
				mu.Lock()
				out.Nodes[a] = n
				mu.Unlock()
			}(a)
			continue
		}
		wg.Add(1)
		go func(p *NodeState) {
			defer wg.Done()
			n := *p
			n.Config = nil // settings are not re-read while waiting: no config step repairs
			var info, nodes *redis.StringCmd
			ctx, cancel := context.WithTimeout(ctx, 2*e.Pool.DialTimeout())
			defer cancel()
			_, err := e.Pool.Client(p.Addr).Pipelined(ctx, func(pl redis.Pipeliner) error {
				info = pl.ClusterInfo(ctx)
				nodes = pl.ClusterNodes(ctx)
				return nil
			})
			if err == nil {
				n.Info = ParseInfo(info.Val())
				var v []NodeLine
				if v, err = ParseNodes(nodes.Val()); err == nil {
					n.setView(v)
				}
			}
			if err != nil {
				n.Err = nodeErr(p.Addr, "CLUSTER NODES", err)
			}
			mu.Lock()
			out.Nodes[p.Addr] = &n
			mu.Unlock()
		}(p)
	}
	wg.Wait()
	return out
}

func allKnown(d Desired, obs *Observed) (bool, string) {
	if err := requireAll(d, obs); err != nil {
		return false, err.Error()
	}
	addrs := d.Addrs()
	for _, a := range addrs {
		for _, b := range addrs {
			if a != b && !knows(obs, a, b) {
				return false, fmt.Sprintf("%s does not know %s yet", a, describe(b, obs.ID(b)))
			}
		}
	}
	return true, ""
}

// unknownPeers lists, node by node, the declared nodes it does not know
// yet: at most limit lines, then how many more nodes miss some.
func unknownPeers(d Desired, obs *Observed, limit int) []string {
	if requireAll(d, obs) != nil {
		return nil
	}
	addrs := d.Addrs()
	var out []string
	more := 0
	for _, a := range addrs {
		var missing []string
		for _, b := range addrs {
			if a != b && !knows(obs, a, b) {
				missing = append(missing, describe(b, obs.ID(b)))
			}
		}
		switch {
		case len(missing) == 0:
		case len(out) < limit:
			if len(missing) > 5 {
				missing = append(missing[:5:5], fmt.Sprintf("%d more", len(missing)-5))
			}
			out = append(out, fmt.Sprintf("%s does not know %s", a, strings.Join(missing, ", ")))
		default:
			more++
		}
	}
	if more > 0 {
		out = append(out, fmt.Sprintf("and %d more nodes", more))
	}
	return out
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
