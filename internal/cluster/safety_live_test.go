package cluster_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

func liveWarnings(ctx context.Context, e *cluster.Executor, d cluster.Desired) []cluster.Warning {
	obs := cluster.ObserveWith(ctx, e.Pool, d.Addrs(), cluster.ObserveOptions{Views: true, Safety: true})
	var view []cluster.NodeLine
	if n := obs.Node(d.Addrs()[0]); n.OK() {
		view = n.View
	}
	return cluster.Safety(view, obs, true)
}

func warningOf(ws []cluster.Warning, kind string) *cluster.Warning {
	for i := range ws {
		if ws[i].Kind == kind {
			return &ws[i]
		}
	}
	return nil
}

func kindsOf(ws []cluster.Warning) []string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Kind)
	}
	return out
}

// TestSafetyLive: on a real 3x(1+1) cluster, one host per node, each
// warning appears when its condition holds, naming the nodes, and goes
// away once fixed.
func TestSafetyLive(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true, ExtraArgs: []string{"--repl-diskless-sync-delay", "0"}})
	d := layout3x2(nodes)
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	obs, err := cluster.Precheck(ctx, e.Pool, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, d, obs); err != nil {
		t.Fatal(err)
	}
	masters := []string{d.Shards[0].Master, d.Shards[1].Master, d.Shards[2].Master}
	slices.Sort(masters)

	// Fresh replicas finish their first sync by themselves.
	var ws []cluster.Warning
	redistest.WaitFor(t, 30*time.Second, func() bool {
		ws = liveWarnings(ctx, e, d)
		return warningOf(ws, cluster.WarnReplicaNotInSync) == nil
	}, "the replicas' first sync")
	// The harness starts nodes with save "" and appendonly no, and replica
	// migration on (the default); one host per node, 3 masters each with
	// a replica.
	// (Before Redis 6.2 replica migration cannot be turned off: no warning.)
	migration := redistest.ServerEngine(t).Has(redistest.FeatureReplicaMigrationSetting)
	want := []string{cluster.WarnNoPersistence}
	if migration {
		want = append(want, cluster.WarnReplicaMigration)
	}
	if got := kindsOf(ws); !slices.Equal(got, want) {
		t.Fatalf("warnings %v, want %v: %+v", got, want, ws)
	}
	if w := warningOf(ws, cluster.WarnNoPersistence); !slices.Equal(w.Nodes, masters) {
		t.Fatalf("no_persistence names %v, want the masters %v", w.Nodes, masters)
	}
	if w := warningOf(ws, cluster.WarnReplicaMigration); migration && len(w.Nodes) != 6 {
		t.Fatalf("replica_migration names %v, want every node", w.Nodes)
	}

	// The fixes the warnings name, through config.
	d.Config = map[string]string{"appendonly": "yes"}
	if migration {
		d.Config["cluster-allow-replica-migration"] = "no"
	}
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	if ws := liveWarnings(ctx, e, d); len(ws) != 0 {
		t.Fatalf("warnings after the fixes: %v", kindsOf(ws))
	}

	// A setting that should match differs on a replica.
	replica := nodes[4] // replica of nodes[0]
	redistest.Do(t, replica, "CONFIG", "SET", "cluster-node-timeout", "3000")
	w := warningOf(liveWarnings(ctx, e, d), cluster.WarnSettingsDiffer)
	if w == nil || !strings.Contains(w.Detail, `cluster-node-timeout: "1000" on`) || !strings.Contains(w.Detail, `"3000" on `+replica.Addr()) {
		t.Fatalf("settings_differ: %+v", w)
	}
	redistest.Do(t, replica, "CONFIG", "SET", "cluster-node-timeout", "1000")
	if w := warningOf(liveWarnings(ctx, e, d), cluster.WarnSettingsDiffer); w != nil {
		t.Fatalf("settings_differ after the fix: %+v", w)
	}

	// A replica that cannot authenticate to its master loses its link.
	redistest.Do(t, replica, "CONFIG", "SET", "masterauth", "wrong-password")
	redistest.Do(t, replica, "CLIENT", "KILL", "TYPE", "master")
	redistest.WaitFor(t, 20*time.Second, func() bool {
		w := warningOf(liveWarnings(ctx, e, d), cluster.WarnReplicaNotInSync)
		return w != nil && slices.Equal(w.Nodes, []string{replica.Addr()}) && strings.Contains(w.Detail, "replica of "+nodes[0].Addr())
	}, "replica_not_in_sync naming "+replica.Addr())
	redistest.Do(t, replica, "CONFIG", "SET", "masterauth", replica.Password())
	redistest.WaitFor(t, 20*time.Second, func() bool {
		return warningOf(liveWarnings(ctx, e, d), cluster.WarnReplicaNotInSync) == nil
	}, "the replica back in sync")
}

// TestSafetyLiveOneHost: a master and its replica on one host (both on
// 127.0.0.1), the only shard: same_host and no_failover name them.
func TestSafetyLiveOneHost(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{})
	a := redistest.Addrs(nodes)
	d := cluster.Desired{Failback: true, Shards: []cluster.Shard{{Master: a[0], Replicas: []string{a[1]}, Slots: cluster.EvenSplit(1)[0]}}}
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	obs, err := cluster.Precheck(ctx, e.Pool, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, d, obs); err != nil {
		t.Fatal(err)
	}
	ws := liveWarnings(ctx, e, d)
	host := warningOf(ws, cluster.WarnSameHost)
	both := []string{a[0], a[1]}
	slices.Sort(both)
	if host == nil || !slices.Equal(host.Nodes, both) || !strings.Contains(host.Detail, "on 127.0.0.1") {
		t.Fatalf("same_host: %+v", host)
	}
	nf := warningOf(ws, cluster.WarnNoFailover)
	if nf == nil || !strings.Contains(nf.Detail, "only 1 master(s) serve slots ("+a[0]+")") {
		t.Fatalf("no_failover: %+v", nf)
	}
}
