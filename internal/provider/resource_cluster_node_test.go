package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// nodeClusterConfig declares masters (with slots) and replicas as one
// redis_cluster_node resource each (m0.., r0..; the testing framework's
// legacy state shim used by Check and CheckDestroy cannot read for_each
// instances); every node's seeds are the masters other than itself. No
// resource refers to another, so Terraform creates and destroys them all
// in parallel.
func nodeClusterConfig(password string, masters []string, replicas [][]string, slots []string) string {
	var b strings.Builder
	b.WriteString(providerConfig(password))
	seeds := func(self string) string {
		var out []string
		for _, m := range masters {
			if m != self {
				out = append(out, m)
			}
		}
		return hclList(out)
	}
	for i, m := range masters {
		fmt.Fprintf(&b, `
resource "redis_cluster_node" "m%d" {
  address = %q
  seeds   = %s
  role    = "master"
  slots   = %s
}
`, i, m, seeds(m), hclList(strings.Split(slots[i], ",")))
	}
	k := 0
	for i, rs := range replicas {
		for _, r := range rs {
			fmt.Fprintf(&b, `
resource "redis_cluster_node" "r%d" {
  address = %q
  seeds   = %s
  role    = "replica"
  master  = %q
}
`, k, r, seeds(r), masters[i])
			k++
		}
	}
	return b.String()
}

// checkNodeCluster waits (briefly: the last slots reach the first masters
// by gossip) until every node reports cluster_state:ok, then checks roles.
func checkNodeCluster(t *testing.T, nodes []*redistest.Node, masters []string, replicas [][]string) resource.TestCheckFunc {
	return func(s *terraform.State) error {
		deadline := time.Now().Add(15 * time.Second)
		for _, n := range nodes {
			for redistest.ClusterInfo(t, n)["cluster_state"] != "ok" {
				if time.Now().After(deadline) {
					return fmt.Errorf("%s reports cluster_state:%s; nodes:\n%s", n.Addr(), redistest.ClusterInfo(t, n)["cluster_state"], redistest.ClusterNodes(t, n))
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		return checkLive(t, nodes, masters, replicas, nil)(s)
	}
}

func TestAccClusterNode_parallelCreateDestroy(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true})
	pw := nodes[0].Password()
	masters, replicas := threeByTwo(nodes)
	slots := []string{"0-5460", "5461-10922", "10923-16383"}
	cfg := nodeClusterConfig(pw, masters, replicas, slots)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster_node.m0", tfjsonpath.New("id"),
						knownvalue.StringExact(redistest.MyID(t, nodes[0]))),
					statecheck.ExpectKnownValue("redis_cluster_node.r0", tfjsonpath.New("engine"), knownvalue.StringExact(redistest.ServerEngine(t).Name)),
					statecheck.ExpectKnownValue("redis_cluster_node.r0", tfjsonpath.New("version"), knownvalue.StringRegexp(regexp.MustCompile(`^\d+\.\d+\.\d+$`))),
					statecheck.ExpectKnownValue("redis_cluster_node.r0", tfjsonpath.New("drift"), knownvalue.ListExact([]knownvalue.Check{})),
					statecheck.ExpectKnownValue("redis_cluster_node.m1", tfjsonpath.New("slots"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("5461-10922")})),
				},
				Check: checkNodeCluster(t, nodes, masters, replicas),
			},
			{
				Config:   cfg,
				PlanOnly: true,
			},
		},
	})
}

func TestAccClusterNode_badInputs(t *testing.T) {
	t.Parallel()
	base := providerConfig("unused")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: base + `
resource "redis_cluster_node" "x" {
  address = "127.0.0.1:7001"
  role    = "master"
  master  = "127.0.0.1:7002"
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Master Set On A Master`),
			},
			{
				Config: base + `
resource "redis_cluster_node" "x" {
  address = "127.0.0.1:7001"
  role    = "replica"
  master  = "127.0.0.1:7002"
  slots   = ["0-100"]
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Slots Set On A Replica`),
			},
			{
				Config: base + `
resource "redis_cluster_node" "x" {
  address = "127.0.0.1:7001"
  role    = "replica"
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Replica Without Master`),
			},
			{
				Config: base + `
resource "redis_cluster_node" "x" {
  address = "127.0.0.1:7001"
  role    = "primary"
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`(?s)role.*value must be one of`),
			},
			{
				Config: base + `
resource "redis_cluster_node" "x" {
  address = "127.0.0.1:7001"
  role    = "master"
  slots   = ["0-99999"]
}
`,
				PlanOnly:    true,
				ExpectError: regexp.MustCompile(`Invalid Slots`),
			},
		},
	})
}

func TestAccClusterNode_import(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true})
	pw := nodes[0].Password()
	redistest.CreateCluster(t, nodes, 1) // nodes[3+i] replicates nodes[i]
	a := redistest.Addrs(nodes)
	replicaCfg := providerConfig(pw) + fmt.Sprintf(`
resource "redis_cluster_node" "x" {
  address = %q
  role    = "replica"
  master  = %q
}
`, a[4], a[1])
	masterCfg := providerConfig(pw) + fmt.Sprintf(`
resource "redis_cluster_node" "m" {
  address = %q
  role    = "master"
  slots   = ["0-5460"]
}
`, a[0])
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy: func(*terraform.State) error {
			info := redistest.ClusterInfo(t, nodes[4])
			if info["cluster_known_nodes"] != "1" {
				return fmt.Errorf("%s after destroy knows %s nodes, want 1", a[4], info["cluster_known_nodes"])
			}
			for _, i := range []int{0, 1, 2, 3, 5} {
				if n := redistest.ClusterInfo(t, nodes[i])["cluster_known_nodes"]; n != "5" {
					return fmt.Errorf("%s after destroy knows %s nodes, want 5 (the replica forgotten)", a[i], n)
				}
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config:             replicaCfg,
				ResourceName:       "redis_cluster_node.x",
				ImportState:        true,
				ImportStateId:      a[4],
				ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 {
						return fmt.Errorf("imported %d resources", len(states))
					}
					at := states[0].Attributes
					if at["role"] != "replica" || at["master"] != a[1] || at["id"] != redistest.MyID(t, nodes[4]) || at["slots.#"] != "" && at["slots.#"] != "0" {
						return fmt.Errorf("imported %v", at)
					}
					return nil
				},
			},
			{
				Config:   replicaCfg,
				PlanOnly: true,
			},
			{
				// A master imports with its slots; then it is removed from
				// state only (the cluster keeps it).
				Config:             masterCfg,
				ResourceName:       "redis_cluster_node.m",
				ImportState:        true,
				ImportStateId:      a[0],
				ImportStateVerify:  false,
				ImportStatePersist: false,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					at := states[0].Attributes
					if at["role"] != "master" || at["slots.0"] != "0-5460" || at["master"] != "" {
						return fmt.Errorf("imported %v", at)
					}
					return nil
				},
			},
			{
				// The replica is removed from the cluster: every member
				// forgets it and it is reset.
				Config: providerConfig(pw),
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectResourceAction("redis_cluster_node.x", plancheck.ResourceActionDestroy)},
				},
			},
		},
	})
}

// The walkthrough with node resources: a master is killed after its
// replica synced, the replica is promoted; once the old master is back (as
// a replica) plan shows the swap on both resources and apply fails back.
func TestAccClusterNode_failback(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true, ExtraArgs: []string{"--repl-diskless-sync-delay", "0"}})
	pw := nodes[0].Password()
	masters, replicas := threeByTwo(nodes)
	slots := []string{"0-5460", "5461-10922", "10923-16383"}
	cfg := nodeClusterConfig(pw, masters, replicas, slots)
	role := func(n *redistest.Node) map[string]string { return redistest.Info(t, n, "replication") }
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check:  checkNodeCluster(t, nodes, masters, replicas),
			},
			{
				PreConfig: func() {
					redistest.WaitFor(t, 20*time.Second, func() bool {
						r := role(nodes[4])
						return r["master_link_status"] == "up" && r["master_sync_in_progress"] == "0"
					}, "the replica of the first master to sync")
					nodes[0].Kill(t)
					redistest.WaitFor(t, 30*time.Second, func() bool { return role(nodes[4])["role"] == "master" }, "the replica's promotion")
					nodes[0].Restart(t)
					redistest.WaitFor(t, 30*time.Second, func() bool {
						r := role(nodes[0])
						return r["role"] == "slave" && r["master_port"] == fmt.Sprint(nodes[4].Port())
					}, "the old master to rejoin as a replica")
				},
				Config:             cfg,
				PlanOnly:           true,
				ExpectNonEmptyPlan: true,
			},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("redis_cluster_node.m0", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("redis_cluster_node.r0", plancheck.ResourceActionUpdate),
					},
				},
				Check: checkNodeCluster(t, nodes, masters, replicas),
			},
			{
				Config:   cfg,
				PlanOnly: true,
			},
		},
	})
}

// Changing two masters' slots moves the slots between them with their keys.
func TestAccClusterNode_slotMove(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 4, redistest.Options{DistinctHosts: true})
	pw := nodes[0].Password()
	a := redistest.Addrs(nodes)
	masters, replicas := []string{a[0], a[1]}, [][]string{{a[2]}, {a[3]}}
	before := nodeClusterConfig(pw, masters, replicas, []string{"0-8191", "8192-16383"})
	after := nodeClusterConfig(pw, masters, replicas, []string{"0-6000", "6001-16383"})
	var keys map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: before,
				Check:  checkNodeCluster(t, nodes, masters, replicas),
			},
			{
				PreConfig: func() { keys = redistest.Fill(t, nodes, 2000, "move") },
				Config:    after,
				Check: resource.ComposeTestCheckFunc(
					checkNodeCluster(t, nodes, masters, replicas),
					checkLive(t, nodes, masters, replicas, []string{"0-6000", "6001-16383"}),
					func(*terraform.State) error { redistest.CheckKeys(t, nodes, keys); return nil },
				),
			},
			{
				Config:   after,
				PlanOnly: true,
			},
			{
				// Removing a master moves its slots with their keys to the
				// master left, while that one's update takes them too.
				Config: nodeClusterConfig(pw, masters[:1], replicas[:1], []string{"0-16383"}),
				Check: func(s *terraform.State) error {
					left := []*redistest.Node{nodes[0], nodes[2]}
					if err := checkNodeCluster(t, left, masters[:1], replicas[:1])(s); err != nil {
						return err
					}
					redistest.CheckKeys(t, left, keys)
					for _, n := range []*redistest.Node{nodes[1], nodes[3]} {
						if k := redistest.ClusterInfo(t, n)["cluster_known_nodes"]; k != "1" {
							return fmt.Errorf("removed node %s knows %s nodes", n.Addr(), k)
						}
					}
					return nil
				},
			},
			{
				// The last master holds every key: destroy discards them
				// only with force_destroy (TestAccClusterNode_destroyWithKeys
				// covers the refusal).
				Config: forceDestroy(nodeClusterConfig(pw, masters[:1], replicas[:1], []string{"0-16383"})),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("redis_cluster_node.m0", plancheck.ResourceActionUpdate),
				}},
			},
		},
	})
}

// forceDestroy sets force_destroy on every master of a nodeClusterConfig.
func forceDestroy(cfg string) string {
	return strings.ReplaceAll(cfg, `role    = "master"`, `role    = "master"
  force_destroy = true`)
}

// A whole cluster of node resources that holds keys is destroyed in one
// run: every master's delete finds the others leaving too, so none may
// take its keys. Without force_destroy each refuses and keeps them (no key
// is lost, even to a move into a master that leaves); with it, every node
// is flushed and reset.
func TestAccClusterNode_destroyWithKeys(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true})
	pw := nodes[0].Password()
	masters, replicas := threeByTwo(nodes)
	cfg := nodeClusterConfig(pw, masters, replicas, []string{"0-5460", "5461-10922", "10923-16383"})
	var keys map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check:  checkNodeCluster(t, nodes, masters, replicas),
			},
			{
				PreConfig:   func() { keys = redistest.Fill(t, nodes, 3000, "keep") },
				Config:      cfg,
				Destroy:     true,
				ExpectError: regexp.MustCompile(`(?s)Cluster Node Holds Keys.*holds\s+\d+\s+keys\s+in\s+slots.*no\s+master\s+stays.*force_destroy`),
			},
			{
				// The refused masters are still a cluster with every key.
				PreConfig: func() {
					var sum int64
					for i := range 3 {
						sum += redistest.DBSize(t, nodes[i])
					}
					if sum != int64(len(keys)) {
						t.Fatalf("masters hold %d keys after the refused destroy, want %d", sum, len(keys))
					}
					redistest.CheckKeys(t, nodes[:3], keys)
				},
				// The replicas left; apply brings them back and arms
				// force_destroy for the final destroy.
				Config: forceDestroy(cfg),
				Check:  checkNodeCluster(t, nodes, masters, replicas),
			},
		},
	})
}

// At -parallelism=1 every node resource is created (and destroyed) alone:
// no resource may wait for what another resource does.
func TestAccClusterNode_parallelismOne(t *testing.T) {
	t.Setenv("TF_CLI_ARGS_apply", "-parallelism=1")
	t.Setenv("TF_CLI_ARGS_destroy", "-parallelism=1")
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true})
	pw := nodes[0].Password()
	masters, replicas := threeByTwo(nodes)
	cfg := nodeClusterConfig(pw, masters, replicas, []string{"0-5460", "5461-10922", "10923-16383"})
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check:  checkNodeCluster(t, nodes, masters, replicas),
			},
			{
				Config:   cfg,
				PlanOnly: true,
			},
			{
				// One at a time, the first masters hand their keys to the
				// ones still there; the last flushes them (force_destroy).
				PreConfig: func() { redistest.Fill(t, nodes, 500, "serial") },
				Config:    forceDestroy(cfg),
			},
		},
	})
}

// A node declared by two resources is refused at plan time, before any
// node is contacted; replacing a node resource (Terraform plans it twice)
// is not a second declaration.
func TestAccClusterNode_declaredTwice(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{DistinctHosts: true})
	pw := nodes[0].Password()
	a := redistest.Addrs(nodes)
	lone := func(addr string) string {
		return fmt.Sprintf(`
resource "redis_cluster_node" "solo" {
  address = %q
  role    = "master"
  slots   = ["0-16383"]
}
`, addr)
	}
	twice := regexp.MustCompile(`(?s)Node Declared Twice.*` + regexp.QuoteMeta(a[0]) + `.*declared\s+by`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: providerConfig(pw) + lone(a[0]) + fmt.Sprintf(`
resource "redis_cluster_node" "copy" {
  address = %q
  role    = "replica"
  master  = %q
}
`, a[0], a[1]),
				PlanOnly:    true,
				ExpectError: twice,
			},
			{
				Config: providerConfig(pw) + lone(a[0]) + fmt.Sprintf(`
resource "redis_cluster" "c" {
  shards = [{ master = %q }, { master = %q }]
}
`, a[1], a[0]),
				PlanOnly:    true,
				ExpectError: twice,
			},
			{
				// Two identical blocks are two resources too.
				Config:      providerConfig(pw) + lone(a[0]) + strings.Replace(lone(a[0]), `"solo"`, `"again"`, 1),
				PlanOnly:    true,
				ExpectError: twice,
			},
			{
				PreConfig: func() { untouched(t, nodes) },
				Config:    providerConfig(pw) + lone(a[0]),
				Check:     checkNodeCluster(t, nodes[:1], []string{a[0]}, [][]string{nil}),
			},
			{
				Config: providerConfig(pw) + lone(a[1]),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("redis_cluster_node.solo", plancheck.ResourceActionDestroyBeforeCreate),
				}},
				Check: checkNodeCluster(t, nodes[1:], []string{a[1]}, [][]string{nil}),
			},
		},
	})
}

// A seed that answers wrongly (here: no cluster mode) is an error naming
// it, and so are seeds in two clusters serving the same slots; the node is
// left untouched. A lone seed is fine (clusters are built from lone nodes).
func TestAccClusterNode_badSeeds(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{DistinctHosts: true})
	plain := redistest.Start(t, 1, redistest.Options{DistinctHosts: true, ClusterEnabled: redistest.Bool(false)})
	pw := nodes[0].Password()
	a := redistest.Addrs(nodes)
	joining := func(seeds ...string) string {
		return providerConfig(pw) + fmt.Sprintf(`
resource "redis_cluster_node" "n" {
  address = %q
  role    = "master"
  slots   = ["0-100"]
  seeds   = %s
}
`, a[0], hclList(seeds))
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		// The seeds are not managed: destroy hands the node's (empty)
		// slots to them and resets the node only.
		CheckDestroy: checkAllReset(t, nodes[:1]),
		Steps: []resource.TestStep{
			{
				Config:      joining(a[1], plain[0].Addr()),
				ExpectError: regexp.MustCompile(`(?s)seed\s+` + regexp.QuoteMeta(plain[0].Addr()) + `\s+of\s+` + regexp.QuoteMeta(a[0]) + `\s+cannot\s+be\s+used.*cluster-enabled yes`),
			},
			{
				// a[1] and a[2] are one-node clusters of their own, each
				// serving every slot.
				PreConfig: func() {
					untouched(t, nodes)
					for _, n := range nodes[1:] {
						redistest.Do(t, n, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
					}
				},
				Config:      joining(a[1], a[2]),
				ExpectError: regexp.MustCompile(`(?s)two\s+different\s+clusters\s+that\s+both\s+serve\s+slots\s+0-16383`),
			},
			{
				PreConfig: func() {
					if err := checkAllReset(t, nodes[:1])(nil); err != nil {
						t.Fatalf("the refused node was changed: %v", err)
					}
					for _, n := range nodes[1:] {
						redistest.Do(t, n, "CLUSTER", "RESET", "HARD")
					}
				},
				// Lone seeds: the node assigns its slots and meets them.
				Config: joining(a[1], a[2]),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster_node.n", tfjsonpath.New("id"), knownvalue.StringExact(redistest.MyID(t, nodes[0]))),
				},
				Check: func(*terraform.State) error {
					// Each seed met the node (they meet each other later,
					// by gossip).
					id := redistest.MyID(t, nodes[0])
					for _, n := range nodes[1:] {
						if !strings.Contains(redistest.ClusterNodes(t, n), id) {
							return fmt.Errorf("seed %s does not know %s:\n%s", n.Addr(), a[0], redistest.ClusterNodes(t, n))
						}
					}
					return nil
				},
			},
		},
	})
}

// A master demoted to a replica in the same apply that declares its slots
// on another master: the other master's update takes them with their
// keys while the demoted node's update waits for that, then follows.
func TestAccClusterNode_demoteMaster(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{DistinctHosts: true})
	pw := nodes[0].Password()
	a := redistest.Addrs(nodes)
	before := nodeClusterConfig(pw, []string{a[0], a[1]}, [][]string{nil, nil}, []string{"0-8191", "8192-16383"})
	after := nodeClusterConfig(pw, []string{a[0]}, [][]string{nil}, []string{"0-16383"}) + fmt.Sprintf(`
resource "redis_cluster_node" "m1" {
  address = %q
  seeds   = [%q]
  role    = "replica"
  master  = %q
}
`, a[1], a[0], a[0])
	var keys map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: forceDestroy(before),
				Check:  checkNodeCluster(t, nodes, []string{a[0], a[1]}, [][]string{nil, nil}),
			},
			{
				PreConfig: func() { keys = redistest.Fill(t, nodes, 2000, "demote") },
				Config:    forceDestroy(after),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("redis_cluster_node.m0", plancheck.ResourceActionUpdate),
					plancheck.ExpectResourceAction("redis_cluster_node.m1", plancheck.ResourceActionUpdate),
				}},
				Check: func(s *terraform.State) error {
					if err := checkNodeCluster(t, nodes, []string{a[0]}, [][]string{{a[1]}})(s); err != nil {
						return err
					}
					redistest.CheckKeys(t, nodes, keys)
					return nil
				},
			},
			{
				Config:   forceDestroy(after),
				PlanOnly: true,
			},
		},
	})
}
