package cluster

import (
	"encoding/binary"
	"reflect"
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

// TestSlotSetCopiesAreIndependent: copies share a bitmap until one
// changes, and an empty set is always the zero value.
func TestSlotSetCopiesAreIndependent(t *testing.T) {
	a := NewSlotSet(SlotRange{0, 10})
	b := a
	b.Add(100)
	b.Remove(0)
	c := a
	c.AddRange(SlotRange{20, 30})
	if a.String() != "0-10" || b.String() != "1-10,100" || c.String() != "0-10,20-30" {
		t.Fatalf("a %s, b %s, c %s: want 0-10, 1-10,100, 0-10,20-30", a, b, c)
	}
	var e SlotSet
	e.AddRange(SlotRange{5, 3})
	e.Add(1)
	e.Remove(1)
	for name, s := range map[string]SlotSet{"emptied": e, "a minus a": a.Minus(a), "a∩{}": a.Intersect(SlotSet{}),
		"built empty": (&SlotBuilder{}).Set(), "full complement": a.Union(a.Complement()).Complement()} {
		if !s.Empty() || !reflect.DeepEqual(s, SlotSet{}) || s.Len() != 0 || s.First() != -1 {
			t.Errorf("%s: %v is not the zero set", name, s)
		}
	}
	if !a.Equal(NewSlotSet(SlotRange{0, 10})) || a.Equal(b) {
		t.Fatal("Equal compares contents")
	}
}
