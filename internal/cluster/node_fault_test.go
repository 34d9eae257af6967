package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestJoinNodeKilledAtEveryStep is the kill-at-every-step property for
// node resources: a master joins a one-shard cluster holding keys and takes
// half the slots. The join is killed after every point it reports (one
// node killed each time: the joining node, the old master or its replica),
// then joined again by a fresh executor (a new provider process, create
// again as Terraform does after a failed create): it converges to the
// declaration every time and no key is lost. The nodes persist with
// appendfsync always, as a master without persistence comes back empty by
// design.
func TestJoinNodeKilledAtEveryStep(t *testing.T) {
	t.Parallel()
	if e := redistest.ServerEngine(t); e.Valkey() && e.AtLeast(9, 0) {
		// Seen on Valkey 9.1.2, every run: a master killed right after an
		// atomic slot import (CLUSTER MIGRATESLOTS) crashes on restart
		// with appendonly on: replaying the CLUSTER SYNCSLOTS ESTABLISH
		// its AOF recorded fails an assertion in kvstoreSetIsImporting, so
		// there is no node to converge with. An engine crash, not a
		// provider one (see the compatibility guide).
		t.Skipf("%s segfaults restarting with appendonly after a kill that follows an atomic slot import", e)
	}
	nodes := redistest.Start(t, 3, redistest.Options{ExtraArgs: []string{
		"--appendonly", "yes", "--appendfsync", "always", "--repl-diskless-sync-delay", "0"}})
	a := redistest.Addrs(nodes)
	pw := nodes[0].Password()
	all := cluster.NewSlotSet(cluster.SlotRange{0, cluster.SlotCount - 1})
	half := cluster.NewSlotSet(cluster.SlotRange{8192, cluster.SlotCount - 1})
	m0 := cluster.NodeSpec{Addr: a[0], Role: cluster.RoleMaster, Slots: all, Failback: true}
	r0 := cluster.NodeSpec{Addr: a[2], Role: cluster.RoleReplica, Master: a[0], Seeds: []string{a[0]}, Failback: true}
	m1 := cluster.NodeSpec{Addr: a[1], Role: cluster.RoleMaster, Slots: half, Seeds: []string{a[0]}, Failback: true}
	m0After := m0
	m0After.Slots = all.Minus(half)

	join := func(e *cluster.Executor, spec cluster.NodeSpec) error {
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		_, err := e.JoinNode(ctx, spec, true)
		return err
	}
	e := newExecutor(t, pw)
	for _, s := range []cluster.NodeSpec{m0, r0} {
		if err := join(e, s); err != nil {
			t.Fatalf("joining %s: %v", s.Addr, err)
		}
	}
	written := redistest.Fill(t, []*redistest.Node{nodes[0], nodes[2]}, 300, "nk")

	// leave takes m1 out again (its slots go back to m0 with their keys).
	leave := func(t *testing.T) {
		t.Helper()
		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		if err := newExecutor(t, pw).LeaveNode(ctx, m1); err != nil {
			t.Fatalf("leaving: %v", err)
		}
		// m0's own resource takes back its declared slots (all of them).
		if err := join(newExecutor(t, pw), m0); err != nil {
			t.Fatalf("m0 again: %v", err)
		}
	}
	e = newExecutor(t, pw)
	points := recordPoints(e)
	if err := join(e, m1); err != nil {
		t.Fatal(err)
	}
	leave(t)
	t.Logf("%d kill points in a node join", len(*points))
	if len(*points) < 2 { // a MEET and the move, at least
		t.Fatalf("only %d kill points: %v", len(*points), *points)
	}
	for i, p := range *points {
		victim := nodes[i%len(nodes)]
		t.Run(fmt.Sprintf("%02d_after_%s_on_%s_kill_%s", i, p.kind, p.addr, victim.Addr()), func(t *testing.T) {
			e := newExecutor(t, pw)
			killed := killAt(t, e, p.call, victim)
			if err := join(e, m1); !*killed || !errors.Is(err, errInterrupted) {
				t.Fatalf("the join ended (err %v) before point %d", err, p.call)
			}
			victim.Restart(t)
			// A fresh provider applies every resource again: the new
			// master, the old one with its remaining slots, the replica.
			e = newExecutor(t, pw)
			for _, s := range []cluster.NodeSpec{m1, m0After, r0} {
				if err := join(e, s); err != nil {
					t.Fatalf("joining %s after the kill: %v", s.Addr, err)
				}
			}
			obs := cluster.Observe(t.Context(), e.Pool, a, true)
			for _, s := range []cluster.NodeSpec{m1, m0After, r0} {
				if ok, why := cluster.NodeReady(s, obs, obs.ID(s.Master)); !ok {
					t.Fatalf("%s: %s", s.Addr, why)
				}
			}
			redistest.CheckKeys(t, nodes, written)
			leave(t)
		})
	}
}
