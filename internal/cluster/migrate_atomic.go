package cluster

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// atomicRefused is the engine declining an atomic migration: the command
// was refused (NOPERM for a user without the grant, a module that did not
// opt in, ...) or the migration failed while both nodes kept answering
// (the nodes cannot authenticate to each other, say). The move then takes
// the MIGRATE path.
type atomicRefused struct {
	addr, reason string
}

func (r *atomicRefused) Error() string {
	return fmt.Sprintf("node %s refused the atomic slot migration: %s", r.addr, r.reason)
}

// atomicMaxRetries is how many times a Redis target may retry a migration
// whose source keeps answering the provider before the move falls back to
// MIGRATE: a failure both nodes survive (they cannot authenticate to each
// other, say) would repeat forever.
const atomicMaxRetries = 3

// atomicPoll is how often a running migration's status is read at most:
// the engine moves 50k small keys in under 100 ms.
const atomicPoll = 2 * time.Millisecond

// atomicLogEvery is how often a running migration logs its progress.
const atomicLogEvery = 2 * time.Second

// atomicMove is one atomic migration in flight: where it is driven from
// (the target on Redis, the source on Valkey) and the other end.
type atomicMove struct {
	path         MovePath
	coord, peer  string // addresses
	srcID, dstID string
}

func (m atomicMove) statusCmd() []any {
	if m.path == PathRedisImport {
		return []any{"CLUSTER", "MIGRATION", "STATUS", "ALL"}
	}
	return []any{"CLUSTER", "GETSLOTMIGRATIONS"}
}

func (m atomicMove) statusName() string {
	if m.path == PathRedisImport {
		return "CLUSTER MIGRATION STATUS"
	}
	return "CLUSTER GETSLOTMIGRATIONS"
}

// ownedBy is the set of slots the node at addr serves, by its own view.
func (e *Executor) ownedBy(ctx context.Context, addr string) (SlotSet, error) {
	return e.slotsSeen(ctx, addr, "")
}

// viewOf reads and parses the CLUSTER NODES of the node at addr alone.
func (e *Executor) viewOf(ctx context.Context, addr string) ([]NodeLine, error) {
	out, err := e.Pool.Client(addr).ClusterNodes(ctx).Result()
	if err != nil {
		return nil, nodeErr(addr, "CLUSTER NODES", err)
	}
	lines, err := ParseNodes(out)
	if err != nil {
		return nil, &NodeError{Addr: addr, Kind: ErrOther, Op: "CLUSTER NODES", Err: err}
	}
	return lines, nil
}

// slotsSeen is the set of slots the node with ID id serves by the view of
// the node at viewer ("" for the viewer itself).
func (e *Executor) slotsSeen(ctx context.Context, viewer, id string) (SlotSet, error) {
	lines, err := e.viewOf(ctx, viewer)
	if err != nil {
		return SlotSet{}, err
	}
	for _, l := range lines {
		if (id == "" && l.Myself()) || (id != "" && l.ID == id) {
			return l.Slots, nil
		}
	}
	return SlotSet{}, nil
}

// moveSlotsAtomic moves s.Slots from s.Addr to s.Target with the engines'
// own migration: every range in one command, then the engine's status is
// polled until the task ends. It returns *atomicRefused when the engine
// declines, so that the caller moves the keys with MIGRATE instead.
//
// A migration left running by an interrupted apply (the provider killed
// before it could cancel it) is awaited when it goes the same way, and
// cancelled otherwise, before anything starts. An interrupted or timed-out
// apply cancels its migration; a node that stops answering mid-move fails
// the move (the engine rolls back: the slots stay on the source, with
// every key) and the next apply moves them again.
func (e *Executor) moveSlotsAtomic(ctx context.Context, obs *Observed, s Step, path MovePath) error {
	m := atomicMove{path: path, coord: s.Target, peer: s.Addr, srcID: obs.ID(s.Addr), dstID: s.TargetID}
	if path == PathValkeyExport {
		m.coord, m.peer = s.Addr, s.Target
	}
	start := time.Now()
	slots, err := e.settleAtomic(ctx, m, s.Slots)
	if err != nil || slots.Empty() {
		return err
	}
	id, err := e.startAtomic(ctx, m, slots)
	if err != nil {
		return err
	}
	fields := func(t *atomicTask) map[string]any {
		// No key count: counting would cost a round trip per move, and the
		// engines log the keys they moved (the nodes' logs).
		f := map[string]any{"from": s.Addr, "to": s.Target, "slots": slots.String(), "slots_total": slots.Len(),
			"path": path.String(), "task": id, "elapsed_ms": time.Since(start).Milliseconds()}
		if t != nil {
			f["state"] = t.State
			if t.Err != "" {
				f["engine_error"] = t.Err
			}
			if t.Retries > 0 {
				f["retries"] = t.Retries
			}
			if v := t.Fields["remaining_repl_size"]; v != "" {
				f["remaining_repl_size"] = v
			}
		}
		return f
	}
	e.info(ctx, "moving slots", fields(nil))
	if err := e.awaitAtomic(ctx, m, id, slots, func(t *atomicTask) map[string]any { return fields(t) }); err != nil {
		return err
	}
	// The other masters learn the new owner from gossip within a few
	// hundred milliseconds; telling them saves the readiness wait that
	// time (best effort, as in the MIGRATE path).
	var others []string
	for _, a := range sortedKeys(obs.Nodes) {
		if s.EndsOnly {
			break // see Step.EndsOnly
		}
		if self := obs.Node(a).Self(); self != nil && self.IsMaster() && a != s.Addr && a != s.Target {
			others = append(others, a)
		}
	}
	list := slots.Slots()
	e.debug(ctx, "atomic slot migration landed", map[string]any{"from": s.Addr, "to": s.Target, "elapsed_ms": time.Since(start).Milliseconds()})
	_ = e.each(ctx, others, "CLUSTER SETSLOT NODE", func(ctx context.Context, a string) error {
		_, _ = setSlots(ctx, e.Pool.Client(a), list, "NODE", m.dstID)
		return nil
	})
	e.info(ctx, "moved slots", fields(&atomicTask{State: "done"}))
	return nil
}

// settleAtomic deals with migrations the coordinating node still runs on
// any of slots: one going the same way is awaited, any other is
// cancelled. It returns the slots the source still has to give, by the
// source's own view.
func (e *Executor) settleAtomic(ctx context.Context, m atomicMove, slots SlotSet) (SlotSet, error) {
	tasks, err := e.atomicTasks(ctx, m)
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) {
			return slots, &atomicRefused{addr: m.coord, reason: fmt.Sprintf("%s: %s", m.statusName(), err.Error())}
		}
		return slots, nodeErr(m.coord, m.statusName(), err)
	}
	for _, t := range tasks {
		if !t.active() || t.Slots.Intersect(slots).Empty() {
			continue
		}
		if t.Source == m.srcID && t.Target == m.dstID {
			e.info(ctx, "an atomic slot migration left running by an earlier apply goes the same way: waiting for it", map[string]any{
				"address": m.coord, "task": t.ID, "slots": t.Slots.String(), "state": t.State})
			if err := e.awaitAtomic(ctx, m, t.ID, t.Slots, func(t *atomicTask) map[string]any {
				return map[string]any{"address": m.coord, "task": t.ID, "state": t.State}
			}); err != nil {
				var ref *atomicRefused
				if !errors.As(err, &ref) {
					return slots, err
				}
			}
		} else {
			e.info(ctx, "cancelling an atomic slot migration left running by an earlier apply", map[string]any{
				"address": m.coord, "task": t.ID, "slots": t.Slots.String(), "state": t.State})
			e.cancelAtomic(ctx, m, t.ID)
		}
	}
	// A target still importing from a cancelled migration refuses the new
	// one, and the MIGRATE path's SETSLOT IMPORTING too (seen on Valkey
	// 9.1 when the next apply followed a cancel within milliseconds).
	if err := e.awaitPeerImports(ctx, m, slots); err != nil {
		return slots, err
	}
	// Only what the source serves by its own view moves: the engine
	// imports from whichever node owns a slot when the task starts, so a
	// move planned from a read older than a failover (the source is a
	// replica by now) would take the slots from the new master (seen: a
	// leaving master's hand-off took 1,821 slots from the replica that had
	// just taken its shard over).
	owned, err := e.ownedBy(ctx, m.srcAddr())
	if err != nil {
		return slots, err
	}
	if gone := slots.Minus(owned); !gone.Empty() {
		e.info(ctx, "the source no longer serves some of the slots to move; leaving them to the next plan", map[string]any{
			"from": m.srcAddr(), "to": m.dstAddr(), "slots": gone.String()})
	}
	slots = slots.Intersect(owned)
	if !slots.Empty() && slots.Equal(owned) {
		e.awaitTargetAgrees(ctx, m.srcAddr(), m.srcID, m.dstAddr(), owned)
	}
	return slots, nil
}

// lastMoveAgreeWait bounds how long a move that empties its source waits
// for the target to agree on what the source still serves.
const lastMoveAgreeWait = 5 * time.Second

// awaitTargetAgrees waits, best effort, until the target of a move that
// takes the source's last slots sees the source serving exactly those.
// A master that gives its last slot away turns replica of the node that
// took it, and a node that sees a master turn replica of another moves the
// slots it still believes the old master served to the new one: when that
// node is the target and its view is behind (it has not heard yet that
// the source gave other slots to a third node a moment before), it takes
// those slots itself, with the next config epoch and none of their keys
// (seen on Redis 8.6: 1,684 keys of 5461-8191 lost when a leaving master
// handed them to one node and its last slots to another 40 ms later).
func (e *Executor) awaitTargetAgrees(ctx context.Context, src, srcID, dst string, owned SlotSet) {
	ctx, cancel := context.WithTimeout(ctx, lastMoveAgreeWait)
	defer cancel()
	var seen SlotSet
	start := time.Now()
	for polls := 0; ; polls++ {
		if got, err := e.slotsSeen(ctx, dst, srcID); err == nil {
			if seen = got; seen.Equal(owned) {
				if polls > 0 {
					e.debug(ctx, "the target now agrees on what the source serves", map[string]any{
						"from": src, "to": dst, "elapsed_ms": time.Since(start).Milliseconds()})
				}
				return
			}
		}
		if sleep(ctx, e.poll()) != nil {
			e.info(ctx, "the target does not yet agree on what the source serves; moving its last slots anyway", map[string]any{
				"from": src, "to": dst, "source_serves": owned.String(), "target_sees": seen.String()})
			return
		}
	}
}

func (m atomicMove) srcAddr() string {
	if m.path == PathRedisImport {
		return m.peer
	}
	return m.coord
}

func (m atomicMove) dstAddr() string {
	if m.path == PathRedisImport {
		return m.coord
	}
	return m.peer
}

// startAtomic sends the migration command with every range of slots and
// returns the task's ID. A refusal by the engine is *atomicRefused.
func (e *Executor) startAtomic(ctx context.Context, m atomicMove, slots SlotSet) (string, error) {
	c := e.Pool.Client(m.coord)
	var args []any
	var before []*atomicTask
	if m.path == PathRedisImport {
		args = []any{"CLUSTER", "MIGRATION", "IMPORT"}
		for _, r := range slots.Ranges() {
			args = append(args, r.Start, r.End)
		}
	} else {
		// MIGRATESLOTS answers OK: the new job is the one the log did
		// not list before.
		var err error
		if before, err = e.atomicTasks(ctx, m); err != nil {
			return "", nodeErr(m.coord, "CLUSTER GETSLOTMIGRATIONS", err)
		}
		args = []any{"CLUSTER", "MIGRATESLOTS", "SLOTSRANGE"}
		for _, r := range slots.Ranges() {
			args = append(args, r.Start, r.End)
		}
		args = append(args, "NODE", m.dstID)
	}
	op := strings.Join([]string{fmt.Sprint(args[0]), fmt.Sprint(args[1]), fmt.Sprint(args[2])}, " ")
	v, err := c.Do(ctx, args...).Result()
	if err != nil {
		var rerr redis.Error
		if errors.As(err, &rerr) {
			return "", &atomicRefused{addr: m.coord, reason: fmt.Sprintf("%s: %s", op, err.Error())}
		}
		return "", nodeErr(m.coord, op, err)
	}
	if m.path == PathRedisImport {
		id := fmt.Sprint(v)
		if id == "" {
			return "", &NodeError{Addr: m.coord, Kind: ErrOther, Op: op, Err: errors.New("no task ID in the answer")}
		}
		return id, nil
	}
	after, err := e.atomicTasks(ctx, m)
	if err != nil {
		return "", nodeErr(m.coord, "CLUSTER GETSLOTMIGRATIONS", err)
	}
	for _, t := range after {
		if findTask(before, t.ID) == nil && t.Target == m.dstID && !t.Slots.Intersect(slots).Empty() {
			return t.ID, nil
		}
	}
	return "", &NodeError{Addr: m.coord, Kind: ErrOther, Op: "CLUSTER GETSLOTMIGRATIONS",
		Err: fmt.Errorf("the migration of slots %s started with CLUSTER MIGRATESLOTS is not listed", slots)}
}

// awaitAtomic polls the task until it ends, logging its progress from the
// engine's status every atomicLogEvery. It returns nil once the source no
// longer serves any of slots, *atomicRefused when the engine gave up while
// both nodes answer, and an error naming the node when one stops answering.
func (e *Executor) awaitAtomic(ctx context.Context, m atomicMove, id string, slots SlotSet, fields func(*atomicTask) map[string]any) error {
	lastLog := time.Now()
	for {
		if ctx.Err() != nil {
			e.cancelAtomic(ctx, m, id)
			return fmt.Errorf("atomic slot migration of slots %s from %s to %s interrupted (cancelled; the slots stay on %s with their keys, and the next apply moves them): %w",
				slots, m.srcAddr(), m.dstAddr(), m.srcAddr(), ctx.Err())
		}
		tasks, err := e.atomicTasks(ctx, m)
		if err != nil {
			if ctx.Err() != nil {
				continue
			}
			return nodeErr(m.coord, fmt.Sprintf("%s (slots %s moving from %s to %s; the engine rolls back a move it cannot finish and the next apply moves them again)",
				m.statusName(), slots, m.srcAddr(), m.dstAddr()), err)
		}
		t := findTask(tasks, id)
		switch {
		case t == nil || t.done():
			e.debug(ctx, "atomic slot migration ended", map[string]any{"address": m.coord, "task": id, "listed": t != nil})
		}
		switch {
		case t == nil:
			// A Valkey source that gave its last slot away turns replica and
			// stops listing its exports: the target's ownership says.
			return e.atomicLanded(ctx, m, slots, "the task is no longer listed")
		case t.done():
			return e.atomicLanded(ctx, m, slots, "the task completed")
		case t.failed():
			if err := e.peerDown(ctx, m, t); err != nil {
				e.cancelAtomic(ctx, m, id)
				return err
			}
			return &atomicRefused{addr: m.coord, reason: fmt.Sprintf("the migration %s ended %s: %s", id, t.State, t.Err)}
		case t.Err != "" || t.Retries > 0:
			if err := e.peerDown(ctx, m, t); err != nil {
				e.cancelAtomic(ctx, m, id)
				return err
			}
			if t.Retries >= atomicMaxRetries {
				e.cancelAtomic(ctx, m, id)
				return &atomicRefused{addr: m.coord, reason: fmt.Sprintf("the migration %s failed %d times while both nodes answer: %s", id, t.Retries, t.Err)}
			}
		}
		if time.Since(lastLog) > atomicLogEvery {
			lastLog = time.Now()
			e.info(ctx, "moving slots", fields(t))
		}
		_ = sleep(ctx, min(e.poll(), atomicPoll))
	}
}

// peerDown returns an error naming the move's other node when it does not
// answer (the engine's error is then about it), else nil.
func (e *Executor) peerDown(ctx context.Context, m atomicMove, t *atomicTask) error {
	err := e.Pool.Client(m.peer).Ping(ctx).Err()
	if err == nil || !IsUnreachable(nodeErr(m.peer, "PING", err)) {
		return nil
	}
	return &NodeError{Addr: m.peer, Kind: ErrUnreachable, Op: "atomic slot migration",
		Err: fmt.Errorf("slots %s moving from %s to %s: the node stopped answering (%s; engine: %s %s); the engine rolls the move back, the slots stay on %s with their keys, and the next apply moves them again",
			t.Slots, m.srcAddr(), m.dstAddr(), err, t.State, t.Err, m.srcAddr())}
}

// atomicLanded waits until the source no longer serves any of slots and
// the target serves them all, by their own views: the engine ended the
// task as the ownership changed hands, and the steps after a move (a
// source removed from the cluster) need the source to know it gave them
// away.
func (e *Executor) atomicLanded(ctx context.Context, m atomicMove, slots SlotSet, why string) error {
	for {
		dst, err := e.ownedBy(ctx, m.dstAddr())
		if err != nil {
			return err
		}
		src, serr := e.ownedBy(ctx, m.srcAddr())
		if missing := slots.Minus(dst); !missing.Empty() {
			return &atomicRefused{addr: m.coord, reason: fmt.Sprintf("%s but %s does not serve slots %s", why, m.dstAddr(), missing)}
		}
		if serr == nil && src.Intersect(slots).Empty() {
			return nil
		}
		if err := sleep(ctx, e.poll()); err != nil {
			return fmt.Errorf("node %s: waiting until it no longer serves slots %s, which %s took: %w", m.srcAddr(), src.Intersect(slots), m.dstAddr(), err)
		}
	}
}
