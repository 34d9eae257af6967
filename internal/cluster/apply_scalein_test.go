package cluster_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestApplyRemoveShardWithReplica removes a shard holding keys together with its replica in
// one apply: the master's slots move with their keys to the two masters that stay, and both
// leaving nodes are forgotten and reset. On Valkey 8.0+ CLUSTER SETSLOT is replicated to the
// master's replicas and waits for them; a replica leaving in the same apply must not make it
// fail (NOREPLICAS).
func TestApplyRemoveShardWithReplica(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{ExtraArgs: []string{"--repl-diskless-sync-delay", "0"}})
	t.Logf("engine %s", redistest.ServerEngine(t))
	a := redistest.Addrs(nodes)
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	d := layout3x2(nodes)
	obs, err := cluster.Precheck(ctx, e.Pool, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, d, obs); err != nil {
		t.Fatal(err)
	}
	written := redistest.Fill(t, nodes, 3000, "scalein")
	// Every master's replica has its keys: the replicas are in sync when the shard leaves.
	// (layout3x2: a[4] replicates a[0], a[5] a[1], a[3] a[2].)
	waitReplicasSynced(t, map[*redistest.Node]*redistest.Node{nodes[4]: nodes[0], nodes[5]: nodes[1], nodes[3]: nodes[2]})

	// Shard 1 (a[1] and its replica a[5]) leaves.
	rest := withEvenSlots(cluster.Desired{Failback: true, Shards: []cluster.Shard{
		{Master: a[0], Replicas: []string{a[4]}},
		{Master: a[2], Replicas: []string{a[3]}},
	}})
	rest.Remove = []string{a[1], a[5]}
	start := time.Now()
	logf := func(_ context.Context, msg string, f map[string]any) {
		t.Logf("%6.2fs %s %v", time.Since(start).Seconds(), msg, f)
	}
	e.Info, e.Debug = logf, logf
	if _, err := e.Apply(ctx, rest, cluster.Observe(ctx, e.Pool, rest.Observed(), true)); err != nil {
		t.Fatalf("%s: remove a shard and its replica: %v", redistest.ServerEngine(t), err)
	}
	stay := []*redistest.Node{nodes[0], nodes[2], nodes[3], nodes[4]}
	redistest.CheckKeys(t, stay, written)
	for _, n := range []*redistest.Node{nodes[1], nodes[5]} {
		info := redistest.ClusterInfo(t, n)
		if info["cluster_known_nodes"] != "1" || info["cluster_slots_assigned"] != "0" || redistest.DBSize(t, n) != 0 {
			t.Fatalf("%s left the cluster but is not reset: %v, %d keys", n.Addr(), info, redistest.DBSize(t, n))
		}
	}
	for _, n := range stay {
		if k := redistest.ClusterInfo(t, n)["cluster_known_nodes"]; k != strconv.Itoa(len(stay)) {
			t.Fatalf("%s knows %s nodes, want %d (the leaving nodes forgotten)", n.Addr(), k, len(stay))
		}
	}
	rest.Remove = nil
	steps, err := cluster.Plan(rest, cluster.Observe(ctx, e.Pool, rest.Addrs(), true))
	if err != nil || len(steps) != 0 {
		t.Fatalf("plan after the scale-in: %v %v", steps, err)
	}
}

// withEvenSlots gives the shards redis-cli's even split, in order.
func withEvenSlots(d cluster.Desired) cluster.Desired {
	split := cluster.EvenSplit(len(d.Shards))
	for i := range d.Shards {
		d.Shards[i].Slots = split[i]
	}
	return d
}

// waitReplicasSynced waits until each replica holds as many keys as its master.
func waitReplicasSynced(t *testing.T, masterOf map[*redistest.Node]*redistest.Node) {
	t.Helper()
	redistest.WaitFor(t, 30*time.Second, func() bool {
		for r, m := range masterOf {
			if redistest.DBSize(t, r) != redistest.DBSize(t, m) {
				return false
			}
		}
		return true
	}, "replicas to hold their masters' keys")
}
