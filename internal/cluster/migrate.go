package cluster

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// assignSlot ends a move: SETSLOT NODE on the new owner, then the old one,
// then every other master. Redis refuses it on a node that still holds
// keys of the slot, so no key is dropped.
func (e *Executor) assignSlot(ctx context.Context, obs *Observed, slot int, owner, ownerID, from string) error {
	order := []string{owner}
	if from != "" && from != owner {
		order = append(order, from)
	}
	for _, a := range sortedKeys(obs.Nodes) {
		if self := obs.Node(a).Self(); self != nil && self.IsMaster() && a != owner && a != from {
			order = append(order, a)
		}
	}
	for i, a := range order {
		var node *redis.Cmd
		_, _ = e.Pool.Client(a).Pipelined(ctx, func(p redis.Pipeliner) error {
			node = p.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", ownerID)
			if i > 0 {
				// SETSLOT NODE for another node leaves an importing
				// state in place (a target left behind): clear it.
				p.Do(ctx, "CLUSTER", "SETSLOT", slot, "STABLE")
			}
			return nil
		})
		// A source that gave away its last slot may already be a replica
		// of the new owner: done (see sourceGaveUp).
		turnedReplica := a == from && sourceGaveUp(node.Err())
		if err := node.Err(); err != nil && (i == 0 || a == from) && !turnedReplica {
			return nodeErr(a, fmt.Sprintf("CLUSTER SETSLOT %d NODE", slot), err)
		}
	}
	return nil
}

// moveChunk is how many slots a move sets up, drains and assigns per round
// trip to each node.
const moveChunk = 512

// moveSlots moves s.Slots with their keys from s.Addr to s.Target in the
// order Redis requires, a chunk of slots per round trip: IMPORTING on the
// target, MIGRATING on the source (clients are redirected from then on),
// the keys in batches, then SETSLOT NODE on the target, the source and
// every other master. The source refuses SETSLOT NODE while it holds keys
// of the slot (a client wrote during the move): those are drained again,
// so no acknowledged write is left behind.
func (e *Executor) moveSlots(ctx context.Context, obs *Observed, s Step) error {
	// MIGRATE blocks its source until the target answers: a move from A to
	// B while another runs from B to A deadlocks both until their
	// timeouts. Plan's waves never pair them; node resources pull their
	// slots independently, so one pair moves one way at a time.
	pair := []string{s.Addr, s.Target}
	slices.Sort(pair)
	if s.EndsOnly {
		// Node resources' moves: one move at a time per node, as source
		// or target. A target's claim wins only while its config epoch,
		// bumped by SETSLOT NODE, is above the source's; a move into the
		// source at the same time bumps the source past it, and the slots
		// end claimed by neither (seen: 448 slots each end believed the
		// other served). Locks in address order: no deadlock.
		defer e.coord().Lock("node:" + pair[0])()
		defer e.coord().Lock("node:" + pair[1])()
	} else {
		defer e.coord().Lock("pair:" + pair[0] + " " + pair[1])()
	}
	srcID, dstID := obs.ID(s.Addr), s.TargetID
	ip, port := dest(obs, s.Target)
	src, tgt := e.Pool.Client(s.Addr), e.Pool.Client(s.Target)
	var others []string
	if !s.EndsOnly { // see Step.EndsOnly
		others = otherMasters(obs, s.Addr, s.Target)
	}
	if err := e.waitClusterOK(ctx, s.Target); err != nil {
		return err
	}
	if path := e.movePath(ctx, obs, s); path.Atomic() {
		err := e.moveSlotsAtomic(ctx, obs, s, path)
		var refused *atomicRefused
		if !errors.As(err, &refused) {
			return err
		}
		// The slots the engine did not move go key by key.
		owned, oerr := e.ownedBy(ctx, s.Addr)
		if oerr != nil {
			return oerr
		}
		e.info(ctx, "the engine refused the atomic slot migration; moving the keys with MIGRATE instead", map[string]any{
			"from": s.Addr, "to": s.Target, "slots": s.Slots.Intersect(owned).String(), "reason": refused.Error(),
			"remedy": "grant the provider's ACL user the atomic migration commands (see the ACL section of the provider documentation), and check the nodes' logs"})
		s.Slots = s.Slots.Intersect(owned)
	} else if owned, err := e.ownedBy(ctx, s.Addr); err == nil && !owned.Empty() && s.Slots.Intersect(owned).Equal(owned) {
		// The move takes the source's last slots (see awaitTargetAgrees).
		e.awaitTargetAgrees(ctx, s.Addr, srcID, s.Target, owned)
	}
	all := s.Slots.Slots()
	start, lastLog, moved := time.Now(), time.Now(), 0
	var bg sync.WaitGroup
	defer bg.Wait()
	for off := 0; off < len(all); off += moveChunk {
		chunk := all[off:min(off+moveChunk, len(all))]
		if bad, err := setSlots(ctx, tgt, chunk, "IMPORTING", srcID); err != nil {
			return nodeErr(s.Target, fmt.Sprintf("CLUSTER SETSLOT %d IMPORTING", bad), err)
		}
		if bad, err := setSlots(ctx, src, chunk, "MIGRATING", dstID); err != nil {
			return nodeErr(s.Addr, fmt.Sprintf("CLUSTER SETSLOT %d MIGRATING", bad), err)
		}
		n, err := e.drainSlots(ctx, s.Addr, s.Target, chunk, ip, port)
		moved += n
		if err != nil {
			return err
		}
		if bad, err := setSlots(ctx, tgt, chunk, "NODE", dstID); err != nil {
			return nodeErr(s.Target, fmt.Sprintf("CLUSTER SETSLOT %d NODE", bad), err)
		}
		n, err = e.assignChunk(ctx, s, chunk, ip, port)
		moved += n
		if err != nil {
			return err
		}
		// The other masters learn the new owner in the background (best
		// effort: gossip tells them too) while the next chunk starts.
		bg.Add(1)
		go func(chunk []int) {
			defer bg.Done()
			_ = e.each(ctx, others, "CLUSTER SETSLOT NODE", func(ctx context.Context, a string) error {
				_, _ = setSlots(ctx, e.Pool.Client(a), chunk, "NODE", dstID)
				return nil
			})
		}(chunk)
		if time.Since(lastLog) > 2*time.Second {
			lastLog = time.Now()
			el := time.Since(start).Seconds()
			e.info(ctx, "moving slots", map[string]any{"from": s.Addr, "to": s.Target, "slots_done": off + len(chunk),
				"slots_total": len(all), "keys_moved": moved, "keys_per_second": int(float64(moved) / el)})
		}
	}
	el := time.Since(start)
	e.info(ctx, "moved slots", map[string]any{"from": s.Addr, "to": s.Target, "slots": s.Slots.String(), "keys_moved": moved,
		"elapsed_ms": el.Milliseconds(), "keys_per_second": int(float64(moved) / max(el.Seconds(), 1e-3))})
	return nil
}

// otherMasters lists the observed masters besides a move's source and
// target, which learn the slots' new owner after each chunk.
func otherMasters(obs *Observed, src, dst string) []string {
	var others []string
	for _, a := range sortedKeys(obs.Nodes) {
		if self := obs.Node(a).Self(); self != nil && self.IsMaster() && a != src && a != dst {
			others = append(others, a)
		}
	}
	return others
}

// assignChunk gives a drained chunk of s's slots to the target on the
// source (CLUSTER SETSLOT NODE), draining again the slots that got new
// keys meanwhile, up to 10 times. It returns the keys it moved.
func (e *Executor) assignChunk(ctx context.Context, s Step, chunk []int, ip string, port int) (int, error) {
	src, dstID, moved := e.Pool.Client(s.Addr), s.TargetID, 0
	left := chunk
	for attempt := 0; len(left) > 0; attempt++ {
		var err error
		if left, err = setSlotsNode(ctx, src, left, dstID); err != nil {
			if e.isReplica(ctx, s.Addr) {
				// The source gave its last slot away and follows the
				// target; Valkey closes the connection of a client it
				// unblocks on turning replica, so the answer was lost.
				return moved, nil
			}
			return moved, nodeErr(s.Addr, "CLUSTER SETSLOT NODE", err)
		}
		if len(left) == 0 {
			break
		}
		if attempt == 10 {
			return moved, &NodeError{Addr: s.Addr, Kind: ErrOther, Op: "CLUSTER SETSLOT NODE",
				Err: fmt.Errorf("slots %v still get new keys after 10 drains; the slots stay migrating and the next apply finishes them", left)}
		}
		n, err := e.drainSlots(ctx, s.Addr, s.Target, left, ip, port)
		moved += n
		if err != nil {
			return moved, err
		}
	}
	return moved, nil
}

// setSlotConns is how many connections a node's SETSLOT commands for one
// chunk are spread over. Valkey 8.0+ blocks each SETSLOT until the master's
// replicas acknowledge it, so one connection runs one slot per replication
// round trip; several blocked clients are released by the same
// acknowledgement. Measured on Valkey 9.1.2 (3x(1+1), 2731 slots, loopback):
// one connection moved about 100 slots per second.
const setSlotConns = 8

// pipeSetSlot sends CLUSTER SETSLOT <slot> <how> <id> for every slot, spread
// over setSlotConns pipelines, and returns each slot's error.
func pipeSetSlot(ctx context.Context, c *redis.Client, slots []int, how, id string) []error {
	errs := make([]error, len(slots))
	per := (len(slots) + setSlotConns - 1) / setSlotConns
	var wg sync.WaitGroup
	for lo := 0; lo < len(slots); lo += per {
		hi := min(lo+per, len(slots))
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmds := make([]*redis.Cmd, hi-lo)
			_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i, slot := range slots[lo:hi] {
					cmds[i] = p.Do(ctx, "CLUSTER", "SETSLOT", slot, how, id)
				}
				return nil
			})
			for i, cmd := range cmds {
				errs[lo+i] = cmd.Err()
			}
		}()
	}
	wg.Wait()
	return errs
}

// setSlots sends CLUSTER SETSLOT <slot> <how> <id> for every slot in one
// round trip per connection; it returns the first slot that failed.
func setSlots(ctx context.Context, c *redis.Client, slots []int, how, id string) (int, error) {
	for i, err := range pipeSetSlot(ctx, c, slots, how, id) {
		if err != nil {
			return slots[i], err
		}
	}
	return 0, nil
}

// setSlotsNode assigns slots to id on a source node and returns those it
// refused because it still holds keys of them.
func setSlotsNode(ctx context.Context, c *redis.Client, slots []int, id string) ([]int, error) {
	var left []int
	for i, err := range pipeSetSlot(ctx, c, slots, "NODE", id) {
		if err != nil {
			if isStillHoldsKeys(err) {
				left = append(left, slots[i])
				continue
			}
			if sourceGaveUp(err) {
				// The target owns the slot (it took SETSLOT NODE first) and
				// the source's keys of it were drained: the source learns the
				// owner by gossip if it did not take the command.
				continue
			}
			return nil, fmt.Errorf("slot %d: %w", slots[i], err)
		}
	}
	return left, nil
}

// isReplica tells whether the node at addr answers ROLE as a replica.
func (e *Executor) isReplica(ctx context.Context, addr string) bool {
	role, err := e.Pool.Client(addr).Do(ctx, "ROLE").Slice()
	if err != nil || len(role) == 0 {
		return false
	}
	r, _ := role[0].(string)
	return r == "slave" || r == "replica"
}

// sourceGaveUp tells whether err, the answer of a move's source to CLUSTER
// SETSLOT NODE (sent once the target owns the slot), only says that the
// source learned the new owner another way. The target's claim reaches the
// source by gossip, and a source that gave away its last slot turns itself
// into a replica of the target (cluster-allow-replica-migration):
//   - "Please use SETSLOT only with masters" (Redis; Valkey says "primaries").
//   - Valkey 8.0+ replicates SETSLOT to the master's online replicas and blocks
//     the client until they acknowledge. If the source turns replica while it
//     waits, the client is unblocked with "UNBLOCKED force unblock from
//     blocking operation, instance state changed (master -> replica?)"; if
//     its replicas follow the new owner first, the wait times out with
//     "NOREPLICAS Not enough good replicas to write". valkey-cli's reshard
//     accepts the same answers from the source (clusterManagerMoveSlot).
//
// The source refuses SETSLOT NODE while it still holds keys of the slot
// before it replicates anything, so none of these answers leaves a key
// behind; the final readiness wait checks that every node sees the owner.
func sourceGaveUp(err error) bool {
	return isSetSlotNotMaster(err) || isUnblocked(err) || isNoReplicas(err)
}

// clusterOKWait bounds how long a move waits for its ends to report
// cluster_state:ok: well past a rejoin delay (at most 5 s) and a gossip
// round, short of a stuck apply.
const clusterOKWait = 30 * time.Second

// maxTargetDown bounds how often one drain waits for a target that answered
// CLUSTERDOWN before it gives up (the slot stays open; the next apply
// finishes it).
const maxTargetDown = 20

// waitClusterOK waits until each node reports cluster_state:ok: a master
// that just joined, or just restarted, or that briefly counts a peer as
// failing, refuses keyed commands (CLUSTERDOWN), MIGRATE and migrated keys
// included, until then.
//
// The wait is bounded (clusterOKWait): a node still down after that is
// not waiting for gossip but for something that changed under the plan (an
// automatic failover, a node cut off), so the round ends and the next one
// plans from a fresh read.
func (e *Executor) waitClusterOK(ctx context.Context, addrs ...string) error {
	start, lastLog := time.Now(), time.Now()
	for _, addr := range addrs {
		c := e.Pool.Client(addr)
		for {
			info, err := c.ClusterInfo(ctx).Result()
			if err == nil && ParseInfo(info)["cluster_state"] == "ok" {
				break
			}
			if time.Since(lastLog) > 2*time.Second {
				lastLog = time.Now()
				e.info(ctx, "waiting until the node reports cluster_state:ok before moving keys", map[string]any{"address": addr, "elapsed_ms": time.Since(start).Milliseconds()})
			}
			if time.Since(start) > clusterOKWait {
				return &replanError{why: fmt.Sprintf("node %s still reports cluster_state:fail after %s; planning again from a fresh read", addr, clusterOKWait)}
			}
			if err := sleep(ctx, e.poll()); err != nil {
				return fmt.Errorf("node %s: waiting for cluster_state:ok before moving keys: %w", addr, err)
			}
		}
	}
	return nil
}

// slotClaimant is the master whose own view serves slot ("" when none):
// owner when it does, even if another master still claims the slot too
// (a view not yet updated), since SETSLOT IMPORTING on the slot's owner
// fails ("I'm already the owner"); else the last claimant by address.
func slotClaimant(obs *Observed, owner string, slot int) string {
	claimant := ""
	for _, a := range sortedKeys(obs.Nodes) {
		if self := obs.Node(a).Self(); self != nil && self.IsMaster() && self.Slots.Has(slot) && claimant != owner {
			claimant = a
		}
	}
	return claimant
}

// fixSlot settles a slot left importing/migrating by an interrupted move:
// the owner (s.Addr) imports it from whoever serves it now, every other
// node holding keys of it hands them over, and the slot is assigned to the
// owner everywhere. Keys on both sides end up on the owner.
func (e *Executor) fixSlot(ctx context.Context, obs *Observed, s Step) error {
	slot := s.Slots.First()
	owner, ownerID := s.Addr, s.TargetID
	ip, port := dest(obs, owner)
	if err := e.waitClusterOK(ctx, owner); err != nil {
		return err
	}
	claimant := slotClaimant(obs, owner, slot)
	if claimant == owner {
		// Rolling back: the owner must stop redirecting the slot's missing
		// keys (ASK) before it can take the moved ones back.
		if err := e.Pool.Client(owner).Do(ctx, "CLUSTER", "SETSLOT", slot, "STABLE").Err(); err != nil {
			return nodeErr(owner, fmt.Sprintf("CLUSTER SETSLOT %d STABLE", slot), err)
		}
	}
	if claimant != "" && claimant != owner {
		if err := e.Pool.Client(owner).Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", obs.ID(claimant)).Err(); err != nil {
			return nodeErr(owner, fmt.Sprintf("CLUSTER SETSLOT %d IMPORTING", slot), err)
		}
		if err := e.Pool.Client(claimant).Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", ownerID).Err(); err != nil {
			return nodeErr(claimant, fmt.Sprintf("CLUSTER SETSLOT %d MIGRATING", slot), err)
		}
	}
	moved := 0
	for _, a := range sortedKeys(obs.Nodes) {
		if self := obs.Node(a).Self(); a == owner || self == nil || !self.IsMaster() {
			continue
		}
		n, err := e.migrateSlotKeys(ctx, a, owner, slot, ip, port, a != claimant)
		moved += n
		if err != nil {
			return err
		}
	}
	if err := e.assignSlot(ctx, obs, slot, owner, ownerID, claimant); err != nil {
		return err
	}
	e.info(ctx, "fixed open slot", map[string]any{"slot": slot, "owner": owner, "keys_moved": moved})
	return nil
}
