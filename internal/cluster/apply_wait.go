package cluster

// The executor's waits: readiness between rounds, gated polls of CLUSTER INFO, refreshed views.

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

// waitReady waits until the cluster matches want. It ends the round early
// (replanError) when a plan from the live view, for the whole declaration d,
// has repair steps that have stood for replanAfter: waiting would not fix
// what only a command fixes. It fails (*NoRepairError) when one unmet
// condition has stood for StallAfter with no step to repair it, rather
// than wait until the deadline.
func (e *Executor) waitReady(ctx context.Context, d, want Desired, obs *Observed) error {
	var since, checked time.Time
	var repair string
	var stalled *NoRepairError
	stall := stallWatch{after: e.StallAfter}
	if stall.after <= 0 {
		stall.after = max(defaultStallAfter, 4*nodeTimeout(obs))
	}
	start := time.Now()
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
		r, now, planErr := repairs(d, o)
		if stall.see(why, r != "" || loading(o), checked) {
			stalled = &NoRepairError{Waited: time.Since(start), Why: why, Nodes: Disagreements(want, o, 10), PlanErr: planErr}
			return true, "no step repairs what is left"
		}
		switch {
		case r == "":
			since = time.Time{}
		case now:
			// A stale ID never goes away by itself, nor does a declared
			// master stop replicating another shard: repair it now.
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
	if err == nil && stalled != nil {
		return stalled
	}
	if err == nil && repair != "" {
		return &replanError{why: "drift found while waiting: " + repair}
	}
	return err
}

// nodeTimeout is the largest cluster-node-timeout the observation read
// (CONFIG GET, when the declaration or the checks asked for it), else 0.
func nodeTimeout(obs *Observed) time.Duration {
	var out time.Duration
	if obs == nil {
		return 0
	}
	for _, n := range obs.Nodes {
		if ms, err := strconv.Atoi(n.ConfigOrNil()["cluster-node-timeout"]); err == nil {
			out = max(out, time.Duration(ms)*time.Millisecond)
		}
	}
	return out
}

// repairs describes the changes a plan from o would make, or "" when it
// would only announce and wait, or cannot plan from o (planErr says why). now tells that
// every change is one no wait makes unneeded: forgetting a stale ID, or
// resetting a declared master that replicates another shard.
func repairs(d Desired, o *Observed) (what string, now bool, planErr error) {
	steps, err := Plan(d, o)
	if err != nil {
		return "", false, err
	}
	var act []Step
	now = true
	for _, s := range steps {
		if !s.Kind.Barrier() && s.Kind != StepAnnounce {
			act = append(act, s)
			now = now && (s.Kind == StepForget || s.Kind == StepDetach)
		}
	}
	if len(act) == 0 {
		return "", false, nil
	}
	if w := Drift(act); len(w) > 0 {
		return strings.Join(w, "; "), now, nil
	}
	return stepsSummary(act), now, nil
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

// awaitLoaded observes again while a node answers LOADING (a node that
// just restarted, or a replica loading a full sync, reads its dataset
// first), logging fields: Apply, Destroy and node plans wait for it
// rather than fail.
func (e *Executor) awaitLoaded(ctx context.Context, obs *Observed, observe func() *Observed, fields map[string]any) (*Observed, error) {
	for loading(obs) {
		e.info(ctx, "waiting for nodes loading their dataset", fields)
		if err := sleep(ctx, 10*e.poll()); err != nil {
			return obs, fmt.Errorf("timed out waiting for nodes to load their dataset: %w", err)
		}
		obs = observe()
	}
	return obs, nil
}

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
	cache := newParseCache()
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
				if v, err = parseNodes(nodes.Val(), cache); err == nil {
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
