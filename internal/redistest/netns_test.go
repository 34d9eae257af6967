//go:build linux

package redistest

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// A cut node is flagged failing by the others while the host still reaches it; after the heal
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
	nt.Cut(t, nodes[0])
	WaitFor(t, 10*time.Second, func() bool { return flagged(nodes[1], ids[0], "fail") }, "node 1 to flag node 0 fail")
	if got := Do(t, nodes[0], "PING"); got != "PONG" {
		t.Fatalf("the host must still reach the cut-off node: PING = %v", got)
	}
	if st := ClusterInfo(t, nodes[0])["cluster_state"]; st != "fail" {
		t.Fatalf("cut-off node reports cluster_state:%s, want fail (it sees no majority)", st)
	}
	nt.Heal(t, nodes[0])
	WaitFor(t, 10*time.Second, func() bool {
		return !flagged(nodes[1], ids[0], "fail") && ClusterInfo(t, nodes[0])["cluster_state"] == "ok"
	}, "the flags to clear after the heal")
}

// Namespaces, bridge and processes are gone when the test that made them ends, even failed.
func TestNet_CleansUp(t *testing.T) {
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
	if _, err := output("link", "show", nt.bridge); err == nil {
		t.Errorf("bridge %s still exists", nt.bridge)
	}
	if pid == 0 || processAlive(pid) {
		t.Errorf("redis-server pid %d still alive (or never started)", pid)
	}
}

func processAlive(pid int) bool {
	return syscall.Kill(pid, 0) == nil
}
