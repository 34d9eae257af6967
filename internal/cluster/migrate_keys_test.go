package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestMoveKeepsTTLsAndBigKeys moves slots holding keys with TTLs and big
// keys (a 4 MB string, a 100k-member hash) and checks both survive intact.
func TestMoveKeepsTTLsAndBigKeys(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{})
	a := redistest.Addrs(nodes)
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	all := cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: 16383})
	if _, err := e.Apply(ctx, cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Slots: all}}}, nil); err != nil {
		t.Fatal(err)
	}
	c := nodes[0].Client()
	big := strings.Repeat("x", 4<<20)
	if err := c.Set(ctx, "big:string", big, 0).Err(); err != nil {
		t.Fatal(err)
	}
	fields := make([]any, 0, 200000)
	for i := 0; i < 100000; i++ {
		fields = append(fields, i, "v")
	}
	if err := c.HSet(ctx, "big:hash", fields...).Err(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 200; i++ {
		if err := c.Set(ctx, "ttl:"+string(rune('a'+i%26))+strings.Repeat("k", i/26), "v", time.Hour).Err(); err != nil {
			t.Fatal(err)
		}
	}
	// Everything moves to the second node.
	after := cluster.Desired{Shards: []cluster.Shard{
		{Master: a[0], Slots: cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: 0})},
		{Master: a[1], Slots: cluster.NewSlotSet(cluster.SlotRange{Start: 1, End: 16383})},
	}}
	slot := func(k string) int { return cluster.KeySlot(k) }
	if slot("big:string") == 0 || slot("big:hash") == 0 {
		t.Skip("a big key hashes to slot 0, which stays")
	}
	if _, err := e.Apply(ctx, after, nil); err != nil {
		t.Fatal(err)
	}
	d := nodes[1].Client()
	if n, _ := d.StrLen(ctx, "big:string").Result(); n != int64(len(big)) {
		t.Fatalf("big string moved with %d bytes, want %d", n, len(big))
	}
	if n, _ := d.HLen(ctx, "big:hash").Result(); n != 100000 {
		t.Fatalf("big hash moved with %d fields", n)
	}
	moved := 0
	for i := 0; i < 200; i++ {
		k := "ttl:" + string(rune('a'+i%26)) + strings.Repeat("k", i/26)
		if slot(k) == 0 {
			continue
		}
		ttl, err := d.TTL(ctx, k).Result()
		if err != nil || ttl <= 50*time.Minute || ttl > time.Hour {
			t.Fatalf("%s moved with TTL %v (err %v), want about an hour", k, ttl, err)
		}
		moved++
	}
	if moved == 0 {
		t.Fatal("no TTL key moved")
	}
}
