package cluster_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestObserveMembersFollowsViews: a node plan reads the members that the
// nodes it read list (A's spec names only A; B and C come from the views),
// so a slot owner no declared node names is still read. Whether C arrives
// through B's view or, after gossip, A's own, both must be read; a node no
// view lists must not.
func TestObserveMembersFollowsViews(t *testing.T) {
	t.Parallel()
	nodes, a, e, ctx := startExecutor(t, 4, redistest.Options{DistinctHosts: true}, 30*time.Second)
	meet := func(from, to *redistest.Node) {
		t.Helper()
		if err := from.Client().ClusterMeet(ctx, to.IP(), strconv.Itoa(to.Port())).Err(); err != nil {
			t.Fatal(err)
		}
	}
	meet(nodes[0], nodes[1])
	// Known: past the MEET handshake (a view skips handshake entries).
	knows := func(n *redistest.Node, count int) bool {
		k := 0
		for _, l := range redistest.ParseClusterNodes(redistest.ClusterNodes(t, n)) {
			if !l.HasFlag("handshake") {
				k++
			}
		}
		return k == count
	}
	redistest.WaitFor(t, 10*time.Second, func() bool { return knows(nodes[0], 2) }, "A and B to know each other")
	meet(nodes[1], nodes[2])
	redistest.WaitFor(t, 10*time.Second, func() bool { return knows(nodes[1], 3) }, "B to know A and C")

	obs := e.ObserveMembers(ctx, cluster.NodeSpec{Addr: a[0], Role: cluster.RoleMaster})
	for _, want := range a[:3] {
		if !obs.Node(want).OK() {
			t.Errorf("observation lacks %s; read %v", want, keys(obs))
		}
	}
	if obs.Node(a[3]) != nil {
		t.Errorf("observation read %s, which no view lists", a[3])
	}
}

func keys(obs *cluster.Observed) []string {
	var out []string
	for k := range obs.Nodes {
		out = append(out, k)
	}
	return out
}
