package provider

import (
	"context"
	"fmt"
	"regexp"
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

// expectBefore checks a value of the refreshed state in the plan: what
// Terraform read from the live cluster, before the configuration.
type expectBefore struct {
	path  tfjsonpath.Path
	check knownvalue.Check
}

func (e expectBefore) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != "redis_cluster.test" {
			continue
		}
		v, err := tfjsonpath.Traverse(rc.Change.Before, e.path)
		if err != nil {
			resp.Error = fmt.Errorf("before %s: %w", e.path, err)
			return
		}
		if err := e.check.CheckValue(v); err != nil {
			resp.Error = fmt.Errorf("before %s: %w", e.path, err)
		}
		return
	}
	resp.Error = fmt.Errorf("redis_cluster.test is not in the plan")
}

func before(path tfjsonpath.Path, check knownvalue.Check) plancheck.PlanCheck {
	return expectBefore{path, check}
}

func shardPath(i int, attr string) tfjsonpath.Path {
	return tfjsonpath.New("shards").AtSliceIndex(i).AtMapKey(attr)
}

func strs(items ...string) knownvalue.Check {
	checks := make([]knownvalue.Check, len(items))
	for i, s := range items {
		checks[i] = knownvalue.StringExact(s)
	}
	return knownvalue.ListExact(checks)
}

// driftCase builds 3x(1+1), writes keys, lets change() alter the live
// cluster, then expects a plan whose refreshed state shows the drift
// (checks), applies, checks the live cluster and every key, and expects
// an empty plan after.
func driftCase(t *testing.T, opts redistest.Options, slots bool, change func(nodes []*redistest.Node), checks func(a []string, nodes []*redistest.Node) []plancheck.PlanCheck) {
	t.Helper()
	nodes := redistest.Start(t, 6, opts)
	masters, replicas := threeByTwo(nodes)
	var slotList [][]string
	if slots {
		slotList = [][]string{{"0-5460"}, {"5461-10922"}, {"10923-16383"}}
	}
	cfg := clusterConfig(nodes[0].Password(), shardsHCL(masters, replicas, slotList), "  force_destroy = true", `  timeouts { update = "60s" }`) + nodeIDsOutput
	var written map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				Check: func(*terraform.State) error {
					written = redistest.Fill(t, nodes, 500, "drift")
					// Replicas must have synced once before they can fail over.
					for _, r := range replicas {
						waitSynced(t, byAddr(nodes, r[0]))
					}
					return nil
				},
			},
			{
				PreConfig: func() { change(nodes) },
				Config:    cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: append([]plancheck.PlanCheck{
						plancheck.ExpectResourceAction("redis_cluster.test", plancheck.ResourceActionUpdate),
						// What apply leaves is known: no node ID changes.
						plancheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("state"), knownvalue.StringExact("ok")),
						plancheck.ExpectKnownOutputValue("node_ids", knownvalue.MapSizeExact(6)),
					}, checks(redistest.Addrs(nodes), nodes)...),
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
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
			},
		},
	})
}

func byAddr(nodes []*redistest.Node, addr string) *redistest.Node {
	for _, n := range nodes {
		if n.Addr() == addr {
			return n
		}
	}
	return nil
}

// waitSynced waits until a replica's link to its master is up.
func waitSynced(t *testing.T, n *redistest.Node) {
	t.Helper()
	redistest.WaitFor(t, 30*time.Second, func() bool {
		info := redistest.Info(t, n, "replication")
		return info["master_link_status"] == "up" && info["master_sync_in_progress"] == "0"
	}, n.Addr()+" to finish its first sync")
}

// fastSync starts nodes whose replicas begin their first sync at once
// instead of after repl-diskless-sync-delay (5 s), to keep tests short.
var fastSync = []string{"--repl-diskless-sync-delay", "0"}

func waitRole(t *testing.T, n *redistest.Node, role string) {
	t.Helper()
	redistest.WaitFor(t, 30*time.Second, func() bool {
		return redistest.Info(t, n, "replication")["role"] == role
	}, n.Addr()+" to become "+role)
}

// TestAccCluster_driftFailover is the walkthrough's story: kill -9 redis1,
// its replica wins the election, redis1 comes back as a replica. Plan
// shows shard 1 with the promoted replica as master; apply fails back.
func TestAccCluster_driftFailover(t *testing.T) {
	t.Parallel()
	driftCase(t, redistest.Options{DistinctHosts: true, ExtraArgs: fastSync}, false, func(nodes []*redistest.Node) {
		nodes[0].Kill(t)
		waitRole(t, nodes[4], "master")
		nodes[0].Restart(t)
		waitRole(t, nodes[0], "slave")
	}, func(a []string, nodes []*redistest.Node) []plancheck.PlanCheck {
		// The shards keep their declared shape; the nodes show the swap as
		// read and the hand-back as planned.
		return append(append([]plancheck.PlanCheck{
			before(shardPath(0, "master"), knownvalue.StringExact(a[0])),
			before(nodePath(a[0], "role"), knownvalue.StringExact("replica")),
			before(nodePath(a[4], "role"), knownvalue.StringExact("master")),
			plancheck.ExpectKnownValue("redis_cluster.test", nodePath(a[0], "id"), liveID{t, nodes[0]}),
		}, plannedMaster(a[0], "0-5460")...), plannedReplica(t, a[4], nodes[0])...)
	})
}

// TestAccCluster_driftReplicaRepointed: a replica re-pointed by hand to
// another shard's master shows under that shard and is moved back.
func TestAccCluster_driftReplicaRepointed(t *testing.T) {
	t.Parallel()
	driftCase(t, redistest.Options{ExtraArgs: fastSync}, false, func(nodes []*redistest.Node) {
		// nodes[4] is the declared replica of nodes[0]
		redistest.Do(t, nodes[4], "CLUSTER", "REPLICATE", redistest.MyID(t, nodes[1]))
		redistest.WaitFor(t, 10*time.Second, func() bool {
			return redistest.Info(t, nodes[4], "replication")["master_port"] == fmt.Sprint(nodes[1].Port())
		}, "the replica to follow its new master")
	}, func(a []string, nodes []*redistest.Node) []plancheck.PlanCheck {
		return append([]plancheck.PlanCheck{
			before(shardPath(0, "replicas"), knownvalue.ListExact([]knownvalue.Check{})),
			before(shardPath(1, "replicas"), strs(a[4], a[5])),
			before(nodePath(a[4], "master_id"), liveID{t, nodes[1]}),
		}, plannedReplica(t, a[4], nodes[0])...)
	})
}

// TestAccCluster_driftSlotMoved: with slots declared, a slot moved by hand
// with its keys is moved back with them.
func TestAccCluster_driftSlotMoved(t *testing.T) {
	t.Parallel()
	driftCase(t, redistest.Options{ExtraArgs: fastSync}, true, func(nodes []*redistest.Node) {
		moveSlotByHand(t, nodes[0], nodes[1], 100, -1)
	}, func(a []string, nodes []*redistest.Node) []plancheck.PlanCheck {
		return append(append([]plancheck.PlanCheck{
			before(shardPath(0, "slots"), strs("0-99", "101-5460")),
			before(shardPath(1, "slots"), strs("100", "5461-10922")),
			before(nodePath(a[1], "slots"), knownvalue.StringExact("100,5461-10922")),
		}, plannedMaster(a[0], "0-5460")...), plannedMaster(a[1], "5461-10922")...)
	})
}

// TestAccCluster_driftOpenSlot: a migration stopped midway, with keys on
// both sides, is settled on the declared owner, every key kept.
func TestAccCluster_driftOpenSlot(t *testing.T) {
	t.Parallel()
	driftCase(t, redistest.Options{ExtraArgs: fastSync}, false, func(nodes []*redistest.Node) {
		moveSlotByHand(t, nodes[0], nodes[1], 2000, 1)
	}, func([]string, []*redistest.Node) []plancheck.PlanCheck {
		return []plancheck.PlanCheck{before(shardPath(0, "slots"), strs("0-1999", "2001-5460"))}
	})
}

// TestAccCluster_driftReplicaReset: CLUSTER RESET HARD on a replica (new
// ID, knows nobody): it is left out of its shard, then re-joined and the
// old ID forgotten everywhere.
func TestAccCluster_driftReplicaReset(t *testing.T) {
	t.Parallel()
	driftCase(t, redistest.Options{ExtraArgs: fastSync}, false, func(nodes []*redistest.Node) {
		redistest.Do(t, nodes[3], "CLUSTER", "RESET", "HARD")
	}, func([]string, []*redistest.Node) []plancheck.PlanCheck {
		return []plancheck.PlanCheck{before(shardPath(2, "replicas"), knownvalue.ListExact([]knownvalue.Check{}))}
	})
}

// TestAccCluster_driftMasterReplaced: the master's disk is wiped and it
// restarts empty with a new ID; its replica takes over. Apply re-joins the
// new node, forgets the old ID and fails back once it is in sync.
func TestAccCluster_driftMasterReplaced(t *testing.T) {
	t.Parallel()
	driftCase(t, redistest.Options{ExtraArgs: fastSync}, false, func(nodes []*redistest.Node) {
		nodes[1].Kill(t)
		waitRole(t, nodes[5], "master")
		nodes[1].Wipe(t)
	}, func(a []string, nodes []*redistest.Node) []plancheck.PlanCheck {
		return []plancheck.PlanCheck{
			before(shardPath(1, "master"), knownvalue.StringExact(a[5])),
			before(shardPath(1, "replicas"), knownvalue.ListExact([]knownvalue.Check{})),
		}
	})
}

// TestAccCluster_noFailback: with failback = false a failover is not drift.
func TestAccCluster_noFailback(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{ExtraArgs: fastSync})
	masters, replicas := threeByTwo(nodes)
	cfg := clusterConfig(nodes[0].Password(), shardsHCL(masters, replicas, nil), "  failback = false")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					waitSynced(t, nodes[4])
					redistest.Do(t, nodes[4], "CLUSTER", "FAILOVER")
					waitRole(t, nodes[4], "master")
					waitRole(t, nodes[0], "slave")
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes").AtMapKey(masters[0]).AtMapKey("role"),
						knownvalue.StringExact("replica")),
				},
			},
		},
	})
}

// TestAccCluster_driftNodeDown: while a declared master is down (its
// replica not yet promoted) plan warns, and apply fails naming it; once it
// is back, apply converges.
func TestAccCluster_driftNodeDown(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{NodeTimeout: 30 * time.Second})
	masters, replicas := threeByTwo(nodes)
	pw := nodes[0].Password()
	cfg := clusterConfig(pw, shardsHCL(masters, replicas, nil))
	// A change that needs every node: re-point a replica.
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					redistest.Do(t, nodes[4], "CLUSTER", "REPLICATE", redistest.MyID(t, nodes[1]))
					nodes[2].Kill(t)
				},
				Config:      cfg,
				ExpectError: regexp.MustCompile(regexp.QuoteMeta(nodes[2].Addr()) + `:\s+unreachable`),
			},
			{
				PreConfig: func() { nodes[2].Restart(t) },
				Config:    cfg,
				Check:     checkLive(t, nodes, masters, replicas, nil),
			},
		},
	})
}

// TestAccCluster_extraNodeNotDrift: a node joined by hand shows in nodes
// and is never removed.
func TestAccCluster_extraNodeNotDrift(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 4, redistest.Options{})
	a := redistest.Addrs(nodes)
	cfg := clusterConfig(nodes[0].Password(), shardsHCL(a[:3], [][]string{nil, nil, nil}, nil))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes[:3]),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					redistest.Do(t, nodes[0], "CLUSTER", "MEET", nodes[3].IP(), nodes[3].Port())
					redistest.WaitFor(t, 10*time.Second, func() bool {
						for _, n := range nodes[:3] {
							if redistest.ClusterInfo(t, n)["cluster_known_nodes"] != "4" {
								return false
							}
						}
						return true
					}, "the extra node to be known")
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{plancheck.ExpectEmptyPlan()},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes"), knownvalue.MapSizeExact(4)),
				},
			},
		},
	})
}

// moveSlotByHand moves slot from src to dst the way an operator (or an
// interrupted redis-cli reshard) does. keep < 0 finishes the move; keep >= 0
// stops after migrating all but keep keys, leaving the slot open.
func moveSlotByHand(t *testing.T, src, dst *redistest.Node, slot, keep int) {
	t.Helper()
	srcID, dstID := redistest.MyID(t, src), redistest.MyID(t, dst)
	// Make sure the slot has keys on both sides when left open.
	cc := redistest.ClusterClient(t, []*redistest.Node{src, dst})
	n := 0
	for i := 0; n < 6 && i < 200000; i++ {
		k := fmt.Sprintf("slotkey:%d", i)
		if cluster.KeySlot(k) == slot {
			if err := cc.Set(t.Context(), k, "v", 0).Err(); err != nil {
				t.Fatal(err)
			}
			n++
		}
	}
	redistest.Do(t, dst, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID)
	redistest.Do(t, src, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID)
	keys, ok := redistest.Do(t, src, "CLUSTER", "GETKEYSINSLOT", slot, 1000).([]any)
	if !ok {
		t.Fatal("CLUSTER GETKEYSINSLOT did not answer a list")
	}
	if keep >= 0 && keep >= len(keys) {
		t.Fatalf("slot %d has %d keys, cannot keep %d", slot, len(keys), keep)
	}
	upTo := len(keys)
	if keep >= 0 {
		upTo = len(keys) - keep
	}
	args := []any{"MIGRATE", dst.IP(), dst.Port(), "", 0, 5000, "AUTH", src.Password(), "KEYS"}
	args = append(args, keys[:upTo]...)
	redistest.Do(t, src, args...)
	if keep >= 0 {
		return
	}
	redistest.Do(t, dst, "CLUSTER", "SETSLOT", slot, "NODE", dstID)
	redistest.Do(t, src, "CLUSTER", "SETSLOT", slot, "NODE", dstID)
}

// TestAccCluster_nodeLoading: a plan while a replica loads its dataset
// (after a restart; key-load-delay makes it last seconds) warns and reads
// the cluster from the other members: a LOADING reply is not an error, as
// a replica that finishes a full sync after an apply answers it too. The
// destroy that follows, while it still loads, waits for it as apply does.
func TestAccCluster_nodeLoading(t *testing.T) {
	t.Parallel()
	if e := redistest.ServerEngine(t); !e.Valkey() && !e.AtLeast(6, 2) {
		t.Skipf("%s has no key-load-delay to hold a node in LOADING", e)
	}
	nodes := redistest.Start(t, 2, redistest.Options{ExtraArgs: []string{
		"--key-load-delay", "2000", "--loading-process-events-interval-bytes", "1024"}})
	a := redistest.Addrs(nodes)
	cfg := clusterConfig(nodes[0].Password(), shardsHCL([]string{a[0]}, [][]string{{a[1]}}, nil), "force_destroy = true")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{Config: cfg},
			{
				PreConfig: func() {
					redistest.Fill(t, nodes[:1], 3000, "k")
					redistest.WaitFor(t, 60*time.Second, func() bool {
						return nodes[1].Client().DBSize(t.Context()).Val() == 3000 // LOADING while it syncs
					}, "the replica to hold every key")
					redistest.Do(t, nodes[1], "SAVE")
					nodes[1].Restart(t) // returns once INFO answers: loading 3000 keys at 2 ms each
					if err := nodes[1].Client().DBSize(t.Context()).Err(); !cluster.IsLoading(err) {
						t.Fatalf("replica %s after restart: %v, want LOADING", a[1], err)
					}
				},
				Config:   cfg,
				PlanOnly: true,
			},
		},
	})
}
