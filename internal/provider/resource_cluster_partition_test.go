package provider

import (
	"fmt"
	"regexp"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestAccCluster_partition runs the cluster on six separate hosts (network
// namespaces) and cuts the master of shard 1 off from its peers while
// Terraform still reaches it. The majority promotes its replica. Plan then
// shows the cluster as the majority sees it and proposes nothing on the
// cut-off node (no hand-back to it); an apply fails within PartitionGrace
// naming it; after the heal, apply fails back with every key.
func TestAccCluster_partition(t *testing.T) {
	nt, nodes := redistest.StartNet(t, 6, redistest.Options{ExtraArgs: fastSync})
	masters, replicas := threeByTwo(nodes)
	a := redistest.Addrs(nodes)
	m1, r1 := nodes[0], nodes[4]
	shards := shardsHCL(masters, replicas, nil)
	cfg := func(timeout string) string {
		return clusterConfig(m1.Password(), shards, "  force_destroy = true", fmt.Sprintf("  timeouts { update = %q }", timeout))
	}
	var written map[string]string
	var refusedAt time.Time
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg("5m"),
				Check: func(*terraform.State) error {
					written = redistest.Fill(t, nodes, 500, "part")
					for _, r := range replicas {
						waitSynced(t, byAddr(nodes, r[0]))
					}
					return nil
				},
			},
			{
				// Cut off: plan proposes nothing (apply could not reach the
				// cut-off node) and reads the cluster as the majority has it.
				PreConfig: func() {
					nt.Cut(t, m1)
					waitRole(t, r1, "master")
				},
				Config: cfg("5m"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectEmptyPlan(),
						before(tfjsonpath.New("state"), knownvalue.StringExact("ok")),
						before(shardPath(0, "master"), knownvalue.StringExact(a[0])),
						before(nodePath(a[0], "role"), knownvalue.StringExact("master")),
						before(nodePath(a[0], "slots"), knownvalue.StringExact("")),
						before(nodePath(a[4], "slots"), knownvalue.StringExact("0-5460")),
					},
				},
			},
			{
				// Importing through the cut-off node would adopt its stale view.
				Config:        cfg("5m"),
				ResourceName:  "redis_cluster.test",
				ImportState:   true,
				ImportStateId: a[0],
				ExpectError:   regexp.MustCompile(`(?s)Cannot Import Cluster.*` + regexp.QuoteMeta(a[0]) + ` is cut off`),
			},
			{
				// An apply during the partition fails fast, naming the node.
				PreConfig:   func() { refusedAt = time.Now() },
				Config:      cfg("30m"),
				ExpectError: regexp.MustCompile(`(?s)Cluster Partitioned.*` + regexp.QuoteMeta(a[0]) + `.*cut off.*apply again once they\s+rejoin`),
			},
			{
				PreConfig: func() {
					took := time.Since(refusedAt)
					t.Logf("apply during the partition refused after %s (update timeout 30m)", took.Round(time.Millisecond))
					if limit := cluster.PartitionGrace + 20*time.Second; took > limit {
						t.Fatalf("apply took %s to refuse, want under %s", took, limit)
					}
					nt.Heal(t, m1)
					// Rejoined: a replica of the node that took its slots,
					// and nobody flags anybody failing any more.
					waitRole(t, m1, "slave")
					waitSettled(t, nodes)
				},
				Config: cfg("30m"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: append([]plancheck.PlanCheck{plancheck.ExpectResourceAction("redis_cluster.test", plancheck.ResourceActionUpdate)},
						plannedMaster(a[0], "0-5460")...),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkLive(t, nodes, masters, replicas, []string{"0-5460", "5461-10922", "10923-16383"}),
					func(*terraform.State) error {
						redistest.CheckKeys(t, nodes, written)
						return nil
					},
				),
			},
			{
				Config:           cfg("30m"),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Terraform reaches only M1, which sees no majority: its
				// view (every other master failing, cluster_state:fail) is
				// not the cluster, and the state keeps the last one read.
				PreConfig: func() {
					for _, n := range nodes[1:] {
						n.Kill(t)
					}
					redistest.WaitFor(t, 30*time.Second, func() bool {
						return redistest.ClusterInfo(t, m1)["cluster_state"] == "fail"
					}, "the lone node to see no majority")
				},
				Config: cfg("30m"),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectEmptyPlan(),
						before(tfjsonpath.New("state"), knownvalue.StringExact("ok")),
						before(nodePath(a[1], "role"), knownvalue.StringExact("master")),
						before(nodePath(a[1], "slots"), knownvalue.StringExact("5461-10922")),
					},
				},
			},
			{
				// Back (without their data: no persistence), for destroy.
				PreConfig: func() {
					for _, n := range nodes[1:] {
						n.Restart(t)
					}
					waitSettled(t, nodes)
				},
				Config:   cfg("30m"),
				PlanOnly: true,
			},
		},
	})
}

// waitSettled waits until every node reports cluster_state:ok and none
// flags any other failing.
func waitSettled(t *testing.T, nodes []*redistest.Node) {
	t.Helper()
	redistest.WaitFor(t, 30*time.Second, func() bool {
		for _, n := range nodes {
			if redistest.ClusterInfo(t, n)["cluster_state"] != "ok" {
				return false
			}
			for _, cn := range redistest.ParseClusterNodes(redistest.ClusterNodes(t, n)) {
				if cn.HasFlag("fail") || cn.HasFlag("fail?") {
					return false
				}
			}
		}
		return true
	}, "every node to report ok and flag no other failing")
}
