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

// migrateSlotKeys moves every key of slot from the node at from to ip:port,
// a batch at a time. asking prefixes each MIGRATE with ASKING, so a node
// that holds keys of a slot it does not own (an importing target left
// behind by an interrupted move) still lets them go.
func (e *Executor) migrateSlotKeys(ctx context.Context, from string, slot int, ip string, port int, asking bool) (int, error) {
	src := e.Pool.Client(from)
	moved := 0
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, migrateBatch).Result()
		if err != nil {
			return moved, nodeErr(from, "CLUSTER GETKEYSINSLOT", err)
		}
		if len(keys) == 0 {
			return moved, nil
		}
		args := []any{"MIGRATE", ip, port, "", 0, migrateTimeout.Milliseconds()}
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
		if err := cmd.Err(); err != nil && err != redis.Nil {
			return moved, &NodeError{Addr: from, Kind: classify(err), Op: "MIGRATE",
				Err: fmt.Errorf("moving keys of slot %d to %s:%d (first key %q): %s; the slot stays open and the next apply finishes it",
					slot, ip, port, keys[0], Redact(err.Error(), e.Pool.cfg.Credentials.Password))}
		}
		moved += len(keys)
	}
}

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
		if err := node.Err(); err != nil && (i == 0 || a == from) {
			return nodeErr(a, fmt.Sprintf("CLUSTER SETSLOT %d NODE", slot), err)
		}
	}
	return nil
}

// moveSlots moves s.Slots with their keys from s.Addr to s.Target, slot by
// slot, in the order Redis requires: IMPORTING on the target, MIGRATING on
// the source (so clients are redirected while keys move), MIGRATE the keys
// in batches, then SETSLOT NODE on the target, the source and every other
// master.
func (e *Executor) moveSlots(ctx context.Context, obs *Observed, s Step) error {
	srcID, dstID := obs.ID(s.Addr), s.TargetID
	ip, port := dest(obs, s.Target)
	src, tgt := e.Pool.Client(s.Addr), e.Pool.Client(s.Target)
	start, moved := time.Now(), 0
	for k, slot := range s.Slots.Slots() {
		if err := tgt.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err(); err != nil {
			return nodeErr(s.Target, fmt.Sprintf("CLUSTER SETSLOT %d IMPORTING", slot), err)
		}
		if err := src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err(); err != nil {
			return nodeErr(s.Addr, fmt.Sprintf("CLUSTER SETSLOT %d MIGRATING", slot), err)
		}
		n, err := e.migrateSlotKeys(ctx, s.Addr, slot, ip, port, false)
		moved += n
		if err != nil {
			return err
		}
		if err := e.assignSlot(ctx, obs, slot, s.Target, dstID, s.Addr); err != nil {
			return err
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

// fixSlot settles a slot left importing/migrating by an interrupted move:
// the owner (s.Addr) imports it from whoever serves it now, every other
// node holding keys of it hands them over, and the slot is assigned to the
// owner everywhere. Keys on both sides end up on the owner.
func (e *Executor) fixSlot(ctx context.Context, obs *Observed, s Step) error {
	slot := s.Slots.First()
	owner, ownerID := s.Addr, s.TargetID
	ip, port := dest(obs, owner)
	claimant := ""
	for _, a := range sortedKeys(obs.Nodes) {
		if self := obs.Node(a).Self(); self != nil && self.IsMaster() && self.Slots.Has(slot) {
			claimant = a
		}
	}
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
		n, err := e.migrateSlotKeys(ctx, a, slot, ip, port, a != claimant)
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
