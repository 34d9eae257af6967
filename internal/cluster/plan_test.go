package cluster

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// fakeNode is one node's truth for building observations.
type fakeNode struct {
	addr, id, master string // master: node ID, "" for a master
	slots            string // "0-5460,..." as SlotSet.String renders
	epoch            int64
	knows            []string // IDs it knows besides itself; nil means everyone in the fake
}

func fid(n int) string { return fmt.Sprintf("%040x", n) }

// fakeObserved builds an observation in which each node's view shows every
// node it knows with its true role and slots, and cluster_state ok when all
// slots are assigned.
func fakeObserved(t testing.TB, nodes []fakeNode) *Observed {
	t.Helper()
	byID := map[string]fakeNode{}
	var all SlotSet
	for _, n := range nodes {
		byID[n.id] = n
		if n.slots != "" {
			ss, err := ParseSlotSet(strings.Split(n.slots, ","))
			if err != nil {
				t.Fatal(err)
			}
			all = all.Union(ss)
		}
	}
	line := func(n fakeNode, self bool) string {
		flags := "master"
		if n.master != "" {
			flags = "slave"
		}
		if self {
			flags = "myself," + flags
		}
		m := n.master
		if m == "" {
			m = "-"
		}
		host, port, _ := strings.Cut(n.addr, ":")
		var slots []string
		if n.slots != "" {
			slots = strings.Split(n.slots, ",")
		}
		return strings.TrimSpace(fmt.Sprintf("%s %s:%s@1%s %s %s 0 0 %d connected %s", n.id, host, port, port, flags, m, n.epoch, strings.Join(slots, " ")))
	}
	obs := &Observed{Nodes: map[string]*NodeState{}}
	for _, n := range nodes {
		lines := []string{line(n, true)}
		known := 0
		for _, o := range nodes {
			if o.id == n.id {
				continue
			}
			if n.knows != nil && !contains(n.knows, o.id) {
				continue
			}
			lines = append(lines, line(o, false))
			known++
		}
		view, err := ParseNodes(strings.Join(lines, "\n"))
		if err != nil {
			t.Fatal(err)
		}
		state := "fail"
		if all.Full() {
			state = "ok"
		}
		var epoch int64
		if known > 0 {
			epoch = int64(len(nodes))
		}
		obs.Nodes[n.addr] = &NodeState{Addr: n.addr, ID: n.id, Version: "7.0.15", View: view, IP: "10.0.0.1",
			Info: map[string]string{"cluster_state": state, "cluster_current_epoch": fmt.Sprint(epoch)}}
	}
	return obs
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// desired3x2 is the walkthrough's layout.
func desired3x2(failback bool) Desired {
	split := EvenSplit(3)
	return Desired{Failback: failback, Shards: []Shard{
		{Master: "10.0.0.11:6379", Replicas: []string{"10.0.0.15:6379"}, Slots: split[0]},
		{Master: "10.0.0.12:6379", Replicas: []string{"10.0.0.16:6379"}, Slots: split[1]},
		{Master: "10.0.0.13:6379", Replicas: []string{"10.0.0.14:6379"}, Slots: split[2]},
	}}
}

// healthy3x2 is the walkthrough's cluster as built: ids 1..6 for .11...16.
func healthy3x2() []fakeNode {
	return []fakeNode{
		{addr: "10.0.0.11:6379", id: fid(1), slots: "0-5460", epoch: 1},
		{addr: "10.0.0.12:6379", id: fid(2), slots: "5461-10922", epoch: 2},
		{addr: "10.0.0.13:6379", id: fid(3), slots: "10923-16383", epoch: 3},
		{addr: "10.0.0.14:6379", id: fid(4), master: fid(3), epoch: 3},
		{addr: "10.0.0.15:6379", id: fid(5), master: fid(1), epoch: 1},
		{addr: "10.0.0.16:6379", id: fid(6), master: fid(2), epoch: 2},
	}
}

func kinds(steps []Step) map[StepKind]int {
	out := map[StepKind]int{}
	for _, s := range steps {
		out[s.Kind]++
	}
	return out
}

func TestPlanFreshCluster(t *testing.T) {
	var fresh []fakeNode
	for i, n := range healthy3x2() {
		fresh = append(fresh, fakeNode{addr: n.addr, id: fid(i + 1), knows: []string{}})
	}
	d := desired3x2(true)
	steps, err := Plan(d, fakeObserved(t, fresh))
	if err != nil {
		t.Fatal(err)
	}
	k := kinds(steps)
	want := map[StepKind]int{StepAddSlots: 3, StepSetEpoch: 6, StepMeet: 15, StepWaitKnown: 1, StepReplicate: 3, StepAnnounce: 30, StepWaitReady: 1}
	for kind, n := range want {
		if k[kind] != n {
			t.Errorf("%s steps: got %d, want %d (all: %v)", kind, k[kind], n, k)
		}
	}
	// Slots first (the rejoin delay starts there), stages never go back.
	if steps[0].Kind != StepAddSlots {
		t.Errorf("first step is %s, want add slots", steps[0])
	}
	for i := 1; i < len(steps); i++ {
		if steps[i].Kind.Stage() < steps[i-1].Kind.Stage() {
			t.Fatalf("step %d (%s) comes after a later stage (%s)", i, steps[i], steps[i-1])
		}
	}
	epochs := map[int64]bool{}
	for _, s := range steps {
		switch s.Kind {
		case StepAddSlots:
			if i := d.ShardOf(s.Addr); !d.Shards[i].Slots.Equal(s.Slots) || d.Shards[i].Master != s.Addr {
				t.Errorf("%s: want slots %s on the master", s, d.Shards[i].Slots)
			}
		case StepSetEpoch:
			if epochs[s.Epoch] {
				t.Errorf("epoch %d given twice", s.Epoch)
			}
			epochs[s.Epoch] = true
		case StepReplicate:
			if _, m, _ := d.Role(s.Addr); m != s.Target {
				t.Errorf("%s: want master %s", s, m)
			}
		case StepMeet:
			if s.IP == "" || s.Port == 0 || s.BusPort != s.Port+10000 {
				t.Errorf("%s: meet destination %s:%d@%d", s, s.IP, s.Port, s.BusPort)
			}
		}
	}
}

func TestPlanHealthyIsEmpty(t *testing.T) {
	obs := fakeObserved(t, healthy3x2())
	steps, err := Plan(desired3x2(true), obs)
	if err != nil || len(steps) != 0 {
		t.Fatalf("healthy cluster: steps %v, err %v", steps, err)
	}
	if ok, why := Converged(desired3x2(true), obs); !ok {
		t.Fatalf("healthy cluster not converged: %s", why)
	}
}

// The walkthrough's story: redis1 (.11) died, slave2 (.15) was promoted,
// redis1 came back as its replica.
func failedOver() []fakeNode {
	nodes := healthy3x2()
	nodes[0].master, nodes[0].slots = fid(5), ""
	nodes[4].master, nodes[4].slots, nodes[4].epoch = "", "0-5460", 7
	return nodes
}

func TestPlanFailback(t *testing.T) {
	obs := fakeObserved(t, failedOver())
	steps, err := Plan(desired3x2(true), obs)
	if err != nil {
		t.Fatal(err)
	}
	k := kinds(steps)
	if k[StepFailover] != 1 || k[StepMoveSlots] != 0 || k[StepReplicate] != 0 || k[StepAddSlots] != 0 {
		t.Fatalf("failback plan: %v", steps)
	}
	for _, s := range steps {
		if s.Kind == StepFailover && (s.Addr != "10.0.0.11:6379" || s.Target != "10.0.0.15:6379") {
			t.Fatalf("failover sent to the wrong node: %s", s)
		}
	}
	if ok, _ := Converged(desired3x2(true), obs); ok {
		t.Fatal("a failed-over cluster counts as converged with failback")
	}
}

func TestPlanNoFailback(t *testing.T) {
	obs := fakeObserved(t, failedOver())
	steps, err := Plan(desired3x2(false), obs)
	if err != nil || len(steps) != 0 {
		t.Fatalf("failback=false: steps %v, err %v", steps, err)
	}
	if ok, why := Converged(desired3x2(false), obs); !ok {
		t.Fatalf("failback=false: not converged: %s", why)
	}
}

func TestPlanReplicaFollowsWrongMaster(t *testing.T) {
	nodes := healthy3x2()
	nodes[3].master = fid(1) // .14 should follow .13
	steps, err := Plan(desired3x2(true), fakeObserved(t, nodes))
	if err != nil {
		t.Fatal(err)
	}
	if k := kinds(steps); k[StepReplicate] != 1 {
		t.Fatalf("steps: %v", steps)
	}
	for _, s := range steps {
		if s.Kind == StepReplicate && (s.Addr != "10.0.0.14:6379" || s.TargetID != fid(3)) {
			t.Fatalf("replicate step: %s", s)
		}
	}
}

func TestPlanSlotOnWrongMasterMovesAfterMeet(t *testing.T) {
	nodes := healthy3x2()
	nodes[0].slots = "0-5459"
	nodes[1].slots = "5460-10922"
	steps, err := Plan(desired3x2(true), fakeObserved(t, nodes))
	if err != nil {
		t.Fatal(err)
	}
	var moves []Step
	for _, s := range steps {
		if s.Kind == StepMoveSlots {
			moves = append(moves, s)
		}
	}
	if len(moves) != 1 || moves[0].Addr != "10.0.0.12:6379" || moves[0].Target != "10.0.0.11:6379" || moves[0].Slots.String() != "5460" {
		t.Fatalf("moves: %v", moves)
	}
}

func TestPlanRefusesUndeclaredOwner(t *testing.T) {
	nodes := healthy3x2()
	nodes[2].slots = "10923-16000"
	nodes = append(nodes, fakeNode{addr: "10.0.0.99:6379", id: fid(99), slots: "16001-16383"})
	obs := fakeObserved(t, nodes)
	delete(obs.Nodes, "10.0.0.99:6379") // not declared, so not observed directly
	_, err := Plan(desired3x2(true), obs)
	if err == nil || !strings.Contains(err.Error(), "16001-16383") || !strings.Contains(err.Error(), fid(99)) {
		t.Fatalf("want an error naming the undeclared owner and its slots, got %v", err)
	}
}

func TestPlanUnreachableNode(t *testing.T) {
	obs := fakeObserved(t, healthy3x2())
	obs.Nodes["10.0.0.16:6379"] = &NodeState{Addr: "10.0.0.16:6379", Err: &NodeError{Addr: "10.0.0.16:6379", Kind: ErrUnreachable, Err: fmt.Errorf("connection refused")}}
	_, err := Plan(desired3x2(true), obs)
	if err == nil || !strings.Contains(err.Error(), "10.0.0.16:6379") || !strings.Contains(err.Error(), "unreachable") {
		t.Fatalf("want an error naming the unreachable node, got %v", err)
	}
}

// A create interrupted after ADDSLOTS and MEET, before REPLICATE: the plan
// only replicates, announces and waits.
func TestPlanResumesPartialCreate(t *testing.T) {
	nodes := healthy3x2()
	for i := 3; i < 6; i++ {
		nodes[i].master = ""
	}
	steps, err := Plan(desired3x2(true), fakeObserved(t, nodes))
	if err != nil {
		t.Fatal(err)
	}
	k := kinds(steps)
	if k[StepReplicate] != 3 || k[StepAddSlots]+k[StepMeet]+k[StepSetEpoch]+k[StepMoveSlots] != 0 {
		t.Fatalf("resume plan: %v", k)
	}
}

func TestCheckJoinable(t *testing.T) {
	d := desired3x2(true)
	var fresh []fakeNode
	for i, n := range healthy3x2() {
		fresh = append(fresh, fakeNode{addr: n.addr, id: fid(i + 1), knows: []string{}})
	}
	if err := CheckJoinable(d, fakeObserved(t, fresh), nil); err != nil {
		t.Fatalf("fresh nodes: %v", err)
	}
	// A partial cluster of declared nodes only is resumable.
	if err := CheckJoinable(d, fakeObserved(t, healthy3x2()), nil); err != nil {
		t.Fatalf("partial cluster of declared nodes: %v", err)
	}
	// A node that knows a stranger belongs to another cluster.
	withStranger := append(healthy3x2(), fakeNode{addr: "10.0.0.99:6379", id: fid(99)})
	obs := fakeObserved(t, withStranger)
	delete(obs.Nodes, "10.0.0.99:6379")
	obs.Nodes["10.0.0.12:6379"].Keys = 7 // a member's keys are the cluster's own data
	err := CheckJoinable(d, obs, nil)
	if err == nil {
		t.Fatal("want problems")
	}
	// A lone node with keys cannot join.
	lone := fakeObserved(t, fresh)
	lone.Nodes["10.0.0.13:6379"].Keys = 9
	err2 := CheckJoinable(d, lone, nil)
	if err2 == nil {
		t.Fatal("a lone node with keys passed")
	}
	msg := err.Error() + "\n" + err2.Error()
	if strings.Contains(msg, "10.0.0.12:6379: holds") {
		t.Errorf("a member's keys were reported: %s", msg)
	}
	for _, want := range []string{"10.0.0.11:6379: already belongs to another cluster", fid(99)[:8], "10.0.0.13:6379: holds 9 keys"} {
		if !strings.Contains(msg, want) {
			t.Errorf("problems %q lack %q", msg, want)
		}
	}
}

func TestObservedShardsShowsFailover(t *testing.T) {
	d := desired3x2(true)
	// A plain failover (the old master follows the promoted replica): the
	// shards keep the declared shape; the members' roles show the swap.
	same := ObservedShards(d.Shards, fakeObserved(t, failedOver()))
	if same[0].Master != "10.0.0.11:6379" || len(same[0].Replicas) != 1 || same[0].Replicas[0] != "10.0.0.15:6379" {
		t.Fatalf("a plain failover keeps the declared shape: %+v", same[0])
	}
	if same[0].Slots.String() != "0-5460" {
		t.Fatalf("slots of the shard: %s", same[0].Slots)
	}
	// The old master lost its place (a lone node now): the promoted
	// replica shows as master and the old master is left out.
	nodes := failedOver()
	nodes[0].master, nodes[0].knows = "", []string{}
	got := ObservedShards(d.Shards, fakeObserved(t, nodes))
	if got[0].Master != "10.0.0.15:6379" || len(got[0].Replicas) != 0 {
		t.Fatalf("failover with the old master gone: %+v", got[0])
	}
}

func TestShardsFromView(t *testing.T) {
	obs := fakeObserved(t, healthy3x2())
	shards, err := ShardsFromView(obs.Node("10.0.0.14:6379").View, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := desired3x2(true).Shards
	if len(shards) != 3 {
		t.Fatalf("shards: %+v", shards)
	}
	for i := range want {
		if shards[i].Master != want[i].Master || !shards[i].Slots.Equal(want[i].Slots) || strings.Join(shards[i].Replicas, ",") != strings.Join(want[i].Replicas, ",") {
			t.Errorf("shard %d: got %+v, want %+v", i, shards[i], want[i])
		}
	}
}

func TestDesiredValidate(t *testing.T) {
	d := desired3x2(true)
	if err := d.Validate(); err != nil {
		t.Fatal(err)
	}
	d.Shards[1].Replicas = []string{"10.0.0.11:6379"}
	d.Shards[2].Slots = NewSlotSet(SlotRange{10923, 16000})
	err := d.Validate()
	if err == nil || !strings.Contains(err.Error(), "shard 1 replica 0: address 10.0.0.11:6379 is already used by shard 0 master") ||
		!strings.Contains(err.Error(), "the shards slots: slots 16001-16383 are assigned to no shard") {
		t.Fatalf("got %v", err)
	}
	var es Errors
	var dup, missing *ShardError
	if !errors.As(err, &es) || len(es) != 2 || !errors.As(es[0], &dup) || !errors.As(es[1], &missing) ||
		dup.At != (Position{1, 1}) || *dup.Dup != (Position{0, 0}) || missing.At != (Position{AllShards, SlotsOf}) {
		t.Fatalf("positions: %#v", err)
	}
	d.Shards[1].Replicas = []string{"10.0.0.11"}
	d.Shards[2].Slots = NewSlotSet(SlotRange{10000, 16383})
	err = d.Validate()
	var bad, twice *ShardError
	if !errors.As(err, &es) || len(es) != 2 || !errors.As(es[0], &bad) || !errors.As(es[1], &twice) ||
		bad.At != (Position{1, 1}) || bad.Err == nil || twice.At != (Position{2, SlotsOf}) || twice.Twice.Len() != 923 {
		t.Fatalf("got %v", err)
	}
	if err := (Desired{}).Validate(); !errors.Is(err, ErrNoShards) {
		t.Fatalf("no shards: %v", err)
	}
}

// FuzzPlan mutates the healthy walkthrough cluster (roles, masters, slots,
// knowledge) and checks the planner's invariants: it never panics, stages
// never go back, every step targets a declared node, slot steps stay in
// the declared slots, and a cluster it calls converged needs no step.
func FuzzPlan(f *testing.F) {
	f.Add(uint8(0), uint8(0), uint16(0), uint8(0), true)
	f.Add(uint8(4), uint8(1), uint16(5461), uint8(3), false)
	f.Add(uint8(3), uint8(2), uint16(100), uint8(7), true)
	f.Fuzz(func(t *testing.T, who, what uint8, slot uint16, forget uint8, failback bool) {
		nodes := healthy3x2()
		nodes = mutateHealthy(nodes, who, what%5, slot, forget)
		d := desired3x2(failback)
		obs := fakeObserved(t, nodes)
		steps, err := Plan(d, obs)
		if err != nil {
			return // refusing is allowed; what it plans must be sound
		}
		declared := map[string]bool{}
		for _, a := range d.Addrs() {
			declared[a] = true
		}
		var all SlotSet
		for _, s := range d.Shards {
			all = all.Union(s.Slots)
		}
		for k, s := range steps {
			if k > 0 && s.Kind.Stage() < steps[k-1].Kind.Stage() {
				t.Fatalf("stage order broken at %d: %s after %s", k, s, steps[k-1])
			}
			if !s.Kind.Barrier() && !declared[s.Addr] {
				t.Fatalf("step to an undeclared node: %s", s)
			}
			if s.Kind == StepAddSlots || s.Kind == StepMoveSlots {
				if s.Slots.Empty() || !s.Slots.Minus(all).Empty() {
					t.Fatalf("slot step outside the declaration: %s", s)
				}
			}
		}
		if ok, _ := Converged(d, obs); ok && len(steps) != 0 {
			t.Fatalf("converged cluster still planned %v", steps)
		}
	})
}

// BenchmarkPlanConverged plans a converged cluster of BENCH_NODES nodes
// (default 200: 100 masters with a replica each), as a no-change refresh
// and plan do; the observation is built once.
func BenchmarkPlanConverged(b *testing.B) {
	n := 200
	if v, err := strconv.Atoi(os.Getenv("BENCH_NODES")); err == nil && v >= 2 {
		n = v
	}
	masters := n / 2
	split := EvenSplit(masters)
	var nodes []fakeNode
	d := Desired{Failback: true}
	for i := range masters {
		m := fakeNode{addr: fmt.Sprintf("127.0.%d.%d:6379", i/250, i%250+1), id: fid(i + 1), slots: split[i].String(), epoch: int64(i + 1)}
		r := fakeNode{addr: fmt.Sprintf("127.1.%d.%d:6379", i/250, i%250+1), id: fid(masters + i + 1), master: m.id, epoch: int64(i + 1)}
		nodes = append(nodes, m, r)
		d.Shards = append(d.Shards, Shard{Master: m.addr, Replicas: []string{r.addr}, Slots: split[i]})
	}
	obs := fakeObserved(b, nodes)
	for _, ns := range obs.Nodes {
		ns.setView(ns.View)
	}
	b.ReportAllocs()
	for b.Loop() {
		steps, err := Plan(d, obs)
		if err != nil || len(steps) > 0 {
			b.Fatalf("a converged cluster planned %d steps: %v", len(steps), err)
		}
	}
}
