package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestApplyWaitTimeoutNamesNodes: a wait that cannot be met before the
// deadline fails with an error that says what it waited for and names
// every node that disagrees, and on what. Three masters with a 20 s
// cluster-node-timeout only report cluster_state:ok the rejoin delay (5 s)
// after their slots are added, so an apply bounded to 2.5 s cannot see the
// cluster ready.
func TestApplyWaitTimeoutNamesNodes(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{DistinctHosts: true, NodeTimeout: 20 * time.Second})
	// Past Redis' CLUSTER_WRITABLE_DELAY (2 s after start), a master given
	// slots waits the full rejoin delay (see bench/harness_test.go).
	time.Sleep(2500 * time.Millisecond)
	a := redistest.Addrs(nodes)
	split := cluster.EvenSplit(3)
	d := cluster.Desired{Failback: true, Shards: []cluster.Shard{
		{Master: a[0], Slots: split[0]}, {Master: a[1], Slots: split[1]}, {Master: a[2], Slots: split[2]},
	}}
	e := newExecutor(t, nodes[0].Password())
	var logged []string
	e.Info = func(_ context.Context, msg string, f map[string]any) {
		if strings.HasPrefix(msg, "waiting until") {
			logged = append(logged, msg)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 2500*time.Millisecond)
	defer cancel()
	obs, err := cluster.Precheck(ctx, e.Pool, d)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = e.Apply(ctx, d, obs)
	if err == nil {
		t.Fatal("apply returned without error before the rejoin delay ended")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("apply returned %s after start: the deadline was 2.5 s", took)
	}
	msg := err.Error()
	// The error is one of two forms, by how far the cluster got: the
	// nodes whose cluster_state is not ok, or the nodes that do not agree
	// yet and on what. Both name every node.
	for _, want := range []string{"timed out after", "waiting until the cluster is ready", "cluster_state"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	for _, addr := range a {
		if !strings.Contains(msg, addr) {
			t.Errorf("error does not name node %s:\n%s", addr, msg)
		}
	}
	if len(logged) == 0 {
		t.Error("the wait logged no progress in 2.5 s")
	}
	t.Logf("error:\n%s", msg)
}
