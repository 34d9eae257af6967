package redistest

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
)

// TestNextDesiredIsValid draws many rounds of changes without Redis: every
// declaration validates, uses each address once, and never reuses a node
// still in the cluster as a fresh one.
func TestNextDesiredIsValid(t *testing.T) {
	pool := make([]string, 10)
	for i := range pool {
		pool[i] = "127.0.0.1:" + strconv.Itoa(7000+i)
	}
	for seed := uint64(0); seed < 200; seed++ {
		r := rand.New(rand.NewPCG(seed, seed))
		d, free := FirstDesired(r, pool)
		for round := 0; round < 20; round++ {
			next, nfree, did := NextDesired(r, d, free)
			if err := next.Validate(); err != nil {
				t.Fatalf("seed %d round %d (%v): %v", seed, round, did, err)
			}
			for _, a := range next.Addrs() {
				if slices.Contains(free, a) && d.ShardOf(a) >= 0 {
					t.Fatalf("seed %d round %d: %s is both free and a member", seed, round, a)
				}
			}
			if got := len(next.Addrs()) + len(nfree); got != len(pool) {
				t.Fatalf("seed %d round %d: %d members + free, want %d", seed, round, got, len(pool))
			}
			next.Remove = nil
			d, free = next, nfree
		}
	}
}
