package cluster

import (
	"encoding/binary"
	"slices"
	"testing"
)

// naiveRanges and naiveSlots are the slot-by-slot definitions that Ranges
// and Slots (word by word) must match.
func naiveRanges(s SlotSet) []SlotRange {
	var out []SlotRange
	for i := 0; i < SlotCount; i++ {
		if !s.Has(i) {
			continue
		}
		j := i
		for j+1 < SlotCount && s.Has(j+1) {
			j++
		}
		out = append(out, SlotRange{i, j})
		i = j
	}
	return out
}

func naiveSlots(s SlotSet) []int {
	out := []int{}
	for i := 0; i < SlotCount; i++ {
		if s.Has(i) {
			out = append(out, i)
		}
	}
	return out
}

func TestSlotSetRangesEdges(t *testing.T) {
	for _, c := range []struct {
		name string
		set  SlotSet
		want string
	}{
		{"empty", SlotSet{}, ""},
		{"all", NewSlotSet(SlotRange{0, SlotCount - 1}), "0-16383"},
		{"word edges", NewSlotSet(SlotRange{63, 64}, SlotRange{127, 127}, SlotRange{191, 256}), "63-64,127,191-256"},
		{"last slot", NewSlotSet(SlotRange{16383, 16383}), "16383"},
		{"full words then bits", NewSlotSet(SlotRange{0, 200}, SlotRange{202, 202}), "0-200,202"},
		{"even split", EvenSplit(3)[1], "5461-10922"},
	} {
		if got := c.set.String(); got != c.want {
			t.Errorf("%s: String() = %q, want %q", c.name, got, c.want)
		}
		if got, want := c.set.Ranges(), naiveRanges(c.set); !slices.Equal(got, want) {
			t.Errorf("%s: Ranges() = %v, want %v", c.name, got, want)
		}
	}
}

// FuzzSlotSetRanges: Ranges and Slots agree with the slot-by-slot
// definitions on any set (the input bytes are runs: start, length).
func FuzzSlotSetRanges(f *testing.F) {
	f.Add([]byte{0, 0, 0, 64})
	f.Add([]byte{0, 63, 0, 2, 63, 255, 0, 1})
	f.Add([]byte{0, 0, 255, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		var s, byRange SlotSet
		for len(data) >= 4 {
			start := int(binary.BigEndian.Uint16(data)) % SlotCount
			n := int(binary.BigEndian.Uint16(data[2:])) % 300
			for i := start; i < start+n && i < SlotCount; i++ {
				s.Add(i)
			}
			if end := min(start+n, SlotCount) - 1; end >= start {
				byRange.AddRange(SlotRange{start, end})
			}
			data = data[4:]
		}
		if !byRange.Equal(s) {
			t.Fatalf("AddRange gave %v, Add slot by slot %v", byRange, s)
		}
		if got, want := s.Ranges(), naiveRanges(s); !slices.Equal(got, want) {
			t.Fatalf("Ranges() = %v, want %v", got, want)
		}
		if got, want := s.Slots(), naiveSlots(s); !slices.Equal(got, want) {
			t.Fatalf("Slots() = %v, want %v", got, want)
		}
	})
}
