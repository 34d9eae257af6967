package cluster

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A six-node cluster (three masters, a replica each) on separate hosts.
var (
	pM1, pM2, pM3 = "10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"
	pR1, pR2, pR3 = "10.0.0.4:6379", "10.0.0.5:6379", "10.0.0.6:6379"
	pAddrs        = []string{pM1, pM2, pM3, pR1, pR2, pR3}
)

func pid(addr string) string { return fid(int(addr[7] - '0')) }

// pLine renders one CLUSTER NODES line about addr.
func pLine(addr, flags, master string, epoch int64, slots string) string {
	m := "-"
	if master != "" {
		m = pid(master)
	}
	link := "connected"
	if strings.Contains(flags, "fail") {
		link = "disconnected"
	}
	return strings.TrimSpace(fmt.Sprintf("%s %s@16379 %s %s 0 0 %d %s %s", pid(addr), addr, flags, m, epoch, link, slots))
}

// pState builds the node at addr reading view (its own line flagged myself).
func pState(t *testing.T, addr string, state string, lines ...string) *NodeState {
	t.Helper()
	view, err := ParseNodes(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return &NodeState{Addr: addr, ID: pid(addr), View: view, Info: map[string]string{"cluster_state": state}}
}

func myself(l string, addr string) string {
	return strings.Replace(l, pid(addr)+" "+addr+"@16379 ", pid(addr)+" "+addr+"@16379 myself,", 1)
}

// majorityView is how the majority side sees the cluster: M1 flagged
// failing; after the failover (promoted) R1 serves its slots at epoch 7.
func majorityView(t *testing.T, self string, promoted bool) *NodeState {
	m1 := pLine(pM1, "master,fail", "", 1, "0-5460")
	r1 := pLine(pR1, "slave", pM1, 1, "")
	if promoted {
		m1 = pLine(pM1, "master,fail", "", 1, "")
		r1 = pLine(pR1, "master", "", 7, "0-5460")
	}
	lines := []string{m1, pLine(pM2, "master", "", 2, "5461-10922"), pLine(pM3, "master", "", 3, "10923-16383"),
		r1, pLine(pR2, "slave", pM2, 2, ""), pLine(pR3, "slave", pM3, 3, "")}
	for i, l := range lines {
		if strings.HasPrefix(l, pid(self)) {
			lines[i] = myself(strings.Replace(l, ",fail", "", 1), self)
		}
	}
	return pState(t, self, "ok", lines...)
}

// cutOffView is M1's own view: it still claims its slots and sees every
// peer failing (fail?: it cannot reach the majority to agree on fail).
func cutOffView(t *testing.T) *NodeState {
	return pState(t, pM1, "fail",
		myself(pLine(pM1, "master", "", 1, "0-5460"), pM1),
		pLine(pM2, "master,fail?", "", 2, "5461-10922"), pLine(pM3, "master,fail?", "", 3, "10923-16383"),
		pLine(pR1, "slave,fail?", pM1, 1, ""), pLine(pR2, "slave,fail?", pM2, 2, ""), pLine(pR3, "slave,fail?", pM3, 3, ""))
}

func partitioned(t *testing.T, promoted bool) *Observed {
	obs := &Observed{Nodes: map[string]*NodeState{pM1: cutOffView(t)}}
	for _, a := range pAddrs[1:] {
		obs.Nodes[a] = majorityView(t, a, promoted)
	}
	return obs
}

func TestFindSplit_CutOffMasterAfterFailover(t *testing.T) {
	s := FindSplit(pAddrs, partitioned(t, true))
	if !s.Blocking() || strings.Join(s.CutOff, ",") != pM1 {
		t.Fatalf("cut off = %v (blocking %v), want [%s]", s.CutOff, s.Blocking(), pM1)
	}
	if want := []string{pM2, pM3, pR1, pR2, pR3}; strings.Join(s.Majority, ",") != strings.Join(want, ",") {
		t.Fatalf("majority = %v, want %v", s.Majority, want)
	}
	if want := []string{pid(pM2), pid(pM3), pid(pR1)}; strings.Join(s.Masters, ",") != strings.Join(want, ",") || s.Quorum != 2 {
		t.Fatalf("masters = %v quorum %d, want %v quorum 2 (the stale claim of M1 at epoch 1 loses to R1 at 7)", s.Masters, s.Quorum, want)
	}
	if st := s.Stale[pM1]; !strings.Contains(st, "0-5460") || !strings.Contains(st, pR1) || !strings.Contains(st, "epoch 7") {
		t.Fatalf("stale claim = %q, want slots 0-5460 served on %s at epoch 7", st, pR1)
	}
	d := s.Describe()
	for _, want := range []string{pM1, "sees 0 of the 3 masters", "majority side", pM2, pR1} {
		if !strings.Contains(d, want) {
			t.Errorf("description lacks %q:\n%s", want, d)
		}
	}
	if s.IsCutOff(pM2) || !s.IsCutOff(pM1) {
		t.Fatal("IsCutOff disagrees with CutOff")
	}
}

func TestFindSplit_CutOffMasterBeforeFailover(t *testing.T) {
	s := FindSplit(pAddrs, partitioned(t, false))
	if !s.Blocking() || strings.Join(s.CutOff, ",") != pM1 || len(s.Majority) != 5 {
		t.Fatalf("cut off %v, majority %v: want M1 cut off from the 5 others", s.CutOff, s.Majority)
	}
	if len(s.Stale) != 0 {
		t.Fatalf("no failover yet, so no stale claim: %v", s.Stale)
	}
}

// Terraform reaches only the cut-off node: its view is not the cluster.
func TestFindSplit_OnlyMinorityReached(t *testing.T) {
	obs := partitioned(t, true)
	for _, a := range pAddrs[1:] {
		obs.Nodes[a] = &NodeState{Addr: a, Err: errors.New("unreachable")}
	}
	s := FindSplit(pAddrs, obs)
	if !s.Blocking() || !s.NoMajority || !s.IsCutOff(pM1) {
		t.Fatalf("split = %+v, want no majority reached", s)
	}
	if d := s.Describe(); !strings.Contains(d, "not the cluster") || !strings.Contains(d, pM1) {
		t.Fatalf("description: %s", d)
	}
	if st := State(pAddrs, obs); st != "fail" {
		t.Fatalf("State = %s: a minority's state is its own", st)
	}
}

func TestFindSplit_Healthy(t *testing.T) {
	obs := &Observed{Nodes: map[string]*NodeState{}}
	for _, a := range pAddrs {
		obs.Nodes[a] = majorityView(t, a, true)
		// A healthy cluster: nobody flags anybody.
		for i := range obs.Nodes[a].View {
			obs.Nodes[a].View[i].Flags = withoutFail(obs.Nodes[a].View[i].Flags)
		}
	}
	if s := FindSplit(pAddrs, obs); s != nil {
		t.Fatalf("healthy cluster reported split: %s", s.Describe())
	}
	// A cluster being built (no master serves slots) is never split.
	lone := &Observed{Nodes: map[string]*NodeState{pM1: pState(t, pM1, "fail", myself(pLine(pM1, "master", "", 0, ""), pM1))}}
	if s := FindSplit([]string{pM1}, lone); s != nil {
		t.Fatalf("lone node reported split: %s", s.Describe())
	}
}

func withoutFail(flags []string) []string {
	var out []string
	for _, f := range flags {
		if f != "fail" && f != "fail?" {
			out = append(out, f)
		}
	}
	return out
}

// One broken link between two masters of the majority: reported, not blocking.
func TestFindSplit_PartialLink(t *testing.T) {
	obs := &Observed{Nodes: map[string]*NodeState{}}
	for _, a := range pAddrs {
		n := majorityView(t, a, true)
		for i := range n.View {
			n.View[i].Flags = withoutFail(n.View[i].Flags)
			if a == pM2 && n.View[i].ID == pid(pM3) {
				n.View[i].Flags = append(n.View[i].Flags, "fail?")
			}
		}
		obs.Nodes[a] = n
	}
	s := FindSplit(pAddrs, obs)
	if s == nil || s.Blocking() || len(s.Suspect) != 1 || !strings.Contains(s.Suspect[0], pM2+" flags "+pM3) {
		t.Fatalf("split = %+v, want one suspected link M2 -> M3, not blocking", s)
	}
}

// Members and State show the cluster as the majority sees it.
func TestMembers_MajorityView(t *testing.T) {
	obs := partitioned(t, true)
	ms := Members(pAddrs, obs, nil)
	m1 := ms[pM1]
	if m1.Role != RoleMaster || !m1.Slots.Empty() || !m1.Reachable || !contains(m1.Flags, "fail") {
		t.Fatalf("M1 = %+v, want a reachable master without slots flagged fail (the majority's view)", m1)
	}
	if r1 := ms[pR1]; r1.Role != RoleMaster || r1.Slots.String() != "0-5460" || contains(r1.Flags, "fail?") {
		t.Fatalf("R1 = %+v, want master of 0-5460, not flagged (M1's fail? does not count)", r1)
	}
	if st := State(pAddrs, obs); st != "ok" {
		t.Fatalf("State = %s, want ok (the majority serves every slot)", st)
	}
	// Predict with failback leaves M1 alone and R1 master.
	d := Desired{Failback: true, Shards: []Shard{
		{Master: pM1, Replicas: []string{pR1}, Slots: NewSlotSet(SlotRange{0, 5460})},
		{Master: pM2, Replicas: []string{pR2}, Slots: NewSlotSet(SlotRange{5461, 10922})},
		{Master: pM3, Replicas: []string{pR3}, Slots: NewSlotSet(SlotRange{10923, 16383})},
	}}
	p := Predict(d, ms)
	if p[pR1].Role != RoleMaster || p[pM1].Role != RoleMaster || !p[pM1].Slots.Empty() {
		t.Fatalf("predicted M1 %+v, R1 %+v: want no failback to the cut-off M1", p[pM1], p[pR1])
	}
	if ch := Changes(ms, p); len(ch) != 0 {
		t.Fatalf("a partition alone must plan no change, got %v", ch)
	}
}

func TestPartitionError_Message(t *testing.T) {
	err := error(&PartitionError{Split: FindSplit(pAddrs, partitioned(t, true)), Waited: 10 * time.Second})
	msg := err.Error()
	for _, want := range []string{pM1, "cut off", "run terraform apply again once they rejoin", "10s", "changed nothing"} {
		if !strings.Contains(strings.ToLower(msg), strings.ToLower(want)) {
			t.Errorf("error lacks %q:\n%s", want, msg)
		}
	}
}

// The shards keep their declared shape while a member is cut off: its own
// stale claim is not drift to show, and apply changes nothing until it rejoins.
func TestObservedShards_CutOffKeepsShape(t *testing.T) {
	prior := []Shard{
		{Master: pM1, Replicas: []string{pR1}, Slots: NewSlotSet(SlotRange{0, 5460})},
		{Master: pM2, Replicas: []string{pR2}, Slots: NewSlotSet(SlotRange{5461, 10922})},
		{Master: pM3, Replicas: []string{pR3}, Slots: NewSlotSet(SlotRange{10923, 16383})},
	}
	got := ObservedShards(prior, partitioned(t, true))
	if got[0].Master != pM1 || strings.Join(got[0].Replicas, ",") != pR1 || got[0].Slots.String() != "0-5460" {
		t.Fatalf("shard 1 = %+v, want the declared shape (M1 master, R1 replica, 0-5460)", got[0])
	}
}
