package cluster

import (
	"testing"
)

// withNode is healthy3x2 plus extra nodes.
func withNode(extra ...fakeNode) []fakeNode { return append(healthy3x2(), extra...) }

// TestPlanTakeoverByFailover: a new, empty master replacing .11 (which is
// removed) joins as its replica first, and .11 is neither forgotten nor
// reset while it still serves the shard; no key moves.
func TestPlanTakeoverByFailover(t *testing.T) {
	d := desired3x2(true)
	d.Shards[0].Master = "10.0.0.21:6379"
	d.Remove = []string{"10.0.0.11:6379"}
	obs := fakeObserved(t, withNode(fakeNode{addr: "10.0.0.21:6379", id: fid(21), epoch: 1}))
	steps, err := Plan(d, obs)
	if err != nil {
		t.Fatal(err)
	}
	k := kinds(steps)
	if k[StepMoveSlots] != 0 || k[StepDrop] != 0 || k[StepReset] != 0 || k[StepWaitReady] != 0 {
		t.Errorf("want no moves, no removal and no wait while the shard is handed over: %v", k)
	}
	var rep *Step
	for i, s := range steps {
		if s.Kind == StepReplicate && s.Addr == "10.0.0.21:6379" {
			rep = &steps[i]
		}
	}
	if rep == nil || rep.Target != "10.0.0.11:6379" {
		t.Fatalf("want 10.0.0.21 to replicate 10.0.0.11 first, got %v", steps)
	}

	// Next round: it follows .11, so it fails over.
	obs = fakeObserved(t, withNode(fakeNode{addr: "10.0.0.21:6379", id: fid(21), master: fid(1), epoch: 1}))
	steps, err = Plan(d, obs)
	if err != nil {
		t.Fatal(err)
	}
	if k := kinds(steps); k[StepFailover] != 1 || k[StepMoveSlots] != 0 || k[StepDrop] != 0 {
		t.Fatalf("want one failover and nothing else changing: %v", steps)
	}
}

// TestPlanTakeoverNeedsAnEmptyMaster: a new master that holds keys cannot
// replicate; the slots move with their keys instead.
func TestPlanTakeoverNeedsAnEmptyMaster(t *testing.T) {
	d := desired3x2(true)
	d.Shards[0].Master = "10.0.0.21:6379"
	d.Remove = []string{"10.0.0.11:6379"}
	obs := fakeObserved(t, withNode(fakeNode{addr: "10.0.0.21:6379", id: fid(21), epoch: 1}))
	obs.Node("10.0.0.21:6379").Keys = 5
	steps, err := Plan(d, obs)
	if err != nil {
		t.Fatal(err)
	}
	if k := kinds(steps); k[StepMoveSlots] != 1 || k[StepFailover] != 0 {
		t.Fatalf("want the slots moved with their keys: %v", steps)
	}
}

// TestPlanHoldsLastSlot: .11's whole range moves to .12 while .11 receives
// .12's range. .11 keeps its last slot until it has received the others,
// else Redis would turn it into a replica (it gave its last slot away).
func TestPlanHoldsLastSlot(t *testing.T) {
	d := desired3x2(true)
	d.Shards[0].Slots, d.Shards[1].Slots = d.Shards[1].Slots, d.Shards[0].Slots
	steps, err := Plan(d, fakeObserved(t, healthy3x2()))
	if err != nil {
		t.Fatal(err)
	}
	var moves []Step
	for _, s := range steps {
		if s.Kind == StepMoveSlots {
			moves = append(moves, s)
		}
	}
	// Each master keeps one slot back for a last wave, after it has
	// received the other's range.
	if len(moves) != 4 {
		t.Fatalf("want 4 moves (two ranges, two held-back slots), got %v", moves)
	}
	for _, src := range []string{"10.0.0.11:6379", "10.0.0.12:6379"} {
		lastOut, firstIn := -1, 1<<30
		for _, m := range moves {
			if m.Addr == src {
				lastOut = max(lastOut, m.Wave)
			}
			if m.Target == src && m.Slots.Len() > 1 {
				firstIn = min(firstIn, m.Wave)
			}
		}
		if lastOut <= firstIn {
			t.Errorf("%s gives its last slot in wave %d, before it receives its range (wave %d): %v", src, lastOut, firstIn, moves)
		}
	}
	var all SlotSet
	for _, m := range moves {
		all = all.Union(m.Slots)
	}
	if want := d.Shards[0].Slots.Union(d.Shards[1].Slots); !all.Equal(want) {
		t.Errorf("moves cover %s, want %s", all, want)
	}
}

// TestPlanDefersReplicaOfEmptiedMaster: .12 is declared a replica of .11
// in the apply that moves all its slots away: no error, no REPLICATE yet
// (it is still a master serving slots), and no readiness wait: the next
// round re-points it.
func TestPlanDefersReplicaOfEmptiedMaster(t *testing.T) {
	split := EvenSplit(2)
	d := Desired{Failback: true, Shards: []Shard{
		{Master: "10.0.0.11:6379", Replicas: []string{"10.0.0.15:6379", "10.0.0.12:6379"}, Slots: split[0]},
		{Master: "10.0.0.13:6379", Replicas: []string{"10.0.0.14:6379", "10.0.0.16:6379"}, Slots: split[1]},
	}}
	steps, err := Plan(d, fakeObserved(t, healthy3x2()))
	if err != nil {
		t.Fatalf("a master emptied by the same apply must not be refused: %v", err)
	}
	k := kinds(steps)
	if k[StepWaitReady] != 0 {
		t.Errorf("a round that leaves a re-point for the next must not wait for the end state: %v", k)
	}
	for _, s := range steps {
		if s.Kind == StepReplicate && s.Addr == "10.0.0.12:6379" {
			t.Errorf("10.0.0.12 still serves slots: it cannot replicate yet: %v", s)
		}
	}
	if k[StepMoveSlots] == 0 {
		t.Errorf("want .12's slots moved away: %v", steps)
	}
}
