package cluster_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestApplyReplacesHostsInOneApply replaces shard 1's master and shard 2's
// replica with new, empty nodes in one apply, on a cluster holding keys.
// The new master joins as a replica of the old one, syncs, and takes over
// with CLUSTER FAILOVER. The new nodes learn the leaving nodes' IDs by
// gossip while the apply runs; every member is told to forget them, or the
// IDs would linger as address-less entries once the nodes are reset.
func TestApplyReplacesHostsInOneApply(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 8, redistest.Options{})
	a := redistest.Addrs(nodes)
	d := layout3x2(nodes[:6])
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	written := redistest.Fill(t, nodes[:6], 3000, "k")

	next := cluster.Desired{Failback: true, Shards: []cluster.Shard{
		{Master: a[6], Replicas: []string{a[4]}, Slots: d.Shards[0].Slots},
		{Master: a[1], Replicas: []string{a[7]}, Slots: d.Shards[1].Slots},
		d.Shards[2],
	}, Remove: []string{a[0], a[5]}}
	start := time.Now()
	e.Info = func(_ context.Context, msg string, f map[string]any) {
		t.Logf("%6dms %s %v", time.Since(start).Milliseconds(), msg, f)
	}
	obs, err := e.Apply(ctx, next, nil)
	if err != nil {
		t.Fatalf("apply after %s: %v", time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("replaced a master and a replica in %s", time.Since(start).Round(time.Millisecond))
	if ok, why := cluster.Converged(next, obs); !ok {
		t.Fatal(why)
	}
	// The new master took the shard over by replication and failover: the
	// old one never ran MIGRATE.
	if m := redistest.Info(t, nodes[0], "commandstats")["cmdstat_migrate"]; m != "" {
		t.Errorf("the replaced master moved keys with MIGRATE (%s); want a takeover by failover", m)
	}
	kept := []*redistest.Node{nodes[1], nodes[2], nodes[3], nodes[4], nodes[6], nodes[7]}
	redistest.CheckKeys(t, kept, written)
	for _, n := range []*redistest.Node{nodes[0], nodes[5]} {
		if info := redistest.ClusterInfo(t, n); info["cluster_known_nodes"] != "1" {
			t.Errorf("%s was removed but knows %s nodes", n.Addr(), info["cluster_known_nodes"])
		}
	}
	// The next plan, like Terraform's, no longer lists the removed nodes.
	next.Remove = nil
	steps, err := cluster.Plan(next, cluster.Observe(ctx, e.Pool, next.Addrs(), true))
	if err != nil || len(steps) != 0 {
		t.Fatalf("plan after apply: %v %v", steps, err)
	}
}

// TestApplyPlansAgainWhenWaitFindsDrift re-points a replica by hand while
// the apply waits for the cluster to be ready: waiting cannot undo that, so
// the round ends and the next one sends CLUSTER REPLICATE.
func TestApplyPlansAgainWhenWaitFindsDrift(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{})
	d := layout3x2(nodes)
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	// Drift for the apply to fix: nodes[4] follows shard 2's master.
	redistest.Do(t, nodes[4], "CLUSTER", "REPLICATE", redistest.MyID(t, nodes[1]))
	tampered := false
	e.AfterStep = func(_ context.Context, _ int, s cluster.Step) error {
		if s.Kind == cluster.StepReplicate && !tampered {
			// While the apply goes on to wait, nodes[3] (shard 3's
			// replica) is moved to shard 1's master.
			tampered = true
			redistest.Do(t, nodes[3], "CLUSTER", "REPLICATE", redistest.MyID(t, nodes[0]))
		}
		return nil
	}
	var replanned bool
	e.Info = func(_ context.Context, msg string, _ map[string]any) {
		replanned = replanned || strings.HasPrefix(msg, "planning again")
	}
	obs, err := e.Apply(ctx, d, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !tampered || !replanned {
		t.Fatalf("tampered %v, planned again %v: the test did not exercise the re-plan", tampered, replanned)
	}
	if ok, why := cluster.Converged(d, obs); !ok {
		t.Fatal(why)
	}
}

// TestApplyStopsWhenRoundsMakeNoProgress undoes the apply's REPLICATE each
// time it is sent: the same plan comes back round after round, and apply
// fails naming the node and the change instead of running to its timeout.
func TestApplyStopsWhenRoundsMakeNoProgress(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{})
	d := layout3x2(nodes)
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	wrong := redistest.MyID(t, nodes[1])
	redistest.Do(t, nodes[4], "CLUSTER", "REPLICATE", wrong)
	e.AfterStep = func(_ context.Context, _ int, s cluster.Step) error {
		if s.Kind == cluster.StepReplicate {
			redistest.Do(t, nodes[4], "CLUSTER", "REPLICATE", wrong)
		}
		return nil
	}
	start := time.Now()
	_, err := e.Apply(ctx, d, nil)
	var stalled *cluster.StalledError
	if !errors.As(err, &stalled) {
		t.Fatalf("want a StalledError, got %v", err)
	}
	if !strings.Contains(err.Error(), nodes[4].Addr()) || !strings.Contains(err.Error(), "CLUSTER REPLICATE") {
		t.Errorf("the error should name %s and the change left: %v", nodes[4].Addr(), err)
	}
	t.Logf("stopped after %s: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestApplyMovesSlotsThereAndBack gives half the slots of a one-master
// cluster to a slotless master, then takes them back, keys and all. The
// second move leaves the declared master with no slot, and Redis turns a
// master that gives its last slot away into a replica of the node that
// took it (cluster-allow-replica-migration, the default): apply must make
// it a master again, as declared, instead of waiting for it to become one.
func TestApplyMovesSlotsThereAndBack(t *testing.T) {
	t.Parallel()
	nodes, a, e, ctx := startExecutor(t, 2, redistest.Options{}, 2*time.Minute)
	one, two := halves(a)
	if _, err := e.Apply(ctx, one, nil); err != nil {
		t.Fatal(err)
	}
	written := redistest.FillNode(t, nodes[0], 50000, "k")
	start := time.Now()
	e.Info = func(_ context.Context, msg string, f map[string]any) {
		t.Logf("%6dms %s %v", time.Since(start).Milliseconds(), msg, f)
	}
	for i, d := range []cluster.Desired{two, one, two} {
		obs, err := e.Apply(ctx, d, nil)
		if err != nil {
			t.Fatalf("apply %d: %v", i+1, err)
		}
		if ok, why := cluster.Converged(d, obs); !ok {
			t.Fatalf("apply %d: %s", i+1, why)
		}
		checkPopulated(t, nodes, written)
	}
}

// TestApplyMakesReplicaANewShard declares a replica the master of a new
// shard with half the slots: it is reset to a master (its data is a copy
// of its old master's), met again, and the slots move to it with their
// keys. CLUSTER REPLICATE cannot make a replica a master, and a slot move
// into a replica fails.
func TestApplyMakesReplicaANewShard(t *testing.T) {
	t.Parallel()
	nodes, a, e, ctx := startExecutor(t, 2, redistest.Options{}, 2*time.Minute)
	one, two := halves(a)
	one.Shards = []cluster.Shard{{Master: a[0], Replicas: []string{a[1]}, Slots: one.Shards[0].Slots}}
	if _, err := e.Apply(ctx, one, nil); err != nil {
		t.Fatal(err)
	}
	written := redistest.FillNode(t, nodes[0], 20000, "k")
	steps, err := cluster.Plan(two, cluster.Observe(ctx, e.Pool, two.Addrs(), true))
	if err != nil || len(steps) == 0 || steps[0].Kind != cluster.StepDetach {
		t.Fatalf("want a plan that first makes %s a master: %v %v", a[1], steps, err)
	}
	obs, err := e.Apply(ctx, two, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := cluster.Converged(two, obs); !ok {
		t.Fatal(why)
	}
	checkPopulated(t, nodes, written)
}

// TestApplyFailsWhenNoStepRepairs: while apply waits, an undeclared node
// takes slot 0. Waiting cannot undo that and no plan can be made (the
// planner never takes slots from a node the declaration does not name):
// apply fails once the condition has stood for StallAfter, naming it,
// instead of waiting until its deadline.
func TestApplyFailsWhenNoStepRepairs(t *testing.T) {
	t.Parallel()
	nodes, a, e, ctx := startExecutor(t, 3, redistest.Options{}, 2*time.Minute)
	all := cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: cluster.SlotCount - 1})
	if _, err := e.Apply(ctx, cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Slots: all}}}, nil); err != nil {
		t.Fatal(err)
	}
	intruded := false
	e.StallAfter = 3 * time.Second
	e.AfterStep = func(_ context.Context, _ int, s cluster.Step) error {
		if s.Kind != cluster.StepReplicate || intruded {
			return nil
		}
		intruded = true
		host, port, _ := strings.Cut(a[2], ":")
		redistest.Do(t, nodes[0], "CLUSTER", "MEET", host, port)
		redistest.WaitFor(t, 10*time.Second, func() bool {
			return redistest.ClusterInfo(t, nodes[2])["cluster_known_nodes"] == "3"
		}, "the undeclared node to join")
		// The intruder claims slot 0 with the highest config epoch, so
		// that every node takes its word.
		redistest.Do(t, nodes[0], "CLUSTER", "DELSLOTS", "0")
		// It may not have heard of slot 0's owner yet ("already unassigned").
		_ = nodes[2].Client().Do(ctx, "CLUSTER", "DELSLOTS", "0").Err()
		redistest.Do(t, nodes[2], "CLUSTER", "ADDSLOTS", "0")
		redistest.Do(t, nodes[2], "CLUSTER", "BUMPEPOCH")
		return nil
	}
	start := time.Now()
	_, err := e.Apply(ctx, cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Replicas: []string{a[1]}, Slots: all}}}, nil)
	var nr *cluster.NoRepairError
	if !intruded || !errors.As(err, &nr) {
		t.Fatalf("intruded %v: want a NoRepairError, got %v", intruded, err)
	}
	if !strings.Contains(err.Error(), a[0]) || !strings.Contains(err.Error(), "No plan can be made") {
		t.Errorf("the error should name %s and say why no plan can be made: %v", a[0], err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("failed after %s: want about StallAfter (3 s) after the intrusion", time.Since(start).Round(time.Millisecond))
	}
	t.Logf("failed after %s: %v", time.Since(start).Round(time.Millisecond), err)
}
