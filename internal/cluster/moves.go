package cluster

import (
	"context"
	"fmt"
	"sort"

	"github.com/redis/go-redis/v9"
)

// Move is a set of slots that go from one node to another with their keys.
type Move struct {
	From, To string
	Slots    SlotSet
	Keys     int64 // -1 when not counted
}

func (m Move) String() string {
	keys := "keys not counted"
	if m.Keys >= 0 {
		keys = fmt.Sprintf("%d keys", m.Keys)
	}
	return fmt.Sprintf("slots %s (%d slots, %s) from %s to %s", m.Slots, m.Slots.Len(), keys, m.From, m.To)
}

// SlotMoves lists the moves that take the cluster from the slots each node
// serves (served, by address) to the planned shards. A slot served by any
// member of its planned shard does not move (after a failover a replica
// serves its shard's slots). Slots nobody serves are not moves.
func SlotMoves(served map[string]SlotSet, planned []Shard) []Move {
	owner := map[int]string{}
	for _, a := range sortedKeys(served) {
		for _, slot := range served[a].Slots() {
			owner[slot] = a
		}
	}
	byPair := map[[2]string]SlotSet{}
	for _, s := range planned {
		members := map[string]bool{}
		for _, m := range s.Members() {
			members[m] = true
		}
		for _, slot := range s.Slots.Slots() {
			o, ok := owner[slot]
			if !ok || members[o] {
				continue
			}
			k := [2]string{o, s.Master}
			set := byPair[k]
			set.Add(slot)
			byPair[k] = set
		}
	}
	out := make([]Move, 0, len(byPair))
	for k, set := range byPair {
		out = append(out, Move{From: k[0], To: k[1], Slots: set, Keys: -1})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].From != out[j].From {
			return out[i].From < out[j].From
		}
		return out[i].To < out[j].To
	})
	return out
}

// CountKeys counts the keys a node holds in the given slots, in one round
// trip (CLUSTER COUNTKEYSINSLOT per slot).
func CountKeys(ctx context.Context, pool *Pool, addr string, slots SlotSet) (int64, error) {
	list := slots.Slots()
	cmds := make([]*redis.IntCmd, len(list))
	_, err := pool.Client(addr).Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, slot := range list {
			cmds[i] = p.ClusterCountKeysInSlot(ctx, slot)
		}
		return nil
	})
	if err != nil {
		return -1, nodeErr(addr, "CLUSTER COUNTKEYSINSLOT", err)
	}
	var n int64
	for _, c := range cmds {
		n += c.Val()
	}
	return n, nil
}
