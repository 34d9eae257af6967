package provider

import (
	"fmt"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

func clusterConfig(password, shards string, extra ...string) string {
	return providerConfig(password) + fmt.Sprintf(`
resource "redis_cluster" "test" {
  shards = %s
%s
}
`, shards, strings.Join(extra, "\n"))
}

// checkLive asks every node whether the cluster is what was declared:
// cluster_state:ok everywhere, the declared masters serving the slots, each
// replica following its master.
func checkLive(t *testing.T, nodes []*redistest.Node, masters []string, replicas [][]string, slots []string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		byAddr := map[string]*redistest.Node{}
		for _, n := range nodes {
			byAddr[n.Addr()] = n
		}
		declared := append([]string(nil), masters...)
		for _, r := range replicas {
			declared = append(declared, r...)
		}
		for _, a := range declared {
			if st := redistest.ClusterInfo(t, byAddr[a])["cluster_state"]; st != "ok" {
				return fmt.Errorf("%s reports cluster_state:%s", a, st)
			}
		}
		for i, m := range masters {
			mid := redistest.MyID(t, byAddr[m])
			view, err := cluster.ParseNodes(redistest.ClusterNodes(t, byAddr[m]))
			if err != nil {
				return err
			}
			for _, l := range view {
				if l.ID == mid {
					if !l.IsMaster() {
						return fmt.Errorf("%s is %v, want master", m, l.Flags)
					}
					if slots != nil && l.Slots.String() != slots[i] {
						return fmt.Errorf("%s serves %s, want %s", m, l.Slots, slots[i])
					}
				}
			}
			for _, r := range replicas[i] {
				role := redistest.Info(t, byAddr[r], "replication")
				if role["role"] != "slave" || role["master_port"] != fmt.Sprint(byAddr[m].Port()) || role["master_host"] != byAddr[m].IP() {
					return fmt.Errorf("%s has role %s of %s:%s, want replica of %s", r, role["role"], role["master_host"], role["master_port"], m)
				}
			}
		}
		return nil
	}
}

// checkAllReset asks every node whether it is a lone, empty node: what
// destroy must leave.
func checkAllReset(t *testing.T, nodes []*redistest.Node) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, n := range nodes {
			info := redistest.ClusterInfo(t, n)
			if info["cluster_known_nodes"] != "1" || info["cluster_slots_assigned"] != "0" {
				return fmt.Errorf("%s after destroy: known nodes %s, slots assigned %s; want 1 and 0",
					n.Addr(), info["cluster_known_nodes"], info["cluster_slots_assigned"])
			}
			if k := redistest.DBSize(t, n); k != 0 {
				return fmt.Errorf("%s after destroy holds %d keys", n.Addr(), k)
			}
		}
		return nil
	}
}

// untouched fails the test if any node knows another node or serves a slot.
func untouched(t *testing.T, nodes []*redistest.Node) {
	t.Helper()
	if err := checkAllReset(t, nodes)(nil); err != nil {
		t.Fatalf("a node was changed by a refused apply: %v", err)
	}
}

func TestAccCluster_basic(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true})
	pw := nodes[0].Password()
	masters, replicas := threeByTwo(nodes)
	cfg := clusterConfig(pw, shardsHCL(masters, replicas, nil))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("redis_cluster.test", plancheck.ResourceActionCreate),
						// the redis-cli split is known at plan time
						plancheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("shards").AtSliceIndex(1).AtMapKey("slots"),
							knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("5461-10922")})),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("state"), knownvalue.StringExact("ok")),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("shards").AtSliceIndex(0).AtMapKey("slots"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("0-5460")})),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("shards").AtSliceIndex(2).AtMapKey("slots"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("10923-16383")})),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes"), knownvalue.MapSizeExact(6)),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes").AtMapKey(replicas[0][0]).AtMapKey("role"),
						knownvalue.StringExact("replica")),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes").AtMapKey(masters[0]).AtMapKey("id"),
						knownvalue.StringExact(redistest.MyID(t, nodes[0]))),
				},
				Check: checkLive(t, nodes, masters, replicas, []string{"0-5460", "5461-10922", "10923-16383"}),
			},
			{
				// Right after create, plan is empty.
				Config:   cfg,
				PlanOnly: true,
			},
			{
				ResourceName:      "redis_cluster.test",
				ImportState:       true,
				ImportStateId:     replicas[1][0], // any member, a replica too
				ImportStateVerify: true,
			},
			{
				// An import block plans to adopt the cluster with no change.
				Config:          cfg,
				ResourceName:    "redis_cluster.test",
				ImportState:     true,
				ImportStateKind: resource.ImportBlockWithID,
				ImportStateId:   masters[2],
			},
		},
	})
}

// TestAccCluster_explicitSlots declares uneven slots, checked on the nodes.
func TestAccCluster_explicitSlots(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{})
	a := redistest.Addrs(nodes)
	slots := [][]string{{"0-99", "16000-16383"}, {"100-8000"}, {"8001-15999"}}
	cfg := clusterConfig(nodes[0].Password(), shardsHCL(a, [][]string{nil, nil, nil}, slots))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check:  checkLive(t, nodes, a, [][]string{nil, nil, nil}, []string{"0-99,16000-16383", "100-8000", "8001-15999"}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("state"), knownvalue.StringExact("ok")),
				},
			},
			{Config: cfg, PlanOnly: true},
		},
	})
}

// TestAccCluster_importRedisCli adopts a cluster built by hand with
// `redis-cli --cluster create`, then a configuration listing the same
// shards plans empty, and destroy resets the nodes.
func TestAccCluster_importRedisCli(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true}) // skips with -short
	if _, err := exec.LookPath("redis-cli"); err != nil {
		t.Fatal("redis-cli not found on PATH: install it (apt-get install -y redis-tools)")
	}
	pw := nodes[0].Password()
	args := append([]string{"-a", pw, "--no-auth-warning", "--cluster", "create"}, redistest.Addrs(nodes)...)
	args = append(args, "--cluster-replicas", "1", "--cluster-yes")
	if out, err := exec.Command("redis-cli", args...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	// Ready: every node says ok and sees three masters and three replicas.
	redistest.WaitFor(t, 20*time.Second, func() bool {
		for _, n := range nodes {
			if redistest.ClusterInfo(t, n)["cluster_state"] != "ok" {
				return false
			}
			view, err := cluster.ParseNodes(redistest.ClusterNodes(t, n))
			if err != nil {
				return false
			}
			replicas := 0
			for _, l := range view {
				if l.IsReplica() && l.MasterID != "" {
					replicas++
				}
			}
			if replicas != 3 {
				return false
			}
		}
		return true
	}, "cluster built by redis-cli to be ready")

	// The configuration a person would write for it: read the layout back.
	view, err := cluster.ParseNodes(redistest.ClusterNodes(t, nodes[0]))
	if err != nil {
		t.Fatal(err)
	}
	shards, err := cluster.ShardsFromView(view, nil)
	if err != nil {
		t.Fatal(err)
	}
	var masters []string
	var replicas [][]string
	for _, s := range shards {
		masters = append(masters, s.Master)
		replicas = append(replicas, s.Replicas)
	}
	cfg := clusterConfig(pw, shardsHCL(masters, replicas, nil))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config:             cfg,
				ResourceName:       "redis_cluster.test",
				ImportState:        true,
				ImportStateId:      nodes[3].Addr(),
				ImportStatePersist: true,
				ImportStateCheck: func(states []*terraform.InstanceState) error {
					if len(states) != 1 {
						return fmt.Errorf("imported %d resources, want 1", len(states))
					}
					s := states[0].Attributes
					if s["shards.#"] != "3" || s["shards.0.slots.0"] != "0-5460" || s["shards.2.slots.0"] != "10923-16383" {
						return fmt.Errorf("imported shards: %v", s)
					}
					return nil
				},
			},
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

// TestAccCluster_destroyRefusesKeys: destroy refuses while masters hold keys
// and changes nothing; with force_destroy it flushes and resets.
func TestAccCluster_destroyRefusesKeys(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{})
	a := redistest.Addrs(nodes)
	pw := nodes[0].Password()
	shards := shardsHCL(a, [][]string{nil, nil, nil}, nil)
	var written map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: clusterConfig(pw, shards),
				Check: func(*terraform.State) error {
					written = redistest.Fill(t, nodes, 300, "k")
					return nil
				},
			},
			{
				Config:  clusterConfig(pw, shards),
				Destroy: true,
				ExpectError: regexp.MustCompile(`(?s)Cluster Holds Keys.*` + regexp.QuoteMeta(a[0]) +
					` holds \d+ keys.*force_destroy`),
			},
			{
				// Still there, every key too.
				Config: clusterConfig(pw, shards),
				Check: func(*terraform.State) error {
					redistest.CheckKeys(t, nodes, written)
					return nil
				},
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
			{
				Config: clusterConfig(pw, shards, "  force_destroy = true"),
			},
		},
	})
}

// TestAccCluster_interruptedCreate: a create stopped midway (a node killed
// after the slots were assigned and the nodes met) converges on the next
// apply with no manual cleanup.
func TestAccCluster_interruptedCreate(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{})
	pw := nodes[0].Password()
	masters, replicas := threeByTwo(nodes)
	cfg := clusterConfig(pw, shardsHCL(masters, replicas, nil), `  timeouts { create = "4s" }`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				// Kill a replica as soon as it has met the others: the
				// create times out waiting for it.
				PreConfig: func() {
					go func() {
						deadline := time.Now().Add(20 * time.Second)
						for time.Now().Before(deadline) {
							if redistest.ClusterInfo(t, nodes[4])["cluster_known_nodes"] == "6" {
								nodes[4].Kill(t)
								return
							}
							time.Sleep(2 * time.Millisecond)
						}
					}()
				},
				Config:      cfg,
				ExpectError: regexp.MustCompile(`Cluster Not Ready`),
			},
			{
				PreConfig: func() { nodes[4].Restart(t) },
				Config:    clusterConfig(pw, shardsHCL(masters, replicas, nil)),
				Check:     checkLive(t, nodes, masters, replicas, nil),
			},
		},
	})
}

func TestAccCluster_badInputs(t *testing.T) {
	t.Parallel()
	a := []string{"127.0.0.1:7001", "127.0.0.1:7002", "127.0.0.1:7003"}
	cases := []struct {
		name, shards, want string
	}{
		{"overlapping_slots", shardsHCL(a, nil, [][]string{{"0-6000"}, {"5000-10922"}, {"10923-16383"}}),
			`slots 5000-6000 are also\s+assigned to an earlier shard`},
		{"slots_not_covering", shardsHCL(a, nil, [][]string{{"0-5000"}, {"5461-10922"}, {"10923-16383"}}),
			`slots 5001-5460 are assigned to no shard`},
		{"slot_out_of_range", shardsHCL(a, nil, [][]string{{"0-5460"}, {"5461-10922"}, {"10923-16384"}}),
			`shards\[2\]\.slots:.*slot 16384 is outside\s+0-16383`},
		{"slots_on_some_shards", `[{ master = "127.0.0.1:7001", slots = ["0-16383"] }, { master = "127.0.0.1:7002" }]`,
			`(?s)Slots On Some Shards Only.*\[shards\[1\]\]`},
		{"address_twice", `[{ master = "127.0.0.1:7001" }, { master = "127.0.0.1:7002", replicas = ["127.0.0.1:7001"] }]`,
			`shards\[1\]\.replicas\[0\]:\s+address 127.0.0.1:7001 is already used by\s+shards\[0\]\.master`},
		{"replica_is_master", `[{ master = "127.0.0.1:7001", replicas = ["127.0.0.1:7001"] }]`,
			`shards\[0\]\.replicas\[0\]:\s+address 127.0.0.1:7001 is already used`},
		{"malformed_address", `[{ master = "127.0.0.1" }]`, `"127.0.0.1" is not a\s+host:port address`},
		{"port_too_big", `[{ master = "127.0.0.1:70000" }]`, `port "70000": the\s+port must be a number from 1 to 65535`},
		{"no_shards", `[]`, `(?s)shards.*at least 1`},
		{"shard_without_slots", `[{ master = "127.0.0.1:7001", slots = ["0-16383"] }, { master = "127.0.0.1:7002", slots = [] }]`,
			`shards\[1\]\.slots is empty`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config:   clusterConfig("unused", c.shards),
					PlanOnly: true,
					// Terraform wraps long messages: any space may be a line break.
					ExpectError: regexp.MustCompile(strings.ReplaceAll(c.want, " ", `\s+`)),
				}},
			})
		})
	}
}

// applyFails runs one apply that must fail with want, then checks that no
// node was changed.
func applyFails(t *testing.T, password, shards, want string, nodes []*redistest.Node) {
	t.Helper()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config:      clusterConfig(password, shards),
			ExpectError: regexp.MustCompile(strings.ReplaceAll(want, " ", `\s+`)),
		}},
	})
	untouched(t, nodes)
}

func TestAccCluster_wrongPassword(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{})
	const wrong = "Wr0ng-Pa55word-zq7"
	applyFails(t, wrong, shardsHCL(redistest.Addrs(nodes), nil, nil),
		`(?s)Nodes Cannot Form The Cluster.*`+regexp.QuoteMeta(nodes[0].Addr())+`: authentication failed`, nodes)
	// The password never appears in what the user sees.
	pool := cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Password: wrong}})
	defer pool.Close()
	_, err := cluster.Precheck(t.Context(), pool, cluster.Desired{Shards: []cluster.Shard{{Master: nodes[0].Addr(), Slots: cluster.EvenSplit(1)[0]}}})
	if err == nil || strings.Contains(err.Error(), wrong) {
		t.Fatalf("precheck error must exist and not contain the password: %v", err)
	}
}

func TestAccCluster_unreachableNode(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{})
	dead := redistest.Start(t, 1, redistest.Options{})[0]
	dead.Kill(t)
	a := append(redistest.Addrs(nodes), dead.Addr())
	start := time.Now()
	applyFails(t, nodes[0].Password(), shardsHCL(a, nil, nil),
		`(?s)`+regexp.QuoteMeta(dead.Addr())+`: unreachable.*redis-server runs at this address`, nodes)
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("a refused connection took %s to report", d)
	}
}

// TestAccCluster_stoppedNode: a node that accepts connections but never
// answers (SIGSTOP) is reported as unreachable within the dial timeout's
// bound, not after the read timeout.
func TestAccCluster_stoppedNode(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{})
	if err := syscall.Kill(nodes[2].Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(nodes[2].Pid(), syscall.SIGCONT) })
	start := time.Now()
	applyFails(t, nodes[0].Password(), shardsHCL(redistest.Addrs(nodes), nil, nil),
		`(?s)`+regexp.QuoteMeta(nodes[2].Addr())+`: unreachable`, nodes[:2])
	// The provider's dial_timeout is 1s: observe gives a node 2s in all.
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("a stopped node took %s to report", d)
	}
}

func TestAccCluster_notClusterMode(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{})
	plain := redistest.Start(t, 1, redistest.Options{ClusterEnabled: redistest.Bool(false)})[0]
	a := append(redistest.Addrs(nodes), plain.Addr())
	applyFails(t, nodes[0].Password(), shardsHCL(a, nil, nil),
		`(?s)`+regexp.QuoteMeta(plain.Addr())+`: cluster mode disabled.*cluster-enabled yes`, nodes)
}

func TestAccCluster_nodeHoldsKeys(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{})
	redistest.FillNode(t, nodes[1], 25, "old")
	applyFails(t, nodes[0].Password(), shardsHCL(redistest.Addrs(nodes), nil, nil),
		`(?s)`+regexp.QuoteMeta(nodes[1].Addr())+`: holds 25 keys.*FLUSHALL`, []*redistest.Node{nodes[0], nodes[2]})
	if k := redistest.DBSize(t, nodes[1]); k != 25 {
		t.Fatalf("the node with keys now holds %d keys, want 25", k)
	}
}

func TestAccCluster_nodeInAnotherCluster(t *testing.T) {
	t.Parallel()
	other := redistest.Start(t, 3, redistest.Options{})
	redistest.CreateCluster(t, other, 0)
	fresh := redistest.Start(t, 2, redistest.Options{})
	a := append(redistest.Addrs(fresh), other[0].Addr())
	applyFails(t, fresh[0].Password(), shardsHCL(a, nil, nil),
		`(?s)`+regexp.QuoteMeta(other[0].Addr())+`: already belongs to another cluster.*CLUSTER RESET HARD`, fresh)
	// The other cluster is intact.
	for _, n := range other {
		if st := redistest.ClusterInfo(t, n)["cluster_state"]; st != "ok" {
			t.Fatalf("%s of the other cluster is now %s", n.Addr(), st)
		}
	}
}

// TestAccCluster_readWithDeadNode: a node killed after create makes refresh
// warn, never drop the resource; the plan stays empty and names nothing to
// change, and the node shows as unreachable in nodes.
func TestAccCluster_readWithDeadNode(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 4, redistest.Options{})
	a := redistest.Addrs(nodes)
	cfg := clusterConfig(nodes[0].Password(), shardsHCL(a[:2], [][]string{{a[2]}, {a[3]}}, nil))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() { nodes[3].Kill(t) },
				Config:    cfg,
				PlanOnly:  true,
			},
			{
				// Refresh keeps the resource; the node it could not read has
				// no engine (the data source shows it as unreachable).
				RefreshState: true,
				Check: resource.ComposeAggregateTestCheckFunc(
					resource.TestCheckNoResourceAttr("redis_cluster.test", "nodes."+a[3]+".engine"),
					resource.TestCheckResourceAttr("redis_cluster.test", "nodes."+a[3]+".role", "replica"),
					resource.TestCheckResourceAttr("redis_cluster.test", "nodes."+a[0]+".engine", redistest.ServerEngine(t).Name),
					resource.TestCheckResourceAttr("redis_cluster.test", "nodes."+a[0]+".role", "master"),
					resource.TestCheckResourceAttr("redis_cluster.test", "state", "ok"),
				),
			},
			{
				PreConfig: func() { nodes[3].Restart(t) },
				Config:    cfg,
				PlanOnly:  true,
			},
		},
	})
}
