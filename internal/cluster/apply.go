package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
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
	// StallAfter is how long the readiness wait watches one unmet
	// condition that no step repairs before it fails with a
	// *NoRepairError (default defaultStallAfter).
	StallAfter time.Duration
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
		var err error
		if obs, err = e.awaitLoaded(ctx, obs, func() *Observed {
			return ObserveWith(ctx, e.Pool, addrs, ObserveOptions{Views: true, Config: d.ConfigKeys()})
		}, map[string]any{"round": round + 1}); err != nil {
			return obs, err
		}
		// Nothing is sent while nodes are cut off from the majority: a
		// command there would act on a stale view (see awaitHealed).
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
	// defaultStallAfter: gossip settles what a round changed within
	// seconds (under 10 s at 200 nodes measured), and a failover the
	// cluster runs itself within two node-timeouts (30 s by default); the
	// wait allows four node-timeouts where it read the setting.
	defaultStallAfter = time.Minute
)

// NoRepairError reports a readiness wait that saw the same unmet
// condition for Waited while the planner had no step that changes it: the
// cluster holds a state the declaration does not describe and apply does
// not know how to repair. Nodes lists who disagrees, and on what.
type NoRepairError struct {
	Waited time.Duration
	Why    string
	Nodes  []string
	// PlanErr is why no plan could be made from the last read, if so.
	PlanErr error
}

func (e *NoRepairError) Error() string {
	msg := fmt.Sprintf("waited %s for the cluster to match the declaration, but %s, and no change apply knows repairs that: "+
		"check the nodes' logs, change the cluster or the declaration so they agree, then apply again", e.Waited.Round(time.Second), e.Why)
	if e.PlanErr != nil {
		msg += "\nNo plan can be made from the cluster as it is: " + e.PlanErr.Error()
	}
	if len(e.Nodes) > 0 {
		msg += "\nNodes that do not agree (as last read):\n  - " + strings.Join(e.Nodes, "\n  - ")
	}
	return msg
}

// stallWatch tells when the readiness wait has seen one unmet condition,
// with no step to repair it, for after. Any other condition, or one a step
// repairs, starts the watch again.
type stallWatch struct {
	after time.Duration
	why   string
	since time.Time
}

func (w *stallWatch) see(why string, repairable bool, now time.Time) (stalled bool) {
	if why == "" || repairable {
		w.why = ""
		return false
	}
	if why != w.why {
		w.why, w.since = why, now
		return false
	}
	return now.Sub(w.since) >= w.after
}

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

func stepsSummary(steps []Step) string {
	var parts []string
	for _, s := range steps {
		parts = append(parts, s.String())
	}
	return strings.Join(parts, "; ")
}
