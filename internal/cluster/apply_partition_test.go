package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// partitionNodeTimeout is the cluster-node-timeout of the partition tests.
const partitionNodeTimeout = time.Second

// netCluster builds 3 masters with a replica each on six separate hosts
// (network namespaces) through Apply; shard i is nodes[i] + nodes[3+i].
func netCluster(t *testing.T) (*redistest.Net, []*redistest.Node, cluster.Desired, *cluster.Executor) {
	t.Helper()
	nt, nodes := redistest.StartNet(t, 6, redistest.Options{NodeTimeout: partitionNodeTimeout})
	a := redistest.Addrs(nodes)
	split := cluster.EvenSplit(3)
	d := cluster.Desired{Failback: true}
	for i := range 3 {
		d.Shards = append(d.Shards, cluster.Shard{Master: a[i], Replicas: []string{a[3+i]}, Slots: split[i]})
	}
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	obs, err := cluster.Precheck(ctx, e.Pool, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, d, obs); err != nil {
		t.Fatal(err)
	}
	return nt, nodes, d, e
}

func servesSlots(t *testing.T, by, n *redistest.Node) bool {
	id := redistest.MyID(t, n)
	for _, cn := range redistest.ParseClusterNodes(redistest.ClusterNodes(t, by)) {
		if cn.ID == id {
			return cn.Master == "" && len(cn.Slots) > 0 && !cn.HasFlag("fail")
		}
	}
	return false
}

// minorityCommands counts the commands that change a cluster, as the node
// itself counts them (INFO commandstats).
func minorityCommands(t *testing.T, n *redistest.Node) map[string]string {
	out := map[string]string{}
	for k, v := range redistest.Info(t, n, "commandstats") {
		for _, c := range []string{"replicate", "failover", "meet", "setslot", "forget", "addslots", "addslotsrange", "set-config-epoch", "reset", "bumpepoch", "delslots"} {
			if k == "cmdstat_cluster|"+c {
				out[k] = v
			}
		}
		if k == "cmdstat_migrate" {
			out[k] = v
		}
	}
	return out
}

// jepsen writes unique keys through a cluster client until stopped and
// records each acknowledged write with the time it was acknowledged.
type jepsen struct {
	mu    sync.Mutex
	acked map[string]time.Time // key -> acknowledged at
	value map[string]string
	errs  int
	stop  chan struct{}
	done  chan struct{}
}

func startJepsen(t *testing.T, nodes []*redistest.Node) *jepsen {
	c := redistest.ClusterClient(t, nodes)
	j := &jepsen{acked: map[string]time.Time{}, value: map[string]string{}, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(j.done)
		for i := 0; ; i++ {
			select {
			case <-j.stop:
				return
			default:
			}
			k, v := fmt.Sprintf("jepsen:%d", i), fmt.Sprintf("v%d", i)
			ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
			err := c.Set(ctx, k, v, 0).Err()
			cancel()
			j.mu.Lock()
			if err == nil {
				j.acked[k], j.value[k] = time.Now(), v
			} else {
				j.errs++
			}
			j.mu.Unlock()
			time.Sleep(2 * time.Millisecond)
		}
	}()
	t.Cleanup(j.halt)
	return j
}

func (j *jepsen) halt() {
	select {
	case <-j.stop:
	default:
		close(j.stop)
	}
	<-j.done
}

// TestApplyPartition cuts the master of shard 1 off from every peer while
// the test (Terraform) still reaches it. The majority promotes its replica;
// the cut-off node keeps claiming its slots. Apply must then fail fast,
// naming the node, and send it nothing; after the heal apply fails back
// with no key lost. A client writes all along: the acknowledged writes lost
// are only those the cut-off master took during node-timeout (Redis' own,
// by design), none that the provider adds.
func TestApplyPartition(t *testing.T) {
	nt, nodes, d, e := netCluster(t)
	m1, r1 := nodes[0], nodes[3]
	// A replica that never finished its first sync refuses to take over.
	redistest.WaitFor(t, 30*time.Second, func() bool {
		for _, r := range nodes[3:] {
			if redistest.Info(t, r, "replication")["master_link_status"] != "up" {
				return false
			}
		}
		return true
	}, "every replica in sync")
	keys := redistest.Fill(t, nodes, 3000, "k")
	// The keys written before are the ones no failover may lose: wait until
	// every replica has them (replication is asynchronous; a loaded machine
	// can lag more than the 300 ms below). Writes acknowledged but not yet
	// replicated at the cut are Redis's own loss, which the writer counts.
	for _, m := range nodes[:3] {
		if n, _ := redistest.Do(t, m, "WAIT", 1, 10000).(int64); n < 1 {
			t.Fatalf("%s: no replica acknowledged the keys written before the cut", m.Addr())
		}
	}
	j := startJepsen(t, nodes)
	time.Sleep(300 * time.Millisecond) // some writes before the cut

	cut := time.Now()
	nt.Cut(t, m1)
	redistest.WaitFor(t, 30*time.Second, func() bool { return servesSlots(t, nodes[1], r1) }, "the majority to promote the replica of the cut-off master")
	promoted := time.Now()
	t.Logf("majority promoted %s %s after the cut (node-timeout %s)", r1.Addr(), promoted.Sub(cut).Round(time.Millisecond), partitionNodeTimeout)
	// Both sides see the split once the cut-off master's own node-timeout
	// has passed (Valkey 9.1 promotes before that): it then reports
	// cluster_state:fail.
	redistest.WaitFor(t, 30*time.Second, func() bool { return redistest.ClusterInfo(t, m1)["cluster_state"] == "fail" },
		"the cut-off master to see that it lost the majority")
	// The cut-off master takes writes until it sees that it lost the
	// majority, which on Valkey 9.1 can come after the promotion: Redis's
	// loss window ends at the later of the two.
	stopped := time.Now()
	t.Logf("the cut-off master reported cluster_state:fail by %s after the cut", stopped.Sub(cut).Round(time.Millisecond))
	lossEnd := promoted
	if stopped.After(lossEnd) {
		lossEnd = stopped
	}

	// What plan sees: M1 cut off, the majority on the others, R1 master.
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	obs := cluster.Observe(ctx, e.Pool, d.Observed(), true)
	split := cluster.FindSplit(d.Addrs(), obs)
	// The cut-off node itself may still count the others up for a moment
	// (its own node-timeout has not passed): it is cut off all the same,
	// as the majority agreed it failed while it claims their slots.
	others := 0
	for _, a := range split.Majority {
		if a != m1.Addr() {
			others++
		}
	}
	if !split.Blocking() || strings.Join(split.CutOff, ",") != m1.Addr() || others != 5 {
		t.Fatalf("split = %+v, want %s cut off from the 5 others", split, m1.Addr())
	}
	if members := cluster.Members(d.Addrs(), obs, nil); members[m1.Addr()].Role != cluster.RoleMaster || !members[m1.Addr()].Slots.Empty() ||
		members[r1.Addr()].Slots.Empty() || cluster.State(d.Addrs(), obs) != "ok" {
		t.Fatalf("members not from the majority's view: M1 %+v, R1 %+v, state %s", members[m1.Addr()], members[r1.Addr()], cluster.State(d.Addrs(), obs))
	}

	// Terraform reaching only the cut-off node: its view is not the cluster.
	only := &cluster.Observed{Nodes: map[string]*cluster.NodeState{}}
	for a, n := range obs.Nodes {
		if a == m1.Addr() {
			only.Nodes[a] = n
		} else {
			only.Nodes[a] = &cluster.NodeState{Addr: a, Err: errors.New("unreachable from Terraform")}
		}
	}
	if s := cluster.FindSplit(d.Addrs(), only); !s.NoMajority || !s.Blocking() {
		t.Fatalf("with only %s read, split = %+v: want no majority reached", m1.Addr(), s)
	}

	// Apply: fails fast, names the node, sends it nothing.
	epochBefore := redistest.ClusterInfo(t, m1)["cluster_current_epoch"]
	before := minorityCommands(t, m1)
	start := time.Now()
	_, err := e.Apply(ctx, d, nil)
	took := time.Since(start)
	var pe *cluster.PartitionError
	if !errors.As(err, &pe) {
		t.Fatalf("apply during the partition: %v, want a PartitionError", err)
	}
	t.Logf("apply refused after %s: %v", took.Round(time.Millisecond), err)
	if took > cluster.PartitionGrace+5*time.Second {
		t.Fatalf("apply took %s to refuse, want within %s", took, cluster.PartitionGrace+5*time.Second)
	}
	for _, want := range []string{m1.Addr(), "cut off", "apply again once they rejoin"} {
		if !strings.Contains(err.Error(), want) {
			t.Fatalf("error lacks %q: %v", want, err)
		}
	}
	if after := minorityCommands(t, m1); fmt.Sprint(after) != fmt.Sprint(before) {
		t.Fatalf("commands reached the cut-off node: before %v, after %v", before, after)
	}
	if got := redistest.ClusterInfo(t, m1)["cluster_current_epoch"]; got != epochBefore {
		t.Fatalf("the cut-off node's epoch moved: %s -> %s", epochBefore, got)
	}

	// Heal: Redis makes M1 a replica of R1; apply fails back.
	nt.Heal(t, m1)
	healed := time.Now()
	start = time.Now()
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatalf("apply after the heal: %v", err)
	}
	t.Logf("apply after the heal converged in %s (%s after the heal)", time.Since(start).Round(time.Millisecond), time.Since(healed).Round(time.Millisecond))
	if !servesSlots(t, nodes[1], m1) || servesSlots(t, nodes[1], r1) {
		t.Fatalf("after failback %s must serve shard 1, %s replicate it", m1.Addr(), r1.Addr())
	}
	time.Sleep(300 * time.Millisecond) // writes after the failback
	j.halt()
	redistest.CheckKeys(t, nodes, keys)

	// Count acknowledged writes lost, and whose loss each is.
	c := redistest.ClusterClient(t, nodes)
	slots1 := d.Shards[0].Slots
	var redisLost, providerLost []string
	for k, at := range j.acked {
		v, err := c.Get(t.Context(), k).Result()
		if err == nil && v == j.value[k] {
			continue
		}
		if slots1.Has(cluster.KeySlot(k)) && at.After(cut) && at.Before(lossEnd) {
			redisLost = append(redisLost, k) // taken by the cut-off master during node-timeout
			continue
		}
		providerLost = append(providerLost, k)
	}
	t.Logf("writes: %d acknowledged, %d failed; lost by Redis (minority master during node-timeout): %d; lost otherwise: %d",
		len(j.acked), j.errs, len(redisLost), len(providerLost))
	if len(providerLost) > 0 {
		t.Fatalf("%d acknowledged writes lost outside the minority master's node-timeout window (the provider must add none): %v", len(providerLost), providerLost[:min(10, len(providerLost))])
	}
}
