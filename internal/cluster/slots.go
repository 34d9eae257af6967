package cluster

import (
	"fmt"
	"math/bits"
	"sort"
	"strconv"
	"strings"
)

// SlotCount is the number of hash slots in a Redis Cluster.
const SlotCount = 16384

// SlotRange is an inclusive range of hash slots, Start <= End.
type SlotRange struct {
	Start, End int
}

// String renders the range as redis-cli does: "n" for one slot, "a-b" otherwise.
func (r SlotRange) String() string {
	if r.Start == r.End {
		return strconv.Itoa(r.Start)
	}
	return fmt.Sprintf("%d-%d", r.Start, r.End)
}

// Len is the number of slots in the range.
func (r SlotRange) Len() int { return r.End - r.Start + 1 }

// ParseSlotRange parses "n" or "a-b" and checks the bounds 0-16383.
func ParseSlotRange(s string) (SlotRange, error) {
	s = strings.TrimSpace(s)
	a, b, isRange := strings.Cut(s, "-")
	start, err := parseSlot(a)
	if err != nil {
		return SlotRange{}, fmt.Errorf("%q: %w", s, err)
	}
	end := start
	if isRange {
		if end, err = parseSlot(b); err != nil {
			return SlotRange{}, fmt.Errorf("%q: %w", s, err)
		}
	}
	if end < start {
		return SlotRange{}, fmt.Errorf("%q: range end %d is below its start %d", s, end, start)
	}
	return SlotRange{start, end}, nil
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func parseSlot(s string) (int, error) {
	if s == "" || !allDigits(s) {
		return 0, fmt.Errorf("not a slot number (want \"n\" or \"a-b\" with 0 <= n <= %d)", SlotCount-1)
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("not a slot number (want \"n\" or \"a-b\" with 0 <= n <= %d)", SlotCount-1)
	}
	if n < 0 || n >= SlotCount {
		return 0, fmt.Errorf("slot %d is outside 0-%d", n, SlotCount-1)
	}
	return n, nil
}

// slotWords is a bitmap of the 16384 slots.
type slotWords [SlotCount / 64]uint64

// noWords reads as the empty bitmap; it is never written.
var noWords slotWords

// SlotSet is a set of hash slots. The zero value is empty and ready to use,
// and copies are independent, as with a value type: the 2 kB bitmap is
// shared between copies and never changed once a set holds it; Add, Remove
// and AddRange give the set a changed copy. A node's view of a 200-node
// cluster holds 200 lines, and a refresh reads 200 views: lines without
// slots carry no bitmap, and lines that agree share one (see parseCache).
// To add many slots one by one, use a SlotBuilder. Sets are not comparable
// with ==; use Equal.
type SlotSet struct {
	_ [0]func() // == would compare the bitmaps' addresses
	w *slotWords
}

// words returns the set's bitmap for reading.
func (s SlotSet) words() *slotWords {
	if s.w == nil {
		return &noWords
	}
	return s.w
}

// setOf returns the set with bitmap w, which the caller gives up; nil when
// w holds no slot, so that an empty set is always the zero value.
func setOf(w *slotWords) SlotSet {
	if *w == noWords {
		return SlotSet{}
	}
	return SlotSet{w: w}
}

// edit returns a private copy of the bitmap for s to change.
func (s *SlotSet) edit() *slotWords {
	w := new(slotWords)
	if s.w != nil {
		*w = *s.w
	}
	s.w = w
	return w
}

// SlotBuilder collects slots one at a time without copying a bitmap per
// slot; Set returns what it holds. The zero value is empty.
type SlotBuilder struct {
	w slotWords
}

// Add puts one slot in the builder. Slots outside 0-16383 panic.
func (b *SlotBuilder) Add(slot int) { b.w[slot>>6] |= 1 << (uint(slot) & 63) }

// Remove takes one slot out of the builder.
func (b *SlotBuilder) Remove(slot int) { b.w[slot>>6] &^= 1 << (uint(slot) & 63) }

// AddRange puts every slot of r in the builder.
func (b *SlotBuilder) AddRange(r SlotRange) { addRange(&b.w, r) }

// AddSet puts every slot of s in the builder.
func (b *SlotBuilder) AddSet(s SlotSet) {
	if s.w == nil {
		return
	}
	for i, x := range s.w {
		b.w[i] |= x
	}
}

// Has tells whether slot is in the builder.
func (b *SlotBuilder) Has(slot int) bool {
	return slot >= 0 && slot < SlotCount && b.w[slot>>6]&(1<<(uint(slot)&63)) != 0
}

// Set returns the slots collected so far.
func (b *SlotBuilder) Set() SlotSet {
	w := b.w
	return setOf(&w)
}

func addRange(w *slotWords, r SlotRange) {
	// A word at a time: a parsed view adds one range per master.
	for i := r.Start; i <= r.End; {
		b := uint(i) & 63
		n := min(64-int(b), r.End-i+1)
		m := ^uint64(0)
		if n < 64 {
			m = (1<<uint(n) - 1) << b
		}
		w[i>>6] |= m
		i += n
	}
}

// NewSlotSet returns the set holding every slot of the given ranges.
func NewSlotSet(ranges ...SlotRange) SlotSet {
	if len(ranges) == 0 {
		return SlotSet{}
	}
	w := new(slotWords)
	for _, r := range ranges {
		addRange(w, r)
	}
	return setOf(w)
}

// ParseSlotSet parses a list of "n" / "a-b" strings. It reports slots listed
// twice inside the list as an error.
func ParseSlotSet(items []string) (SlotSet, error) {
	var b SlotBuilder
	for _, it := range items {
		r, err := ParseSlotRange(it)
		if err != nil {
			return SlotSet{}, err
		}
		if ov := b.Set().Intersect(NewSlotSet(r)); !ov.Empty() {
			return SlotSet{}, fmt.Errorf("slots %s are listed twice", ov)
		}
		b.AddRange(r)
	}
	return b.Set(), nil
}

// Add puts one slot in the set, copying the bitmap: to add many, use a
// SlotBuilder. Slots outside 0-16383 panic, as an index out of range does:
// callers parse and check slots first.
func (s *SlotSet) Add(slot int) { s.edit()[slot>>6] |= 1 << (uint(slot) & 63) }

// Remove takes one slot out of the set.
func (s *SlotSet) Remove(slot int) {
	if !s.Has(slot) {
		return
	}
	s.edit()[slot>>6] &^= 1 << (uint(slot) & 63)
	*s = setOf(s.w)
}

// AddRange puts every slot of r in the set.
func (s *SlotSet) AddRange(r SlotRange) {
	if r.End >= r.Start { // an empty set holds no bitmap
		addRange(s.edit(), r)
	}
}

// Has tells whether slot is in the set.
func (s SlotSet) Has(slot int) bool {
	return s.w != nil && slot >= 0 && slot < SlotCount && s.w[slot>>6]&(1<<(uint(slot)&63)) != 0
}

// Len is the number of slots in the set.
func (s SlotSet) Len() int {
	if s.w == nil {
		return 0
	}
	n := 0
	for _, w := range s.w {
		n += bits.OnesCount64(w)
	}
	return n
}

// Empty tells whether the set holds no slot.
func (s SlotSet) Empty() bool { return s.w == nil }

// Equal tells whether s and o hold the same slots.
func (s SlotSet) Equal(o SlotSet) bool { return s.w == o.w || *s.words() == *o.words() }

// Full tells whether the set holds all 16384 slots.
func (s SlotSet) Full() bool { return s.Len() == SlotCount }

// combine returns the set whose word i is f(s's, o's).
func (s SlotSet) combine(o SlotSet, f func(a, b uint64) uint64) SlotSet {
	a, b := s.words(), o.words()
	w := new(slotWords)
	for i := range w {
		w[i] = f(a[i], b[i])
	}
	return setOf(w)
}

// Union returns s ∪ o.
func (s SlotSet) Union(o SlotSet) SlotSet {
	switch {
	case o.w == nil || s.w == o.w:
		return s
	case s.w == nil:
		return o
	}
	return s.combine(o, func(a, b uint64) uint64 { return a | b })
}

// Intersect returns s ∩ o.
func (s SlotSet) Intersect(o SlotSet) SlotSet {
	switch {
	case s.w == nil || o.w == nil:
		return SlotSet{}
	case s.w == o.w:
		return s
	}
	return s.combine(o, func(a, b uint64) uint64 { return a & b })
}

// Minus returns s \ o.
func (s SlotSet) Minus(o SlotSet) SlotSet {
	switch {
	case s.w == nil || s.w == o.w:
		return SlotSet{}
	case o.w == nil:
		return s
	}
	return s.combine(o, func(a, b uint64) uint64 { return a &^ b })
}

// Complement returns every slot not in s.
func (s SlotSet) Complement() SlotSet {
	return s.combine(SlotSet{}, func(a, _ uint64) uint64 { return ^a })
}

// First returns the lowest slot in the set, or -1 when it is empty.
func (s SlotSet) First() int {
	if s.w == nil {
		return -1
	}
	for i, w := range s.w {
		if w != 0 {
			return i*64 + bits.TrailingZeros64(w)
		}
	}
	return -1
}

// Slots lists every slot in ascending order.
func (s SlotSet) Slots() []int {
	out := make([]int, 0, s.Len())
	for i, w := range s.words() {
		for w != 0 {
			out = append(out, i*64+bits.TrailingZeros64(w))
			w &= w - 1
		}
	}
	return out
}

// Ranges returns the set as maximal ascending ranges. It walks 64-slot
// words, skipping empty and full ones whole.
func (s SlotSet) Ranges() []SlotRange {
	var out []SlotRange
	if s.w == nil {
		return nil
	}
	start := -1 // start of the open range, -1 when none
	for i, w := range s.w {
		base := i * 64
		switch w {
		case 0:
			if start >= 0 {
				out = append(out, SlotRange{start, base - 1})
				start = -1
			}
			continue
		case ^uint64(0):
			if start < 0 {
				start = base
			}
			continue
		}
		for b := 0; b < 64; {
			if w>>uint(b)&1 == 1 {
				if start < 0 {
					start = base + b
				}
				// Skip the run of ones.
				run := bits.TrailingZeros64(^(w >> uint(b)))
				b += run
				if b < 64 {
					out = append(out, SlotRange{start, base + b - 1})
					start = -1
				}
				continue
			}
			if start >= 0 {
				out = append(out, SlotRange{start, base + b - 1})
				start = -1
			}
			// Skip the run of zeros.
			rest := w >> uint(b)
			if rest == 0 {
				break
			}
			b += bits.TrailingZeros64(rest)
		}
	}
	if start >= 0 {
		out = append(out, SlotRange{start, SlotCount - 1})
	}
	return out
}

// Strings returns the ranges rendered as "n" or "a-b".
func (s SlotSet) Strings() []string {
	rs := s.Ranges()
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}

// String renders the set as comma separated ranges, "" when empty.
func (s SlotSet) String() string { return strings.Join(s.Strings(), ",") }

// SortRanges orders ranges by start.
func SortRanges(rs []SlotRange) {
	sort.Slice(rs, func(i, j int) bool { return rs[i].Start < rs[j].Start })
}
