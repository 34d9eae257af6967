package cluster

// Leaving: a node resource's destroy.

import (
	"context"
	"fmt"
	"sort"
	"time"

	"github.com/redis/go-redis/v9"
)

// LeaveNode takes the node at spec.Addr out of its cluster: a master's
// slots go to other reachable masters that stay, with their keys (once a
// node taking its shard over by failover, if any, is done), every member
// found in its own and its seeds' views forgets it, and it is reset to an
// empty lone node. It never waits on another node's delete.
func (e *Executor) LeaveNode(ctx context.Context, spec NodeSpec) error {
	obs := Observe(ctx, e.Pool, spec.Addrs(), true)
	n := obs.Node(spec.Addr)
	if !n.OK() {
		return n.Err
	}
	self := n.Self()
	if self == nil {
		return fmt.Errorf("node %s: its CLUSTER NODES has no line for itself", spec.Addr)
	}
	if len(n.Known()) == 0 && self.Slots.Empty() && n.Keys == 0 {
		return nil // already a lone empty node
	}
	id := n.ID
	e.Departures.Leave(spec.Addr)
	members := e.nodeMembers(spec, obs)
	all := Observe(ctx, e.Pool, dedup(append([]string{spec.Addr}, members...)), true)
	if self.IsMaster() && !self.Slots.Empty() {
		// Keys may still be moving in from another leaving master.
		if err := e.Departures.WaitIncoming(ctx, spec.Addr); err != nil {
			return fmt.Errorf("node %s: waiting for keys moving into it before it leaves: %w", spec.Addr, err)
		}
		// A node taking this master's shard over by failover finishes
		// first; then nothing is left to hand off.
		if err := e.coord().BeginHandOff(ctx, spec.Addr); err != nil {
			return fmt.Errorf("node %s: waiting for the node taking its shard over: %w", spec.Addr, err)
		}
		// A target may turn replica under the hand-off (its own resource
		// hands its shard to a replica by failover): hand the rest off
		// again from a fresh read, to the masters there are then.
		for attempt := 1; ; attempt++ {
			err := e.handOff(ctx, spec, all, members)
			if err == nil {
				break
			}
			if attempt == handOffAttempts || !isSetSlotNotMaster(err) {
				return err
			}
			e.info(ctx, "a master receiving the node's slots turned replica; handing the rest off again", map[string]any{"address": spec.Addr, "error": err.Error()})
			all = Observe(ctx, e.Pool, dedup(append([]string{spec.Addr}, members...)), true)
		}
	}
	// Forget it everywhere it is known (a replica of it answers "Can't
	// forget my master": CLUSTER RESET below leaves it a failed entry).
	_ = e.each(ctx, members, "CLUSTER FORGET", func(ctx context.Context, a string) error {
		if !all.Node(a).OK() || all.ID(a) == id {
			return nil
		}
		err := e.Pool.Client(a).ClusterForget(ctx, id).Err()
		if err == nil {
			e.info(ctx, "forgot removed node", map[string]any{"address": a, "removed": spec.Addr, "node_id": id})
		} else {
			e.debug(ctx, "forget failed", map[string]any{"address": a, "removed": spec.Addr, "error": err.Error()})
		}
		return nil
	})
	c := e.Pool.Client(spec.Addr)
	err := c.ClusterResetHard(ctx).Err()
	if err != nil && isResetWithKeys(err) {
		// A master with keys but no slot left (a replica turned master,
		// or keys of slots handed off): refuse while it serves any slot.
		if err := refuseKeysIfServing(ctx, c, spec.Addr); err != nil {
			return err
		}
		if err := c.FlushAll(ctx).Err(); err != nil {
			return nodeErr(spec.Addr, "FLUSHALL", err)
		}
		err = c.ClusterResetHard(ctx).Err()
	}
	if err != nil {
		return nodeErr(spec.Addr, "CLUSTER RESET HARD", err)
	}
	e.info(ctx, "reset node", map[string]any{"address": spec.Addr, "node_id": id})
	e.sweepForgotten(ctx, spec, id)
	return nil
}

// sweepForgotten makes members that still know a node's old ID forget it,
// once the node was reset: a node that joined while this one was leaving
// (another resource's create, in the same run) may have learned the ID by
// gossip after the first round of FORGET, and would keep it as an
// address-less entry. Best effort: the members that forgot it first ban it
// from gossip, so it cannot spread again.
func (e *Executor) sweepForgotten(ctx context.Context, spec NodeSpec, id string) {
	seeds := Observe(ctx, e.Pool, spec.Addrs(), true)
	members := e.nodeMembers(spec, seeds)
	all := Observe(ctx, e.Pool, members, true)
	for _, a := range members {
		if n := all.Node(a); n.OK() && n.ID != id && n.Lookup(id) != nil {
			if err := e.Pool.Client(a).ClusterForget(ctx, id).Err(); err == nil {
				e.info(ctx, "forgot removed node (learned while it was leaving)", map[string]any{"address": a, "removed": spec.Addr, "node_id": id})
			}
		}
	}
}

// refuseKeysIfServing refuses to flush a master that still serves slots.
func refuseKeysIfServing(ctx context.Context, c *redis.Client, addr string) error {
	txt, err := c.ClusterNodes(ctx).Result()
	if err != nil {
		return nodeErr(addr, "CLUSTER NODES", err)
	}
	view, err := ParseNodes(txt)
	if err != nil {
		return err
	}
	for _, l := range view {
		if l.Myself() && l.IsMaster() && !l.Slots.Empty() {
			return &NodeError{Addr: addr, Kind: ErrOther, Op: "CLUSTER RESET HARD",
				Err: fmt.Errorf("it still serves slots %s and holds keys; nothing was flushed. Move its slots to another master (declare them there) and destroy again", l.Slots)}
		}
	}
	return nil
}

// handOff gives a leaving master's slots to the other masters that stay:
// split over the reachable masters (not failing, not leaving in this run)
// in slot order, each slot with its keys (moveSlots; while the cluster is
// down, empty slots by SETSLOT alone). When no master stays, the node is
// the last of its cluster: with no keys there is nothing to hand off; with
// keys it refuses, unless spec.ForceDestroy, which flushes them.
func (e *Executor) handOff(ctx context.Context, spec NodeSpec, obs *Observed, members []string) error {
	addr := spec.Addr
	defer e.coord().Lock("move:" + addr)()
	if obs.Node(addr).Keys > 0 && e.Departures != nil {
		// Let deletes started in the same wave say they leave too.
		if err := sleep(ctx, settleDelay); err != nil {
			return err
		}
	}
	// Read after the pause: a replica taking the shard over by failover
	// may have finished just before (BeginHandOff waits for it), and the
	// node then serves nothing (seen: a read taken a few milliseconds
	// before the node heard of its failover handed the new master's slots
	// off to other masters).
	obs = Observe(ctx, e.Pool, sortedKeys(obs.Nodes), true)
	n := obs.Node(addr)
	self := n.Self()
	if self == nil || !self.IsMaster() || self.Slots.Empty() {
		return nil // another resource took them meanwhile
	}
	id := n.ID
	var targets []string
	for _, a := range members {
		m := obs.Node(a)
		ms := m.Self()
		if !m.OK() || ms == nil || !ms.IsMaster() || m.ID == id || len(m.Known()) == 0 {
			continue
		}
		if l := n.Lookup(m.ID); l == nil || l.Failing() || l.Handshake() {
			continue
		}
		targets = append(targets, a)
	}
	sort.Strings(targets)
	targets, release := e.Departures.Reserve(targets)
	defer release()
	if len(targets) == 0 {
		return e.lastMaster(ctx, spec, n.Keys, self.Slots)
	}
	// While the cluster serves clients, every slot moves as a slot
	// migration, empty or not: a client may write a new key into a slot
	// counted empty a moment before, and only MIGRATING (which redirects
	// new keys to the target) and the source's refusal to give up a slot
	// that holds keys keep that write. A slot reassigned with SETSLOT
	// alone left such keys behind on the node about to be reset (seen
	// under a live writer: 3 acknowledged writes lost in one replacement).
	// A cluster that is down (slots unassigned: one being built, or torn
	// down) takes no write, and moves no key either (CLUSTERDOWN): its
	// empty slots are reassigned with SETSLOT alone.
	down := n.State() != "ok"
	slots := self.Slots.Slots()
	per := (len(slots) + len(targets) - 1) / len(targets)
	c := e.Pool.Client(addr)
	var errs Errors
	for i, t := range targets {
		lo, hi := i*per, min((i+1)*per, len(slots))
		if lo >= hi {
			break
		}
		part := slots[lo:hi]
		var withKeys, empty []int
		if down {
			counts := make([]*redis.IntCmd, len(part))
			_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for k, s := range part {
					counts[k] = p.ClusterCountKeysInSlot(ctx, s)
				}
				return nil
			})
			for k, s := range part {
				if counts[k].Val() > 0 || counts[k].Err() != nil {
					withKeys = append(withKeys, s)
				} else {
					empty = append(empty, s)
				}
			}
		} else {
			withKeys = part
		}
		tid := obs.ID(t)
		if len(empty) > 0 {
			if err := e.assignEmpty(ctx, obs, addr, t, empty); err != nil {
				// The target is leaving too (reset, or turned replica):
				// these slots hold no keys, so nothing is lost.
				e.info(ctx, "could not hand off empty slots; the target is probably leaving too", map[string]any{"address": addr, "to": t, "error": err.Error()})
			}
		}
		if len(withKeys) > 0 {
			var set SlotBuilder
			for _, s := range withKeys {
				set.Add(s)
			}
			if err := e.moveSlots(ctx, obs, Step{Kind: StepMoveSlots, Addr: addr, Target: t, TargetID: tid, Slots: set.Set(), EndsOnly: true}); err != nil {
				errs = append(errs, err)
				continue
			}
		}
		e.info(ctx, "handed off slots", map[string]any{"address": addr, "to": t, "slots": len(part), "slots_with_keys": len(withKeys)})
	}
	return errs.Err()
}

// handOffAttempts bounds how often a leaving master hands its slots off
// again after a target turned replica under it.
const handOffAttempts = 3

// settleDelay is how long a leaving master with keys waits for the other
// deletes of the same run to say they leave too (see Departures): they
// arrive within milliseconds of each other, and correctness never depends
// on it (a master that received keys and then leaves hands them on).
const settleDelay = 250 * time.Millisecond

// lastMaster handles a leaving master that no master stays to take its
// slots: it is the last of its cluster, or every other master is leaving
// in the same run.
func (e *Executor) lastMaster(ctx context.Context, spec NodeSpec, keys int64, slots SlotSet) error {
	c := e.Pool.Client(spec.Addr)
	if keys == 0 {
		e.info(ctx, "no master stays to take its slots, and they hold no keys: nothing to hand off", map[string]any{"address": spec.Addr})
		return nil
	}
	if !spec.ForceDestroy {
		return &KeysHeldError{Addr: spec.Addr, Keys: keys, Slots: slots}
	}
	if err := c.FlushAll(ctx).Err(); err != nil {
		return nodeErr(spec.Addr, "FLUSHALL", err)
	}
	e.info(ctx, "force destroy: no master stays to take the keys, flushed them", map[string]any{"address": spec.Addr, "keys": keys})
	return nil
}

// assignEmpty reassigns slots holding no keys from one master to another
// without MIGRATE: IMPORTING then NODE on the target (which bumps its
// epoch so its claim wins), NODE on the source, then on every other master
// (best effort: gossip tells them too).
func (e *Executor) assignEmpty(ctx context.Context, obs *Observed, from, to string, slots []int) error {
	fromID, toID := obs.ID(from), obs.ID(to)
	tgt := e.Pool.Client(to)
	cmds := make([]*redis.Cmd, 0, 2*len(slots))
	_, _ = tgt.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, s := range slots {
			cmds = append(cmds, p.Do(ctx, "CLUSTER", "SETSLOT", s, "IMPORTING", fromID))
			cmds = append(cmds, p.Do(ctx, "CLUSTER", "SETSLOT", s, "NODE", toID))
		}
		return nil
	})
	for i, cmd := range cmds {
		if err := cmd.Err(); err != nil {
			if i%2 == 0 && isAlreadySlotOwner(err) {
				continue
			}
			return nodeErr(to, "CLUSTER SETSLOT", err)
		}
	}
	if _, err := setSlotsNode(ctx, e.Pool.Client(from), slots, toID); err != nil {
		return nodeErr(from, "CLUSTER SETSLOT NODE", err)
	}
	var others []string
	for _, a := range sortedKeys(obs.Nodes) {
		if s := obs.Node(a).Self(); s != nil && s.IsMaster() && a != from && a != to {
			others = append(others, a)
		}
	}
	_ = e.each(ctx, others, "CLUSTER SETSLOT NODE", func(ctx context.Context, a string) error {
		_, _ = setSlots(ctx, e.Pool.Client(a), slots, "NODE", toID)
		return nil
	})
	return nil
}
