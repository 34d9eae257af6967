package cluster

import (
	"context"
	"maps"
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
// It also holds what else the node resources of one run must agree on:
//   - a master taken over by a new node (replication, then failover) does
//     not hand its slots off meanwhile, and one that has started handing
//     them off is not taken over (ClaimTakeover, BeginHandOff);
//   - work that both ends of a pair see and must do once (a fail-back, a
//     slot left open between two nodes, moves out of one master) runs
//     under a named lock (Lock).
//
// A nil *Departures coordinates nothing: every other master is a target.
type Departures struct {
	mu       sync.Mutex
	changed  chan struct{} // closed and replaced on every change
	leaving  map[string]bool
	incoming map[string]int
	// takeovers counts the nodes taking each master over; handingOff
	// marks masters whose delete has started moving their slots.
	takeovers  map[string]int
	handingOff map[string]bool
	locks      map[string]*sync.Mutex
	// declared holds the declarations of the nodes joined in this run.
	declared map[string]NodeSpec
}

// NewDepartures returns an empty coordinator.
func NewDepartures() *Departures {
	return &Departures{changed: make(chan struct{}), leaving: map[string]bool{}, incoming: map[string]int{},
		takeovers: map[string]int{}, handingOff: map[string]bool{}, locks: map[string]*sync.Mutex{}, declared: map[string]NodeSpec{}}
}

// Declare records the declaration of a node joined in this run: another
// node taking slots from it then knows whether it is about to receive
// slots of its own (see NodePlanOptions.Declared).
func (d *Departures) Declare(spec NodeSpec) {
	if d == nil {
		return
	}
	d.mu.Lock()
	d.declared[spec.Addr] = spec
	d.mu.Unlock()
}

// Declared returns the declarations recorded in this run.
func (d *Departures) Declared() map[string]NodeSpec {
	if d == nil {
		return nil
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	return maps.Clone(d.declared)
}

// Lock takes the run's lock named key and returns its unlock.
func (d *Departures) Lock(key string) (unlock func()) {
	if d == nil {
		return func() {}
	}
	d.mu.Lock()
	mu, ok := d.locks[key]
	if !ok {
		mu = &sync.Mutex{}
		d.locks[key] = mu
	}
	d.mu.Unlock()
	mu.Lock()
	return mu.Unlock
}

// ClaimTakeover records that a node takes over master's shard by
// replication and failover, unless master's delete has already started
// handing its slots off (ok false). release ends the claim.
func (d *Departures) ClaimTakeover(master string) (ok bool, release func()) {
	if d == nil {
		return true, func() {}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.handingOff[master] {
		return false, func() {}
	}
	d.takeovers[master]++
	var once sync.Once
	return true, func() {
		once.Do(func() {
			d.mu.Lock()
			if d.takeovers[master]--; d.takeovers[master] <= 0 {
				delete(d.takeovers, master)
			}
			d.broadcast()
			d.mu.Unlock()
		})
	}
}

// BeginHandOff waits until no node is taking master over, then marks it
// as handing its slots off (no takeover is claimed after that).
func (d *Departures) BeginHandOff(ctx context.Context, master string) error {
	if d == nil {
		return nil
	}
	for {
		d.mu.Lock()
		n, ch := d.takeovers[master], d.changed
		if n == 0 {
			d.handingOff[master] = true
			d.mu.Unlock()
			return nil
		}
		d.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
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
