package cluster

// The executor's steps for node resources that run outside Run: MEETs
// sent from one node, moves into it under the source's lock, fail-backs.

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// missingMeets lists the MEETs that make addr and each of the peers know
// each other, from whichever side misses the other.
func missingMeets(obs *Observed, addr string, peers []string) []Step {
	var meets []Step
	for _, p := range peers {
		if !knows(obs, addr, p) {
			meets = append(meets, meetStep(StepMeet, obs, addr, p))
		} else if !knows(obs, p, addr) {
			meets = append(meets, meetStep(StepMeet, obs, p, addr))
		}
	}
	return meets
}

// handBackStall bounds how long a replica-declared node serving slots
// waits for its declared master's resource without any progress.
const handBackStall = time.Minute

// waitHandBack waits until the node no longer serves slots (its declared
// master took them with their keys) or follows its declared master (a
// failback), as long as the number of slots it serves keeps falling or a
// move is under way; after handBackStall without either it gives up.
func (e *Executor) waitHandBack(ctx context.Context, spec NodeSpec, obs *Observed) error {
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	last, since, stalled := -1, time.Now(), false
	err := e.waitFor(wctx, addrsDesired([]string{spec.Addr}), obs, spec.Addr+" hands its slots back to its declared master", func(o *Observed) (bool, string) {
		s := o.Node(spec.Addr).Self()
		if s == nil {
			return false, spec.Addr + " cannot be read"
		}
		// Done once it serves nothing: as an empty master, or as a replica
		// of whichever node took its last slot (Redis re-points an
		// emptied master there); the next round re-points it as declared.
		if s.IsReplica() || s.Slots.Empty() {
			return true, ""
		}
		if n := s.Slots.Len(); n != last || len(s.Migrating) > 0 {
			last, since = n, time.Now()
		} else if time.Since(since) > handBackStall {
			stalled = true
			cancel()
		}
		return false, fmt.Sprintf("%s still serves %d slots", spec.Addr, s.Slots.Len())
	})
	if err != nil && stalled && ctx.Err() == nil {
		return fmt.Errorf("node %s serves slots %s, so it cannot become a replica, and its declared master %s has not taken them for %s; declare those slots on another master, or let the master's resource take them (apply it too)",
			describe(spec.Addr, obs.ID(spec.Addr)), obs.Node(spec.Addr).Self().Slots, spec.Master, handBackStall)
	}
	return err
}

// sendMeets sends MEETs (or announces, whose errors are ignored), pipelined per node.
func (e *Executor) sendMeets(ctx context.Context, obs *Observed, steps []Step, bestEffort bool) error {
	if len(steps) == 0 {
		return nil
	}
	byNode := map[string][]Step{}
	for _, s := range steps {
		byNode[s.Addr] = append(byNode[s.Addr], s)
	}
	return e.each(ctx, sortedKeys(byNode), "CLUSTER MEET", func(ctx context.Context, a string) error {
		cmds := make([]*redis.Cmd, len(byNode[a]))
		_, _ = e.Pool.Client(a).Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, s := range byNode[a] {
				cmds[i] = p.Do(ctx, commandFor(obs.Node(a), s)...)
			}
			return nil
		})
		for i, cmd := range cmds {
			if err := cmd.Err(); err != nil && !bestEffort {
				return err
			}
			if !bestEffort {
				e.info(ctx, byNode[a][i].String(), map[string]any{"address": a})
			}
		}
		return nil
	})
}

// takeFrom moves slots from the master at from under that source's move
// lock (its own delete may be handing them off at the same time), moving
// only those it still serves once the lock is held.
func (e *Executor) takeFrom(ctx context.Context, obs *Observed, to, toID, from, fromID string, slots SlotSet) error {
	defer e.coord().Lock("move:" + from)()
	cur := Observe(ctx, e.Pool, []string{from, to}, true)
	src := cur.Node(from).Self()
	if !cur.Node(from).OK() || src == nil || cur.ID(from) != fromID || !src.IsMaster() {
		return nil // it left meanwhile: the wait for readiness tells
	}
	slots = slots.Intersect(src.Slots)
	// Checked again under the lock, from this read: another node may have
	// taken the source's other slots since the plan (see holdLastSlot).
	held, _ := holdLastSlot(cur, NodePlanOptions{Declared: e.coord().Declared()},
		[]Step{{Kind: StepMoveSlots, Addr: from, Target: to, Slots: slots}})
	if len(held) == 0 {
		return nil
	}
	slots = held[0].Slots
	if slots.Empty() {
		return nil
	}
	return e.moveSlots(ctx, obs, Step{Kind: StepMoveSlots, Addr: from, Target: to, TargetID: toID, Slots: slots, EndsOnly: true})
}

func dedup(in []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range in {
		if a != "" && !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}

// failbackNode hands mastership back to replica (the declared master) from
// acting, once: the pair's two resources both see the swap, so it runs
// under a per-shard lock and re-checks the roles first.
func (e *Executor) failbackNode(ctx context.Context, replica, acting string) error {
	defer e.coord().Lock("failback:" + replica)()
	role, err := e.Pool.Client(replica).Do(ctx, "ROLE").Slice()
	if err != nil {
		return nodeErr(replica, "ROLE", err)
	}
	if len(role) > 0 && role[0] == "master" {
		return nil // the other resource of the pair did it
	}
	if err := e.failover(ctx, Step{Kind: StepFailover, Addr: replica, Target: acting}); err != nil {
		return err
	}
	e.awaitDemoted(ctx, acting)
	return nil
}

// demotedWait bounds how long a fail-back waits for the old master to
// report itself a replica.
const demotedWait = 2 * time.Second

// awaitDemoted waits, best effort, until the node at addr (the master a
// failover just replaced) reports itself a replica. The new master answers
// ROLE master a few milliseconds before the old one hears of it; a
// takeover claim released in between let the old master's delete read it
// as a master still and hand the new master's slots off.
func (e *Executor) awaitDemoted(ctx context.Context, addr string) {
	ctx, cancel := context.WithTimeout(ctx, demotedWait)
	defer cancel()
	for {
		role, err := e.Pool.Client(addr).Do(ctx, "ROLE").Slice()
		if err != nil || len(role) == 0 || role[0] != "master" {
			return // demoted, or down (nothing then to hand off from it)
		}
		if sleep(ctx, 2*time.Millisecond) != nil {
			e.debug(ctx, "the old master did not report itself a replica in time", map[string]any{"address": addr})
			return
		}
	}
}
