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

func newExecutor(t *testing.T, password string) *cluster.Executor {
	pool := cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Password: password}, DialTimeout: time.Second})
	t.Cleanup(func() { _ = pool.Close() })
	return &cluster.Executor{Pool: pool}
}

// startExecutor starts n nodes and an executor for them, with a context
// that ends after timeout (or with the test).
func startExecutor(t *testing.T, n int, opts redistest.Options, timeout time.Duration) ([]*redistest.Node, []string, *cluster.Executor, context.Context) {
	t.Helper()
	nodes := redistest.Start(t, n, opts)
	ctx, cancel := context.WithTimeout(t.Context(), timeout)
	t.Cleanup(cancel)
	return nodes, redistest.Addrs(nodes), newExecutor(t, nodes[0].Password()), ctx
}

func layout3x2(nodes []*redistest.Node) cluster.Desired {
	a := redistest.Addrs(nodes)
	split := cluster.EvenSplit(3)
	return cluster.Desired{Failback: true, Shards: []cluster.Shard{
		{Master: a[0], Replicas: []string{a[4]}, Slots: split[0]},
		{Master: a[1], Replicas: []string{a[5]}, Slots: split[1]},
		{Master: a[2], Replicas: []string{a[3]}, Slots: split[2]},
	}}
}

// TestApplyCreateAndDestroy builds 3x(1+1) from empty nodes, checks it from
// the nodes themselves, then destroys it back to lone empty nodes.
func TestApplyCreateAndDestroy(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true})
	d := layout3x2(nodes)
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
	for _, n := range nodes {
		if st := redistest.ClusterInfo(t, n)["cluster_state"]; st != "ok" {
			t.Fatalf("%s: cluster_state %s after apply", n.Addr(), st)
		}
	}
	// A second apply finds nothing to do.
	steps, err := cluster.Plan(d, cluster.Observe(ctx, e.Pool, d.Addrs(), true))
	if err != nil || len(steps) != 0 {
		t.Fatalf("plan after apply: %v %v", steps, err)
	}
	written := redistest.Fill(t, nodes, 200, "k")
	if err := e.Destroy(ctx, d.Addrs(), false); err == nil {
		t.Fatal("destroy with keys and without force must refuse")
	} else {
		var ke *cluster.KeysError
		if !errors.As(err, &ke) || len(ke.Keys) != 3 {
			t.Fatalf("want keys on 3 masters, got %v", err)
		}
	}
	redistest.CheckKeys(t, nodes, written)
	if err := e.Destroy(ctx, d.Addrs(), true); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		info := redistest.ClusterInfo(t, n)
		if info["cluster_known_nodes"] != "1" || info["cluster_slots_assigned"] != "0" || redistest.DBSize(t, n) != 0 {
			t.Fatalf("%s after destroy: %v", n.Addr(), info)
		}
	}
}

// TestApplyResumesAfterKill kills a replica right after the MEET stage of a
// create; the run fails, and once the node is back a new apply converges
// from what was built, without resetting anything.
func TestApplyResumesAfterKill(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{})
	d := layout3x2(nodes)
	e := newExecutor(t, nodes[0].Password())
	killed := false
	e.AfterStep = func(ctx context.Context, i int, s cluster.Step) error {
		if s.Kind == cluster.StepMeet && !killed {
			killed = true
			nodes[4].Kill(t)
		}
		return nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	_, err := e.Apply(ctx, d, nil)
	cancel()
	if err == nil || !killed {
		t.Fatalf("apply with a killed node: err %v, killed %v", err, killed)
	}
	if !strings.Contains(err.Error(), nodes[4].Addr()) {
		t.Errorf("the error should name the dead node %s: %v", nodes[4].Addr(), err)
	}
	nodes[4].Restart(t)
	e.AfterStep = nil
	// A fresh pool: go-redis backs off dialing an address that failed.
	e = newExecutor(t, nodes[0].Password())
	ctx, cancel = context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	obs, err := cluster.Precheck(ctx, e.Pool, d)
	if err != nil {
		t.Fatalf("precheck of a partial cluster of declared nodes: %v", err)
	}
	if _, err := e.Apply(ctx, d, obs); err != nil {
		t.Fatal(err)
	}
	if ok, why := cluster.Converged(d, cluster.Observe(ctx, e.Pool, d.Addrs(), true)); !ok {
		t.Fatal(why)
	}
}

// TestApplyCreateThroughHub builds 12x(1+1) from 24 lone nodes: each
// node meets one hub, each replica its master too, gossip completes the
// mesh (waitKnown meets any pair it leaves out), and the cluster converges
// with every node knowing every other.
func TestApplyCreateThroughHub(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 24, redistest.Options{DistinctHosts: true})
	a := redistest.Addrs(nodes)
	var d cluster.Desired
	for i, set := range cluster.EvenSplit(12) {
		d.Shards = append(d.Shards, cluster.Shard{Master: a[i], Replicas: []string{a[12+i]}, Slots: set})
	}
	e := newExecutor(t, nodes[0].Password())
	planned := map[cluster.StepKind]int{}
	e.AfterStep = func(_ context.Context, _ int, s cluster.Step) error {
		planned[s.Kind]++
		return nil
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	obs, err := cluster.Precheck(ctx, e.Pool, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, d, obs); err != nil {
		t.Fatal(err)
	}
	if planned[cluster.StepMeet] != 23+11 || planned[cluster.StepReplicate] != 12 {
		t.Fatalf("steps run: %v; want 34 MEETs (every node but the hub to the hub, replicas to their master) and 12 REPLICATEs", planned)
	}
	after := cluster.Observe(ctx, e.Pool, d.Addrs(), true)
	if ok, why := cluster.Converged(d, after); !ok {
		t.Fatalf("not converged after apply: %s", why)
	}
	for _, n := range nodes {
		if k := redistest.ClusterInfo(t, n)["cluster_known_nodes"]; k != "24" {
			t.Fatalf("%s knows %s nodes, want 24:\n%s", n.Addr(), k, redistest.ClusterNodes(t, n))
		}
	}
	if steps, err := cluster.Plan(d, after); err != nil || len(steps) != 0 {
		t.Fatalf("plan after apply: %v %v", steps, err)
	}
}
