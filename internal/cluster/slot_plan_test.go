package cluster

import (
	"fmt"
	"testing"
)

func rng(a, b int) SlotSet { return NewSlotSet(SlotRange{a, b}) }

// checkPartition fails unless sets cover every slot exactly once.
func checkPartition(t *testing.T, sets []SlotSet) {
	t.Helper()
	var all SlotSet
	for i, s := range sets {
		if ov := all.Intersect(s); !ov.Empty() {
			t.Fatalf("shard %d: slots %s are also in an earlier shard (%v)", i, ov, sets)
		}
		all = all.Union(s)
	}
	if len(sets) > 0 && !all.Full() {
		t.Fatalf("slots %s are in no shard", all.Complement())
	}
}

func TestPlanSlots(t *testing.T) {
	a := Shard{Master: "a:1", Replicas: []string{"a:2"}}
	b := Shard{Master: "b:1"}
	c := Shard{Master: "c:1"}
	with := func(s Shard, slots SlotSet) Shard { s.Slots = slots; return s }
	even2, even3 := EvenSplit(2), EvenSplit(3)
	for _, tc := range []struct {
		name   string
		shards []Shard
		prior  *SlotHistory
		want   []SlotSet
	}{
		{"a new cluster splits evenly", []Shard{a, b, c}, nil, even3},
		{"unchanged shards keep their slots", []Shard{a, b},
			&SlotHistory{Shards: []Shard{with(a, rng(0, 99)), with(b, rng(100, 16383))}}, []SlotSet{rng(0, 99), rng(100, 16383)}},
		{"shards match by any member, in any order", []Shard{b, {Master: "a:2", Replicas: []string{"a:1"}}},
			&SlotHistory{Shards: []Shard{with(a, even2[0]), with(b, even2[1])}}, []SlotSet{even2[1], even2[0]}},
		{"the slots nodes served count for their shard", []Shard{a, b},
			&SlotHistory{Shards: []Shard{with(a, rng(0, 8000)), with(b, rng(8192, 16383))}, Served: map[string]SlotSet{"a:1": rng(0, 8191)}},
			[]SlotSet{rng(0, 8191), rng(8192, 16383)}},
		{"a new shard takes an even share from the largest", []Shard{a, b, c},
			&SlotHistory{Shards: []Shard{with(a, even2[0]), with(b, even2[1])}},
			[]SlotSet{rng(0, 5461), rng(8192, 13652), rng(5462, 8191).Union(rng(13653, 16383))}},
		{"a removed shard's slots are shared out", []Shard{a, b},
			&SlotHistory{Shards: []Shard{with(a, even3[0]), with(b, even3[1]), with(c, even3[2])}},
			[]SlotSet{even3[0].Union(rng(10923, 13653)), even3[1].Union(rng(13654, 16383))}},
		{"an existing cluster without shards stays empty", nil, &SlotHistory{}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := PlanSlots(tc.shards, tc.prior)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Fatalf("PlanSlots = %v, want %v", got, tc.want)
			}
			checkPartition(t, got)
		})
	}
}

func TestClusterID(t *testing.T) {
	obs := &Observed{Nodes: map[string]*NodeState{"a:1": {ID: "ida"}, "b:1": {ID: "idb"}}}
	d := Desired{Shards: []Shard{{Master: "a:1", Slots: rng(1, 16383)}, {Master: "b:1", Slots: rng(0, 0)}}}
	if got := ClusterID(obs, d); got != "idb" {
		t.Fatalf("ClusterID = %q, want idb", got)
	}
	d.Shards[1].Slots = SlotSet{}
	if got := ClusterID(obs, d); got != "" {
		t.Fatalf("ClusterID without slot 0 = %q", got)
	}
}

// FuzzPlanSlots: for any shards and history, every shard gets slots, the
// slots cover 0-16383 exactly once, a rebalance gives even shares, and a
// cluster whose shards did not change keeps every slot where it was.
func FuzzPlanSlots(f *testing.F) {
	f.Add(uint64(1), uint8(3), uint8(3), uint8(0))
	f.Add(uint64(2), uint8(3), uint8(0), uint8(255))
	f.Add(uint64(3), uint8(1), uint8(5), uint8(7))
	f.Add(uint64(4), uint8(6), uint8(2), uint8(1))
	f.Add(uint64(5), uint8(0), uint8(2), uint8(2))
	f.Fuzz(func(t *testing.T, seed uint64, nNew, nOld, mix uint8) {
		sm := splitMix64(seed)
		r := &sm
		nNew, nOld = nNew%8, nOld%8
		// Nodes n0..n9; each shard a master and maybe a replica.
		shard := func() Shard {
			s := Shard{Master: fmt.Sprintf("n%d:1", r.intn(10))}
			if r.intn(2) == 0 {
				s.Replicas = []string{fmt.Sprintf("n%d:1", r.intn(10))}
			}
			return s
		}
		shards := make([]Shard, nNew)
		for i := range shards {
			shards[i] = shard()
		}
		var prior *SlotHistory
		if mix&1 == 0 {
			prior = &SlotHistory{Served: map[string]SlotSet{}}
			old := EvenSplit(int(nOld))
			for i := range old {
				s := shard()
				s.Slots = old[i]
				if mix&2 != 0 && r.intn(3) == 0 { // a slot half-moved, or lost
					s.Slots.Remove(r.intn(SlotCount))
				}
				prior.Shards = append(prior.Shards, s)
			}
			if mix&4 != 0 {
				prior.Served[fmt.Sprintf("n%d:1", r.intn(10))] = rng(r.intn(100), 100+r.intn(16000))
			}
		}
		got := PlanSlots(shards, prior)
		if len(got) != len(shards) {
			t.Fatalf("%d sets for %d shards", len(got), len(shards))
		}
		checkPartition(t, got)
		if prior == nil {
			return
		}
		current, _, same := priorSlots(shards, prior.Shards, prior.Served)
		for i := range got {
			if same && !got[i].Equal(current[i]) {
				t.Fatalf("shard %d: unchanged cluster moved slots: %s -> %s", i, current[i], got[i])
			}
			if n := got[i].Len(); !same && (n < SlotCount/len(got) || n > SlotCount/len(got)+1) {
				t.Fatalf("shard %d: %d slots after a rebalance over %d shards", i, n, len(got))
			}
		}
		// Planning again from the plan moves nothing.
		again := make([]Shard, len(shards))
		for i := range shards {
			again[i] = shards[i]
			again[i].Slots = got[i]
		}
		if overlapsWithin(shards) {
			return // two shards share a node: a config the provider rejects
		}
		if len(shards) > 0 {
			if regot := PlanSlots(shards, &SlotHistory{Shards: again}); fmt.Sprint(regot) != fmt.Sprint(got) {
				t.Fatalf("planning again moved slots: %v -> %v", got, regot)
			}
		}
	})
}

// overlapsWithin tells whether two shards share a member.
func overlapsWithin(shards []Shard) bool {
	for i := range shards {
		for j := i + 1; j < len(shards); j++ {
			if overlaps(shards[i].Members(), shards[j].Members()) {
				return true
			}
		}
	}
	return false
}
