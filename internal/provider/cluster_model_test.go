package provider

import (
	"testing"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// TestShardProblem: each problem Validate finds is reported with the
// attribute it is in, as users saw it before the texts moved here.
func TestShardProblem(t *testing.T) {
	d := cluster.Desired{Shards: []cluster.Shard{
		{Master: "127.0.0.1:7000", Slots: cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: 9000})},
		{Master: "127.0.0.1:7001", Replicas: []string{"127.0.0.1:7000", "nohost"}, Slots: cluster.NewSlotSet(cluster.SlotRange{Start: 8000, End: 16000})},
	}}
	es, ok := d.Validate().(cluster.Errors)
	if !ok || len(es) != 4 {
		t.Fatalf("Validate = %v", d.Validate())
	}
	want := []string{
		"shards[1].replicas[0]: address 127.0.0.1:7000 is already used by shards[0].master: each node may appear once",
		"shards[1].replicas[1]: " + cluster.ValidateAddress("nohost").Error(),
		"shards[1].slots: slots 8000-9000 are also assigned to an earlier shard: each slot belongs to exactly one shard",
		"shards[*].slots: slots 16001-16383 are assigned to no shard: together the shards must cover 0-16383",
	}
	for i, e := range es {
		if got := shardProblem(e); got != want[i] {
			t.Errorf("problem %d:\n got %s\nwant %s", i, got, want[i])
		}
	}
	if got := shardProblem((cluster.Desired{}).Validate()); got != "shards: at least one shard is required" {
		t.Errorf("no shards: %s", got)
	}
}
