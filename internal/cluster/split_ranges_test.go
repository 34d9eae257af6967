package cluster

import "testing"

func TestEvenSplitRangesIsEvenSplit(t *testing.T) {
	for _, n := range []int{0, -1, SlotCount + 1} {
		if EvenSplitRanges(n) != nil {
			t.Errorf("EvenSplitRanges(%d) is not nil", n)
		}
	}
	for _, n := range []int{1, 2, 3, 7, 50, 2688, 7542, 9999, SlotCount} {
		rs, sets := EvenSplitRanges(n), EvenSplit(n)
		if len(rs) != n || len(sets) != n {
			t.Fatalf("n=%d: %d ranges, %d sets", n, len(rs), len(sets))
		}
		for i := range rs {
			if !sets[i].Equal(NewSlotSet(rs[i])) {
				t.Fatalf("n=%d master %d: range %s, set %s", n, i, rs[i], sets[i])
			}
		}
	}
}
