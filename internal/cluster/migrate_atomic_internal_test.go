package cluster

import (
	"context"
	"testing"
)

// TestSkipAnnounces: the announce round is dropped only from a plan whose
// changes are all atomic moves that leave each source a slot.
func TestSkipAnnounces(t *testing.T) {
	r := func(a, b int) SlotSet { return NewSlotSet(SlotRange{a, b}) }
	node := func(engine, version string, slots SlotSet) *NodeState {
		return &NodeState{Engine: engine, EngineVersion: version, ID: "id", View: []NodeLine{{Flags: []string{"myself", "master"}, Slots: slots}}}
	}
	obs := func(engine, version string) *Observed {
		return &Observed{Nodes: map[string]*NodeState{
			"a:1": node(engine, version, r(0, 5460)), "b:1": node(engine, version, r(5461, 10922)), "c:1": node(engine, version, r(10923, 16383))}}
	}
	announce := []Step{{Kind: StepAnnounce, Addr: "a:1", Target: "b:1"}, {Kind: StepAnnounce, Addr: "b:1", Target: "a:1"}, {Kind: StepWaitReady}}
	move := func(from, to string, slots SlotSet) Step {
		return Step{Kind: StepMoveSlots, Addr: from, Target: to, Slots: slots}
	}
	for _, c := range []struct {
		name           string
		engine         string
		version        string
		steps          []Step
		keyByKey, skip bool
	}{
		{"atomic moves", "redis", "8.6.3", []Step{move("a:1", "b:1", r(0, 99)), move("c:1", "b:1", r(10923, 11000))}, false, true},
		{"valkey", "valkey", "9.1.2", []Step{move("a:1", "b:1", r(0, 99))}, false, true},
		{"MIGRATE engine", "redis", "7.0.15", []Step{move("a:1", "b:1", r(0, 99))}, false, false},
		{"forced MIGRATE", "redis", "8.6.3", []Step{move("a:1", "b:1", r(0, 99))}, true, false},
		{"last slot", "redis", "8.6.3", []Step{move("a:1", "b:1", r(0, 5460))}, false, false},
		{"last slots over two moves", "redis", "8.6.3", []Step{move("a:1", "b:1", r(0, 99)), move("a:1", "c:1", r(100, 5460))}, false, false},
		{"another change", "redis", "8.6.3", []Step{move("a:1", "b:1", r(0, 99)), {Kind: StepReplicate, Addr: "c:1", Target: "a:1"}}, false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := &Executor{KeyByKey: c.keyByKey}
			steps := append(append([]Step(nil), c.steps...), announce...)
			got := e.skipAnnounces(context.Background(), obs(c.engine, c.version), steps)
			want := len(steps)
			if c.skip {
				want -= 2
			}
			if len(got) != want {
				t.Fatalf("%d steps left of %d, want %d: %v", len(got), len(steps), want, got)
			}
			if got[len(got)-1].Kind != StepWaitReady {
				t.Fatal("the readiness wait was dropped")
			}
		})
	}
}
