package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

func TestMovePathFor(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		se, sv, de, dv string
		want           cluster.MovePath
	}{
		{"redis", "8.4.0", "redis", "8.6.3", cluster.PathRedisImport},
		{"redis", "8.6.3", "redis", "8.6.3", cluster.PathRedisImport},
		{"redis", "9.0.0", "redis", "8.4.1", cluster.PathRedisImport},
		{"redis", "8.2.2", "redis", "8.6.3", cluster.PathMigrate}, // the source cannot serve an import
		{"redis", "8.6.3", "redis", "8.0.2", cluster.PathMigrate},
		{"redis", "7.0.15", "redis", "7.0.15", cluster.PathMigrate},
		{"valkey", "9.0.0", "valkey", "9.1.2", cluster.PathValkeyExport},
		{"valkey", "10.0.1", "valkey", "9.0.0", cluster.PathValkeyExport},
		{"valkey", "8.1.4", "valkey", "9.1.2", cluster.PathMigrate},
		{"valkey", "9.1.2", "valkey", "8.1.4", cluster.PathMigrate},
		{"valkey", "9.1.2", "redis", "8.6.3", cluster.PathMigrate}, // engines differ
		{"redis", "8.6.3", "valkey", "9.1.2", cluster.PathMigrate},
		{"redis", "", "redis", "8.6.3", cluster.PathMigrate}, // not read
		{"redis", "8", "redis", "8.6.3", cluster.PathMigrate},
		{"", "", "", "", cluster.PathMigrate},
	} {
		if got := cluster.MovePathFor(c.se, c.sv, c.de, c.dv); got != c.want {
			t.Errorf("MovePathFor(%s %s -> %s %s) = %s, want %s", c.se, c.sv, c.de, c.dv, got, c.want)
		}
	}
	if cluster.PathMigrate.Atomic() || !cluster.PathRedisImport.Atomic() || !cluster.PathValkeyExport.Atomic() {
		t.Error("Atomic() disagrees with the paths")
	}
}

// moveLog records the executor's move logs.
type moveLog struct {
	mu    sync.Mutex
	paths []string // the path field of each "moving slots"
	falls []string // the reason of each fallback to MIGRATE
	msgs  []string
}

func recordMoves(e *cluster.Executor) *moveLog {
	l := &moveLog{}
	e.Info = func(_ context.Context, msg string, f map[string]any) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.msgs = append(l.msgs, fmt.Sprintf("%s %v", msg, f))
		switch {
		case msg == "moving slots" && f["path"] != nil:
			l.paths = append(l.paths, fmt.Sprint(f["path"]))
		case strings.Contains(msg, "refused the atomic slot migration"):
			l.falls = append(l.falls, fmt.Sprint(f["reason"]))
		}
	}
	return l
}

func (l *moveLog) snapshot() (paths, falls []string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.paths...), append([]string(nil), l.falls...)
}

// engineTasks lists the atomic migrations a node reports (its engine's own
// status command), as "state slots" lines.
func engineTasks(t *testing.T, n *redistest.Node) []string {
	t.Helper()
	cmd := []any{"CLUSTER", "MIGRATION", "STATUS", "ALL"}
	if redistest.ServerEngine(t).Valkey() {
		cmd = []any{"CLUSTER", "GETSLOTMIGRATIONS"}
	}
	v := redistest.Do(t, n, cmd...)
	list, _ := v.([]any)
	var out []string
	for _, item := range list {
		f := map[string]string{}
		if kv, ok := item.([]any); ok {
			for i := 0; i+1 < len(kv); i += 2 {
				f[fmt.Sprint(kv[i])] = fmt.Sprint(kv[i+1])
			}
		}
		out = append(out, strings.TrimSpace(f["state"]+" "+f["slots"]+f["slot_ranges"]))
	}
	return out
}

func halves(a []string) (cluster.Desired, cluster.Desired) {
	r := func(b, c int) cluster.SlotSet { return cluster.NewSlotSet(cluster.SlotRange{Start: b, End: c}) }
	one := cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Slots: r(0, 16383)}, {Master: a[1]}}}
	two := cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Slots: r(0, 8191)}, {Master: a[1], Slots: r(8192, 16383)}}}
	return one, two
}

// TestAtomicMove: on an engine with atomic slot migration, a slot change,
// a shard added and a shard removed all move their slots with the
// engine's own migration (the engine lists the completed tasks), with
// every key, and no move falls back to MIGRATE.
func TestAtomicMove(t *testing.T) {
	redistest.Require(t, redistest.FeatureAtomicSlotMigration)
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{})
	a := redistest.Addrs(nodes)
	e := newExecutor(t, nodes[0].Password())
	log := recordMoves(e)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	r := func(b, c int) cluster.SlotSet { return cluster.NewSlotSet(cluster.SlotRange{Start: b, End: c}) }
	two := cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Slots: r(0, 8191)}, {Master: a[1], Slots: r(8192, 16383)}}}
	if _, err := e.Apply(ctx, two, nil); err != nil {
		t.Fatal(err)
	}
	written := redistest.Fill(t, nodes[:2], 20000, "at")
	// A slot change, in several ranges: 0-99, 200-299 and 8192-8291 go
	// to the other master.
	moved := two
	moved.Shards = []cluster.Shard{
		{Master: a[0], Slots: r(100, 199).Union(r(300, 8191)).Union(r(8192, 8291))},
		{Master: a[1], Slots: r(0, 99).Union(r(200, 299)).Union(r(8292, 16383))},
	}
	// Then a third shard takes slots from both, then the first shard goes.
	three := cluster.Desired{Shards: []cluster.Shard{
		{Master: a[0], Slots: r(0, 5460)}, {Master: a[1], Slots: r(5461, 10922)}, {Master: a[2], Slots: r(10923, 16383)}}}
	gone := cluster.Desired{Shards: []cluster.Shard{{Master: a[1], Slots: r(0, 8191)}, {Master: a[2], Slots: r(8192, 16383)}}, Remove: []string{a[0]}}
	for i, d := range []cluster.Desired{moved, three, gone} {
		obs, err := e.Apply(ctx, d, nil)
		if err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		if ok, why := cluster.Converged(d, obs); !ok {
			t.Fatalf("apply %d: %s", i, why)
		}
		// Seeds from the cluster only: a lone node's empty slot map would
		// make the client's first read fail with CLUSTERDOWN.
		var members []*redistest.Node
		for _, n := range nodes {
			if d.ShardOf(n.Addr()) >= 0 {
				members = append(members, n)
			}
		}
		redistest.CheckKeys(t, members, written)
	}
	paths, falls := log.snapshot()
	if len(falls) > 0 {
		t.Fatalf("moves fell back to MIGRATE: %v", falls)
	}
	if len(paths) < 4 {
		t.Fatalf("want at least 4 atomic moves, logged %v", paths)
	}
	for _, p := range paths {
		if !strings.Contains(p, "atomic slot migration") {
			t.Errorf("a move took %q", p)
		}
	}
	tasks := engineTasks(t, nodes[2])
	t.Logf("paths %v; the third master lists %v", paths, tasks)
	if len(tasks) == 0 {
		t.Fatal("the engine lists no atomic migration on a master that received slots")
	}
	for _, task := range tasks {
		if !strings.HasPrefix(task, "completed") && !strings.HasPrefix(task, "success") {
			t.Errorf("an atomic migration did not complete: %s", task)
		}
	}
}

// TestAtomicMoveUnderWrites: a cluster client keeps writing while shards
// are added and removed with the engine's migration; every acknowledged
// write is read back afterwards.
func TestAtomicMoveUnderWrites(t *testing.T) {
	redistest.Require(t, redistest.FeatureAtomicSlotMigration)
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{})
	a := redistest.Addrs(nodes)
	e := newExecutor(t, nodes[0].Password())
	log := recordMoves(e)
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	r := func(b, c int) cluster.SlotSet { return cluster.NewSlotSet(cluster.SlotRange{Start: b, End: c}) }
	two := cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Slots: r(0, 8191)}, {Master: a[1], Slots: r(8192, 16383)}}}
	three := cluster.Desired{Shards: []cluster.Shard{
		{Master: a[0], Slots: r(0, 5460)}, {Master: a[1], Slots: r(5461, 10922)}, {Master: a[2], Slots: r(10923, 16383)}}}
	back := cluster.Desired{Shards: []cluster.Shard{{Master: a[0], Slots: r(0, 8191)}, {Master: a[1], Slots: r(8192, 16383)}}, Remove: []string{a[2]}}
	if _, err := e.Apply(ctx, two, nil); err != nil {
		t.Fatal(err)
	}
	written := redistest.Fill(t, nodes[:2], 30000, "uw")
	for i, d := range []cluster.Desired{three, two, three, back} {
		if i == 1 {
			d = three // the third shard stays; slots go round
			d.Shards = []cluster.Shard{
				{Master: a[0], Slots: r(10923, 16383)}, {Master: a[1], Slots: r(0, 5460)}, {Master: a[2], Slots: r(5461, 10922)}}
		}
		w := redistest.StartWriter(t, nodes[:2], fmt.Sprintf("w%d", i))
		time.Sleep(100 * time.Millisecond) // the writer is running before the move starts
		obs, err := e.Apply(ctx, d, nil)
		time.Sleep(100 * time.Millisecond)
		acked := w.Stop()
		if err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
		if ok, why := cluster.Converged(d, obs); !ok {
			t.Fatalf("apply %d: %s", i, why)
		}
		t.Logf("apply %d: %d writes acknowledged during the moves", i, len(acked))
		if len(acked) == 0 {
			t.Fatalf("apply %d: no write was acknowledged during the moves", i)
		}
		for k, v := range acked {
			written[k] = v
		}
		redistest.CheckKeys(t, nodes[:2], written)
	}
	paths, falls := log.snapshot()
	if len(falls) > 0 || len(paths) == 0 {
		t.Fatalf("want atomic moves only: paths %v, fallbacks %v", paths, falls)
	}
}

// The ACL rules of the provider documentation (templates/index.md.tmpl,
// section "ACL"): to manage a cluster, to move slots, and the atomic
// migration's grants per engine. Keep them in sync with it.
const (
	docManage = "-@all +info +dbsize +role +cluster|myid +cluster|info +cluster|nodes +cluster|meet" +
		" +cluster|addslots +cluster|addslotsrange +cluster|set-config-epoch +cluster|replicate +cluster|failover +cluster|forget +cluster|reset"
	docMoves        = "~* +cluster|setslot +cluster|getkeysinslot +asking +migrate +restore-asking +select"
	docAtomicRedis  = "+cluster|migration"
	docAtomicValkey = "+cluster|migrateslots +cluster|getslotmigrations +cluster|cancelslotmigrations"
)

// TestAtomicMoveWithDocumentedGrants: a provider user with the documented
// rules for its engine moves slots with the engine's migration.
func TestAtomicMoveWithDocumentedGrants(t *testing.T) {
	redistest.Require(t, redistest.FeatureAtomicSlotMigration)
	t.Parallel()
	grant := docAtomicRedis
	if redistest.ServerEngine(t).Valkey() {
		grant = docAtomicValkey
	}
	falls, paths := moveAsUser(t, docManage+" "+docMoves+" "+grant)
	if len(falls) > 0 || len(paths) == 0 || !strings.Contains(paths[0], "atomic") {
		t.Fatalf("want the atomic path: paths %v, fallbacks %v", paths, falls)
	}
}

// TestAtomicMoveFallsBackWithoutGrant: a provider user without the atomic
// migration commands still moves the slots, with MIGRATE, and says why.
func TestAtomicMoveFallsBackWithoutGrant(t *testing.T) {
	redistest.Require(t, redistest.FeatureACL)
	t.Parallel()
	falls, _ := moveAsUser(t, docManage+" "+docMoves)
	atomic := redistest.ServerEngine(t).Has(redistest.FeatureAtomicSlotMigration)
	switch {
	case atomic && (len(falls) == 0 || !strings.Contains(falls[0], "NOPERM")):
		t.Fatalf("want a fallback naming NOPERM, got %v", falls)
	case !atomic && len(falls) > 0:
		t.Fatalf("%s has no atomic migration, yet a move fell back: %v", redistest.ServerEngine(t), falls)
	}
	t.Logf("fallbacks: %v", falls)
}

// moveAsUser moves half the slots, with keys, as an ACL user with rules,
// and returns the fallbacks and paths logged.
func moveAsUser(t *testing.T, rules string) (falls, paths []string) {
	const pw = "Atomic-Grant-Pw-3"
	nodes := redistest.Start(t, 2, redistest.Options{Users: []string{"terraform on >" + pw + " " + rules}})
	a := redistest.Addrs(nodes)
	pool := cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Username: "terraform", Password: pw}, DialTimeout: time.Second})
	t.Cleanup(func() { _ = pool.Close() })
	e := &cluster.Executor{Pool: pool}
	log := recordMoves(e)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	one, two := halves(a)
	if _, err := e.Apply(ctx, cluster.Desired{Shards: one.Shards[:1]}, nil); err != nil {
		t.Fatal(err)
	}
	written := redistest.Fill(t, nodes[:1], 5000, "gr")
	obs, err := e.Apply(ctx, two, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := cluster.Converged(two, obs); !ok {
		t.Fatal(why)
	}
	redistest.CheckKeys(t, nodes, written)
	paths, falls = log.snapshot()
	return falls, paths
}

// TestAtomicMoveFallsBackWhenNodesCannotAuth: on Valkey, nodes that cannot
// log in to each other (a wrong masterauth) fail the engine's migration
// while both answer; the move takes the MIGRATE path instead, every key
// kept.
func TestAtomicMoveFallsBackWhenNodesCannotAuth(t *testing.T) {
	redistest.Require(t, redistest.FeatureAtomicSlotMigration)
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{ExtraArgs: []string{"--masterauth", "not-the-password"}})
	a := redistest.Addrs(nodes)
	e := newExecutor(t, nodes[0].Password())
	log := recordMoves(e)
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	one, two := halves(a)
	if _, err := e.Apply(ctx, cluster.Desired{Shards: one.Shards[:1]}, nil); err != nil {
		t.Fatal(err)
	}
	written := redistest.Fill(t, nodes[:1], 5000, "au")
	obs, err := e.Apply(ctx, two, nil)
	if err != nil {
		t.Fatal(err)
	}
	if ok, why := cluster.Converged(two, obs); !ok {
		t.Fatal(why)
	}
	redistest.CheckKeys(t, nodes, written)
	paths, falls := log.snapshot()
	t.Logf("paths %v, fallbacks: %v", paths, falls)
	if !redistest.ServerEngine(t).Valkey() {
		// Redis logs its nodes in to each other for the migration without
		// masterauth (seen on 8.6.3): the migration simply succeeds.
		if len(falls) > 0 || len(paths) == 0 {
			t.Fatalf("want the atomic path on %s", redistest.ServerEngine(t))
		}
		return
	}
	if len(falls) == 0 || !strings.Contains(falls[0], "AUTH") {
		t.Fatal("want a fallback to MIGRATE naming the failed AUTH")
	}
}

// TestAtomicMoveInterrupted: an apply cancelled (Ctrl-C) or timed out
// while the engine migrates cancels the migration; the next apply moves
// the slots, no key lost.
func TestAtomicMoveInterrupted(t *testing.T) {
	redistest.Require(t, redistest.FeatureAtomicSlotMigration)
	t.Parallel()
	for _, how := range []string{"cancel", "timeout"} {
		t.Run(how, func(t *testing.T) {
			t.Parallel()
			nodes, a, e, ctx := startExecutor(t, 2, redistest.Options{}, 2*time.Minute)
			one, two := halves(a)
			if _, err := e.Apply(ctx, cluster.Desired{Shards: one.Shards[:1]}, nil); err != nil {
				t.Fatal(err)
			}
			written := redistest.FillNode(t, nodes[0], 400000, "in")
			e = newExecutor(t, nodes[0].Password())
			runCtx, stop := context.WithCancel(ctx)
			var timer *time.Timer
			e.Info = func(_ context.Context, msg string, f map[string]any) {
				if strings.Contains(msg, "cancel") || strings.Contains(msg, "import") {
					t.Logf("interrupted apply: %s %v", msg, f)
				}
				if msg != "moving slots" || timer != nil {
					return
				}
				if how == "cancel" {
					stop()
					return
				}
				timer = time.AfterFunc(20*time.Millisecond, stop)
			}
			_, err := e.Apply(runCtx, two, nil)
			stop()
			if err == nil {
				t.Skip("the move finished before it could be interrupted")
			}
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("want an interrupted move, got %v", err)
			}
			t.Logf("interrupted: %v", err)
			e = newExecutor(t, nodes[0].Password())
			e.Info = func(_ context.Context, msg string, f map[string]any) { t.Logf("next apply: %s %v", msg, f) }
			obs, err := e.Apply(ctx, two, nil)
			if err != nil {
				t.Fatalf("apply after the interruption: %v", err)
			}
			if ok, why := cluster.Converged(two, obs); !ok {
				t.Fatal(why)
			}
			checkPopulated(t, nodes, written)
		})
	}
}

// rewriteAOF rewrites the node's append-only file and waits until it is
// done, so that keys DEBUG POPULATE made survive a kill.
func rewriteAOF(t *testing.T, n *redistest.Node) {
	t.Helper()
	redistest.Do(t, n, "BGREWRITEAOF")
	redistest.WaitFor(t, 30*time.Second, func() bool {
		p := redistest.Info(t, n, "persistence")
		return p["aof_rewrite_in_progress"] == "0" && p["aof_rewrite_scheduled"] == "0"
	}, "the AOF rewrite")
}

// checkPopulated checks that the cluster serves every FillNode key.
func checkPopulated(t *testing.T, nodes []*redistest.Node, written map[string]string) {
	t.Helper()
	redistest.CheckKeys(t, nodes, written)
}

// TestAtomicMoveNodeKilled kills -9 the source or the target while the
// engine migrates, with a client writing; once the node is back the next
// apply finishes the move, and no key and no acknowledged write is lost
// (the nodes persist with appendfsync always).
func TestAtomicMoveNodeKilled(t *testing.T) {
	redistest.Require(t, redistest.FeatureAtomicSlotMigration)
	t.Parallel()
	for _, victim := range []string{"source", "target"} {
		t.Run(victim, func(t *testing.T) {
			t.Parallel()
			nodes, a, e, ctx := startExecutor(t, 2, redistest.Options{ExtraArgs: []string{"--appendonly", "yes", "--appendfsync", "always"}}, 3*time.Minute)
			one, two := halves(a)
			if _, err := e.Apply(ctx, cluster.Desired{Shards: one.Shards[:1]}, nil); err != nil {
				t.Fatal(err)
			}
			written := redistest.FillNode(t, nodes[0], 400000, "kill")
			rewriteAOF(t, nodes[0]) // DEBUG POPULATE writes no AOF entry
			v := nodes[0]
			if victim == "target" {
				v = nodes[1]
			}
			w := redistest.StartWriter(t, nodes[:1], "kw")
			e = newExecutor(t, nodes[0].Password())
			var once sync.Once
			e.Info = func(_ context.Context, msg string, f map[string]any) {
				if msg == "moving slots" {
					once.Do(func() {
						time.Sleep(10 * time.Millisecond)
						v.Kill(t)
					})
				}
			}
			runCtx, stop := context.WithTimeout(ctx, 30*time.Second)
			_, err := e.Apply(runCtx, two, nil)
			stop()
			if err == nil {
				w.Stop()
				t.Skip("the move finished before the node could be killed")
			}
			t.Logf("apply with the %s killed midway: %v", victim, err)
			if !strings.Contains(err.Error(), v.Addr()) {
				t.Errorf("the error must name the killed node %s: %v", v.Addr(), err)
			}
			v.Restart(t)
			e = newExecutor(t, nodes[0].Password())
			obs, err := e.Apply(ctx, two, nil)
			acked := w.Stop()
			if err != nil {
				t.Fatalf("apply after the %s came back: %v", victim, err)
			}
			if ok, why := cluster.Converged(two, obs); !ok {
				t.Fatal(why)
			}
			t.Logf("%d writes acknowledged across the kill and the next apply", len(acked))
			for k, val := range acked {
				written[k] = val
			}
			checkPopulated(t, nodes, written)
		})
	}
}

// TestPathOf: the plan's move warning reads both nodes' engines and names
// the path the engine supports.
func TestPathOf(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{})
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	want := cluster.PathMigrate
	if eng := redistest.ServerEngine(t); eng.Has(redistest.FeatureAtomicSlotMigration) {
		want = cluster.PathRedisImport
		if eng.Valkey() {
			want = cluster.PathValkeyExport
		}
	}
	if got, err := cluster.PathOf(ctx, e.Pool, nodes[0].Addr(), nodes[1].Addr()); got != want || err != nil {
		t.Fatalf("PathOf on %s = %s, %v; want %s", redistest.ServerEngine(t), got, err, want)
	}
	nodes[1].Kill(t)
	if got, err := cluster.PathOf(ctx, e.Pool, nodes[0].Addr(), nodes[1].Addr()); got != cluster.PathMigrate || !cluster.IsUnreachable(err) {
		t.Fatalf("PathOf with the target down = %s, %v; want MIGRATE and the node unreachable", got, err)
	}
}
