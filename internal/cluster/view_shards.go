package cluster

import "sort"

// ServedShards lists the shards one member's CLUSTER NODES shows, for
// reporting a live cluster whatever its health (the redis_cluster data
// source): one shard per master that owns slots in the view, ordered by its
// lowest slot, each with the replicas that follow it, ordered by address.
// announced maps announced addresses to the ones to report (nil keeps them).
//
// On a healthy cluster the result is exactly ShardsFromView's. Unlike it,
// ServedShards never fails: a master flagged fail still heads the shard of
// the slots it owns (that is why the cluster is down), slots no master owns
// are just absent, and replicas that follow no slot owner are left out (the
// caller lists every node elsewhere). As in ShardsFromView, replicas flagged
// fail or in handshake are left out, and so are masters with no known address.
func ServedShards(view []NodeLine, announced func(string) string) []Shard {
	addr := func(l NodeLine) string {
		a := l.Addr()
		if a != "" && announced != nil {
			a = announced(a)
		}
		return a
	}
	var masters []NodeLine
	for _, l := range view {
		if l.IsMaster() && !l.Slots.Empty() && addr(l) != "" {
			masters = append(masters, l)
		}
	}
	sort.SliceStable(masters, func(i, j int) bool { return masters[i].Slots.First() < masters[j].Slots.First() })
	shards := make([]Shard, len(masters))
	idx := make(map[string]int, len(masters))
	for i, m := range masters {
		idx[m.ID] = i
		shards[i] = Shard{Master: addr(m), Slots: m.Slots}
	}
	for _, l := range view {
		if !l.IsReplica() || l.HasFlag("fail") || l.Handshake() || addr(l) == "" {
			continue
		}
		if i, ok := idx[l.MasterID]; ok {
			shards[i].Replicas = append(shards[i].Replicas, addr(l))
		}
	}
	for i := range shards {
		sort.Strings(shards[i].Replicas)
	}
	return shards
}
