package redistest

import (
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// Random day-2 changes for property tests: from a valid declaration,
// NextDesired draws the next one with one to three changes at once (add or
// remove a shard, replace a master or a replica with a fresh node, add,
// remove or move a replica, swap a shard's master and replica, re-split the
// slots). It is pure: a seed gives the same sequence of declarations.

// change is one kind of edit to a declaration.
type change func(r *rand.Rand, d *cluster.Desired, free *[]string) string

var changes = []change{
	addShard, removeShard, replaceMaster, replaceReplica,
	addReplica, removeReplica, moveReplica, swapRoles, resplit,
}

// NextDesired draws a declaration from cur with one to three changes, using
// free (addresses of lone, empty nodes) for new members. It returns the
// declaration (Remove lists the nodes it drops), the new free list and what
// it changed, in words.
func NextDesired(r *rand.Rand, cur cluster.Desired, free []string) (cluster.Desired, []string, []string) {
	d := cluster.Desired{Failback: cur.Failback}
	for _, s := range cur.Shards {
		d.Shards = append(d.Shards, cluster.Shard{Master: s.Master, Replicas: slices.Clone(s.Replicas), Slots: s.Slots})
	}
	all := append(cur.Addrs(), free...)
	free = slices.Clone(free)
	var did []string
	for n := 1 + r.IntN(3); len(did) < n; {
		if what := changes[r.IntN(len(changes))](r, &d, &free); what != "" {
			did = append(did, what)
		}
	}
	// Members that left the declaration are removed (and reset by the
	// apply); every node not declared now is free afterwards.
	for _, a := range cur.Addrs() {
		if d.ShardOf(a) < 0 {
			d.Remove = append(d.Remove, a)
		}
	}
	var nfree []string
	for _, a := range all {
		if d.ShardOf(a) < 0 {
			nfree = append(nfree, a)
		}
	}
	return d, nfree, did
}

func take(r *rand.Rand, free *[]string) string {
	i := r.IntN(len(*free))
	a := (*free)[i]
	*free = slices.Delete(*free, i, i+1)
	return a
}

func addShard(r *rand.Rand, d *cluster.Desired, free *[]string) string {
	if len(*free) == 0 || len(d.Shards) >= 4 {
		return ""
	}
	s := cluster.Shard{Master: take(r, free)}
	if len(*free) > 0 && r.IntN(2) == 0 {
		s.Replicas = []string{take(r, free)}
	}
	d.Shards = append(d.Shards, s)
	RandomSplit(r, d)
	return "add shard " + s.Master
}

func removeShard(r *rand.Rand, d *cluster.Desired, _ *[]string) string {
	if len(d.Shards) <= 2 {
		return ""
	}
	i := r.IntN(len(d.Shards))
	m := d.Shards[i].Master
	d.Shards = slices.Delete(d.Shards, i, i+1)
	RandomSplit(r, d)
	return "remove shard " + m
}

func replaceMaster(r *rand.Rand, d *cluster.Desired, free *[]string) string {
	if len(*free) == 0 {
		return ""
	}
	s := &d.Shards[r.IntN(len(d.Shards))]
	old := s.Master
	s.Master = take(r, free)
	return fmt.Sprintf("replace master %s with %s", old, s.Master)
}

func replaceReplica(r *rand.Rand, d *cluster.Desired, free *[]string) string {
	s := &d.Shards[r.IntN(len(d.Shards))]
	if len(*free) == 0 || len(s.Replicas) == 0 {
		return ""
	}
	i := r.IntN(len(s.Replicas))
	old := s.Replicas[i]
	s.Replicas[i] = take(r, free)
	return fmt.Sprintf("replace replica %s with %s", old, s.Replicas[i])
}

func addReplica(r *rand.Rand, d *cluster.Desired, free *[]string) string {
	s := &d.Shards[r.IntN(len(d.Shards))]
	if len(*free) == 0 || len(s.Replicas) >= 2 {
		return ""
	}
	s.Replicas = append(s.Replicas, take(r, free))
	return fmt.Sprintf("add replica %s to %s", s.Replicas[len(s.Replicas)-1], s.Master)
}

func removeReplica(r *rand.Rand, d *cluster.Desired, _ *[]string) string {
	s := &d.Shards[r.IntN(len(d.Shards))]
	if len(s.Replicas) == 0 {
		return ""
	}
	i := r.IntN(len(s.Replicas))
	old := s.Replicas[i]
	s.Replicas = slices.Delete(s.Replicas, i, i+1)
	return "remove replica " + old
}

func moveReplica(r *rand.Rand, d *cluster.Desired, _ *[]string) string {
	from, to := &d.Shards[r.IntN(len(d.Shards))], &d.Shards[r.IntN(len(d.Shards))]
	if from == to || len(from.Replicas) == 0 || len(to.Replicas) >= 2 {
		return ""
	}
	x := from.Replicas[0]
	from.Replicas = from.Replicas[1:]
	to.Replicas = append(to.Replicas, x)
	return fmt.Sprintf("move replica %s from %s to %s", x, from.Master, to.Master)
}

func swapRoles(r *rand.Rand, d *cluster.Desired, _ *[]string) string {
	s := &d.Shards[r.IntN(len(d.Shards))]
	if len(s.Replicas) == 0 {
		return ""
	}
	s.Master, s.Replicas[0] = s.Replicas[0], s.Master
	return fmt.Sprintf("make %s master instead of %s", s.Master, s.Replicas[0])
}

func resplit(r *rand.Rand, d *cluster.Desired, _ *[]string) string {
	RandomSplit(r, d)
	return "re-split slots"
}

// RandomSplit gives the shards either the even split or random contiguous ranges.
func RandomSplit(r *rand.Rand, d *cluster.Desired) {
	n := len(d.Shards)
	if r.IntN(2) == 0 {
		for i, s := range cluster.EvenSplit(n) {
			d.Shards[i].Slots = s
		}
		return
	}
	cuts := map[int]bool{}
	for len(cuts) < n-1 {
		cuts[1+r.IntN(cluster.SlotCount-1)] = true
	}
	bounds := append(slices.Sorted(func(yield func(int) bool) {
		for c := range cuts {
			if !yield(c) {
				return
			}
		}
	}), cluster.SlotCount)
	lo := 0
	for i, hi := range bounds {
		d.Shards[i].Slots = cluster.NewSlotSet(cluster.SlotRange{Start: lo, End: hi - 1})
		lo = hi
	}
}

// FirstDesired is where a sequence of random changes starts: three shards
// of a master and a replica over pool[0:6], randomly split, with the rest
// of the pool free.
func FirstDesired(r *rand.Rand, pool []string) (cluster.Desired, []string) {
	d := cluster.Desired{Failback: true}
	for i := range 3 {
		d.Shards = append(d.Shards, cluster.Shard{Master: pool[i], Replicas: []string{pool[3+i]}})
	}
	RandomSplit(r, &d)
	return d, slices.Clone(pool[6:])
}
