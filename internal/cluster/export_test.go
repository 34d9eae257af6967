package cluster

import "context"

// Hooks for the external tests (package cluster_test), which can start
// real nodes (redistest imports this package, so tests inside it cannot).

// ErrClass maps the name of each reply predicate to it.
var ErrClass = func() map[string]func(error) bool {
	m := map[string]func(error) bool{}
	for _, p := range predicates {
		m[p.name] = p.is
	}
	return m
}()

// WrapNodeErr wraps err as the package wraps a node's failure.
func WrapNodeErr(addr string, err error) error { return nodeErr(addr, "test", err) }

// Secrets returns the pool's secrets.
func (p *Pool) Secrets() *Secrets { return p.secrets }

// ObserveMembers reads the node of spec, its seeds and master, and every
// member a node read lists (Executor.observeMembers).
func (e *Executor) ObserveMembers(ctx context.Context, spec NodeSpec) *Observed {
	return e.observeMembers(ctx, spec)
}

// CheckFollows is Executor.checkFollows.
func (e *Executor) CheckFollows(ctx context.Context, addr, master string) error {
	return e.checkFollows(ctx, addr, master)
}

// OnlyReplan tells whether err asks the round to plan again.
func OnlyReplan(err error) bool { return onlyReplan(err) }
