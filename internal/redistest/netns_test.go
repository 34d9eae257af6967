//go:build linux

package redistest

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// A node cut from one peer is suspected by that peer only; cut from all, it
// is flagged failing by the others while the host still reaches it; after the heal
// the flags clear.
func TestNet_CutAndHeal(t *testing.T) {
	nt, nodes := StartNet(t, 3, Options{NodeTimeout: 500 * time.Millisecond})
	ids := CreateCluster(t, nodes, 0)
	for _, n := range nodes {
		if !strings.HasPrefix(n.IP(), "10.213.") || n.Port() != 6379 {
			t.Fatalf("node address %s, want 10.213.X.Y:6379", n.Addr())
		}
	}
	flagged := func(by *Node, id, flag string) bool {
		for _, cn := range ParseClusterNodes(ClusterNodes(t, by)) {
			if cn.ID == id {
				return cn.HasFlag(flag)
			}
		}
		return false
	}
	// Cut from one chosen peer: only that peer suspects it.
	nt.Cut(t, nodes[0], nodes[1])
	WaitFor(t, 10*time.Second, func() bool { return flagged(nodes[1], ids[0], "fail?") }, "node 1 to suspect node 0")
	if flagged(nodes[2], ids[0], "fail?") || flagged(nodes[2], ids[0], "fail") {
		t.Fatal("node 2 still reaches node 0 and must not flag it")
	}
	nt.Heal(t, nodes[0])
	WaitFor(t, 10*time.Second, func() bool { return !flagged(nodes[1], ids[0], "fail?") }, "node 1 to reach node 0 again")

	// Cut from every peer: the majority agrees it failed.
	nt.Cut(t, nodes[0])
	WaitFor(t, 10*time.Second, func() bool { return flagged(nodes[1], ids[0], "fail") }, "node 1 to flag node 0 fail")
	if got := Do(t, nodes[0], "PING"); got != "PONG" {
		t.Fatalf("the host must still reach the cut-off node: PING = %v", got)
	}
	WaitFor(t, 10*time.Second, func() bool { return ClusterInfo(t, nodes[0])["cluster_state"] == "fail" },
		"the cut-off node to report cluster_state:fail (it sees no majority)")
	nt.Heal(t, nodes[0])
	WaitFor(t, 10*time.Second, func() bool {
		return !flagged(nodes[1], ids[0], "fail") && ClusterInfo(t, nodes[0])["cluster_state"] == "ok"
	}, "the flags to clear after the heal")
}

// Namespaces, bridge and processes are gone when the test that made them ends, however it
// ends (here: skipped half-way).
func TestNet_CleansUp(t *testing.T) {
	skipShort(t)
	if why := NetUnavailable(); why != "" {
		t.Skip(why)
	}
	var nt *Net
	var pid int
	t.Run("inner", func(t *testing.T) {
		nt, _ = StartNet(t, 2, Options{})
		pid = nt.nodes[0].Pid()
		t.Skip("ends the subtest early; cleanup must still run")
	})
	list, err := output("netns", "list")
	if err != nil {
		t.Fatal(err)
	}
	for _, ns := range nt.ns {
		if strings.Contains(list, ns) {
			t.Errorf("namespace %s still exists: %s", ns, list)
		}
	}
	for _, name := range append([]string{nt.bridge}, nt.veths...) {
		if _, err := output("link", "show", name); err == nil {
			t.Errorf("link %s still exists", name)
		}
	}
	if pid == 0 || processAlive(pid) {
		t.Errorf("redis-server pid %d still alive (or never started)", pid)
	}
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}
