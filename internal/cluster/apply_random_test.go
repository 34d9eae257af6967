package cluster_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
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
// A race may not come back on replay: RANDOM_CHANGES_LOG=dir keeps the
// executor's progress per seed, and REDISTEST_KEEP_LOGS=dir the nodes' logs.

// randomChangeSeeds are the seeds make test runs (each a few rounds).
var randomChangeSeeds = []uint64{1, 2}

const randomChangeRounds = 4

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
	// 3 s, not the harness' 1 s: on a loaded 2-core machine a 1 s
	// node-timeout makes the cluster fail over by itself now and then, which
	// is a test of another thing.
	nodes := redistest.Start(t, 10, redistest.Options{NodeTimeout: 3 * time.Second})
	members := func(addrs []string) []*redistest.Node { return redistest.Select(nodes, addrs) }
	pool := redistest.Addrs(nodes)
	r := rand.New(rand.NewPCG(seed, seed))
	d, free := redistest.FirstDesired(r, pool)

	e := newExecutor(t, nodes[0].Password())
	logExecutor(t, e, os.Getenv("RANDOM_CHANGES_LOG"), seed)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatalf("seed %d: create: %v", seed, err)
	}
	written := redistest.Fill(t, members(d.Addrs()), 2000, "k")

	start := time.Now()
	for round := 1; round <= rounds && (budget == 0 || time.Since(start) < budget); round++ {
		next, nfree, did := redistest.NextDesired(r, d, free)
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
		// When every node is replaced no client can reach the cluster
		// throughout: no writes that round (the keys written before must
		// still all move to the new nodes).
		var w *redistest.Writer
		if len(stay) > 0 {
			w = redistest.StartWriter(t, members(stay), fmt.Sprintf("w%d", round))
		}
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		began := time.Now()
		obs, err := e.Apply(ctx, next, nil)
		cancel()
		var acked map[string]string
		if w != nil {
			acked = w.Stop()
		}
		if err != nil {
			fail("apply: %v", err)
		}
		t.Logf("seed %d round %d: %s: applied in %s, %d writes acknowledged meanwhile",
			seed, round, strings.Join(did, "; "), time.Since(began).Round(time.Millisecond), len(acked))
		if ok, why := cluster.Converged(next, obs); !ok {
			fail("not converged: %s", why)
		}
		for _, n := range members(next.Remove) {
			if k := redistest.ClusterInfo(t, n)["cluster_known_nodes"]; k != "1" {
				fail("removed node %s still knows %s nodes", n.Addr(), k)
			}
		}
		next.Remove = nil
		ctx, cancel = context.WithTimeout(t.Context(), 30*time.Second)
		steps, err := cluster.Plan(next, observeLoaded(ctx, e, next.Addrs()))
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

// observeLoaded observes addrs once no node answers LOADING: apply returns
// once the topology agrees, and a replica it re-pointed may still be
// loading its full sync (seen on Redis 8.6), as Apply itself waits before
// it plans.
func observeLoaded(ctx context.Context, e *cluster.Executor, addrs []string) *cluster.Observed {
	for {
		obs := cluster.Observe(ctx, e.Pool, addrs, true)
		loading := false
		for _, n := range obs.Nodes {
			loading = loading || redis.IsLoadingError(n.Err)
		}
		if !loading || ctx.Err() != nil {
			return obs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// logExecutor writes the executor's progress (its Info and Debug lines,
// timestamped) to dir/seed-<seed>.log when dir is set: what a failed
// random round planned and ran, beside the nodes' own logs
// (REDISTEST_KEEP_LOGS).
func logExecutor(t *testing.T, e *cluster.Executor, dir string, seed uint64) {
	if dir == "" {
		return
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, fmt.Sprintf("seed-%d.log", seed)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Close() })
	var mu sync.Mutex
	logf := func(_ context.Context, msg string, fields map[string]any) {
		mu.Lock()
		defer mu.Unlock()
		fmt.Fprintf(f, "%s %s %v\n", time.Now().Format("15:04:05.000"), msg, fields)
	}
	e.Info, e.Debug = logf, logf
}
