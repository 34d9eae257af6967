package provider

import (
	"fmt"
	"regexp"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

func nodeSetting(t *testing.T, n *redistest.Node, key string) string {
	t.Helper()
	v, err := n.Client().ConfigGet(t.Context(), key).Result()
	if err != nil {
		t.Fatalf("%s: CONFIG GET %s: %v", n.Addr(), key, err)
	}
	return v[key]
}

// checkSetting asks every node for key.
func checkSetting(t *testing.T, nodes []*redistest.Node, key, want string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, n := range nodes {
			if got := nodeSetting(t, n, key); got != want {
				return fmt.Errorf("%s: %s is %q, want %q", n.Addr(), key, got, want)
			}
		}
		return nil
	}
}

// TestAccCluster_config: an unknown setting is refused at plan, naming it,
// with nothing changed; declared settings reach every node, replicas
// included; a replica's setting changed by hand shows in the plan as the
// config changing back, and apply restores it; settings nobody declared
// are left alone.
func TestAccCluster_config(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 4, redistest.Options{ConfigFile: true})
	a := redistest.Addrs(nodes)
	masters, replicas := []string{a[0], a[1]}, [][]string{{a[2]}, {a[3]}}
	shards := shardsHCL(masters, replicas, nil)
	acks := `  acknowledge_warnings = ["no_persistence", "same_host", "no_failover", "replica_migration", "replica_not_in_sync"]`
	bad := clusterConfig(nodes[0].Password(), shards, `  config = { "hz" = "20", "no-such-setting" = "1" }`, acks)
	immutable := clusterConfig(nodes[0].Password(), shards, `  config = { "hz" = "20", "daemonize" = "yes" }`, acks)
	cfg := clusterConfig(nodes[0].Password(), shards, `  config = { "hz" = "20", "maxmemory-policy" = "allkeys-lru" }`, acks, "  force_destroy = true")
	samples := nodeSetting(t, nodes[0], "maxmemory-samples")
	replica := nodes[3]
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{Config: bad, ExpectError: regexp.MustCompile(`(?s)Setting Cannot Be Applied.*"no-such-setting".*unknown`)},
			{Config: immutable, ExpectError: regexp.MustCompile(`(?s)Setting Cannot Be Applied.*"daemonize".*cannot be changed at\s+runtime`)},
			{
				// Nothing changed by the refused plans: lone nodes, hz as started.
				PreConfig: func() {
					for _, n := range nodes {
						if k := redistest.ClusterInfo(t, n)["cluster_known_nodes"]; k != "1" {
							t.Fatalf("%s knows %s nodes after a refused plan", n.Addr(), k)
						}
						if hz := nodeSetting(t, n, "hz"); hz != "10" {
							t.Fatalf("%s: hz %s after a refused plan", n.Addr(), hz)
						}
					}
				},
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("config"), knownvalue.MapExact(map[string]knownvalue.Check{
						"hz": knownvalue.StringExact("20"), "maxmemory-policy": knownvalue.StringExact("allkeys-lru"),
					})),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkSetting(t, nodes, "hz", "20"),
					checkSetting(t, nodes, "maxmemory-policy", "allkeys-lru"),
					checkSetting(t, nodes, "maxmemory-samples", samples),
				),
			},
			{
				PreConfig: func() { redistest.Do(t, replica, "CONFIG", "SET", "hz", "50") },
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("redis_cluster.test", plancheck.ResourceActionUpdate),
						before(tfjsonpath.New("config").AtMapKey("hz"), knownvalue.StringExact("50")),
						plancheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("config").AtMapKey("hz"), knownvalue.StringExact("20")),
					},
				},
				Check: checkSetting(t, nodes, "hz", "20"),
			},
			{
				Config:           cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
			{
				// Dropping a setting from config leaves it as it is on the nodes.
				Config: clusterConfig(nodes[0].Password(), shards, `  config = { "hz" = "20" }`, acks, "  force_destroy = true"),
				Check:  checkSetting(t, nodes, "maxmemory-policy", "allkeys-lru"),
			},
			{
				ResourceName:            "redis_cluster.test",
				ImportState:             true,
				ImportStateId:           a[1],
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"config", "acknowledge_warnings", "force_destroy"},
			},
		},
	})
}
