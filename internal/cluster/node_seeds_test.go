package cluster

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckPeers(t *testing.T) {
	nidD, nidE := strings.Repeat("d", 40), strings.Repeat("e", 40)
	line := func(id, addr, flags, master, slots string) string {
		return id + " " + addr + "@16379 " + flags + " " + master + " 0 0 1 connected " + slots
	}
	// A serves 0-8191 and knows B (8192-16383); C is lone; D serves
	// 0-100 with E, a cluster of its own.
	a := nodeObs(t, "10.0.0.1:6379", nidA, 0, "16384",
		line(nidA, "10.0.0.1:6379", "myself,master", "-", "0-8191"),
		line(nidB, "10.0.0.2:6379", "master", "-", "8192-16383"))
	b := nodeObs(t, "10.0.0.2:6379", nidB, 0, "16384",
		line(nidB, "10.0.0.2:6379", "myself,master", "-", "8192-16383"),
		line(nidA, "10.0.0.1:6379", "master", "-", "0-8191"))
	c := nodeObs(t, "10.0.0.3:6379", nidC, 0, "0", line(nidC, "10.0.0.3:6379", "myself,master", "-", ""))
	d := nodeObs(t, "10.0.0.4:6379", nidD, 0, "101",
		line(nidD, "10.0.0.4:6379", "myself,master", "-", "0-100"),
		line(nidE, "10.0.0.5:6379", "slave", nidD, ""))
	lone := NodeSpec{Addr: "10.0.0.3:6379", Role: RoleReplica, Master: "10.0.0.1:6379", Seeds: []string{"10.0.0.2:6379"}}
	if err := CheckPeers(lone, nodeObsOf(a, b, c)); err != nil {
		t.Fatalf("a lone node joining a cluster: %v", err)
	}
	// Building from scratch: every node lone.
	scratch := NodeSpec{Addr: "10.0.0.3:6379", Role: RoleMaster, Seeds: []string{"10.0.0.4:6379"}}
	d0 := nodeObs(t, "10.0.0.4:6379", nidD, 0, "0", line(nidD, "10.0.0.4:6379", "myself,master", "-", "200-300"))
	if err := CheckPeers(scratch, nodeObsOf(c, d0)); err != nil {
		t.Fatalf("lone nodes meeting: %v", err)
	}
	// Two clusters serving the same slots.
	merge := NodeSpec{Addr: "10.0.0.3:6379", Role: RoleMaster, Seeds: []string{"10.0.0.1:6379", "10.0.0.4:6379"}}
	err := CheckPeers(merge, nodeObsOf(a, b, c, d))
	if err == nil || !strings.Contains(err.Error(), "two different clusters that both serve slots 0-100") ||
		!strings.Contains(err.Error(), "10.0.0.1:6379") || !strings.Contains(err.Error(), "10.0.0.4:6379") {
		t.Fatalf("merging two clusters: %v", err)
	}
	// The node itself in another cluster.
	self := NodeSpec{Addr: "10.0.0.4:6379", Role: RoleMaster, Slots: nodeSlots(t, "0-100"), Seeds: []string{"10.0.0.2:6379"}}
	if err := CheckPeers(self, nodeObsOf(a, b, d)); err == nil {
		t.Fatal("a node of another cluster meeting this one was let through")
	}
	// Groups serving disjoint slots are parts of one cluster being built
	// in parallel (each master assigns its slots before meeting).
	half := nodeObs(t, "10.0.0.1:6379", nidA, 0, "101", line(nidA, "10.0.0.1:6379", "myself,master", "-", "0-100"))
	other := nodeObs(t, "10.0.0.4:6379", nidD, 0, "101",
		line(nidD, "10.0.0.4:6379", "myself,master", "-", "101-200"),
		line(nidE, "10.0.0.5:6379", "slave", nidD, ""))
	if err := CheckPeers(merge, nodeObsOf(half, c, other)); err != nil {
		t.Fatalf("groups with disjoint slots: %v", err)
	}
	// A seed that answers wrongly is an error; one that does not answer is skipped.
	bad := &NodeState{Addr: "10.0.0.2:6379", Err: &NodeError{Addr: "10.0.0.2:6379", Kind: ErrNotCluster, Err: errors.New("ERR This instance has cluster support disabled")}}
	if err := CheckPeers(lone, nodeObsOf(a, bad, c)); err == nil || !strings.Contains(err.Error(), "seed 10.0.0.2:6379 of 10.0.0.3:6379 cannot be used") {
		t.Fatalf("a seed in standalone mode: %v", err)
	}
	down := &NodeState{Addr: "10.0.0.2:6379", Err: &NodeError{Addr: "10.0.0.2:6379", Kind: ErrUnreachable, Err: errors.New("connection refused")}}
	if err := CheckPeers(lone, nodeObsOf(a, down, c)); err != nil {
		t.Fatalf("an unreachable seed: %v", err)
	}
}
