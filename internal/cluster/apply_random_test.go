package cluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// Randomized day-2 changes on a live cluster. From a valid declaration,
// each round draws a next one with one to three changes at once (add or
// remove a shard, replace a master or a replica with a fresh node, add,
// remove or move a replica, swap a shard's master and replica, re-split the
// slots) and applies it while a cluster client writes. After each apply the
// cluster matches the declaration, a new plan is empty, removed nodes are
// lone, and no acknowledged write (nor any key written before) is lost.
//
// make test runs the fixed seeds below for a bounded number of rounds.
// A long run on demand:
//
//	RANDOM_CHANGES_SEED=random RANDOM_CHANGES_DURATION=10m \
//	  go test ./internal/cluster -run TestApplyRandomChanges -v -timeout 30m
//
// A failure prints its seed and round: RANDOM_CHANGES_SEED=<seed> replays it.

// randomChangeSeeds are the seeds make test runs (each a few rounds).
var randomChangeSeeds = []uint64{1, 2}

const randomChangeRounds = 3

// change is one kind of edit to a declaration.
type change func(r *rand.Rand, d *cluster.Desired, free *[]string) string

var changes = []change{
	addShard, removeShard, replaceMaster, replaceReplica,
	addReplica, removeReplica, moveReplica, swapRoles, resplit,
}

// nextDesired draws a declaration from cur with one to three changes, using
// free (addresses of lone, empty nodes) for new members. It returns the
// declaration (Remove lists the nodes it drops), the new free list and what
// it changed, in words.
func nextDesired(r *rand.Rand, cur cluster.Desired, free []string) (cluster.Desired, []string, []string) {
	d := cluster.Desired{Failback: cur.Failback}
	for _, s := range cur.Shards {
		d.Shards = append(d.Shards, cluster.Shard{Master: s.Master, Replicas: slices.Clone(s.Replicas), Slots: s.Slots})
	}
	all := append(cur.Addrs(), free...)
	free = slices.Clone(free)
	var did []string
	for n := 1 + r.IntN(3); len(did) < n; {
		if what := changes[r.IntN(len(changes))](r, &d, &free); what != "" {
			did = append(did, what)
		}
	}
	// Members that left the declaration are removed (and reset by the
	// apply); every node not declared now is free afterwards.
	for _, a := range cur.Addrs() {
		if d.ShardOf(a) < 0 {
			d.Remove = append(d.Remove, a)
		}
	}
	var nfree []string
	for _, a := range all {
		if d.ShardOf(a) < 0 {
			nfree = append(nfree, a)
		}
	}
	return d, nfree, did
}

func take(r *rand.Rand, free *[]string) string {
	i := r.IntN(len(*free))
	a := (*free)[i]
	*free = slices.Delete(*free, i, i+1)
	return a
}

func addShard(r *rand.Rand, d *cluster.Desired, free *[]string) string {
	if len(*free) == 0 || len(d.Shards) >= 4 {
		return ""
	}
	s := cluster.Shard{Master: take(r, free)}
	if len(*free) > 0 && r.IntN(2) == 0 {
		s.Replicas = []string{take(r, free)}
	}
	d.Shards = append(d.Shards, s)
	split(r, d)
	return "add shard " + s.Master
}

func removeShard(r *rand.Rand, d *cluster.Desired, _ *[]string) string {
	if len(d.Shards) <= 2 {
		return ""
	}
	i := r.IntN(len(d.Shards))
	m := d.Shards[i].Master
	d.Shards = slices.Delete(d.Shards, i, i+1)
	split(r, d)
	return "remove shard " + m
}

func replaceMaster(r *rand.Rand, d *cluster.Desired, free *[]string) string {
	if len(*free) == 0 {
		return ""
	}
	s := &d.Shards[r.IntN(len(d.Shards))]
	old := s.Master
	s.Master = take(r, free)
	return fmt.Sprintf("replace master %s with %s", old, s.Master)
}

func replaceReplica(r *rand.Rand, d *cluster.Desired, free *[]string) string {
	s := &d.Shards[r.IntN(len(d.Shards))]
	if len(*free) == 0 || len(s.Replicas) == 0 {
		return ""
	}
	i := r.IntN(len(s.Replicas))
	old := s.Replicas[i]
	s.Replicas[i] = take(r, free)
	return fmt.Sprintf("replace replica %s with %s", old, s.Replicas[i])
}

func addReplica(r *rand.Rand, d *cluster.Desired, free *[]string) string {
	s := &d.Shards[r.IntN(len(d.Shards))]
	if len(*free) == 0 || len(s.Replicas) >= 2 {
		return ""
	}
	s.Replicas = append(s.Replicas, take(r, free))
	return fmt.Sprintf("add replica %s to %s", s.Replicas[len(s.Replicas)-1], s.Master)
}

func removeReplica(r *rand.Rand, d *cluster.Desired, _ *[]string) string {
	s := &d.Shards[r.IntN(len(d.Shards))]
	if len(s.Replicas) == 0 {
		return ""
	}
	i := r.IntN(len(s.Replicas))
	old := s.Replicas[i]
	s.Replicas = slices.Delete(s.Replicas, i, i+1)
	return "remove replica " + old
}

func moveReplica(r *rand.Rand, d *cluster.Desired, _ *[]string) string {
	from, to := &d.Shards[r.IntN(len(d.Shards))], &d.Shards[r.IntN(len(d.Shards))]
	if from == to || len(from.Replicas) == 0 || len(to.Replicas) >= 2 {
		return ""
	}
	x := from.Replicas[0]
	from.Replicas = from.Replicas[1:]
	to.Replicas = append(to.Replicas, x)
	return fmt.Sprintf("move replica %s from %s to %s", x, from.Master, to.Master)
}

func swapRoles(r *rand.Rand, d *cluster.Desired, _ *[]string) string {
	s := &d.Shards[r.IntN(len(d.Shards))]
	if len(s.Replicas) == 0 {
		return ""
	}
	s.Master, s.Replicas[0] = s.Replicas[0], s.Master
	return fmt.Sprintf("make %s master instead of %s", s.Master, s.Replicas[0])
}

func resplit(r *rand.Rand, d *cluster.Desired, _ *[]string) string {
	split(r, d)
	return "re-split slots"
}

// split gives the shards either the even split or random contiguous ranges.
func split(r *rand.Rand, d *cluster.Desired) {
	n := len(d.Shards)
	if r.IntN(2) == 0 {
		for i, s := range cluster.EvenSplit(n) {
			d.Shards[i].Slots = s
		}
		return
	}
	cuts := map[int]bool{}
	for len(cuts) < n-1 {
		cuts[1+r.IntN(cluster.SlotCount-1)] = true
	}
	bounds := append(slices.Sorted(func(yield func(int) bool) {
		for c := range cuts {
			if !yield(c) {
				return
			}
		}
	}), cluster.SlotCount)
	lo := 0
	for i, hi := range bounds {
		d.Shards[i].Slots = cluster.NewSlotSet(cluster.SlotRange{Start: lo, End: hi - 1})
		lo = hi
	}
}

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
		d := cluster.Desired{Failback: true}
		for i := range 3 {
			d.Shards = append(d.Shards, cluster.Shard{Master: pool[i], Replicas: []string{pool[3+i]}})
		}
		split(r, &d)
		free := slices.Clone(pool[6:])
		for round := 0; round < 20; round++ {
			next, nfree, did := nextDesired(r, d, free)
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

// TestApplyRandomChanges applies random combined changes to a live cluster
// (see the comment at the top of this file).
func TestApplyRandomChanges(t *testing.T) {
	if testing.Short() {
		t.Skip("needs redis-server")
	}
	seeds := randomChangeSeeds
	rounds := randomChangeRounds
	var budget time.Duration
	switch v := os.Getenv("RANDOM_CHANGES_SEED"); v {
	case "":
	case "random":
		seeds = []uint64{rand.Uint64()}
	default:
		s, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			t.Fatalf("RANDOM_CHANGES_SEED=%q: want a number or \"random\"", v)
		}
		seeds = []uint64{s}
	}
	if v := os.Getenv("RANDOM_CHANGES_DURATION"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("RANDOM_CHANGES_DURATION=%q: %v", v, err)
		}
		budget, rounds = d, 1<<30
	}
	for _, seed := range seeds {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			t.Parallel()
			randomChanges(t, seed, rounds, budget)
		})
	}
}

func randomChanges(t *testing.T, seed uint64, rounds int, budget time.Duration) {
	nodes := redistest.Start(t, 10, redistest.Options{})
	byAddr := map[string]*redistest.Node{}
	for _, n := range nodes {
		byAddr[n.Addr()] = n
	}
	members := func(addrs []string) []*redistest.Node {
		var out []*redistest.Node
		for _, a := range addrs {
			out = append(out, byAddr[a])
		}
		return out
	}
	pool := redistest.Addrs(nodes)
	r := rand.New(rand.NewPCG(seed, seed))
	d := cluster.Desired{Failback: true}
	for i := range 3 {
		d.Shards = append(d.Shards, cluster.Shard{Master: pool[i], Replicas: []string{pool[3+i]}})
	}
	split(r, &d)
	free := slices.Clone(pool[6:])

	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatalf("seed %d: create: %v", seed, err)
	}
	written := redistest.Fill(t, members(d.Addrs()), 2000, "k")

	start := time.Now()
	for round := 1; round <= rounds && (budget == 0 || time.Since(start) < budget); round++ {
		next, nfree, did := nextDesired(r, d, free)
		fail := func(format string, args ...any) {
			t.Helper()
			t.Fatalf("seed %d round %d (%s): %s\nreplay: RANDOM_CHANGES_SEED=%d go test ./internal/cluster -run TestApplyRandomChanges -v",
				seed, round, strings.Join(did, "; "), fmt.Sprintf(format, args...), seed)
		}
		// Clients keep writing during the apply, through nodes that stay.
		var stay []string
		for _, a := range d.Addrs() {
			if next.ShardOf(a) >= 0 {
				stay = append(stay, a)
			}
		}
		w := startWriter(t, members(stay), fmt.Sprintf("w%d", round))
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		began := time.Now()
		obs, err := e.Apply(ctx, next, nil)
		cancel()
		acked := w.stop()
		if err != nil {
			fail("apply: %v", err)
		}
		t.Logf("seed %d round %d: %s: applied in %s, %d writes acknowledged meanwhile",
			seed, round, strings.Join(did, "; "), time.Since(began).Round(time.Millisecond), len(acked))
		if ok, why := cluster.Converged(next, obs); !ok {
			fail("not converged: %s", why)
		}
		for _, a := range next.Remove {
			if k := redistest.ClusterInfo(t, byAddr[a])["cluster_known_nodes"]; k != "1" {
				fail("removed node %s still knows %s nodes", a, k)
			}
		}
		next.Remove = nil
		ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
		steps, err := cluster.Plan(next, cluster.Observe(ctx, e.Pool, next.Addrs(), true))
		cancel()
		if err != nil || len(steps) != 0 {
			fail("plan after apply: %v %v", steps, err)
		}
		for k, v := range acked {
			written[k] = v
		}
		redistest.CheckKeys(t, members(next.Addrs()), written)
		d, free = next, nfree
	}
}

// writer sets unique keys through a cluster client until stopped, and keeps
// those the cluster acknowledged.
type writer struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	acked  map[string]string
}

func startWriter(t *testing.T, seeds []*redistest.Node, prefix string) *writer {
	c := redistest.ClusterClient(t, seeds)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	w := &writer{cancel: cancel, acked: map[string]string{}}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		// About 2,000 writes a second: enough to cross every step of an
		// apply, few enough that a long run can read them all back.
		tick := time.NewTicker(500 * time.Microsecond)
		defer tick.Stop()
		for i := 0; ctx.Err() == nil; i++ {
			<-tick.C
			k, v := fmt.Sprintf("%s:%d", prefix, i), fmt.Sprintf("v%d", i)
			err := c.Set(ctx, k, v, 0).Err()
			if err == nil {
				w.mu.Lock()
				w.acked[k] = v
				w.mu.Unlock()
				continue
			}
			if ctx.Err() == nil && err != redis.Nil {
				// CLUSTERDOWN, TRYAGAIN or a reset seed: not acknowledged.
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	return w
}

func (w *writer) stop() map[string]string {
	w.cancel()
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.acked
}
