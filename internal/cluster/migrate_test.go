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
	// Stop the run once a few thousand keys have moved. The MIGRATE path
	// (even where the engine migrates slots itself: see
	// TestAtomicMoveInterrupted) leaves slots half-moved.
	e = newExecutor(t, pw)
	e.KeyByKey = true
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

// TestMoveNodeKilledThenFinished kills -9 the target node in the middle of
// a slot move (nodes persist with appendfsync always); once it is back,
// the next apply settles the open slots and finishes the move, no key lost.
func TestMoveNodeKilledThenFinished(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{ExtraArgs: []string{"--appendonly", "yes", "--appendfsync", "always"}})
	a := redistest.Addrs(nodes)
	pw := nodes[0].Password()
	e := newExecutor(t, pw)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	all := cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: 16383})
	if _, err := e.Apply(ctx, cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Slots: all}}}, nil); err != nil {
		t.Fatal(err)
	}
	written := redistest.Fill(t, nodes[:1], 20000, "kill")
	after := cluster.Desired{Shards: []cluster.Shard{
		{Master: a[0], Slots: cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: 8191})},
		{Master: a[1], Slots: cluster.NewSlotSet(cluster.SlotRange{Start: 8192, End: 16383})},
	}}
	killed := make(chan struct{})
	go func() {
		defer close(killed)
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			if redistest.DBSize(t, nodes[1]) > 2000 {
				nodes[1].Kill(t)
				return
			}
			time.Sleep(2 * time.Millisecond)
		}
	}()
	e = newExecutor(t, pw)
	e.KeyByKey = true // the MIGRATE path; TestAtomicMoveNodeKilled kills mid atomic move
	runCtx, stop := context.WithTimeout(ctx, 20*time.Second)
	_, err := e.Apply(runCtx, after, nil)
	stop()
	<-killed
	if err == nil {
		t.Skip("the move finished before the target could be killed")
	}
	t.Logf("apply with the target killed midway: %v", err)
	if !strings.Contains(err.Error(), `"kill:`) && !strings.Contains(err.Error(), "unreachable") {
		t.Errorf("a key that failed to move must be named: %v", err)
	}
	nodes[1].Restart(t)
	e = newExecutor(t, pw)
	if _, err := e.Apply(ctx, after, nil); err != nil {
		t.Fatalf("apply after the target came back: %v", err)
	}
	redistest.CheckKeys(t, nodes, written)
	if ok, why := cluster.Converged(after, cluster.Observe(ctx, e.Pool, after.Addrs(), true)); !ok {
		t.Fatal(why)
	}
}

// TestMoveReplacesHalfMovedKey: a MIGRATE cut off after the target stored
// a key, but before the source deleted it, leaves the key on both nodes.
// Finishing the move must not stop at BUSYKEY, and the source's copy (the
// one clients were served) wins over the target's.
func TestMoveReplacesHalfMovedKey(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{})
	a := redistest.Addrs(nodes)
	pw := nodes[0].Password()
	e := newExecutor(t, pw)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	half := func(b, c int) cluster.SlotSet { return cluster.NewSlotSet(cluster.SlotRange{Start: b, End: c}) }
	before := cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Slots: half(0, 8191)}, {Master: a[1], Slots: half(8192, 16383)}}}
	if _, err := e.Apply(ctx, before, nil); err != nil {
		t.Fatal(err)
	}
	key := "{b}moved"
	slot := cluster.KeySlot(key)
	if slot > 8191 {
		t.Fatalf("slot %d of %s is not on the first master", slot, key)
	}
	redistest.Do(t, nodes[0], "SET", key, "served")
	id0, id1 := redistest.MyID(t, nodes[0]), redistest.MyID(t, nodes[1])
	redistest.Do(t, nodes[1], "CLUSTER", "SETSLOT", slot, "IMPORTING", id0)
	redistest.Do(t, nodes[0], "CLUSTER", "SETSLOT", slot, "MIGRATING", id1)
	// The target's copy, as a half-done MIGRATE leaves it (RESTORE-ASKING
	// stored it; the source never heard back).
	dump, _ := redistest.Do(t, nodes[0], "DUMP", key).(string)
	conn := nodes[1].Client().Conn()
	defer func() { _ = conn.Close() }()
	if err := conn.Do(ctx, "RESTORE-ASKING", key, 0, dump).Err(); err != nil {
		t.Fatal(err)
	}
	redistest.Do(t, nodes[0], "SET", key, "served-later") // a write after the half move
	var after cluster.Desired
	after.Shards = []cluster.Shard{{Master: a[0], Slots: half(0, 8191)}, {Master: a[1], Slots: half(8192, 16383)}}
	after.Shards[0].Slots.Remove(slot)
	after.Shards[1].Slots.Add(slot)
	if _, err := e.Apply(ctx, after, nil); err != nil {
		t.Fatalf("finishing the move: %v", err)
	}
	redistest.CheckKeys(t, nodes, map[string]string{key: "served-later"})
	if n, _ := redistest.Do(t, nodes[0], "DBSIZE").(int64); n != 0 {
		t.Fatalf("the source still holds %d keys", n)
	}
}

// TestRollbackKeepsOwnersCopy: a move rolled back to the slot's owner
// meets a key the target also holds (an older copy a cut-off MIGRATE left
// there); the owner's copy, the one clients wrote last, is kept, and the
// other is dropped instead of stopping at BUSYKEY.
func TestRollbackKeepsOwnersCopy(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{})
	a := redistest.Addrs(nodes)
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	half := func(b, c int) cluster.SlotSet { return cluster.NewSlotSet(cluster.SlotRange{Start: b, End: c}) }
	d := cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Slots: half(0, 8191)}, {Master: a[1], Slots: half(8192, 16383)}}}
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	key, other := "{b}kept", "{b}moved-back"
	slot := cluster.KeySlot(key)
	redistest.Do(t, nodes[0], "SET", key, "older")
	dump, _ := redistest.Do(t, nodes[0], "DUMP", key).(string)
	redistest.Do(t, nodes[0], "SET", key, "newest")
	id0, id1 := redistest.MyID(t, nodes[0]), redistest.MyID(t, nodes[1])
	redistest.Do(t, nodes[1], "CLUSTER", "SETSLOT", slot, "IMPORTING", id0)
	redistest.Do(t, nodes[0], "CLUSTER", "SETSLOT", slot, "MIGRATING", id1)
	conn := nodes[1].Client().Conn()
	defer func() { _ = conn.Close() }()
	// The target holds the older copy, and a key only it has.
	if err := conn.Do(ctx, "RESTORE-ASKING", key, 0, dump).Err(); err != nil {
		t.Fatal(err)
	}
	if err := conn.Do(ctx, "RESTORE-ASKING", other, 0, dump).Err(); err != nil {
		t.Fatal(err)
	}
	// The declaration keeps the slot on the first master: roll back.
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatalf("rolling the move back: %v", err)
	}
	redistest.CheckKeys(t, nodes, map[string]string{key: "newest", other: "older"})
	if n, _ := redistest.Do(t, nodes[1], "DBSIZE").(int64); n != 0 {
		t.Fatalf("the target still holds %d keys", n)
	}
}
