package provider

import (
	"context"
	"fmt"
	"strconv"
	"sync"
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

// keysIntact checks every key written earlier through a cluster client.
func keysIntact(t *testing.T, nodes []*redistest.Node, written *map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		redistest.CheckKeys(t, nodes, *written)
		return nil
	}
}

func fill(t *testing.T, nodes []*redistest.Node, n int, written *map[string]string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		*written = redistest.Fill(t, nodes, n, "d2")
		return nil
	}
}

// lone checks that removed nodes were reset and that no member knows them.
func lone(t *testing.T, removed, members []*redistest.Node) resource.TestCheckFunc {
	return func(*terraform.State) error {
		if err := checkAllReset(t, removed)(nil); err != nil {
			return err
		}
		want := strconv.Itoa(len(members))
		for _, n := range members {
			if k := redistest.ClusterInfo(t, n)["cluster_known_nodes"]; k != want {
				return fmt.Errorf("%s knows %s nodes, want %s (removed nodes forgotten)", n.Addr(), k, want)
			}
		}
		return nil
	}
}

// TestAccCluster_addAndRemoveShard adds a shard (a master and a replica):
// slots rebalance evenly with their keys; then removes another shard: its
// slots move to the rest, every member forgets it and it is reset.
func TestAccCluster_addAndRemoveShard(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 5, redistest.Options{})
	a := redistest.Addrs(nodes)
	pw := nodes[0].Password()
	three := clusterConfig(pw, shardsHCL(a[:3], [][]string{nil, nil, nil}, nil), "  force_destroy = true")
	four := clusterConfig(pw, shardsHCL(a[:4], [][]string{nil, nil, nil, {a[4]}}, nil), "  force_destroy = true")
	// shard 2 (a[1]) leaves
	rest := clusterConfig(pw, shardsHCL([]string{a[0], a[2], a[3]}, [][]string{nil, nil, {a[4]}}, nil), "  force_destroy = true")
	var written map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{Config: three, Check: fill(t, nodes[:3], 3000, &written)},
			{
				Config: four,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction("redis_cluster.test", plancheck.ResourceActionUpdate),
					// the rebalance is known at plan time: a quarter of the slots move to the new shard
					plancheck.ExpectKnownValue("redis_cluster.test", shardPath(3, "slots"), knownvalue.ListSizeExact(3)),
					// the new nodes' roles are known, only their IDs are not
					planned(a[3], "role", knownvalue.StringExact("master")),
					planned(a[3], "slots", knownvalue.StringExact("4096-5460,9557-10922,15019-16383")),
					plancheck.ExpectUnknownValue("redis_cluster.test", nodePath(a[3], "id")),
					planned(a[4], "role", knownvalue.StringExact("replica")),
					plancheck.ExpectUnknownValue("redis_cluster.test", nodePath(a[4], "id")),
					plancheck.ExpectUnknownValue("redis_cluster.test", nodePath(a[4], "master_id")),
					planned(a[0], "id", liveID{t, nodes[0]}),
					planned(a[0], "slots", knownvalue.StringExact("0-4095")),
					plancheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("state"), knownvalue.StringExact("ok")),
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("state"), knownvalue.StringExact("ok")),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					keysIntact(t, nodes, &written),
					func(*terraform.State) error {
						for _, n := range nodes[:4] {
							if got := slotCount(t, n); got != 4096 {
								return fmt.Errorf("%s serves %d slots, want 4096", n.Addr(), got)
							}
						}
						return nil
					},
				),
			},
			{Config: four, PlanOnly: true},
			{
				Config: rest,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					// a[1] leaves the members; everything else is known
					plancheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes"), knownvalue.MapSizeExact(4)),
					planned(a[3], "id", liveID{t, nodes[3]}),
					planned(a[4], "master_id", liveID{t, nodes[3]}),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(
					keysIntact(t, []*redistest.Node{nodes[0], nodes[2], nodes[3]}, &written),
					lone(t, []*redistest.Node{nodes[1]}, []*redistest.Node{nodes[0], nodes[2], nodes[3], nodes[4]}),
					checkLive(t, nodes, []string{a[0], a[2], a[3]}, [][]string{nil, nil, {a[4]}}, nil),
				),
			},
			{Config: rest, PlanOnly: true},
		},
	})
}

// slotCount is how many slots a node serves, by its own CLUSTER NODES.
func slotCount(t *testing.T, n *redistest.Node) int {
	for _, l := range redistest.ParseClusterNodes(redistest.ClusterNodes(t, n)) {
		if l.Self {
			c := 0
			for _, r := range l.Slots {
				var lo, hi int
				if _, err := fmt.Sscanf(r, "%d-%d", &lo, &hi); err == nil {
					c += hi - lo + 1
				} else if _, err := fmt.Sscanf(r, "%d", &lo); err == nil {
					c++
				}
			}
			return c
		}
	}
	return -1
}

// TestAccCluster_replicas adds a replica, re-points one to another shard,
// removes one, and makes a replica its shard's master (a planned
// CLUSTER FAILOVER).
func TestAccCluster_replicas(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{ExtraArgs: fastSync})
	a := redistest.Addrs(nodes)
	pw := nodes[0].Password()
	cfg := func(masters []string, replicas [][]string) string {
		return clusterConfig(pw, shardsHCL(masters, replicas, nil), "  force_destroy = true")
	}
	var written map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{Config: cfg(a[:3], [][]string{{a[3]}, {a[4]}, nil}), Check: fill(t, nodes, 1000, &written)},
			{
				// add a[5] to shard 3, move a[4] from shard 2 to shard 1
				Config: cfg(a[:3], [][]string{{a[3], a[4]}, nil, {a[5]}}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append(plannedReplica(t, a[4], nodes[0]),
					planned(a[5], "role", knownvalue.StringExact("replica")),
					planned(a[5], "master_id", liveID{t, nodes[2]}),
					plancheck.ExpectUnknownValue("redis_cluster.test", nodePath(a[5], "id")),
				)},
				Check: checkLive(t, nodes, a[:3], [][]string{{a[3], a[4]}, nil, {a[5]}}, nil),
			},
			{
				// remove a[3]: reset and forgotten
				Config: cfg(a[:3], [][]string{{a[4]}, nil, {a[5]}}),
				Check: resource.ComposeAggregateTestCheckFunc(
					checkLive(t, nodes, a[:3], [][]string{{a[4]}, nil, {a[5]}}, nil),
					lone(t, []*redistest.Node{nodes[3]}, []*redistest.Node{nodes[0], nodes[1], nodes[2], nodes[4], nodes[5]}),
				),
			},
			{
				PreConfig: func() { waitSynced(t, nodes[5]) },
				// a[5] becomes shard 3's master, a[2] its replica
				Config: cfg([]string{a[0], a[1], a[5]}, [][]string{{a[4]}, nil, {a[2]}}),
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: append(plannedMaster(a[5], "10923-16383"),
					plannedReplica(t, a[2], nodes[5])...)},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkLive(t, nodes, []string{a[0], a[1], a[5]}, [][]string{{a[4]}, nil, {a[2]}}, nil),
					keysIntact(t, []*redistest.Node{nodes[0], nodes[1], nodes[5]}, &written),
				),
			},
			{Config: cfg([]string{a[0], a[1], a[5]}, [][]string{{a[4]}, nil, {a[2]}}), PlanOnly: true},
		},
	})
}

// liveWriter writes through a cluster client until stopped and remembers
// the last acknowledged value of every key.
type liveWriter struct {
	stop  context.CancelFunc
	wg    sync.WaitGroup
	mu    sync.Mutex
	acked map[string]string
	errs  int
}

func startWriter(t *testing.T, nodes []*redistest.Node) *liveWriter {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	w := &liveWriter{stop: cancel, acked: map[string]string{}}
	cc := redistest.ClusterClient(t, nodes)
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		for i := 0; ctx.Err() == nil && i < 2_000_000; i++ {
			k := fmt.Sprintf("live:%d", i%3000)
			v := strconv.Itoa(i)
			if err := cc.Set(ctx, k, v, 0).Err(); err != nil {
				w.mu.Lock()
				w.errs++
				w.mu.Unlock()
				continue
			}
			w.mu.Lock()
			w.acked[k] = v
			w.mu.Unlock()
		}
	}()
	time.Sleep(200 * time.Millisecond) // writes are flowing before the move starts
	return w
}

// finish stops the writer and checks every acknowledged write on the nodes.
func (w *liveWriter) finish(t *testing.T, nodes []*redistest.Node) error {
	w.stop()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	t.Logf("%d acknowledged live keys, %d failed writes (not acknowledged, allowed)", len(w.acked), w.errs)
	if len(w.acked) == 0 {
		return fmt.Errorf("no live write was acknowledged")
	}
	redistest.CheckKeys(t, nodes, w.acked)
	return nil
}

// TestAccCluster_movesUnderWrites changes the cluster three ways while a
// client writes through a cluster client (declared slots re-split, a shard
// added with slots unset, a shard removed): after each, every acknowledged
// write holds its last acknowledged value.
func TestAccCluster_movesUnderWrites(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name          string
		nodes         int
		before, after func(a []string, pw string) string
		members       []int // nodes left in the cluster after
	}{
		{"declared_slots", 3,
			func(a []string, pw string) string {
				return clusterConfig(pw, shardsHCL(a, nil, [][]string{{"0-5460"}, {"5461-10922"}, {"10923-16383"}}), "  force_destroy = true")
			},
			func(a []string, pw string) string {
				return clusterConfig(pw, shardsHCL(a, nil, [][]string{{"0-2000", "12000-16383"}, {"2001-8000"}, {"8001-11999"}}), "  force_destroy = true")
			},
			[]int{0, 1, 2}},
		{"add_shard", 4,
			func(a []string, pw string) string {
				return clusterConfig(pw, shardsHCL(a[:3], nil, nil), "  force_destroy = true")
			},
			func(a []string, pw string) string {
				return clusterConfig(pw, shardsHCL(a, nil, nil), "  force_destroy = true")
			},
			[]int{0, 1, 2, 3}},
		{"remove_shard", 4,
			func(a []string, pw string) string {
				return clusterConfig(pw, shardsHCL(a, nil, nil), "  force_destroy = true")
			},
			func(a []string, pw string) string {
				return clusterConfig(pw, shardsHCL(a[1:], nil, nil), "  force_destroy = true")
			},
			[]int{1, 2, 3}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			nodes := redistest.Start(t, c.nodes, redistest.Options{})
			a := redistest.Addrs(nodes)
			pw := nodes[0].Password()
			var members []*redistest.Node
			for _, i := range c.members {
				members = append(members, nodes[i])
			}
			var written map[string]string
			var w *liveWriter
			resource.Test(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				CheckDestroy:             checkAllReset(t, nodes),
				Steps: []resource.TestStep{
					{
						Config: c.before(a, pw),
						Check: func(*terraform.State) error {
							written = redistest.Fill(t, nodes[:3], 5000, "d2")
							return nil
						},
					},
					{
						PreConfig: func() { w = startWriter(t, nodes) },
						Config:    c.after(a, pw),
						Check: func(*terraform.State) error {
							if err := w.finish(t, members); err != nil {
								return err
							}
							redistest.CheckKeys(t, members, written)
							return nil
						},
					},
					{Config: c.after(a, pw), PlanOnly: true},
				},
			})
		})
	}
}
