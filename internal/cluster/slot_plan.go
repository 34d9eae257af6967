package cluster

// SlotHistory is what the last apply recorded of a cluster: the shards as
// they were declared then, and the slots each master served when last read
// (a half-migrated slot counts for its owner there, while the shards leave
// it out).
type SlotHistory struct {
	Shards []Shard
	Served map[string]SlotSet
}

// PlanSlots gives the slots of shards declared without any: an even split
// for a new cluster (prior nil); else each shard keeps the slots of the
// prior shard it shares a member with, and when the shards are the same
// set as before with every slot served exactly once nothing moves;
// otherwise Rebalance evens them out, moving as few slots as possible
// (slots of shards no longer declared are handed out). The result has one
// set per shard, together covering every slot exactly once.
func PlanSlots(shards []Shard, prior *SlotHistory) []SlotSet {
	if prior == nil {
		return EvenSplit(len(shards))
	}
	current, orphans, same := priorSlots(shards, prior.Shards, prior.Served)
	if same {
		return current
	}
	return Rebalance(current, orphans)
}

// priorSlots matches each shard to a prior shard sharing a member and
// returns the slots its members served (by the nodes read, else the prior
// shard's own), the slots of prior shards no longer declared (orphans),
// and whether the shards are the same set as before with every slot
// served exactly once (then nothing needs to move).
func priorSlots(shards, prior []Shard, served map[string]SlotSet) ([]SlotSet, SlotSet, bool) {
	current := make([]SlotSet, len(shards))
	used := make([]bool, len(prior))
	matched := 0
	var all, twice SlotSet
	for i := range shards {
		for j, p := range prior {
			if used[j] || !overlaps(shards[i].Members(), p.Members()) {
				continue
			}
			used[j] = true
			matched++
			slots := p.Slots
			for _, m := range p.Members() {
				slots = slots.Union(served[m])
			}
			twice = twice.Union(all.Intersect(slots))
			current[i] = slots
			all = all.Union(slots)
			break
		}
	}
	var orphans SlotSet
	for j, p := range prior {
		if !used[j] {
			orphans = orphans.Union(p.Slots)
			for _, m := range p.Members() {
				orphans = orphans.Union(served[m])
			}
		}
	}
	orphans = orphans.Minus(all)
	same := matched == len(shards) && matched == len(prior) && all.Full() && twice.Empty()
	return current, orphans, same
}

func overlaps(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// ClusterID is the ID of the node serving slot 0 as d declares it (read
// from obs): the ID a cluster is known by. "" when no shard declares slot
// 0 or its master was not read.
func ClusterID(obs *Observed, d Desired) string {
	for _, s := range d.Shards {
		if s.Slots.Has(0) {
			return obs.ID(s.Master)
		}
	}
	return ""
}
