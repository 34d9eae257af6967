//go:build linux

package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// BenchmarkMoveEngine: 50k small keys in slots 0-2729 move from master 1 to
// master 2, three ways on three identical 3-master clusters in the same
// iteration (setup untimed, built by terraform with explicit slots, the
// same keys written to each):
//
//   - terraform: main.tf gives 0-2729 to master 2; `terraform apply` is
//     timed, then a no-op apply (Terraform's fixed overhead). The provider's
//     own share is the difference. On Redis 8.4+ and Valkey 9.0+ the move
//     takes the engine's atomic slot migration (checked: the target lists a
//     completed migration), elsewhere MIGRATE.
//   - redis-cli: `redis-cli --cluster reshard` of 2730 slots from master 1
//     to master 2 (it takes the lowest: 0-2729), default options (neither
//     redis-cli 8.6 nor valkey-cli 9.1 uses the atomic path by default).
//   - raw: the engine's own command, sent by hand: CLUSTER MIGRATION IMPORT
//     0 2729 on master 2 (Redis 8.4+) or CLUSTER MIGRATESLOTS SLOTSRANGE 0
//     2729 NODE <master 2> on master 1 (Valkey 9.0+), timed until the task
//     reports its end and master 1 no longer serves the slots. Skipped on
//     engines without it.
//
// The three alternate their order across iterations. Every way is checked
// untimed afterwards: each key reads back with its value, and DBSIZE sums to
// the key count on master 2. Run it per engine with REDIS_ENGINE (make
// bench REDIS_ENGINE=valkey-9.1 BENCH=MoveEngine).
func BenchmarkMoveEngine(b *testing.B) {
	b.Run("50k-keys-2730-slots", func(b *testing.B) { benchMoveEngine(b, 50_000) })
}

const engineMoveSlots = 2730

var (
	engineMoveBefore = [][]string{{"0-5460"}, {"5461-10922"}, {"10923-16383"}}
	engineMoveAfter  = [][]string{{"2730-5460"}, {"0-2729", "5461-10922"}, {"10923-16383"}}
)

// engineMoveData returns n keys hashing to slots 0-2729, with small values.
func engineMoveData(n int) map[string]string {
	out := make(map[string]string, n)
	for i := 0; len(out) < n; i++ {
		k := fmt.Sprintf("bench:atomic:%d", i)
		if cluster.KeySlot(k) < engineMoveSlots {
			v := fmt.Sprintf("v%d", i)
			out[k] = v + strings.Repeat("x", max(0, moveValueLen-len(v)))
		}
	}
	return out
}

type engineMoveResult struct {
	tf, noop, cli, raw time.Duration
	path               string
}

func benchMoveEngine(b *testing.B, nkeys int) {
	requireTools(b, "redis-cli")
	requireProvider(b)
	data := engineMoveData(nkeys)
	eng := redistest.ServerEngine(b)
	atomic := eng.Has(redistest.FeatureAtomicSlotMigration)
	progress(b, "%s: %d keys (values %d bytes) in slots 0-%d; atomic slot migration: %v", eng, nkeys, moveValueLen, engineMoveSlots-1, atomic)
	var tf, noop, net, cli, raw samples
	var ratios, netRatios, rawShares []float64
	iter := 0
	path := ""
	for b.Loop() {
		b.StopTimer()
		r := engineMoveIteration(b, data, iter, atomic)
		iter++
		path = r.path
		tf, noop, cli = append(tf, r.tf), append(noop, r.noop), append(cli, r.cli)
		n := r.tf - r.noop
		net = append(net, n)
		ratios = append(ratios, r.cli.Seconds()/r.tf.Seconds())
		netRatios = append(netRatios, r.cli.Seconds()/n.Seconds())
		line := fmt.Sprintf("iteration %d: terraform apply %.3fs (path: %s), no-op apply %.3fs, provider's share %.3fs | redis-cli reshard %.3fs | redis-cli/terraform %.1fx, redis-cli/provider's share %.1fx",
			iter, r.tf.Seconds(), r.path, r.noop.Seconds(), n.Seconds(), r.cli.Seconds(), r.cli.Seconds()/r.tf.Seconds(), r.cli.Seconds()/n.Seconds())
		if atomic {
			raw = append(raw, r.raw)
			rawShares = append(rawShares, n.Seconds()/r.raw.Seconds())
			line += fmt.Sprintf(" | raw atomic command %.3fs, provider's share / raw %.2fx", r.raw.Seconds(), n.Seconds()/r.raw.Seconds())
		}
		progress(b, "%s", line)
		b.StartTimer()
	}
	b.ReportMetric(tf.mean(), "tf-move-s")
	b.ReportMetric(noop.mean(), "tf-noop-s")
	b.ReportMetric(net.mean(), "tf-net-s")
	b.ReportMetric(cli.mean(), "cli-move-s")
	b.ReportMetric(meanF(ratios), "cli/tf")
	b.ReportMetric(meanF(netRatios), "cli/tf-net")
	summary := fmt.Sprintf("SUMMARY %s, %d keys over %d slots, master 1 -> master 2, %d iterations, mean, median (min..max): terraform apply %s (path: %s); no-op apply %s; provider's share %s; redis-cli reshard %s; redis-cli/terraform %.1fx (%s), redis-cli/provider's share %.1fx (%s)",
		eng, nkeys, engineMoveSlots, iter, tf, path, noop, net, cli, meanF(ratios), fmtFloats(ratios), meanF(netRatios), fmtFloats(netRatios))
	if atomic {
		b.ReportMetric(raw.mean(), "raw-move-s")
		b.ReportMetric(meanF(rawShares), "tf-net/raw")
		summary += fmt.Sprintf("; raw atomic command %s; provider's share / raw %.2fx (%s), medians' ratio %.2fx",
			raw, meanF(rawShares), fmtFloats(rawShares), net.median()/raw.median())
	}
	b.Logf("%s; load average %s", summary, loadavg())
}

func engineMoveIteration(b *testing.B, data map[string]string, iter int, atomic bool) (r engineMoveResult) {
	s := newScope(b)
	defer s.close()
	all := startNodes(s, 9)
	groups := [][]*redistest.Node{all[:3], all[3:6], all[6:]}
	tfNodes, cliNodes, rawNodes := groups[0], groups[1], groups[2]
	ws := make([]*workspace, 3)
	for i, g := range groups {
		ws[i] = newWorkspace(b, slotsConfig(redistest.Addrs(g), engineMoveBefore))
	}
	var wg sync.WaitGroup
	errs := make([]string, 3)
	for i, w := range ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out, code, took, err := w.run("apply", "-auto-approve", "-input=false")
			if err != nil || code != 0 {
				errs[i] = fmt.Sprintf("setup: terraform apply: exit %d, %v, after %s\n%s", code, err, took, tail(out, 30))
			}
		}()
	}
	wg.Wait()
	for _, e := range errs {
		if e != "" {
			s.Fatal(e)
		}
	}
	for _, w := range ws {
		if w.log != "" {
			rotateLog(w.log, "setup")
		}
	}
	for _, g := range groups {
		fillKeys(s, g, data)
		checkDBSize(s, g, []int{len(data), 0, 0})
	}
	after := []int{0, len(data), 0}

	runTF := func() {
		w := ws[0]
		if err := os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(slotsConfig(redistest.Addrs(tfNodes), engineMoveAfter)), 0o600); err != nil {
			s.Fatal(err)
		}
		b.StartTimer()
		out, code, took, err := w.run("apply", "-auto-approve", "-input=false")
		b.StopTimer()
		r.tf = took
		if w.log != "" {
			progress(b, "terraform apply (move) %.3fs; timeline (s since terraform started):\n%s%s", took.Seconds(),
				stageSummary(w.log, w.started), moveLines(w.log, w.started))
			rotateLog(w.log, "move")
		}
		if err != nil || code != 0 {
			s.Fatalf("terraform apply (move): exit %d, %v, after %s\n%s", code, err, took, tail(out, 40))
		}
		redistest.CheckKeys(s, tfNodes, data)
		checkDBSize(s, tfNodes, after)
		r.path = cluster.PathMigrate.String()
		if atomic {
			if tasks := completedTasks(s, tfNodes[0], tfNodes[1]); tasks == 0 {
				s.Fatalf("the engine has atomic slot migration, but no completed migration is listed: the apply took MIGRATE")
			}
			r.path = "atomic slot migration"
		}
		// The no-op apply is the baseline subtracted from the move's; on a
		// shared machine one run varies by a few hundred ms, so it is the
		// median of three.
		var noops samples
		for range 3 {
			out, code, took, err = w.run("apply", "-auto-approve", "-input=false")
			noops = append(noops, took)
			if err != nil || code != 0 || !strings.Contains(out, "No changes.") {
				s.Fatalf("terraform apply after the move: exit %d, %v, want no changes:\n%s", code, err, tail(out, 40))
			}
			if w.log != "" {
				rotateLog(w.log, "noop")
			}
		}
		r.noop = time.Duration(noops.median() * float64(time.Second))
	}
	runCLI := func() {
		from, to := redistest.MyID(s, cliNodes[0]), redistest.MyID(s, cliNodes[1])
		r.cli, _ = redisCLIReshard(s, cliNodes[0].Addr(), from, to, engineMoveSlots)
		redistest.CheckKeys(s, cliNodes, data)
		checkDBSize(s, cliNodes, after)
	}
	runRaw := func() {
		if !atomic {
			return
		}
		r.raw = rawAtomicMove(s, rawNodes[0], rawNodes[1])
		redistest.CheckKeys(s, rawNodes, data)
		checkDBSize(s, rawNodes, after)
	}
	order := []func(){runTF, runCLI, runRaw}
	for i := range order {
		order[(i+iter)%len(order)]()
	}
	return r
}

// rawAtomicMove moves slots 0-2729 from src to dst with the engine's own
// command and returns the time until the engine reports the task ended and
// src no longer serves the slots.
func rawAtomicMove(tb testing.TB, src, dst *redistest.Node) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	valkey := redistest.ServerEngine(tb).Valkey()
	start := time.Now()
	var err error
	if valkey {
		err = src.Client().Do(ctx, "CLUSTER", "MIGRATESLOTS", "SLOTSRANGE", 0, engineMoveSlots-1, "NODE", redistest.MyID(tb, dst)).Err()
	} else {
		err = dst.Client().Do(ctx, "CLUSTER", "MIGRATION", "IMPORT", 0, engineMoveSlots-1).Err()
	}
	if err != nil {
		tb.Fatalf("raw atomic move: %v", err)
	}
	for {
		if completedTasks(tb, src, dst) > 0 && !servesSlot0(tb, src) {
			return time.Since(start)
		}
		if ctx.Err() != nil {
			tb.Fatalf("raw atomic move: not done after 2 minutes")
		}
		time.Sleep(time.Millisecond)
	}
}

// completedTasks counts the atomic migrations the coordinating node (the
// target on Redis, the source on Valkey) reports completed.
func completedTasks(tb testing.TB, src, dst *redistest.Node) int {
	tb.Helper()
	n, cmd := dst, []any{"CLUSTER", "MIGRATION", "STATUS", "ALL"}
	if redistest.ServerEngine(tb).Valkey() {
		n, cmd = src, []any{"CLUSTER", "GETSLOTMIGRATIONS"}
	}
	list, _ := redistest.Do(tb, n, cmd...).([]any)
	done := 0
	for _, item := range list {
		kv, _ := item.([]any)
		for i := 0; i+1 < len(kv); i += 2 {
			if fmt.Sprint(kv[i]) == "state" && (kv[i+1] == "completed" || kv[i+1] == "success") {
				done++
			}
		}
	}
	return done
}

// servesSlot0 tells whether the node's own view gives it slot 0.
func servesSlot0(tb testing.TB, n *redistest.Node) bool {
	tb.Helper()
	for _, c := range redistest.ParseClusterNodes(redistest.ClusterNodes(tb, n)) {
		if c.Self {
			for _, r := range c.Slots {
				if r == "0" || strings.HasPrefix(r, "0-") {
					return true
				}
			}
		}
	}
	return false
}
