package cluster

import (
	"fmt"
	"testing"
	"time"
)

// grid returns, for each of nodes nodes, MEETs to perNode peers it does
// not know: the same pairs for the same arguments.
func grid(nodes, perNode int) []Step {
	var out []Step
	for i := range nodes {
		for j := range perNode {
			out = append(out, Step{Kind: StepMeet, Addr: fmt.Sprintf("10.0.0.%d:6379", i), Target: fmt.Sprintf("10.0.1.%d:6379", j)})
		}
	}
	return out
}

func TestMeetTrackerLeavesGossipItsTime(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tr := &meetTracker{nodes: 200}
	// Most of the mesh still forming: never met directly while the count
	// shrinks.
	for i, perNode := range []int{99, 50, 20, 5} {
		if due := tr.due(grid(200, perNode), t0.Add(time.Duration(i)*700*time.Millisecond)); len(due) != 0 {
			t.Fatalf("read %d (%d pairs missing): %d meets, want none while gossip progresses", i, 200*perNode, len(due))
		}
	}
	// Few pairs left (at most one per node), missing since the first
	// read: all met at once, then not again for meetStall.
	t1 := t0.Add(3 * time.Second)
	if due := tr.due(grid(150, 1), t1); len(due) != 150 {
		t.Fatalf("%d meets for 150 pairs missing for 3 s, want 150", len(due))
	}
	if due := tr.due(grid(120, 1), t1.Add(500*time.Millisecond)); len(due) != 0 {
		t.Fatalf("%d meets 0.5 s after meeting them, want none", len(due))
	}
	if due := tr.due(grid(100, 1), t1.Add(1100*time.Millisecond)); len(due) != 100 {
		t.Fatalf("%d meets 1.1 s after meeting them, want the 100 pairs left", len(due))
	}
	// A pair first seen missing gets meetStall before its MEET.
	fresh := []Step{{Kind: StepMeet, Addr: "10.0.5.1:6379", Target: "10.0.5.2:6379"}}
	t2 := t1.Add(1200 * time.Millisecond)
	if due := tr.due(fresh, t2); len(due) != 0 {
		t.Fatalf("%d meets for a pair just seen missing, want none", len(due))
	}
	if due := tr.due(fresh, t2.Add(1100*time.Millisecond)); len(due) != 1 {
		t.Fatalf("%d meets for the pair still missing after 1.1 s, want 1", len(due))
	}
}

func TestMeetTrackerMeetsAllWhenStuck(t *testing.T) {
	t0 := time.Unix(1000, 0)
	tr := &meetTracker{nodes: 20}
	if due := tr.due(grid(60, 1), t0); len(due) != 0 {
		t.Fatalf("first read: %d meets", len(due))
	}
	if due := tr.due(grid(60, 1), t0.Add(500*time.Millisecond)); len(due) != 0 {
		t.Fatalf("0.5 s without progress: %d meets, want none yet", len(due))
	}
	if due := tr.due(grid(60, 1), t0.Add(1100*time.Millisecond)); len(due) != 60 {
		t.Fatalf("1.1 s without progress: %d meets, want all 60", len(due))
	}
	if due := tr.due(grid(60, 1), t0.Add(1600*time.Millisecond)); len(due) != 0 {
		t.Fatalf("0.5 s after meeting all: %d meets, want none", len(due))
	}
}

func TestShowsAsIs(t *testing.T) {
	obs := fakeObserved(t, healthy3x2())
	if !showsAsIs(obs, "10.0.0.12:6379", "10.0.0.11:6379") || !showsAsIs(obs, "10.0.0.11:6379", "10.0.0.14:6379") {
		t.Fatal("a healthy cluster: every node shows every other as it is")
	}
	// .12 still sees .14 as a master (it has not heard of its REPLICATE).
	nodes := healthy3x2()
	stale := fakeObserved(t, nodes)
	for i := range stale.Nodes["10.0.0.12:6379"].View {
		if l := &stale.Nodes["10.0.0.12:6379"].View[i]; l.ID == stale.ID("10.0.0.14:6379") {
			l.MasterID, l.Flags = "", []string{"master"}
		}
	}
	if showsAsIs(stale, "10.0.0.12:6379", "10.0.0.14:6379") {
		t.Fatal(".12 shows .14 as a master: an announce is needed")
	}
	if !showsAsIs(stale, "10.0.0.13:6379", "10.0.0.14:6379") {
		t.Fatal(".13 shows .14 as it is")
	}
}
