package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// hookPoint is a place in a run where the executor reported a step done.
// Steps pipelined to one node in one round trip report together; a kill
// between them is the same as a kill after the last, so such calls form
// one point.
type hookPoint struct {
	call int // the call count at the end of the point
	kind cluster.StepKind
	addr string
}

func recordPoints(e *cluster.Executor) *[]hookPoint {
	var points []hookPoint
	calls := 0
	e.AfterStep = func(_ context.Context, _ int, s cluster.Step) error {
		calls++
		if n := len(points); n > 0 && points[n-1].kind == s.Kind && points[n-1].addr == s.Addr {
			points[n-1].call = calls
			return nil
		}
		points = append(points, hookPoint{calls, s.Kind, s.Addr})
		return nil
	}
	return &points
}

var errInterrupted = errors.New("interrupted by the test")

// killAt makes the executor kill victim right after hook call k and stop
// there, as a provider interrupted at that moment would (the cluster is
// left exactly as the kill found it; waiting on would only time out).
func killAt(t *testing.T, e *cluster.Executor, k int, victim *redistest.Node) *bool {
	calls, killed := 0, false
	e.AfterStep = func(_ context.Context, _ int, _ cluster.Step) error {
		calls++
		if calls == k && !killed {
			killed = true
			victim.Kill(t)
			return errInterrupted
		}
		return nil
	}
	return &killed
}

// converge restarts victim, then a fresh executor (a new provider process)
// must converge from whatever was left, with the create pre-check passing.
func converge(t *testing.T, d cluster.Desired, victim *redistest.Node, password string, create bool) {
	t.Helper()
	victim.Restart(t)
	e := newExecutor(t, password)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var obs *cluster.Observed
	if create {
		var err error
		if obs, err = cluster.Precheck(ctx, e.Pool, d); err != nil {
			t.Fatalf("pre-check after an interrupted create: %v", err)
		}
	}
	if _, err := e.Apply(ctx, d, obs); err != nil {
		t.Fatalf("apply after the kill: %v", err)
	}
}

// TestApplyCreateKilledAtEveryStep kills one node (a different one each
// time) after every point of a create, then applies again: it converges to
// the declaration every time.
func TestApplyCreateKilledAtEveryStep(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{})
	d := layout3x2(nodes)
	pw := nodes[0].Password()

	e := newExecutor(t, pw)
	points := recordPoints(e)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	if err := e.Destroy(ctx, d.Addrs(), true); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kill points in a create", len(*points))
	for i, p := range *points {
		victim := nodes[i%len(nodes)]
		t.Run(fmt.Sprintf("%02d_after_%s_on_%s_kill_%s", i, p.kind, p.addr, victim.Addr()), func(t *testing.T) {
			e := newExecutor(t, pw)
			killed := killAt(t, e, p.call, victim)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			_, err := e.Apply(ctx, d, nil)
			cancel()
			if !*killed || !errors.Is(err, errInterrupted) {
				t.Fatalf("the run ended (err %v) before point %d", err, p.call)
			}
			converge(t, d, victim, pw, true)
			e = newExecutor(t, pw)
			ctx, cancel = context.WithTimeout(t.Context(), 20*time.Second)
			defer cancel()
			if ok, why := cluster.Converged(d, cluster.Observe(ctx, e.Pool, d.Addrs(), true)); !ok {
				t.Fatal(why)
			}
			if err := e.Destroy(ctx, d.Addrs(), true); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestApplyFailbackKilledAtEveryStep: the walkthrough's failover, then a
// restore killed after every point; applying again converges and every
// acknowledged key is still there (the nodes persist with appendfsync
// always, as a master without persistence comes back empty by design).
func TestApplyFailbackKilledAtEveryStep(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{ExtraArgs: []string{
		"--appendonly", "yes", "--appendfsync", "always", "--repl-diskless-sync-delay", "0"}})
	d := layout3x2(nodes)
	pw := nodes[0].Password()
	e := newExecutor(t, pw)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	written := redistest.Fill(t, nodes, 300, "fb")

	failover := func() {
		t.Helper()
		// Retry while the replica still sees its master as failing (it may
		// have just restarted) or the last election is too recent.
		sent := time.Time{}
		redistest.WaitFor(t, 60*time.Second, func() bool {
			if redistest.Info(t, nodes[0], "replication")["role"] == "slave" &&
				redistest.Info(t, nodes[4], "replication")["role"] == "master" {
				return true
			}
			if time.Since(sent) > 6*time.Second {
				info := redistest.Info(t, nodes[4], "replication")
				if info["master_link_status"] == "up" && nodes[4].Client().Do(t.Context(), "CLUSTER", "FAILOVER").Err() == nil {
					sent = time.Now()
				}
			}
			return false
		}, "the manual failover")
	}
	failover()
	e = newExecutor(t, pw)
	points := recordPoints(e)
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kill points in a failback", len(*points))
	for i, p := range *points {
		victim := nodes[i%len(nodes)]
		t.Run(fmt.Sprintf("%02d_after_%s_on_%s_kill_%s", i, p.kind, p.addr, victim.Addr()), func(t *testing.T) {
			failover()
			e := newExecutor(t, pw)
			killed := killAt(t, e, p.call, victim)
			ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
			_, err := e.Apply(ctx, d, nil)
			cancel()
			if !*killed || !errors.Is(err, errInterrupted) {
				t.Fatalf("the run ended (err %v) before point %d", err, p.call)
			}
			converge(t, d, victim, pw, false)
			redistest.CheckKeys(t, nodes, written)
		})
	}
}
