package cluster_test

import (
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestCheckFollows: right before a failover the replica must still
// replicate the master the step names; one that Redis moved to another
// master (replica migration) makes the round plan again instead of taking
// that master's shard over.
func TestCheckFollows(t *testing.T) {
	t.Parallel()
	_, a, e, ctx := startExecutor(t, 3, redistest.Options{}, time.Minute)
	half := cluster.EvenSplit(2)
	d := cluster.Desired{Shards: []cluster.Shard{
		{Master: a[0], Replicas: []string{a[2]}, Slots: half[0]},
		{Master: a[1], Slots: half[1]},
	}}
	obs, err := cluster.Precheck(ctx, e.Pool, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, d, obs); err != nil {
		t.Fatal(err)
	}
	if err := e.CheckFollows(ctx, a[2], a[0]); err != nil {
		t.Fatalf("replica of %s checked against its master: %v", a[0], err)
	}
	err = e.CheckFollows(ctx, a[2], a[1])
	if err == nil || !cluster.OnlyReplan(err) {
		t.Fatalf("replica of %s checked against %s: %v, want a replan", a[0], a[1], err)
	}
	t.Log(err)
}
