package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestAccClusterNode_config: redis_cluster_node's config applies to its
// node and is saved in its config file; an unknown setting is refused at
// plan with nothing changed; a change by hand is drift, restored by apply.
func TestAccClusterNode_config(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 1, redistest.Options{ConfigFile: true})
	n := nodes[0]
	node := func(cfg string) string {
		return providerConfig(n.Password()) + fmt.Sprintf(`
resource "redis_cluster_node" "m" {
  address       = %q
  role          = "master"
  slots         = ["0-16383"]
  force_destroy = true
  config        = %s
}
`, n.Addr(), cfg)
	}
	cfg := node(`{ "hz" = "15" }`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{Config: node(`{ "hz" = "15", "no-such-setting" = "1" }`), ExpectError: regexp.MustCompile(`(?s)"no-such-setting".*unknown`)},
			{
				PreConfig: func() {
					if info := redistest.ClusterInfo(t, n); info["cluster_slots_assigned"] != "0" || nodeSetting(t, n, "hz") != "10" {
						t.Fatalf("the refused plan changed the node: %v, hz %s", info, nodeSetting(t, n, "hz"))
					}
				},
				Config: cfg,
				Check: resource.ComposeAggregateTestCheckFunc(
					checkSetting(t, nodes, "hz", "15"),
					func(*terraform.State) error {
						conf, err := os.ReadFile(filepath.Join(n.Dir(), "redis.conf"))
						if err != nil || !strings.Contains(string(conf), "hz 15") {
							return fmt.Errorf("config file not rewritten (%v):\n%s", err, conf)
						}
						return nil
					},
				),
			},
			{
				PreConfig: func() { redistest.Do(t, n, "CONFIG", "SET", "hz", "40") },
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("redis_cluster_node.m", plancheck.ResourceActionUpdate),
						plancheck.ExpectKnownValue("redis_cluster_node.m", tfjsonpath.New("config").AtMapKey("hz"), knownvalue.StringExact("15")),
					},
				},
				Check: checkSetting(t, nodes, "hz", "15"),
			},
			{
				Config:           cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()}},
			},
		},
	})
}
