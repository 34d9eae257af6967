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
	// Path is how the keys will move (see PathOf); nil when the engines
	// were not read.
	Path *MovePath
}

func (m Move) String() string {
	keys := "keys not counted"
	if m.Keys >= 0 {
		keys = fmt.Sprintf("%d keys", m.Keys)
	}
	out := fmt.Sprintf("slots %s (%d slots, %s) from %s to %s", m.Slots, m.Slots.Len(), keys, m.From, m.To)
	if m.Path != nil {
		out += ", " + m.Path.Describe()
	}
	return out
}

// Describe says how a move on this path goes, for plan warnings.
func (p MovePath) Describe() string {
	if p.Atomic() {
		return "by the engines' " + p.String() + ": no key is ever half moved"
	}
	return "key by key with MIGRATE (clients are redirected with ASK while a slot is half moved)"
}

// PathOf reads both nodes' engines (INFO server) and tells which path a
// move from one to the other takes. A node that cannot be read means
// MIGRATE, with the error (the apply reads the nodes again and decides
// then).
func PathOf(ctx context.Context, pool *Pool, from, to string) (MovePath, error) {
	var errs Errors
	read := func(addr string) (string, string) {
		s, err := pool.Client(addr).Info(ctx, "server").Result()
		if err != nil {
			errs = append(errs, nodeErr(addr, "INFO server", err))
			return "", ""
		}
		return EngineOf(ParseInfo(s))
	}
	se, sv := read(from)
	de, dv := read(to)
	return MovePathFor(se, sv, de, dv), errs.Err()
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
	byPair := map[[2]string]*SlotBuilder{}
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
			if byPair[k] == nil {
				byPair[k] = &SlotBuilder{}
			}
			byPair[k].Add(slot)
		}
	}
	out := make([]Move, 0, len(byPair))
	for k, set := range byPair {
		out = append(out, Move{From: k[0], To: k[1], Slots: set.Set(), Keys: -1})
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
