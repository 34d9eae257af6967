package cluster

// ImportShards reads the cluster a node belongs to as import adopts it,
// from n, the node at addr (the address the user gave): the shards of its
// view (ShardsFromView, with announced), with the member the node
// announces as itself named addr, since the node may announce another
// address than the one it was reached at; and the cluster's ID, that of
// the master serving slot 0 in the view.
func ImportShards(addr string, n *NodeState, announced func(string) string) ([]Shard, string, error) {
	shards, err := ShardsFromView(n.View, announced)
	if err != nil {
		return nil, "", err
	}
	if self := n.Self(); self != nil {
		shards = RenameMember(shards, self.Addr(), addr)
	}
	return shards, SlotZeroID(n.View), nil
}

// RenameMember returns shards with every member named from named to
// instead; shards itself is left as it was.
func RenameMember(shards []Shard, from, to string) []Shard {
	out := make([]Shard, len(shards))
	for i, s := range shards {
		out[i] = s
		if s.Replicas != nil {
			out[i].Replicas = make([]string, len(s.Replicas))
			copy(out[i].Replicas, s.Replicas)
		}
		if out[i].Master == from {
			out[i].Master = to
		}
		for j, r := range out[i].Replicas {
			if r == from {
				out[i].Replicas[j] = to
			}
		}
	}
	return out
}

// SlotZeroID is the ID of the master that serves slot 0 in a node's view,
// "" when none does (the last such line, should the view list two).
func SlotZeroID(view []NodeLine) string {
	id := ""
	for _, l := range view {
		if l.IsMaster() && l.Slots.Has(0) {
			id = l.ID
		}
	}
	return id
}
