package cluster

import (
	"context"
	"fmt"
	"slices"
)

// observeLoaded is observeMembers once no node read answers LOADING (a
// node that just restarted reads its dataset first), as Apply waits.
func (e *Executor) observeLoaded(ctx context.Context, spec NodeSpec) (*Observed, error) {
	obs, err := e.awaitLoaded(ctx, e.observeMembers(ctx, spec), func() *Observed { return e.observeMembers(ctx, spec) },
		map[string]any{"address": spec.Addr})
	if err != nil {
		return obs, fmt.Errorf("node %s: %w", spec.Addr, err)
	}
	return obs, nil
}

// observeMembers reads the node, its seeds and declared master, and every
// member any node read lists in its view, until no view names a node not
// read yet (see NodePlan: a slot owner only some member knows of must be
// read, or its slots would look unowned).
func (e *Executor) observeMembers(ctx context.Context, spec NodeSpec) *Observed {
	obs := Observe(ctx, e.Pool, spec.Addrs(), true)
	for range 4 {
		var more []string
		for _, a := range sortedKeys(obs.Nodes) {
			st := obs.Node(a)
			if !st.OK() {
				continue
			}
			for _, l := range st.Known() {
				if l.ID == obs.ID(spec.Addr) || l.Addr() == "" {
					continue
				}
				if m := e.Pool.AnnouncedAddress(l.Addr()); obs.Node(m) == nil && !slices.Contains(more, m) {
					more = append(more, m)
				}
			}
		}
		if len(more) == 0 {
			break
		}
		for a, st := range Observe(ctx, e.Pool, more, true).Nodes {
			obs.Nodes[a] = st
		}
	}
	return obs
}
