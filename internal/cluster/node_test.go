package cluster

import (
	"strings"
	"testing"
)

var (
	nidA = strings.Repeat("a", 40)
	nidB = strings.Repeat("b", 40)
	nidC = strings.Repeat("c", 40)
)

// nodeState builds an observation of addr from CLUSTER NODES lines.
func nodeObs(t *testing.T, addr, id string, keys int64, assigned string, lines ...string) *NodeState {
	t.Helper()
	view, err := ParseNodes(strings.Join(lines, "\n") + "\n")
	if err != nil {
		t.Fatal(err)
	}
	info := map[string]string{"cluster_state": "fail", "cluster_slots_assigned": assigned}
	return &NodeState{Addr: addr, ID: id, Keys: keys, View: view, Info: info}
}

func nodeObsOf(ns ...*NodeState) *Observed {
	o := &Observed{Nodes: map[string]*NodeState{}}
	for _, n := range ns {
		o.Nodes[n.Addr] = n
	}
	return o
}

func nodeSlots(t *testing.T, items ...string) SlotSet {
	t.Helper()
	s, err := ParseSlotSet(items)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestNodeSpecValidate(t *testing.T) {
	ok := []NodeSpec{
		{Addr: "10.0.0.1:6379", Role: RoleMaster},
		{Addr: "10.0.0.1:6379", Role: RoleReplica, Master: "10.0.0.2:6379", Seeds: []string{"10.0.0.3:6379"}},
	}
	for _, s := range ok {
		if err := s.Validate(); err != nil {
			t.Errorf("%+v: %v", s, err)
		}
	}
	bad := map[string]NodeSpec{
		"master is set":     {Addr: "10.0.0.1:6379", Role: RoleMaster, Master: "10.0.0.2:6379"},
		"master is not set": {Addr: "10.0.0.1:6379", Role: RoleReplica},
		"slots are set":     {Addr: "10.0.0.1:6379", Role: RoleReplica, Master: "10.0.0.2:6379", Slots: nodeSlots(t, "1")},
		"own address":       {Addr: "10.0.0.1:6379", Role: RoleReplica, Master: "10.0.0.1:6379"},
		"role must be":      {Addr: "10.0.0.1:6379", Role: "primary"},
		"seeds":             {Addr: "10.0.0.1:6379", Role: RoleMaster, Seeds: []string{"nope"}},
	}
	for want, s := range bad {
		if err := s.Validate(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: got %v, want an error containing %q", s, err, want)
		}
	}
}

func TestCheckNodeJoinable(t *testing.T) {
	spec := NodeSpec{Addr: "10.0.0.1:6379", Role: RoleMaster, Slots: nodeSlots(t, "0-100")}
	lone := func(keys int64, slots string) *NodeState {
		return nodeObs(t, spec.Addr, nidA, keys, "0", nidA+" 10.0.0.1:6379@16379 myself,master - 0 0 0 connected "+slots)
	}
	if err := CheckNodeJoinable(spec, nodeObsOf(lone(0, "0-100"))); err != nil {
		t.Errorf("own declared slots: %v", err)
	}
	if err := CheckNodeJoinable(spec, nodeObsOf(lone(3, ""))); err == nil || !strings.Contains(err.Error(), "holds 3 keys") {
		t.Errorf("keys: %v", err)
	}
	if err := CheckNodeJoinable(spec, nodeObsOf(lone(0, "0-200"))); err == nil || !strings.Contains(err.Error(), "101-200") {
		t.Errorf("extra slots: %v", err)
	}
	// A replica of another node than the declared master.
	rs := NodeSpec{Addr: "10.0.0.1:6379", Role: RoleReplica, Master: "10.0.0.2:6379"}
	n := nodeObs(t, rs.Addr, nidA, 5, "0",
		nidA+" 10.0.0.1:6379@16379 myself,slave "+nidC+" 0 0 0 connected",
		nidC+" 10.0.0.3:6379@16379 master - 0 0 0 connected")
	m := nodeObs(t, rs.Master, nidB, 0, "0", nidB+" 10.0.0.2:6379@16379 myself,master - 0 0 0 connected")
	if err := CheckNodeJoinable(rs, nodeObsOf(n, m)); err == nil || !strings.Contains(err.Error(), "not its declared master") {
		t.Errorf("replica of another: %v", err)
	}
	// Already a replica of the declared master (keys are a copy): fine.
	n2 := nodeObs(t, rs.Addr, nidA, 5, "0",
		nidA+" 10.0.0.1:6379@16379 myself,slave "+nidB+" 0 0 0 connected",
		nidB+" 10.0.0.2:6379@16379 master - 0 0 0 connected")
	if err := CheckNodeJoinable(rs, nodeObsOf(n2, m)); err != nil {
		t.Errorf("replica of its master: %v", err)
	}
	// The declared master cannot be read.
	bad := &NodeState{Addr: rs.Master, Err: &NodeError{Addr: rs.Master, Kind: ErrUnreachable, Err: nodeErrString("refused")}}
	if err := CheckNodeJoinable(rs, nodeObsOf(n2, bad)); err == nil || !strings.Contains(err.Error(), "declared master") {
		t.Errorf("master unreachable: %v", err)
	}
}

type nodeErrString string

func (e nodeErrString) Error() string { return string(e) }

func TestNodeReady(t *testing.T) {
	spec := NodeSpec{Addr: "10.0.0.1:6379", Role: RoleReplica, Master: "10.0.0.2:6379"}
	self := nidA + " 10.0.0.1:6379@16379 myself,slave " + nidB + " 0 0 0 connected"
	peerMaster := nidB + " 10.0.0.2:6379@16379 master - 0 0 1 connected 0-16383"
	n := nodeObs(t, spec.Addr, nidA, 0, "16384", self, peerMaster)
	n.Info["cluster_state"] = "ok"
	// The master still sees it as a master: not ready.
	m := nodeObs(t, spec.Master, nidB, 0, "16384",
		nidB+" 10.0.0.2:6379@16379 myself,master - 0 0 1 connected 0-16383",
		nidA+" 10.0.0.1:6379@16379 master - 0 0 0 connected")
	if ok, why := NodeReady(spec, nodeObsOf(n, m), nidB); ok || !strings.Contains(why, `as "master"`) {
		t.Errorf("got %v %q", ok, why)
	}
	m = nodeObs(t, spec.Master, nidB, 0, "16384",
		nidB+" 10.0.0.2:6379@16379 myself,master - 0 0 1 connected 0-16383",
		nidA+" 10.0.0.1:6379@16379 slave "+nidB+" 0 0 0 connected")
	if ok, why := NodeReady(spec, nodeObsOf(n, m), nidB); !ok {
		t.Errorf("not ready: %s", why)
	}
	// A handshake entry left: not ready.
	m.View = append(m.View, NodeLine{ID: nidC, IP: "10.0.0.1", Port: 6379, Flags: []string{"handshake"}})
	if ok, why := NodeReady(spec, nodeObsOf(n, m), nidB); ok || !strings.Contains(why, "handshake") {
		t.Errorf("got %v %q", ok, why)
	}
	// All slots assigned but cluster_state:fail: not ready; with fewer
	// slots assigned the state is not waited on.
	m.View = m.View[:2]
	n.Info["cluster_state"] = "fail"
	if ok, _ := NodeReady(spec, nodeObsOf(n, m), nidB); ok {
		t.Error("ready with cluster_state:fail and every slot assigned")
	}
	n.Info["cluster_slots_assigned"] = "5461"
	if ok, why := NodeReady(spec, nodeObsOf(n, m), nidB); !ok {
		t.Errorf("not ready: %s", why)
	}
}

func TestSwappedAndStatus(t *testing.T) {
	// A failover promoted B (declared replica) over A (declared master).
	a := nodeObs(t, "10.0.0.1:6379", nidA, 0, "16384",
		nidA+" 10.0.0.1:6379@16379 myself,slave "+nidB+" 0 0 1 connected",
		nidB+" 10.0.0.2:6379@16379 master - 0 0 2 connected 0-16383")
	b := nodeObs(t, "10.0.0.2:6379", nidB, 0, "16384",
		nidB+" 10.0.0.2:6379@16379 myself,master - 0 0 2 connected 0-16383",
		nidA+" 10.0.0.1:6379@16379 slave "+nidB+" 0 0 1 connected")
	obs := nodeObsOf(a, b)
	ms := NodeSpec{Addr: a.Addr, Role: RoleMaster, Slots: nodeSlots(t, "0-16383"), Seeds: []string{b.Addr}, Failback: true}
	rs := NodeSpec{Addr: b.Addr, Role: RoleReplica, Master: a.Addr, Failback: true}
	if r, acting := swapped(ms, obs); r != a.Addr || acting != b.Addr {
		t.Errorf("master side: %q %q", r, acting)
	}
	if r, acting := swapped(rs, obs); r != a.Addr || acting != b.Addr {
		t.Errorf("replica side: %q %q", r, acting)
	}
	st := NodeStatusOf(ms, obs, nil)
	if st.Role != RoleReplica || st.Master != b.Addr || !st.Slots.Empty() {
		t.Errorf("with failback: %+v", st)
	}
	ms.Failback = false
	st = NodeStatusOf(ms, obs, nil)
	if st.Role != RoleMaster || st.Master != "" || st.Slots.Len() != SlotCount {
		t.Errorf("without failback: %+v", st)
	}
	rs.Failback = false
	if st := NodeStatusOf(rs, obs, nil); st.Role != RoleReplica || st.Master != a.Addr {
		t.Errorf("replica without failback: %+v", st)
	}
	if st := NodeStatusOf(rs, nodeObsOf(b), nil); st.LinkState != "connected" || st.Lone {
		t.Errorf("replica alone: %+v", st)
	}
}

func TestIsNodeGone(t *testing.T) {
	lone := NodeStatus{Reachable: true, ID: nidA, Lone: true}
	if !IsNodeGone(lone, nidA) {
		t.Error("a lone member should be gone")
	}
	if IsNodeGone(lone, "") {
		t.Error("no prior ID: not proof")
	}
	if IsNodeGone(NodeStatus{LinkState: "unreachable"}, nidA) {
		t.Error("unreachable is never proof")
	}
	if !IsNodeGone(NodeStatus{Reachable: true, ID: nidB}, nidA) {
		t.Error("a new node ID means the node was reset")
	}
	if IsNodeGone(NodeStatus{Reachable: true, ID: nidA}, nidA) {
		t.Error("a member is not gone")
	}
}
