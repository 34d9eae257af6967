package cluster

// The engines' atomic migration tasks: parsed from their status replies, listed, found, cancelled.

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// atomicTask is one migration as the engine reports it.
type atomicTask struct {
	ID             string
	Source, Target string // node IDs
	Slots          SlotSet
	State          string
	Err            string // Redis last_error, Valkey message
	Retries        int
	Fields         map[string]string
	retrying       bool // a Redis import: failed is not an end
}

// Terminal states: Redis says completed or canceled, Valkey success,
// failed or cancelled. A Redis import that failed retries by itself
// (its state says failed until the next attempt starts) until it is
// cancelled, so there failed is not an end.
func (t *atomicTask) done() bool { return t.State == "completed" || t.State == "success" }

func (t *atomicTask) failed() bool {
	return t.State == "canceled" || t.State == "cancelled" || (t.State == "failed" && !t.retrying)
}

func (t *atomicTask) active() bool { return !t.done() && !t.failed() }

// parseAtomicTasks reads CLUSTER MIGRATION STATUS or CLUSTER
// GETSLOTMIGRATIONS: a list of tasks, each a flat field/value list (RESP2)
// or a map (RESP3); a single flat task is accepted too.
func parseAtomicTasks(v any) []*atomicTask {
	list, ok := v.([]any)
	if !ok {
		if m, ok := v.(map[any]any); ok {
			return []*atomicTask{newAtomicTask(mapFields(m))}
		}
		return nil
	}
	if len(list) > 0 {
		if _, flat := list[0].(string); flat {
			return []*atomicTask{newAtomicTask(pairFields(list))}
		}
	}
	var out []*atomicTask
	for _, item := range list {
		switch t := item.(type) {
		case []any:
			out = append(out, newAtomicTask(pairFields(t)))
		case map[any]any:
			out = append(out, newAtomicTask(mapFields(t)))
		}
	}
	return out
}

func pairFields(l []any) map[string]string {
	f := map[string]string{}
	for i := 0; i+1 < len(l); i += 2 {
		f[fmt.Sprint(l[i])] = fmt.Sprint(l[i+1])
	}
	return f
}

func mapFields(m map[any]any) map[string]string {
	f := map[string]string{}
	for k, v := range m {
		f[fmt.Sprint(k)] = fmt.Sprint(v)
	}
	return f
}

func newAtomicTask(f map[string]string) *atomicTask {
	first := func(keys ...string) string {
		for _, k := range keys {
			if v := f[k]; v != "" {
				return v
			}
		}
		return ""
	}
	t := &atomicTask{
		ID:     first("id", "name"),
		Source: first("source", "source_node"),
		Target: first("dest", "target_node"),
		State:  strings.ToLower(first("state")),
		Err:    first("last_error", "message"),
		Fields: f,
	}
	t.Retries, _ = strconv.Atoi(f["retries"])
	for _, r := range strings.FieldsFunc(first("slots", "slot_ranges"), func(c rune) bool { return c == ' ' || c == ',' }) {
		if sr, err := ParseSlotRange(r); err == nil {
			t.Slots.AddRange(sr)
		}
	}
	return t
}

// tasks lists the migrations the coordinating node reports between the
// move's two nodes (either direction; Valkey also logs imports).
func (e *Executor) atomicTasks(ctx context.Context, m atomicMove) ([]*atomicTask, error) {
	v, err := e.Pool.Client(m.coord).Do(ctx, m.statusCmd()...).Result()
	if err != nil {
		return nil, err
	}
	var out []*atomicTask
	for _, t := range parseAtomicTasks(v) {
		t.retrying = m.path == PathRedisImport
		if op := strings.ToLower(t.Fields["operation"]); op == "import" && m.path == PathValkeyExport {
			continue
		}
		out = append(out, t)
	}
	return out, nil
}

// peerImports lists the imports still active on a Valkey move's target
// that cover any of slots. Valkey cancels a migration on its source only;
// the target's import job ends when it notices (its link to the source
// closes), and until then it refuses a new import of those slots and
// SETSLOT IMPORTING alike ("Slot import in progress"). Redis moves are
// coordinated by the target: nothing to list.
func (e *Executor) peerImports(ctx context.Context, m atomicMove, slots SlotSet) ([]*atomicTask, error) {
	if m.path != PathValkeyExport {
		return nil, nil
	}
	v, err := e.Pool.Client(m.peer).Do(ctx, m.statusCmd()...).Result()
	if err != nil {
		return nil, nodeErr(m.peer, m.statusName(), err)
	}
	var out []*atomicTask
	for _, t := range parseAtomicTasks(v) {
		if strings.ToLower(t.Fields["operation"]) == "import" && t.active() && !t.Slots.Intersect(slots).Empty() {
			out = append(out, t)
		}
	}
	return out, nil
}

// atomicPeerWait bounds the wait for a Valkey target to end an import
// whose export was cancelled (measured on Valkey 9.1.2: 12-19 ms after
// the source reports the cancel).
const atomicPeerWait = 30 * time.Second

// awaitPeerImports waits until the Valkey target of m runs no import of
// any of slots (see peerImports), logging what it waits for. At the bound
// it fails naming the target and the job.
func (e *Executor) awaitPeerImports(ctx context.Context, m atomicMove, slots SlotSet) error {
	ctx, cancel := context.WithTimeout(ctx, atomicPeerWait)
	defer cancel()
	start, logged := time.Now(), false
	for {
		tasks, err := e.peerImports(ctx, m, slots)
		if err != nil || len(tasks) == 0 {
			if logged && err == nil {
				e.info(ctx, "the target ended the import", map[string]any{"address": m.peer, "elapsed_ms": time.Since(start).Milliseconds()})
			}
			return err
		}
		t := tasks[0]
		if !logged {
			logged = true
			e.info(ctx, "waiting for the target to end an import whose migration was cancelled on the source", map[string]any{
				"address": m.peer, "task": t.ID, "slots": t.Slots.String(), "state": t.State})
		}
		if err := sleep(ctx, e.poll()); err != nil {
			return &NodeError{Addr: m.peer, Kind: ErrOther, Op: m.statusName(),
				Err: fmt.Errorf("the node still imports slots %s (job %s, state %s) from a migration cancelled on %s; check both nodes' logs, and apply again once CLUSTER GETSLOTMIGRATIONS on %s lists it as ended: %w",
					t.Slots, t.ID, t.State, m.coord, m.peer, err)}
		}
	}
}

// cancelAtomic cancels a migration on its coordinating node (Redis: the
// task; Valkey: every export of the source, the only way it offers), with
// a context of its own so that it also runs when ctx ended (the apply was
// interrupted or timed out: the engine must not go on behind the next
// apply's back). It waits briefly until the task reports an end.
func (e *Executor) cancelAtomic(ctx context.Context, m atomicMove, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	args := []any{"CLUSTER", "CANCELSLOTMIGRATIONS"}
	if m.path == PathRedisImport {
		args = []any{"CLUSTER", "MIGRATION", "CANCEL", "ID", id}
	}
	if err := e.Pool.Client(m.coord).Do(ctx, args...).Err(); err != nil {
		e.info(ctx, "cancelling the atomic slot migration failed", map[string]any{"address": m.coord, "task": id, "error": err.Error()})
		return
	}
	e.info(ctx, "cancelled the atomic slot migration", map[string]any{"address": m.coord, "task": id})
	for ctx.Err() == nil {
		tasks, err := e.atomicTasks(ctx, m)
		if err != nil {
			return
		}
		if t := findTask(tasks, id); t == nil || !t.active() {
			break
		}
		_ = sleep(ctx, e.poll())
	}
	// A Valkey target ends its side of the job once it notices; the next
	// apply waits for that too (settleAtomic): this is best effort.
	_ = e.awaitPeerImports(ctx, m, NewSlotSet(SlotRange{Start: 0, End: SlotCount - 1}))
}

func findTask(tasks []*atomicTask, id string) *atomicTask {
	for _, t := range tasks {
		if t.ID == id {
			return t
		}
	}
	return nil
}
