package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

func TestWarnPartition(t *testing.T) {
	r := &clusterResource{data: &providerData{password: "s3cret"}}
	var diags diag.Diagnostics
	r.warnPartition(nil, &diags)
	if len(diags) != 0 {
		t.Fatalf("no split, no warning: %v", diags)
	}
	split := &cluster.Split{Masters: []string{"a", "b", "c"}, Quorum: 2, CutOff: []string{"10.0.0.1:6379"},
		Majority: []string{"10.0.0.2:6379"}, Why: map[string]string{"10.0.0.1:6379": "it sees 0 of the 3 masters"}}
	r.warnPartition(split, &diags)
	if len(diags) != 1 || diags[0].Summary() != "Cluster Partitioned" {
		t.Fatalf("diags = %v, want one Cluster Partitioned warning", diags)
	}
	d := diags[0].Detail()
	for _, want := range []string{"10.0.0.1:6379", "majority side", "10.0.0.2:6379", "sends nothing to the minority side", "lost by design", "adds no loss"} {
		if !strings.Contains(d, want) {
			t.Errorf("warning lacks %q:\n%s", want, d)
		}
	}
	diags = nil
	r.warnPartition(&cluster.Split{Masters: []string{"a"}, Quorum: 1, Suspect: []string{"x flags y as fail?"}}, &diags)
	if len(diags) != 1 || diags[0].Summary() != "Cluster Links Suspected Down" {
		t.Fatalf("diags = %v, want a suspected-link warning", diags)
	}
}

// A cut-off member is predicted unchanged, and its shard keeps the acting master.
func TestMarkCutOff(t *testing.T) {
	slots := cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: 16383})
	current := map[string]cluster.Member{
		"m:1": {Addr: "m:1", ID: "M", Role: cluster.RoleMaster},
		"r:1": {Addr: "r:1", ID: "R", Role: cluster.RoleMaster, Slots: slots},
	}
	d := cluster.Desired{Failback: true, Shards: []cluster.Shard{{Master: "m:1", Replicas: []string{"r:1"}, Slots: slots}}}
	if p := cluster.Predict(d, current); p["m:1"].Role != cluster.RoleMaster || !p["m:1"].Slots.Equal(slots) {
		t.Fatalf("without a split, failback hands the shard to m:1: %+v", p["m:1"])
	}
	markCutOff(current, &cluster.Split{CutOff: []string{"m:1"}})
	p := cluster.Predict(d, current)
	if !p["m:1"].Slots.Empty() || !p["r:1"].Slots.Equal(slots) {
		t.Fatalf("cut off m:1 must get nothing: m:1 %+v, r:1 %+v", p["m:1"], p["r:1"])
	}
}
