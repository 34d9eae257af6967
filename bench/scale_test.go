//go:build linux

package bench

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// BenchmarkScale: one cluster of BENCH_NODES nodes (default 30) as
// BENCH_NODES/(1+BENCH_REPLICAS) shards (BENCH_REPLICAS default 1), at
// cluster-node-timeout BENCH_NODE_TIMEOUT (a Go duration, default 15s).
// Each iteration, on fresh nodes each time:
//
//   - floor: a lone node's rejoin delay (see BenchmarkCreate);
//   - create: `terraform apply` of the whole cluster, to ready;
//   - plan: three no-change `terraform plan -detailed-exitcode` (exit 0);
//   - rss: the provider processes' peak resident set (VmHWM, read from /proc
//     while terraform runs, see runWatched), over the apply and the plans;
//   - redis-cli (unless BENCH_CLI=0): `redis-cli --cluster create` on as
//     many other nodes, returned and ready, then `redis-cli --cluster check`.
//
// The terraform and the redis-cli nodes never run at the same time, so at
// most BENCH_NODES+1 servers run. Every number is printed with the load
// average at that moment.
//
//	BENCH_NODES=200 go test ./bench -run '^$' -bench Scale -benchtime 1x -timeout 30m
func BenchmarkScale(b *testing.B) {
	requireTools(b, "redis-cli")
	n := envInt(b, "BENCH_NODES", 30)
	replicas := envInt(b, "BENCH_REPLICAS", 1)
	if n%(1+replicas) != 0 || n/(1+replicas) < 3 {
		b.Fatalf("BENCH_NODES=%d is not a multiple of 1+BENCH_REPLICAS=%d with at least 3 shards", n, 1+replicas)
	}
	masters := n / (1 + replicas)
	timeout := nodeTimeout
	if v := os.Getenv("BENCH_NODE_TIMEOUT"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.Fatalf("BENCH_NODE_TIMEOUT=%q: %v", v, err)
		}
		timeout = d
	}
	cli := os.Getenv("BENCH_CLI") != "0"
	requireProvider(b)

	var floor, create, plans, settled, cliReturned, cliReady, cliCheck samples
	var rssApply, rssPlan []float64
	for b.Loop() {
		b.StopTimer()
		r := scaleIteration(b, n, masters, replicas, timeout, cli)
		floor = append(floor, r.floor)
		create = append(create, r.create)
		plans = append(plans, r.plans...)
		settled = append(settled, r.settled...)
		rssApply = append(rssApply, r.rssApply)
		rssPlan = append(rssPlan, r.rssPlan)
		if cli {
			cliReturned = append(cliReturned, r.cliReturned)
			cliReady = append(cliReady, r.cliReady)
			cliCheck = append(cliCheck, r.cliCheck)
		}
		b.StartTimer()
	}
	b.ReportMetric(create.mean(), "create-s")
	b.ReportMetric(create.mean()-floor.mean(), "create-over-floor-s")
	b.ReportMetric(plans.mean(), "plan-s")
	b.ReportMetric(settled.mean(), "plan-synced-s")
	b.ReportMetric(maxF(rssApply)/1024, "rss-apply-MB")
	b.ReportMetric(maxF(rssPlan)/1024, "rss-plan-MB")
	cliNote := "redis-cli skipped (BENCH_CLI=0)"
	if cli {
		b.ReportMetric(cliReady.mean(), "cli-ready-s")
		b.ReportMetric(cliCheck.mean(), "cli-check-s")
		cliNote = fmt.Sprintf("redis-cli create returned %s, ready %s, check %s", cliReturned, cliReady, cliCheck)
	}
	b.Logf("SUMMARY %d nodes (%dx(1+%d)), node-timeout %s: floor %s; terraform create %s (%.3fs over floor); no-change plan %s, once replicas are in sync %s; provider peak RSS %.0f MB (apply), %.0f MB (plan); %s; load average %s",
		n, masters, replicas, timeout, floor, create, create.mean()-floor.mean(), plans, settled, maxF(rssApply)/1024, maxF(rssPlan)/1024, cliNote, loadavg())
}

type scaleResult struct {
	floor, create                   time.Duration
	plans, settled                  []time.Duration
	rssApply, rssPlan               float64 // kB
	cliReturned, cliReady, cliCheck time.Duration
}

func scaleIteration(b *testing.B, n, masters, replicas int, timeout time.Duration, cli bool) (r scaleResult) {
	func() {
		s := newScope(b)
		defer s.close()
		all := startNodesTimeout(s, n+1, timeout)
		nodes, lone := all[:n], all[n]
		r.floor = measureFloor(s, lone)
		progress(b, "floor %.3fs (load %s)", r.floor.Seconds(), loadavg())

		shards := layout(redistest.Addrs(nodes), masters, replicas)
		w := newWorkspace(b, clusterConfig(shards))
		b.StartTimer()
		out, code, took, use, err := runWatched(w, "apply", "-auto-approve", "-input=false")
		b.StopTimer()
		r.create = took
		if err != nil || code != 0 {
			msg := fmt.Sprintf("terraform apply: exit %d, %v after %.3fs\n%s", code, err, took.Seconds(), tail(out, 30))
			if w.log != "" {
				msg += "\ntimeline (s since terraform started):\n" + stageSummary(w.log, w.started)
			}
			s.Fatal(msg)
		}
		r.rssApply = float64(use.peakKB)
		progress(b, "terraform create of %d nodes %.3fs (+%.3fs over floor), provider peak RSS %.0f MB (load %s)",
			n, took.Seconds(), (took - r.floor).Seconds(), r.rssApply/1024, loadavg())
		if w.log != "" {
			progress(b, "timeline (s since terraform started):\n%s", stageSummary(w.log, w.started))
			rotateLog(w.log, "create")
		}
		views := readAll(b.Context(), nodes)
		if ok, why := ready(views); !ok {
			s.Errorf("terraform apply returned after %.3fs but the cluster is not ready: %s", took.Seconds(), why)
			waitReady(s, b.Name()+" terraform", nodes, time.Now())
			views = readAll(b.Context(), nodes)
		}
		checkLayout(s, nodes, views, shards)

		// Three no-change plans; label says when, in the logs.
		plans := func(label, logSuffix string) (out []time.Duration) {
			for i := range 3 {
				text, code, took, use, err := runWatched(w, "plan", "-detailed-exitcode", "-input=false")
				if err != nil || code != 0 {
					s.Fatalf("terraform plan: exit %d (want 0: no change), %v\n%s", code, err, tail(text, 40))
				}
				out = append(out, took)
				r.rssPlan = max(r.rssPlan, float64(use.peakKB))
				progress(b, "no-change plan %d of %d nodes%s %.3fs (load %s)", i+1, n, label, took.Seconds(), loadavg())
				if w.log != "" {
					progress(b, "timeline (s since terraform started):\n%s", stageSummary(w.log, w.started))
					rotateLog(w.log, fmt.Sprintf("plan%s-%d", logSuffix, i+1))
				}
			}
			return out
		}
		r.plans = plans("", "")
		// The plans above run while the replicas' first full syncs do (a
		// master forks for them repl-diskless-sync-delay, 5 s, after
		// REPLICATE): measure again once every replica is in sync.
		synced := waitSynced(s, nodes)
		progress(b, "every replica in sync %.3fs after the plans (load %s)", synced.Seconds(), loadavg())
		r.settled = plans(", replicas in sync,", "-synced")
		progress(b, "provider peak RSS over the plans %.0f MB", r.rssPlan/1024)
	}()
	if !cli {
		return r
	}
	s := newScope(b)
	defer s.close()
	nodes := startNodesTimeout(s, n, timeout)
	start := time.Now()
	r.cliReturned = redisCLICreate(s, redistest.Addrs(nodes), replicas)
	r.cliReady = waitReady(s, b.Name()+" redis-cli", nodes, start)
	progress(b, "redis-cli --cluster create of %d nodes returned %.3fs, ready %.3fs (load %s)", n, r.cliReturned.Seconds(), r.cliReady.Seconds(), loadavg())
	r.cliCheck = redisCLICheck(s, nodes[0].Addr())
	progress(b, "redis-cli --cluster check %.3fs (load %s)", r.cliCheck.Seconds(), loadavg())
	return r
}

// redisCLICheck runs redis-cli --cluster check through addr and returns its
// wall time; it fails unless every check passed.
func redisCLICheck(tb testing.TB, addr string) time.Duration {
	tb.Helper()
	return redisCLI(tb, "check", addr)
}

func envInt(b *testing.B, name string, def int) int {
	b.Helper()
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		b.Fatalf("%s=%q is not a count", name, v)
	}
	return n
}

func maxF(fs []float64) float64 {
	var m float64
	for _, f := range fs {
		m = max(m, f)
	}
	return m
}

// waitSynced waits until every replica among nodes reports
// master_link_status:up and returns how long that took.
func waitSynced(tb testing.TB, nodes []*redistest.Node) time.Duration {
	tb.Helper()
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for ctx.Err() == nil {
		behind := 0
		for _, n := range nodes {
			info, err := n.Client().Info(ctx, "replication").Result()
			if err != nil || (strings.Contains(info, "role:slave") && !strings.Contains(info, "master_link_status:up")) {
				behind++
			}
		}
		if behind == 0 {
			return time.Since(start)
		}
		time.Sleep(pollInterval)
	}
	tb.Fatalf("replicas not in sync %s after the plans", waitTimeout)
	return 0
}
