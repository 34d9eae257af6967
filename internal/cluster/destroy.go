package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
)

// KeysError says which masters hold keys, so a destroy was refused.
type KeysError struct {
	Keys map[string]int64 // address -> DBSIZE
}

func (e *KeysError) Error() string {
	var parts []string
	var total int64
	for _, a := range sortedKeys(e.Keys) {
		parts = append(parts, fmt.Sprintf("%s holds %d keys", a, e.Keys[a]))
		total += e.Keys[a]
	}
	return fmt.Sprintf("%s (%d keys in all)", strings.Join(parts, ", "), total)
}

// Destroy returns every address to an empty lone node: it refuses while a
// master holds keys unless force is set (then it flushes the masters), and
// then sends CLUSTER RESET HARD to the replicas and then to the masters.
// Nothing is changed when a check fails. Nodes that are already lone and
// empty are left as they are.
func (e *Executor) Destroy(ctx context.Context, addrs []string, force bool) error {
	observe := func() *Observed { return Observe(ctx, e.Pool, addrs, true) }
	obs, err := e.awaitLoaded(ctx, observe(), observe, map[string]any{"nodes": len(addrs)})
	if err != nil {
		return err
	}
	var errs Errors
	for _, n := range obs.Failed() {
		errs = append(errs, n.Err)
	}
	if len(errs) > 0 {
		return &UnreadableError{Errs: errs}
	}
	keys := map[string]int64{}
	var masters, replicas []string
	for _, a := range addrs {
		n := obs.Node(a)
		self := n.Self()
		if self.IsReplica() {
			replicas = append(replicas, a)
			continue
		}
		if len(n.View) == 1 && self.Slots.Empty() && n.Keys == 0 {
			continue // already a lone empty node
		}
		masters = append(masters, a)
		if n.Keys > 0 {
			keys[a] = n.Keys
		}
	}
	if len(keys) > 0 && !force {
		return &KeysError{Keys: keys}
	}
	if len(keys) > 0 {
		if err := e.Pool.CheckAccess(ctx, sortedKeys(keys), AccessFlush); err != nil {
			return err
		}
		if err := e.each(ctx, sortedKeys(keys), "FLUSHALL", func(ctx context.Context, a string) error {
			return e.Pool.Client(a).FlushAll(ctx).Err()
		}); err != nil {
			return err
		}
		e.info(ctx, "flushed masters before reset", map[string]any{"nodes": len(keys)})
	}
	reset := func(ctx context.Context, a string) error {
		err := e.Pool.Client(a).ClusterResetHard(ctx).Err()
		if err == nil {
			e.info(ctx, "reset node", map[string]any{"address": a, "node_id": obs.ID(a)})
		}
		return err
	}
	if err := e.each(ctx, replicas, "CLUSTER RESET HARD", reset); err != nil {
		return err
	}
	return e.each(ctx, masters, "CLUSTER RESET HARD", reset)
}

// each runs fn on every address concurrently and collects node errors.
func (e *Executor) each(ctx context.Context, addrs []string, op string, fn func(context.Context, string) error) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs Errors
	for _, a := range addrs {
		wg.Add(1)
		go func(a string) {
			defer wg.Done()
			if err := fn(ctx, a); err != nil {
				mu.Lock()
				errs = append(errs, nodeErr(a, op, err))
				mu.Unlock()
			}
		}(a)
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs.Err()
}
