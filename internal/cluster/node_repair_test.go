package cluster

import (
	"strings"
	"testing"
)

func TestNodeDrift(t *testing.T) {
	nidD, nidE, nidOld := strings.Repeat("d", 40), strings.Repeat("e", 40), strings.Repeat("f", 40)
	line := func(id, addr, flags, master, slots string) string {
		return id + " " + addr + "@16379 " + flags + " " + master + " 0 0 1 connected " + slots
	}
	// A (master 0-8191) and D (master 8192-16383); C replaces a replica
	// of A whose old ID A still knows, address-less; E is D's replica,
	// with an old entry of C's address.
	a := nodeObs(t, "10.0.0.1:6379", nidA, 0, "16384",
		line(nidA, "10.0.0.1:6379", "myself,master", "-", "0-8191"),
		line(nidD, "10.0.0.4:6379", "master", "-", "8192-16383"),
		line(nidOld, ":0", "slave,noaddr", nidA, ""),
		line(nidC, "10.0.0.3:6379", "slave", nidA, ""))
	c := nodeObs(t, "10.0.0.3:6379", nidC, 0, "16384",
		line(nidC, "10.0.0.3:6379", "myself,slave", nidA, ""),
		line(nidA, "10.0.0.1:6379", "master", "-", "0-8191"))
	replica := NodeSpec{Addr: "10.0.0.3:6379", Role: RoleReplica, Master: "10.0.0.1:6379"}
	drift := NodeDrift(replica, nodeObsOf(a, c))
	if len(drift) != 1 || !strings.Contains(drift[0], "10.0.0.1:6379 still know node ID ffffffff") {
		t.Fatalf("replaced replica: %q", drift)
	}
	// The same address-less replica of A is not D's to repair, nor A's own.
	d := nodeObs(t, "10.0.0.4:6379", nidD, 0, "16384",
		line(nidD, "10.0.0.4:6379", "myself,master", "-", "8192-16383"),
		line(nidA, "10.0.0.1:6379", "master", "-", "0-8191"),
		line(nidOld, ":0", "slave,noaddr", nidA, ""))
	if drift := NodeDrift(NodeSpec{Addr: "10.0.0.4:6379", Role: RoleMaster, Slots: nodeSlots(t, "8192-16383")}, nodeObsOf(d, a)); len(drift) != 0 {
		t.Fatalf("another node's stale entry: %q", drift)
	}
	if drift := NodeDrift(NodeSpec{Addr: "10.0.0.1:6379", Role: RoleMaster, Slots: nodeSlots(t, "0-8191")}, nodeObsOf(a, d)); len(drift) != 0 {
		t.Fatalf("a master's own replica's stale entry: %q", drift)
	}
	// An old entry at the node's own address, with its address.
	e := nodeObs(t, "10.0.0.5:6379", nidE, 0, "16384",
		line(nidE, "10.0.0.5:6379", "myself,slave", nidD, ""),
		line(nidOld, "10.0.0.3:6379", "slave,fail", nidA, ""))
	if drift := NodeDrift(NodeSpec{Addr: "10.0.0.3:6379", Role: RoleReplica, Master: "10.0.0.1:6379", Seeds: []string{"10.0.0.5:6379"}}, nodeObsOf(c, e)); len(drift) != 2 || !strings.Contains(drift[0], "10.0.0.5:6379 still know") || !strings.Contains(drift[1], "10.0.0.5:6379 does not know") {
		t.Fatalf("old entry at the node's address: %q", drift)
	}
	// A member seed that forgot the node.
	forgot := nodeObs(t, "10.0.0.4:6379", nidD, 0, "16384",
		line(nidD, "10.0.0.4:6379", "myself,master", "-", "8192-16383"),
		line(nidA, "10.0.0.1:6379", "master", "-", "0-8191"))
	if drift := NodeDrift(NodeSpec{Addr: "10.0.0.3:6379", Role: RoleReplica, Master: "10.0.0.1:6379", Seeds: []string{"10.0.0.4:6379"}}, nodeObsOf(c, forgot, a)); len(drift) != 2 || !strings.Contains(drift[1], "10.0.0.4:6379 does not know 10.0.0.3:6379") {
		t.Fatalf("forgotten by a seed: %q", drift)
	}
	// Open slots: declared ones settle on the node, others go where they came from.
	open := nodeObs(t, "10.0.0.1:6379", nidA, 0, "16384",
		line(nidA, "10.0.0.1:6379", "myself,master", "-", "0-8191 [5->-"+nidD+"] [9000-<-"+nidD+"]"),
		line(nidD, "10.0.0.4:6379", "master", "-", "8192-16383"))
	drift = NodeDrift(NodeSpec{Addr: "10.0.0.1:6379", Role: RoleMaster, Slots: nodeSlots(t, "0-8191")}, nodeObsOf(open))
	want := []string{"slot 5 is left migrating to node dddddddd on 10.0.0.1:6379 by an interrupted move; apply settles it on 10.0.0.1:6379",
		"slot 9000 is left importing from node dddddddd on 10.0.0.1:6379 by an interrupted move; apply settles it on 10.0.0.4:6379"}
	if len(drift) != 2 || !strings.HasPrefix(drift[0], want[0]) || !strings.HasPrefix(drift[1], want[1]) {
		t.Fatalf("open slots: %q", drift)
	}
	// An open slot towards a node whose address is unknown cannot settle.
	lost := nodeObs(t, "10.0.0.1:6379", nidA, 0, "16384",
		line(nidA, "10.0.0.1:6379", "myself,master", "-", "0-8191 [9000-<-"+nidOld+"]"))
	if drift := NodeDrift(NodeSpec{Addr: "10.0.0.1:6379", Role: RoleMaster, Slots: nodeSlots(t, "0-8191")}, nodeObsOf(lost)); len(drift) != 1 || !strings.Contains(drift[0], "settle it by hand") {
		t.Fatalf("open slot towards an unknown node: %q", drift)
	}
}

// staleIDs never names a live node, however it looks in one view: an
// address-less master serving no slot (the create-time rule) or an
// address-less replica of the declared master, that another member knows
// with its address or that answers itself, is another node, not this
// node's old self.
func TestStaleIDsSparesLiveNodes(t *testing.T) {
	nidD, nidE, nidOld := strings.Repeat("d", 40), strings.Repeat("e", 40), strings.Repeat("f", 40)
	line := func(id, addr, flags, master, slots string) string {
		return id + " " + addr + "@16379 " + flags + " " + master + " 0 0 1 connected " + slots
	}
	// C (10.0.0.3, new ID) replaces a replica of A; its old ID F is
	// address-less on A. E (10.0.0.5) is another node: A lists it
	// address-less too (as a master serving nothing, or as a replica of
	// A), while D knows it at its address.
	spec := NodeSpec{Addr: "10.0.0.3:6379", Role: RoleReplica, Master: "10.0.0.1:6379"}
	c := nodeObs(t, "10.0.0.3:6379", nidC, 0, "0",
		line(nidC, "10.0.0.3:6379", "myself,master", "-", ""))
	d := nodeObs(t, "10.0.0.4:6379", nidD, 0, "16384",
		line(nidD, "10.0.0.4:6379", "myself,master", "-", "8192-16383"),
		line(nidA, "10.0.0.1:6379", "master", "-", "0-8191"),
		line(nidE, "10.0.0.5:6379", "slave", nidD, ""),
		line(nidOld, ":0", "slave,noaddr", nidA, ""))
	e := nodeObs(t, "10.0.0.5:6379", nidE, 0, "16384",
		line(nidE, "10.0.0.5:6379", "myself,slave", nidD, ""),
		line(nidA, "10.0.0.1:6379", "master", "-", "0-8191"),
		line(nidD, "10.0.0.4:6379", "master", "-", "8192-16383"))
	for name, eOnA := range map[string]string{
		"address-less master serving no slot": line(nidE, ":0", "master,noaddr", "-", ""),
		"address-less replica of the master":  line(nidE, ":0", "slave,noaddr", nidA, ""),
	} {
		a := nodeObs(t, "10.0.0.1:6379", nidA, 0, "16384",
			line(nidA, "10.0.0.1:6379", "myself,master", "-", "0-8191"),
			line(nidD, "10.0.0.4:6379", "master", "-", "8192-16383"),
			line(nidOld, ":0", "slave,noaddr", nidA, ""),
			eOnA)
		for _, create := range []bool{true, false} {
			for views, obs := range map[string]*Observed{
				"known at its address by D": nodeObsOf(c, a, d),
				"answering itself":          nodeObsOf(c, a, e),
				"known by D and answering":  nodeObsOf(c, a, d, e),
			} {
				got := staleIDs(spec, obs, create)
				if _, ok := got[nidE]; ok {
					t.Errorf("%s, %s, create=%v: names live node E stale: %v", name, views, create, got)
				}
				if len(got[nidOld]) == 0 {
					t.Errorf("%s, %s, create=%v: misses the old ID: %v", name, views, create, got)
				}
			}
			// Seen by A alone, nothing ties E to an address: on create the
			// address-less master serving nothing may go (see staleIDs).
			if got := staleIDs(spec, nodeObsOf(c, a), create); len(got[nidOld]) == 0 {
				t.Errorf("%s, A alone, create=%v: misses the old ID: %v", name, create, got)
			}
		}
	}
	// An old entry still listed at the node's own address is stale even
	// when other views show it there too.
	a := nodeObs(t, "10.0.0.1:6379", nidA, 0, "16384",
		line(nidA, "10.0.0.1:6379", "myself,master", "-", "0-8191"),
		line(nidOld, "10.0.0.3:6379", "slave,fail", nidA, ""))
	d2 := nodeObs(t, "10.0.0.4:6379", nidD, 0, "16384",
		line(nidD, "10.0.0.4:6379", "myself,master", "-", "8192-16383"),
		line(nidOld, "10.0.0.3:6379", "slave", nidA, ""))
	if got := staleIDs(spec, nodeObsOf(c, a, d2), true); len(got[nidOld]) != 2 {
		t.Errorf("old ID at the node's address: %v", got)
	}
}
