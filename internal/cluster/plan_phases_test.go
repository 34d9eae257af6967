package cluster

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Each of Plan's phases on its own, on pure observations.

func TestSlotClaims(t *testing.T) {
	nodes := failedOver() // .11 is a replica of .15, which serves 0-5460
	obs := fakeObserved(t, nodes)
	markMigrating(obs, "10.0.0.12:6379", 6000)
	claims, open := slotClaims(desired3x2(true), obs)
	if claims[0] != "10.0.0.15:6379" || claims[5461] != "10.0.0.12:6379" || claims[16383] != "10.0.0.13:6379" {
		t.Fatalf("claims: 0=%s 5461=%s 16383=%s", claims[0], claims[5461], claims[16383])
	}
	if open.String() != "6000" {
		t.Fatalf("open slots %s, want 6000", open)
	}
	// Two masters claim 0-5460 (the old one has not heard of the
	// failover yet): the higher config epoch wins, whatever the order.
	nodes[0].master, nodes[0].slots = "", "0-5460"
	claims, _ = slotClaims(desired3x2(true), fakeObserved(t, nodes))
	if claims[100] != "10.0.0.15:6379" {
		t.Fatalf("slot 100 claimed by %s, want the newer epoch's .15", claims[100])
	}
}

func TestPlannerForeignOwners(t *testing.T) {
	nodes := healthy3x2()
	nodes[2].slots = "10923-16000"
	nodes = append(nodes, fakeNode{addr: "10.0.0.99:6379", id: fid(99), slots: "16001-16383"})
	obs := fakeObserved(t, nodes)
	delete(obs.Nodes, "10.0.0.99:6379")
	err := newPlanner(desired3x2(true), obs).foreignOwners()
	var fe *ForeignSlotsError
	if !errors.As(err, &fe) || fe.ID != fid(99) || fe.Slots.String() != "16001-16383" {
		t.Fatalf("want a ForeignSlotsError for %s, got %v", fid(99), err)
	}
	if err := newPlanner(desired3x2(true), fakeObserved(t, healthy3x2())).foreignOwners(); err != nil {
		t.Fatalf("healthy: %v", err)
	}
}

func TestPlannerActingMasters(t *testing.T) {
	p := newPlanner(desired3x2(true), fakeObserved(t, failedOver()))
	p.actingMasters()
	if p.current[0] != "10.0.0.15:6379" || p.current[1] != "10.0.0.12:6379" || len(p.handover) != 0 {
		t.Fatalf("failed over: current %v handover %v", p.current, p.handover)
	}
	// A new empty master taking over .11's shard: .11 is planned from,
	// and the slots do not change, so it is no handover of slots.
	d := desired3x2(true)
	d.Shards[0].Master = "10.0.0.21:6379"
	d.Remove = []string{"10.0.0.11:6379"}
	p = newPlanner(d, fakeObserved(t, withNode(fakeNode{addr: "10.0.0.21:6379", id: fid(21), epoch: 1})))
	p.actingMasters()
	if p.current[0] != "10.0.0.11:6379" || p.handover["10.0.0.11:6379"] {
		t.Fatalf("takeover: current %v handover %v", p.current, p.handover)
	}
}

func TestPlannerSlotSteps(t *testing.T) {
	nodes := healthy3x2()
	nodes[0].slots = "0-5459" // 5460 moved to .12
	nodes[1].slots = "5460-10922"
	nodes[2].slots = "10923-16000" // 16001-16383 served by nobody
	obs := fakeObserved(t, nodes)
	markMigrating(obs, "10.0.0.12:6379", 6000)
	p := newPlanner(desired3x2(true), obs)
	p.actingMasters()
	adds, moves := p.slotSteps()
	if len(adds) != 1 || adds[0].Addr != "10.0.0.13:6379" || adds[0].Slots.String() != "16001-16383" {
		t.Fatalf("adds: %v", adds)
	}
	if len(moves) != 2 || moves[0].Kind != StepMoveSlots || moves[0].Addr != "10.0.0.12:6379" || moves[0].Target != "10.0.0.11:6379" ||
		moves[0].Slots.String() != "5460" || moves[1].Kind != StepFixSlot || moves[1].Addr != "10.0.0.12:6379" || moves[1].Slots.String() != "6000" {
		t.Fatalf("moves: %v", moves)
	}
	for _, s := range append(adds, moves...) {
		if s.Why == "" {
			t.Errorf("%s has no Why", s)
		}
	}
}

func TestPlannerOrderMoves(t *testing.T) {
	d := desired3x2(true)
	d.Shards[0].Slots, d.Shards[1].Slots = d.Shards[1].Slots, d.Shards[0].Slots
	p := newPlanner(d, fakeObserved(t, healthy3x2()))
	p.actingMasters()
	_, moves := p.slotSteps()
	ordered := p.orderMoves(moves)
	if p.outgoing["10.0.0.11:6379"].String() != "0-5460" || p.outgoing["10.0.0.12:6379"].String() != "5461-10922" {
		t.Fatalf("outgoing: %v", p.outgoing)
	}
	// Two ranges in waves 0 and 1 (a node is never source and target in
	// one wave), then each held-back last slot after them.
	var waves []int
	for _, m := range ordered {
		waves = append(waves, m.Wave)
	}
	if len(ordered) != 4 || waves[0] != 0 || waves[1] != 1 || waves[2] < 2 || waves[3] < 2 || ordered[2].Slots.Len() != 1 || ordered[3].Slots.Len() != 1 {
		t.Fatalf("ordered moves %v (waves %v)", ordered, waves)
	}
}

func TestPlannerEpochSteps(t *testing.T) {
	nodes := healthy3x2()
	nodes[5] = fakeNode{addr: nodes[5].addr, id: fid(60), knows: []string{}}
	steps := newPlanner(desired3x2(true), fakeObserved(t, nodes)).epochSteps()
	// The others report current epoch 6 (fakeObserved): the fresh node
	// gets 7.
	if len(steps) != 1 || steps[0].Addr != "10.0.0.16:6379" || steps[0].Epoch != 7 {
		t.Fatalf("epochs: %v", steps)
	}
}

func TestPlannerForgetSteps(t *testing.T) {
	nodes := healthy3x2()
	nodes[1] = fakeNode{addr: nodes[1].addr, id: fid(52), slots: nodes[1].slots, epoch: 2} // .12 replaced
	obs := fakeObserved(t, append(nodes, fakeNode{addr: "10.0.0.12:6379", id: fid(2)}))
	obs.Nodes["10.0.0.12:6379"] = fakeObserved(t, nodes).Nodes["10.0.0.12:6379"]
	steps := newPlanner(desired3x2(true), obs).forgetSteps()
	// Every member that knows the old ID forgets it, except .16, its
	// replica, which cannot forget its master.
	got := map[string]bool{}
	for _, s := range steps {
		if s.Kind != StepForget || s.TargetID != fid(2) || !strings.Contains(s.Why, "was replaced") {
			t.Fatalf("step %s (%s)", s, s.Why)
		}
		got[s.Addr] = true
	}
	if len(got) != 4 || got["10.0.0.16:6379"] || got["10.0.0.12:6379"] {
		t.Fatalf("forgets on %v", got)
	}
}

func TestPlannerMeetSteps(t *testing.T) {
	nodes := healthy3x2()
	nodes[0].knows = []string{fid(2), fid(3), fid(4), fid(5)} // .11 lost .16
	steps, hub := newPlanner(desired3x2(true), fakeObserved(t, nodes)).meetSteps()
	if len(steps) != 1 || hub != "" || steps[0].Kind != StepMeet || steps[0].Addr != "10.0.0.11:6379" || steps[0].Target != "10.0.0.16:6379" ||
		steps[0].Port != 6379 || steps[0].BusPort != 16379 {
		t.Fatalf("meets: %v (hub %q)", steps, hub)
	}
	if steps, _ := newPlanner(desired3x2(true), fakeObserved(t, healthy3x2())).meetSteps(); len(steps) != 0 {
		t.Fatalf("healthy: %v", steps)
	}
}

// freshShards declares masters shards of one master and one replica on
// 2*masters lone nodes (10.0.1.x), as fakes.
func freshShards(masters int) (Desired, []fakeNode) {
	var d Desired
	var nodes []fakeNode
	addr := func(i int) string { return fmt.Sprintf("10.0.1.%d:6379", i+1) }
	for i, set := range EvenSplit(masters) {
		d.Shards = append(d.Shards, Shard{Master: addr(i), Replicas: []string{addr(masters + i)}, Slots: set})
	}
	for i := range 2 * masters {
		nodes = append(nodes, fakeNode{addr: addr(i), id: fid(i + 1), knows: []string{}})
	}
	return d, nodes
}

func TestPlannerMeetStepsHub(t *testing.T) {
	// 24 lone nodes: each meets the hub (the first node, as none knows
	// any other), each replica its master too; gossip does the rest.
	d, nodes := freshShards(12)
	p := newPlanner(d, fakeObserved(t, nodes))
	p.actingMasters()
	steps, hub := p.meetSteps()
	if hub != "10.0.1.1:6379" || len(steps) != 23+11 {
		t.Fatalf("hub %q, %d meets, want 23 to the hub and 11 to masters: %v", hub, len(steps), steps)
	}
	toHub, toMaster := map[string]bool{}, map[string]bool{}
	for _, s := range steps {
		switch i := slices.IndexFunc(d.Shards, func(sh Shard) bool { return sh.Replicas[0] == s.Addr }); {
		case s.Kind != StepMeet:
			t.Fatalf("%s: want a meet", s)
		case s.Target == "10.0.1.1:6379":
			toHub[s.Addr] = true
		case i >= 0 && s.Target == d.Shards[i].Master:
			toMaster[s.Addr] = true
		default:
			t.Fatalf("%s: want a meet to the hub or to the node's master", s)
		}
	}
	if len(toHub) != 23 || len(toMaster) != 11 || toMaster["10.0.1.13:6379"] {
		t.Fatalf("to the hub %d, to their master %d (%v)", len(toHub), len(toMaster), toMaster)
	}
	// A node or two missing are met pairwise, even in a large cluster.
	nodes = nil
	for i, sh := range d.Shards {
		nodes = append(nodes, fakeNode{addr: sh.Master, id: fid(i + 1), slots: sh.Slots.String()},
			fakeNode{addr: sh.Replicas[0], id: fid(100 + i), master: fid(i + 1)})
	}
	nodes[0].knows = []string{fid(100)}
	p = newPlanner(d, fakeObserved(t, nodes))
	p.actingMasters()
	if steps, hub := p.meetSteps(); hub != "" || len(steps) != 22 {
		t.Fatalf("one node lost: hub %q, %d meets: %v", hub, len(steps), steps)
	}
}

func TestPlanHubWaitsAfterReplicate(t *testing.T) {
	// A hub plan with only REPLICATE to follow waits for the mesh after
	// it: the replicas follow their masters while gossip spreads.
	d, nodes := freshShards(12)
	steps, err := Plan(d, fakeObserved(t, nodes))
	if err != nil {
		t.Fatal(err)
	}
	wait := slices.IndexFunc(steps, func(s Step) bool { return s.Kind == StepWaitKnown })
	last := -1
	for i, s := range steps {
		if s.Kind == StepReplicate {
			last = i
		}
	}
	if wait < 0 || last < 0 || wait < last || steps[wait+1].Kind != StepAnnounce {
		t.Fatalf("wait at %d, last replicate at %d: %v", wait, last, steps)
	}
}

func TestPlannerRoleSteps(t *testing.T) {
	// Failback: the declared master follows the acting one: failover.
	p := newPlanner(desired3x2(true), fakeObserved(t, failedOver()))
	p.actingMasters()
	steps, err := p.roleSteps()
	if err != nil || len(steps) != 1 || steps[0].Kind != StepFailover || steps[0].Addr != "10.0.0.11:6379" || p.partial {
		t.Fatalf("failback: %v %v partial=%t", steps, err, p.partial)
	}
	// The declared master is an empty master: it first follows the acting
	// one, and the round expects that partial state.
	nodes := failedOver()
	nodes[0].master = ""
	p = newPlanner(desired3x2(true), fakeObserved(t, nodes))
	p.actingMasters()
	steps, err = p.roleSteps()
	if err != nil || len(steps) != 1 || steps[0].Kind != StepReplicate || steps[0].Target != "10.0.0.15:6379" ||
		!p.partial || p.expect.Shards[0].Master != "10.0.0.15:6379" {
		t.Fatalf("re-point: %v %v partial=%t expect=%v", steps, err, p.partial, p.expect.Shards[0])
	}
	// A declared replica of .12 serving slots this round does not move
	// (no move phase ran: nothing is outgoing): refused, naming it.
	d := desired3x2(true)
	d.Shards[1].Replicas = append(d.Shards[1].Replicas, "10.0.0.21:6379")
	p = newPlanner(d, fakeObserved(t, withNode(fakeNode{addr: "10.0.0.21:6379", id: fid(21), slots: "0-10", epoch: 9})))
	p.actingMasters()
	if _, err := p.roleSteps(); err == nil || !strings.Contains(err.Error(), "10.0.0.21:6379 is declared a replica") {
		t.Fatalf("want a refusal naming 10.0.0.21:6379, got %v", err)
	}
}

func TestPlannerRemovalSteps(t *testing.T) {
	d := desired3x2(true)
	d.Remove = []string{"10.0.0.21:6379"}
	p := newPlanner(d, fakeObserved(t, withNode(fakeNode{addr: "10.0.0.21:6379", id: fid(21), epoch: 1})))
	p.actingMasters()
	steps := p.removalSteps()
	if len(steps) != 7 || steps[0].Kind != StepDrop || steps[6].Kind != StepReset || steps[6].Addr != "10.0.0.21:6379" || p.deferred {
		t.Fatalf("removal of an empty node: %v", steps)
	}
	// A leaving node that still serves slots nothing moves: later.
	p = newPlanner(d, fakeObserved(t, withNode(fakeNode{addr: "10.0.0.21:6379", id: fid(21), slots: "0-10", epoch: 9})))
	p.actingMasters()
	if steps := p.removalSteps(); len(steps) != 0 || !p.deferred {
		t.Fatalf("removal of a serving node: %v deferred=%t", steps, p.deferred)
	}
}

func TestPlannerAnnounceSteps(t *testing.T) {
	p := newPlanner(desired3x2(true), fakeObserved(t, healthy3x2()))
	if steps := p.announceSteps(false); len(steps) != 0 {
		t.Fatalf("nothing changed: %v", steps)
	}
	steps := p.announceSteps(true)
	if len(steps) != 31 || steps[0].Kind != StepAnnounce || steps[30].Kind != StepWaitReady || steps[30].Expect != nil {
		t.Fatalf("announce: %d steps, last %v", len(steps), steps[len(steps)-1])
	}
	p.partial = true
	if steps := p.announceSteps(true); steps[30].Expect == nil {
		t.Fatal("a partial round waits for its expected state")
	}
	p.deferred = true
	if steps := p.announceSteps(true); len(steps) != 30 {
		t.Fatalf("a deferred round does not wait: %d steps", len(steps))
	}
}

// A declared master that replicates a master of another shard (Redis
// makes a master that gives its last slot away a replica of the node that
// took it) is reset to a master and met again, first thing in the plan.
func TestPlannerDetachSteps(t *testing.T) {
	all := NewSlotSet(SlotRange{0, SlotCount - 1})
	d := Desired{Shards: []Shard{
		{Master: "10.0.0.11:6379", Replicas: []string{"10.0.0.15:6379"}, Slots: all},
		{Master: "10.0.0.12:6379"},
	}}
	nodes := []fakeNode{
		{addr: "10.0.0.11:6379", id: fid(1), slots: "0-16383", epoch: 2},
		{addr: "10.0.0.12:6379", id: fid(2), master: fid(1), epoch: 2},
		{addr: "10.0.0.15:6379", id: fid(5), master: fid(1), epoch: 2},
	}
	steps, err := Plan(d, fakeObserved(t, nodes))
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) == 0 || steps[0].Kind != StepDetach || steps[0].Addr != "10.0.0.12:6379" || steps[0].Target != "10.0.0.11:6379" ||
		steps[0].TargetID != fid(1) || steps[0].Port != 6379 || !strings.Contains(steps[0].Why, "declared master 10.0.0.12:6379 is a replica of 10.0.0.11:6379") {
		t.Fatalf("want a detach of .12 from .11 first, got %v", steps)
	}
	if k := kinds(steps); k[StepWaitKnown] != 1 || k[StepWaitReady] != 1 || k[StepReplicate] != 0 {
		t.Fatalf("want the detached node met before the rest, then a wait: %v", steps)
	}
	// The same shard declared with slots: it is detached, then they move.
	d.Shards[0].Slots, d.Shards[1].Slots = NewSlotSet(SlotRange{0, 8191}), NewSlotSet(SlotRange{8192, 16383})
	steps, err = Plan(d, fakeObserved(t, nodes))
	if err != nil {
		t.Fatal(err)
	}
	if k := kinds(steps); steps[0].Kind != StepDetach || k[StepMoveSlots] != 1 {
		t.Fatalf("want a detach then a move: %v", steps)
	}
	// A fail-back is no detach: .11 replicates .15, of its own shard.
	if steps, err := Plan(desired3x2(true), fakeObserved(t, failedOver())); err != nil || kinds(steps)[StepDetach] != 0 {
		t.Fatalf("fail-back: %v %v", steps, err)
	}
	// The master it replicates is not read: it may hold the only copy.
	nodes[1].master = fid(99)
	nodes = append(nodes, fakeNode{addr: "10.0.0.99:6379", id: fid(99), epoch: 2})
	obs := fakeObserved(t, nodes)
	delete(obs.Nodes, "10.0.0.99:6379")
	d.Shards[1].Slots, d.Shards[0].Slots = SlotSet{}, all
	_, err = Plan(d, obs)
	if err == nil || !strings.Contains(err.Error(), "10.0.0.12:6379 is declared master of shard 2 but replicates") || !strings.Contains(err.Error(), "only copy") {
		t.Fatalf("want an error naming .12 and the risk, got %v", err)
	}
}

// TestPlannerIntroductions: a declaration that replaces every member at
// once (two lone new masters; the two old masters serving every slot are
// removed) meets the first declared node with each old master, which no
// declared node knows; once one declared node knows them, no introduction.
func TestPlannerIntroductions(t *testing.T) {
	split := EvenSplit(2)
	d := Desired{Shards: []Shard{
		{Master: "10.0.2.3:6379", Slots: split[0]},
		{Master: "10.0.2.4:6379", Slots: split[1]},
	}, Remove: []string{"10.0.2.1:6379", "10.0.2.2:6379"}}
	old := []fakeNode{
		{addr: "10.0.2.1:6379", id: fid(1), slots: split[1].String(), epoch: 1, knows: []string{fid(2)}},
		{addr: "10.0.2.2:6379", id: fid(2), slots: split[0].String(), epoch: 2, knows: []string{fid(1)}},
	}
	fresh := []fakeNode{
		{addr: "10.0.2.3:6379", id: fid(3), knows: []string{}},
		{addr: "10.0.2.4:6379", id: fid(4), knows: []string{}},
	}
	steps, _ := newPlanner(d, fakeObserved(t, append(slices.Clone(old), fresh...))).meetSteps()
	intro := map[string]bool{}
	for _, s := range steps {
		if s.Kind == StepMeet && s.Addr == "10.0.2.3:6379" && (s.Target == "10.0.2.1:6379" || s.Target == "10.0.2.2:6379") {
			intro[s.Target] = true
			if !strings.Contains(s.Why, "no declared node knows it") {
				t.Errorf("%s: why %q", s, s.Why)
			}
		}
	}
	if len(intro) != 2 {
		t.Fatalf("meets %v: want 10.0.2.3 to meet both old masters", steps)
	}
	// The new nodes know one old master: gossip joins the rest.
	fresh[0].knows = []string{fid(1), fid(4)}
	fresh[1].knows = []string{fid(3)}
	steps, _ = newPlanner(d, fakeObserved(t, append(slices.Clone(old), fresh...))).meetSteps()
	for _, s := range steps {
		if strings.Contains(s.Why, "no declared node knows it") && s.Target == "10.0.2.1:6379" {
			t.Fatalf("%s: 10.0.2.3 knows 10.0.2.1 already", s)
		}
	}
}
