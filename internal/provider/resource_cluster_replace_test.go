package provider

import (
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// noMigrate checks that a node never ran MIGRATE: a shard handed over by
// replication and failover moves no key one by one.
func noMigrate(t *testing.T, n *redistest.Node) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if m := redistest.Info(t, n, "commandstats")["cmdstat_migrate"]; m != "" {
			return fmt.Errorf("%s ran MIGRATE (%s): want its shard taken over by failover", n.Addr(), m)
		}
		return nil
	}
}

// TestAccCluster_replaceHosts replaces hosts of a cluster holding keys, as a
// day-2 job: first shard 1's master and shard 2's replica in one apply, then
// both members of shard 3 at once. A new master joins as a replica of the
// one it replaces, syncs, and takes over with CLUSTER FAILOVER; leaving
// nodes are forgotten by every member (new ones included) and reset. Each
// apply converges, keeps every key, and leaves an empty plan.
func TestAccCluster_replaceHosts(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 10, redistest.Options{})
	a := redistest.Addrs(nodes)
	pw := nodes[0].Password()
	cfg := func(masters []string, replicas [][]string) string {
		return clusterConfig(pw, shardsHCL(masters, replicas, nil), "  force_destroy = true")
	}
	initial := cfg(a[:3], [][]string{{a[3]}, {a[4]}, {a[5]}})
	// a[0] (master of shard 1) -> a[6]; a[4] (replica of shard 2) -> a[7]
	step2 := cfg([]string{a[6], a[1], a[2]}, [][]string{{a[3]}, {a[7]}, {a[5]}})
	// shard 3: a[2] and a[5] -> a[8] and a[9]
	step3 := cfg([]string{a[6], a[1], a[8]}, [][]string{{a[3]}, {a[7]}, {a[9]}})
	member := func(idx ...int) []*redistest.Node {
		var out []*redistest.Node
		for _, i := range idx {
			out = append(out, nodes[i])
		}
		return out
	}
	var written map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{Config: initial, Check: fill(t, nodes[:6], 3000, &written)},
			{
				Config: step2,
				Check: resource.ComposeAggregateTestCheckFunc(
					keysIntact(t, member(1, 2, 3, 5, 6, 7), &written),
					lone(t, member(0, 4), member(1, 2, 3, 5, 6, 7)),
					checkLive(t, nodes, []string{a[6], a[1], a[2]}, [][]string{{a[3]}, {a[7]}, {a[5]}}, nil),
					noMigrate(t, nodes[0]),
				),
			},
			{Config: step2, PlanOnly: true},
			{
				Config: step3,
				Check: resource.ComposeAggregateTestCheckFunc(
					keysIntact(t, member(1, 3, 6, 7, 8, 9), &written),
					lone(t, member(0, 2, 4, 5), member(1, 3, 6, 7, 8, 9)),
					checkLive(t, nodes, []string{a[6], a[1], a[8]}, [][]string{{a[3]}, {a[7]}, {a[9]}}, nil),
					noMigrate(t, nodes[2]),
				),
			},
			{Config: step3, PlanOnly: true},
		},
	})
}
