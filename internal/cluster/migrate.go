package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// migrateBatch is how many keys one MIGRATE carries; it bounds memory too:
// keys are listed and moved a batch at a time, never a whole slot at once.
const migrateBatch = 100

// migrateTimeout is MIGRATE's per-call timeout on the source node.
const migrateTimeout = 10 * time.Second

// moveSlots moves s.Slots with their keys from s.Addr to s.Target, slot by
// slot, in the order Redis requires: IMPORTING on the target, MIGRATING on
// the source, MIGRATE the keys in batches, then SETSLOT NODE on the target,
// the source and every other master.
func (e *Executor) moveSlots(ctx context.Context, obs *Observed, s Step) error {
	srcID, dstID := obs.ID(s.Addr), s.TargetID
	dst := obs.Node(s.Target)
	dstSelf := dst.Self()
	ip := dstSelf.IP
	if ip == "" {
		ip = dst.IP
	}
	port := dstSelf.Port
	src, tgt := e.Pool.Client(s.Addr), e.Pool.Client(s.Target)
	var others []string
	for a, n := range obs.Nodes {
		if self := n.Self(); self != nil && self.IsMaster() && a != s.Addr && a != s.Target {
			others = append(others, a)
		}
	}
	start, moved := time.Now(), 0
	for k, slot := range s.Slots.Slots() {
		if err := tgt.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err(); err != nil {
			return nodeErr(s.Target, fmt.Sprintf("CLUSTER SETSLOT %d IMPORTING", slot), err)
		}
		if err := src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err(); err != nil {
			return nodeErr(s.Addr, fmt.Sprintf("CLUSTER SETSLOT %d MIGRATING", slot), err)
		}
		for {
			keys, err := src.ClusterGetKeysInSlot(ctx, slot, migrateBatch).Result()
			if err != nil {
				return nodeErr(s.Addr, "CLUSTER GETKEYSINSLOT", err)
			}
			if len(keys) == 0 {
				break
			}
			args := []any{"MIGRATE", ip, port, "", 0, migrateTimeout.Milliseconds()}
			args = append(args, e.migrateAuth()...)
			args = append(args, "KEYS")
			for _, key := range keys {
				args = append(args, key)
			}
			if err := src.Do(ctx, args...).Err(); err != nil && err != redis.Nil {
				return &NodeError{Addr: s.Addr, Kind: classify(err), Op: "MIGRATE",
					Err: fmt.Errorf("moving keys of slot %d to %s (first key %q): %s; the slot stays migrating and the next apply finishes it", slot, s.Target, keys[0], Redact(err.Error(), e.Pool.cfg.Credentials.Password))}
			}
			moved += len(keys)
		}
		for _, a := range append([]string{s.Target, s.Addr}, others...) {
			if err := e.Pool.Client(a).Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err(); err != nil && (a == s.Target || a == s.Addr) {
				return nodeErr(a, fmt.Sprintf("CLUSTER SETSLOT %d NODE", slot), err)
			}
		}
		if k%256 == 255 {
			e.info(ctx, "moving slots", map[string]any{"from": s.Addr, "to": s.Target, "slots_done": k + 1,
				"slots_total": s.Slots.Len(), "keys_moved": moved, "elapsed_ms": time.Since(start).Milliseconds()})
		}
	}
	e.info(ctx, "moved slots", map[string]any{"from": s.Addr, "to": s.Target, "slots": s.Slots.String(), "keys_moved": moved,
		"elapsed_ms": time.Since(start).Milliseconds()})
	return nil
}

func (e *Executor) migrateAuth() []any {
	c := e.Pool.cfg.Credentials
	switch {
	case c.Username != "":
		return []any{"AUTH2", c.Username, c.Password}
	case c.Password != "":
		return []any{"AUTH", c.Password}
	}
	return nil
}

// Redact replaces every occurrence of secret in s.
func Redact(s, secret string) string {
	if secret == "" {
		return s
	}
	return strings.ReplaceAll(s, secret, "***")
}
