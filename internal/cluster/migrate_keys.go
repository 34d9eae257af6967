package cluster

// Moving a slot's keys: MIGRATE in batches, drains of many slots, copies the owner already has.

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

// dest is where MIGRATE sends keys: the address the target announces to
// the cluster (reachable from the source), else the one Terraform dials.
func dest(obs *Observed, addr string) (string, int) {
	n := obs.Node(addr)
	self := n.Self()
	ip := self.IP
	if ip == "" {
		ip = n.IP
	}
	return ip, self.Port
}

// migrateSlotKeys moves every key of slot from the node at from to the
// node at owner (which MIGRATE reaches at ip:port), a batch at a time.
// asking prefixes each MIGRATE with ASKING, so a node that holds keys of a
// slot it does not own (an importing target left behind by an interrupted
// move) still lets them go.
//
// A key can be on both nodes: a MIGRATE cut off after the target stored
// it but before the source deleted it (the target killed, the reply lost)
// leaves it so, and the next MIGRATE fails with BUSYKEY. Which copy wins
// depends on who served the slot meanwhile:
//   - Keys leaving the node that serves their slot (not asking) go with
//     MIGRATE ... REPLACE, in drainSlots too: a migrating node serves the
//     keys it still has and redirects only missing ones, so its copy is
//     the one clients read and wrote.
//   - Keys handed back to the owner by a node that does not serve the slot
//     (asking) never replace: once the owner serves the slot again, clients
//     write there, so the owner's copy wins and the other copies are
//     dropped (dropShadowed).
func (e *Executor) migrateSlotKeys(ctx context.Context, from, owner string, slot int, ip string, port int, asking bool) (int, error) {
	src := e.Pool.Client(from)
	moved, down := 0, 0
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, migrateBatch).Result()
		if err != nil {
			return moved, nodeErr(from, "CLUSTER GETKEYSINSLOT", err)
		}
		if len(keys) == 0 {
			return moved, nil
		}
		args := []any{"MIGRATE", ip, port, "", 0, migrateTimeout.Milliseconds()}
		if !asking {
			args = append(args, "REPLACE")
		}
		args = append(args, e.migrateAuth()...)
		args = append(args, "KEYS")
		for _, key := range keys {
			args = append(args, key)
		}
		var cmd *redis.Cmd
		_, _ = src.Pipelined(ctx, func(p redis.Pipeliner) error {
			if asking {
				p.Do(ctx, "ASKING")
			}
			cmd = p.Do(ctx, args...)
			return nil
		})
		if err := cmd.Err(); err != nil && asking && isMigrateBusyKey(err) {
			dropped, derr := e.dropShadowed(ctx, from, owner, keys)
			if derr != nil {
				return moved, derr
			}
			if dropped > 0 {
				continue
			}
		}
		if err := cmd.Err(); isClusterDown(err) && down < maxTargetDown {
			down++
			e.info(ctx, "the slot's owner refused keys with CLUSTERDOWN; waiting until it reports cluster_state:ok", map[string]any{"address": owner, "from": from, "attempt": down})
			if err := e.waitClusterOK(ctx, from, owner); err != nil {
				return moved, err
			}
			continue
		}
		if err := cmd.Err(); err != nil && err != redis.Nil {
			return moved, &NodeError{Addr: from, Kind: classify(err), Op: "MIGRATE",
				Err: fmt.Errorf("moving keys of slot %d to %s:%d (first key %q): %s; the slot stays open and the next apply finishes it",
					slot, ip, port, keys[0], Redact(err.Error(), e.Pool.cfg.Credentials.Password))}
		}
		moved += len(keys)
	}
}

// dropShadowed deletes, on a node handing keys back to the owner of their
// slot (asking), the keys the owner already has. The owner's copy wins:
// once the owner serves the slot again (STABLE), clients write there, so
// a key on both was rewritten on the owner after the other copy was made.
// It returns how many keys it deleted.
func (e *Executor) dropShadowed(ctx context.Context, from, owner string, keys []string) (int, error) {
	exists := make([]*redis.IntCmd, len(keys))
	_, _ = e.Pool.Client(owner).Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			exists[i] = p.Exists(ctx, k)
		}
		return nil
	})
	var both []string
	for i, c := range exists {
		if err := c.Err(); err != nil {
			return 0, nodeErr(owner, "EXISTS", err)
		}
		if c.Val() == 1 {
			both = append(both, keys[i])
		}
	}
	if len(both) == 0 {
		return 0, nil
	}
	dels := make([]*redis.IntCmd, len(both))
	_, _ = e.Pool.Client(from).Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range both {
			p.Do(ctx, "ASKING")
			dels[i] = p.Del(ctx, k)
		}
		return nil
	})
	for i, c := range dels {
		if err := c.Err(); err != nil {
			return i, nodeErr(from, fmt.Sprintf("DEL %q (a copy the owner %s already has)", both[i], owner), err)
		}
	}
	e.info(ctx, "dropped copies of keys the slot's owner already has", map[string]any{"address": from, "owner": owner, "keys": len(both)})
	return len(both), nil
}

// drainSlots moves every key of the given slots from a node to ip:port:
// each round trip lists up to migrateBatch keys of every pending slot, the
// next sends one MIGRATE per slot (MIGRATE takes keys of one slot only),
// pipelined; slots that had a full batch go round again. Memory stays
// bounded by moveChunk x migrateBatch key names (51,200).
//
// A target that answers CLUSTERDOWN (it briefly counts a peer as failing)
// is waited for until it reports cluster_state:ok, and the slot is drained
// again, up to maxTargetDown times per call.
func (e *Executor) drainSlots(ctx context.Context, from, to string, slots []int, ip string, port int) (int, error) {
	c := e.Pool.Client(from)
	moved, down := 0, 0
	pending := slots
	for len(pending) > 0 {
		lists := make([]*redis.StringSliceCmd, len(pending))
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for i, slot := range pending {
				lists[i] = p.ClusterGetKeysInSlot(ctx, slot, migrateBatch)
			}
			return nil
		})
		if err != nil {
			return moved, nodeErr(from, "CLUSTER GETKEYSINSLOT", err)
		}
		type batch struct {
			slot int
			keys []string
			cmd  *redis.Cmd
		}
		var batches []*batch
		for i, l := range lists {
			if keys := l.Val(); len(keys) > 0 {
				batches = append(batches, &batch{slot: pending[i], keys: keys})
			}
		}
		if len(batches) == 0 {
			return moved, nil
		}
		_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, b := range batches {
				args := []any{"MIGRATE", ip, port, "", 0, migrateTimeout.Milliseconds(), "REPLACE"} // see migrateSlotKeys
				args = append(args, e.migrateAuth()...)
				args = append(args, "KEYS")
				for _, k := range b.keys {
					args = append(args, k)
				}
				b.cmd = p.Do(ctx, args...)
			}
			return nil
		})
		pending = pending[:0:0]
		wait := false
		for _, b := range batches {
			if err := b.cmd.Err(); isClusterDown(err) && down < maxTargetDown {
				wait = true
				pending = append(pending, b.slot)
				continue
			}
			if err := b.cmd.Err(); err != nil && err != redis.Nil {
				return moved, &NodeError{Addr: from, Kind: classify(err), Op: "MIGRATE",
					Err: fmt.Errorf("moving keys of slot %d to %s:%d failed at key %q (batch of %d): %s; the slot stays migrating and the next apply finishes it",
						b.slot, ip, port, b.keys[0], len(b.keys), Redact(err.Error(), e.Pool.cfg.Credentials.Password))}
			}
			moved += len(b.keys)
			if len(b.keys) == migrateBatch {
				pending = append(pending, b.slot)
			}
		}
		if wait {
			down++
			e.info(ctx, "the move's target refused keys with CLUSTERDOWN; waiting until it reports cluster_state:ok", map[string]any{"address": to, "from": from, "attempt": down})
			if err := e.waitClusterOK(ctx, from, to); err != nil {
				return moved, err
			}
		}
	}
	return moved, nil
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
