package cluster

import (
	"math"
	"sort"
)

// The layout*.go files reproduce the layout `redis-cli --cluster create` chooses
// (clusterManagerCommandCreate in redis-cli.c, Redis 5.0 to 7.4): which nodes
// become masters, which slots each master serves and which master each
// replica follows.

// EvenSplit returns the slots `redis-cli --cluster create` gives to each of
// n masters, in master order: for 3 masters 0-5460, 5461-10922, 10923-16383.
// It returns nil when n is below 1 or above 16384 (no master could get a slot).
//
// The split is redis-cli's to the bit, float rounding included, for every n
// where redis-cli's arithmetic gives a valid split: every n below 7542 and
// most above. From 2688 masters on its float rounding can make sizes differ
// by more than one; that is reproduced too. For the n where it would give the
// last master slot 16384 (2989 values from 7542 up; redis-cli writes past its
// slot table there), EvenSplit computes the same formula exactly instead.
func EvenSplit(n int) []SlotSet {
	rs := evenSplitRanges(n)
	if rs == nil {
		return nil
	}
	out := make([]SlotSet, len(rs))
	for i, r := range rs {
		out[i] = NewSlotSet(r)
	}
	return out
}

// evenSplitRanges is EvenSplit as one range per master.
func evenSplitRanges(n int) []SlotRange {
	if n < 1 || n > SlotCount {
		return nil
	}
	if rs, ok := redisCliSplit(n); ok {
		return rs
	}
	return exactSplit(n)
}

// redisCliSplit follows redis-cli.c statement by statement, in the same
// types: the slots per node and the cursor are C floats (float32) and lround
// rounds half away from zero. ok is false when the last range would end past
// slot 16383.
//
//	float slots_per_node = CLUSTER_MANAGER_SLOTS / (float) masters_count;
//	long first = 0;
//	float cursor = 0.0f;
//	for (i = 0; i < masters_count; i++) {
//	    long last = lround(cursor + slots_per_node - 1);
//	    if (last > CLUSTER_MANAGER_SLOTS || i == (masters_count - 1))
//	        last = CLUSTER_MANAGER_SLOTS - 1;
//	    if (last < first) last = first;
//	    ... slots first..last ...
//	    first = last + 1;
//	    cursor += slots_per_node;
//	}
func redisCliSplit(n int) (rs []SlotRange, ok bool) {
	// Explicit float32 conversions keep every step rounded to float as in C
	// (Go could otherwise fuse operations).
	slotsPerNode := float32(SlotCount) / float32(n)
	first := 0
	cursor := float32(0)
	out := make([]SlotRange, n)
	for i := 0; i < n; i++ {
		v := float32(float32(cursor+slotsPerNode) - 1)
		last := int(math.Round(float64(v)))
		if last > SlotCount || i == n-1 {
			last = SlotCount - 1
		}
		if last < first {
			last = first
		}
		if last >= SlotCount {
			return nil, false
		}
		out[i] = SlotRange{first, last}
		first = last + 1
		cursor = float32(cursor + slotsPerNode)
	}
	return out, true
}

// exactSplit is redis-cli's formula in exact arithmetic: master i ends at
// round((i+1)*16384/n - 1), rounding halves up. Sizes differ by at most one.
func exactSplit(n int) []SlotRange {
	out := make([]SlotRange, n)
	first := 0
	for i := 0; i < n; i++ {
		num := (i+1)*SlotCount - n // (i+1)*16384/n - 1 == num/n, num >= 0
		last := (2*num + n) / (2 * n)
		out[i] = SlotRange{first, last}
		first = last + 1
	}
	return out
}

// Rebalance gives every shard an even share of the 16384 slots (the sizes
// EvenSplit would give, the larger shares going to the shards that hold
// most already) while moving as few slots as possible, as
// `redis-cli --cluster rebalance --cluster-use-empty-masters` aims to.
// current holds each shard's slots now (empty for a new shard); orphans
// are slots of shards being removed, or served by nobody. A shard over its
// share gives away its highest slots; a shard under it takes the lowest
// free ones. Every slot ends in exactly one shard.
func Rebalance(current []SlotSet, orphans SlotSet) []SlotSet {
	n := len(current)
	if n == 0 {
		return nil
	}
	out := make([]SlotSet, n)
	copy(out, current)
	base, extra := SlotCount/n, SlotCount%n
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return out[order[a]].Len() > out[order[b]].Len() })
	target := make([]int, n)
	for rank, i := range order {
		target[i] = base
		if rank < extra {
			target[i]++
		}
	}
	// Slots claimed twice keep their first shard; the rest are freed.
	var seen SlotSet
	for i := range out {
		dup := out[i].Intersect(seen)
		out[i] = out[i].Minus(dup)
		seen = seen.Union(out[i])
	}
	pool := orphans.Union(seen.Complement())
	for i := range out {
		pool = pool.Minus(out[i])
	}
	// Shards over their share give their highest slots to the pool; then
	// shards under it take the pool's lowest, in shard order.
	var free SlotBuilder
	free.AddSet(pool)
	for i := range out {
		over := out[i].Len() - target[i]
		if over <= 0 {
			continue
		}
		var b SlotBuilder
		b.AddSet(out[i])
		for slot := SlotCount - 1; over > 0; slot-- {
			if b.Has(slot) {
				b.Remove(slot)
				free.Add(slot)
				over--
			}
		}
		out[i] = b.Set()
	}
	for i := range out {
		need := target[i] - out[i].Len()
		if need <= 0 {
			continue
		}
		var b SlotBuilder
		b.AddSet(out[i])
		for slot := 0; need > 0 && slot < SlotCount; slot++ {
			if free.Has(slot) {
				free.Remove(slot)
				b.Add(slot)
				need--
			}
		}
		out[i] = b.Set()
	}
	return out
}

func lastSlot(s SlotSet) int {
	for i := SlotCount - 1; i >= 0; i-- {
		if s.Has(i) {
			return i
		}
	}
	return -1
}
