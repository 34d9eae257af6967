package cluster_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestMoveInterruptedThenFinished cancels an apply in the middle of a slot
// move (the provider process stopped, as with Ctrl-C), leaving slots
// half-moved; the next apply finishes the move and no key is lost.
func TestMoveInterruptedThenFinished(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{})
	a := redistest.Addrs(nodes)
	pw := nodes[0].Password()
	before := cluster.Desired{Shards: []cluster.Shard{
		{Master: a[0], Slots: cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: 16383})},
		{Master: a[1]},
	}}
	// A lone node with no slot is fine for the executor: build one master
	// first, then join the second empty.
	e := newExecutor(t, pw)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	if _, err := e.Apply(ctx, cluster.Desired{Shards: before.Shards[:1]}, nil); err != nil {
		t.Fatal(err)
	}
	written := redistest.Fill(t, nodes[:1], 20000, "mv")
	after := cluster.Desired{Shards: []cluster.Shard{
		{Master: a[0], Slots: cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: 8191})},
		{Master: a[1], Slots: cluster.NewSlotSet(cluster.SlotRange{Start: 8192, End: 16383})},
	}}
	// Stop the run once a few thousand keys have moved.
	e = newExecutor(t, pw)
	runCtx, stop := context.WithCancel(ctx)
	e.Info = func(_ context.Context, msg string, f map[string]any) {
		if msg == "moving slots" {
			stop()
		}
	}
	go func() {
		// moving slots is logged every 2 s; stop sooner if it is fast
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && runCtx.Err() == nil {
			if redistest.DBSize(t, nodes[1]) > 2000 {
				stop()
				return
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()
	_, err := e.Apply(runCtx, after, nil)
	if err == nil {
		t.Skip("the move finished before it could be interrupted")
	}
	if !errors.Is(err, context.Canceled) && runCtx.Err() == nil {
		t.Fatalf("want an interrupted move, got %v", err)
	}
	moved := redistest.DBSize(t, nodes[1])
	t.Logf("interrupted with %d keys on the target", moved)
	if moved == 0 || moved == int64(len(written)) {
		t.Fatalf("the move was not interrupted midway (%d keys moved)", moved)
	}
	e = newExecutor(t, pw)
	if _, err := e.Apply(ctx, after, nil); err != nil {
		t.Fatalf("apply after the interruption: %v", err)
	}
	redistest.CheckKeys(t, nodes, written)
	if ok, why := cluster.Converged(after, cluster.Observe(ctx, e.Pool, after.Addrs(), true)); !ok {
		t.Fatal(why)
	}
}
