package cluster

import (
	"context"
	"sync"
)

// Departures coordinates the deletes of node resources that run in one
// provider process. Terraform destroys a whole cluster's nodes in
// parallel, and no single delete can know that the other masters are
// leaving too. Each delete says it is leaving before it hands its slots
// off, so that:
//   - a leaving master never picks another leaving master as the target of
//     its keys (they would only move again, or be flushed with it);
//   - a leaving master decides what to do with its keys only once no move
//     into it is running (keys still arriving would be left behind).
//
// A nil *Departures coordinates nothing: every other master is a target.
type Departures struct {
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	leaving  map[string]bool
	incoming map[string]int
}

// NewDepartures returns an empty coordinator.
func NewDepartures() *Departures {
	return &Departures{changed: make(chan struct{}), leaving: map[string]bool{}, incoming: map[string]int{}}
}

// broadcast wakes the waiters; d.mu must be held.
func (d *Departures) broadcast() {
	close(d.changed)
	d.changed = make(chan struct{})
}

// Leave records that the node at addr is leaving. The mark stays for the
// run even when the delete fails: a master that refused to leave, or
// failed half-way, is no place to move keys to.
func (d *Departures) Leave(addr string) {
	if d == nil {
		return
	}
	d.mu.Lock()
	d.leaving[addr] = true
	d.broadcast()
	d.mu.Unlock()
}

// Reserve keeps the candidates that are not leaving and counts a move into
// each of them until release is called.
func (d *Departures) Reserve(candidates []string) (kept []string, release func()) {
	if d == nil {
		return candidates, func() {}
	}
	d.mu.Lock()
	for _, a := range candidates {
		if !d.leaving[a] {
			kept = append(kept, a)
			d.incoming[a]++
		}
	}
	d.mu.Unlock()
	var once sync.Once
	return kept, func() {
		once.Do(func() {
			d.mu.Lock()
			for _, a := range kept {
				if d.incoming[a]--; d.incoming[a] <= 0 {
					delete(d.incoming, a)
				}
			}
			d.broadcast()
			d.mu.Unlock()
		})
	}
}

// WaitIncoming returns once no reserved move into addr is running.
func (d *Departures) WaitIncoming(ctx context.Context, addr string) error {
	if d == nil {
		return nil
	}
	for {
		d.mu.Lock()
		n, ch := d.incoming[addr], d.changed
		d.mu.Unlock()
		if n == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
