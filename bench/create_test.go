// Package bench measures the provider against redis-cli on real redis-server
// processes. It holds benchmarks only: `go test ./bench` runs nothing unless
// given -bench. See README.md for how to run them and what each number means.
//
//	go test ./bench -run '^$' -bench . -benchtime 3x -timeout 20m
package bench

import (
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// BenchmarkCreate: time to ready of a new cluster, nodes up beforehand,
// default cluster-node-timeout (15 s, so a 5 s rejoin delay).
//
// Each iteration starts 2N+1 fresh nodes together (untimed): N for
// terraform, N for redis-cli, one lone node for the floor. It waits 2.5 s
// after they all answer: younger than Redis' CLUSTER_WRITABLE_DELAY (2 s),
// a node given slots turns ok at the 2 s mark instead of a full rejoin delay
// after the ADDSLOTS (see writableDelaySettle), and nodes "up beforehand"
// are older than that. Then it measures:
//
//   - floor: CLUSTER ADDSLOTSRANGE 0 16383 on the lone node until it reports
//     cluster_state:ok: the rejoin delay, the least any create can take.
//   - terraform: `terraform apply -auto-approve -input=false`, which returns
//     only once the cluster is ready; readiness is then checked (untimed) with
//     the same check as redis-cli's.
//   - redis-cli: `redis-cli --cluster create ... --cluster-replicas R
//     --cluster-yes` ("returned"), then polling every 5 ms until ready
//     ("ready", counted from the start of redis-cli).
//
// Ready: every node reports cluster_state:ok, knows exactly the N nodes (none
// in handshake or flagged failing) and all nodes' CLUSTER NODES agree on every
// node's role, master and slots.
//
// The two contenders alternate which goes first. The benchmark timer (ns/op)
// covers the terraform apply only; the other numbers are custom metrics.
func BenchmarkCreate(b *testing.B) {
	for _, c := range []struct {
		name             string
		masters, replica int
	}{
		{"3x(1+1)", 3, 1},
		{"10x(1+2)", 10, 2},
	} {
		b.Run(c.name, func(b *testing.B) { benchCreate(b, c.masters, c.replica) })
	}
}

func benchCreate(b *testing.B, masters, replicas int) {
	requireTools(b, "redis-cli")
	requireProvider(b)
	n := masters * (1 + replicas)

	var floor, tf, cliReturned, cliReady samples
	var ratios []float64
	failures := 0
	iter := 0
	for b.Loop() {
		b.StopTimer()
		r := createIteration(b, n, masters, replicas, iter%2 == 1)
		first := map[bool]string{false: "terraform", true: "redis-cli"}[iter%2 == 1]
		iter++
		floor = append(floor, r.floor)
		cliReturned = append(cliReturned, r.cliReturned)
		cliReady = append(cliReady, r.cliReady)
		if r.tfErr != "" {
			failures++
			progress(b, "iteration %d (%s first): floor %.3fs | terraform apply FAILED after %.3fs | redis-cli returned %.3fs, ready %.3fs\n%s",
				iter, first, r.floor.Seconds(), r.tf.Seconds(), r.cliReturned.Seconds(), r.cliReady.Seconds(), r.tfErr)
			b.Errorf("iteration %d: terraform apply failed after %.3fs (output above)", iter, r.tf.Seconds())
			b.StartTimer()
			continue
		}
		tf = append(tf, r.tf)
		ratios = append(ratios, r.tf.Seconds()/r.cliReady.Seconds())
		progress(b, "iteration %d (%s first): floor %.3fs | terraform ready %.3fs (+%.3fs over floor) | redis-cli returned %.3fs, ready %.3fs | ratio %.2f",
			iter, first, r.floor.Seconds(), r.tf.Seconds(), (r.tf - r.floor).Seconds(), r.cliReturned.Seconds(), r.cliReady.Seconds(), ratios[len(ratios)-1])
		b.StartTimer()
	}

	b.ReportMetric(floor.mean(), "floor-s")
	b.ReportMetric(cliReturned.mean(), "cli-returned-s")
	b.ReportMetric(cliReady.mean(), "cli-ready-s")
	b.ReportMetric(float64(failures), "tf-failed")
	if len(tf) == 0 {
		b.Logf("SUMMARY %dx(1+%d), %d nodes: every terraform apply failed (%d); redis-cli returned %s, ready %s; load average %s", masters, replicas, n, failures, cliReturned, cliReady, loadavg())
		return
	}
	ratio := tf.mean() / cliReady.mean()
	b.ReportMetric(tf.mean(), "tf-ready-s")
	b.ReportMetric(tf.mean()-floor.mean(), "tf-over-floor-s")
	b.ReportMetric(ratio, "ratio")
	b.Logf("SUMMARY %dx(1+%d), %d nodes, %d iterations (%d terraform failures), mean, median (min..max): floor %s; terraform apply ready %s, %.3fs over floor; redis-cli returned %s, ready %s; terraform/redis-cli-ready %.2f (per iteration %s); load average %s",
		masters, replicas, n, iter, failures, floor, tf, tf.mean()-floor.mean(), cliReturned, cliReady, ratio, fmtFloats(ratios), loadavg())
}

type createResult struct {
	floor, tf, cliReturned, cliReady time.Duration
	tfErr                            string // terraform's output when apply failed
}

// createIteration runs one iteration with its own nodes, stopped before it
// returns. The caller has stopped the benchmark timer; it runs only around
// terraform apply.
func createIteration(b *testing.B, n, masters, replicas int, cliFirst bool) (r createResult) {
	s := newScope(b)
	defer s.close()
	all := startNodes(s, 2*n+1)
	tfNodes, cliNodes, lone := all[:n], all[n:2*n], all[2*n]

	r.floor = measureFloor(s, lone)

	runTF := func() {
		shards := layout(redistest.Addrs(tfNodes), masters, replicas)
		w := newWorkspace(b, clusterConfig(shards))
		b.StartTimer()
		out, code, took, err := w.run("apply", "-auto-approve", "-input=false")
		b.StopTimer()
		r.tf = took
		if err != nil || code != 0 {
			// Not fatal: the iteration's other numbers still count, and the
			// benchmark reports how many applies failed (and fails).
			r.tfErr = fmt.Sprintf("terraform apply: exit %d, %v\n%s", code, err, tail(out, 30))
			if w.log != "" {
				r.tfErr += "\ntimeline (s since terraform started):\n" + stageSummary(w.log, w.started)
			}
			return
		}
		views := readAll(b.Context(), tfNodes)
		if ok, why := ready(views); !ok {
			s.Errorf("terraform apply returned after %.3fs but the cluster is not ready: %s", r.tf.Seconds(), why)
			late := waitReady(s, b.Name()+" terraform", tfNodes, time.Now())
			progress(b, "ready %.3fs after terraform returned", late.Seconds())
			views = readAll(b.Context(), tfNodes)
		}
		checkLayout(s, tfNodes, views, shards)
		if w.log != "" {
			progress(b, "terraform apply %.3fs; timeline (s since terraform started):\n%s", r.tf.Seconds(), stageSummary(w.log, w.started))
		}
	}
	runCLI := func() {
		start := time.Now()
		r.cliReturned = redisCLICreate(s, redistest.Addrs(cliNodes), replicas)
		r.cliReady = waitReady(s, b.Name()+" redis-cli", cliNodes, start)
	}
	if cliFirst {
		runCLI()
		runTF()
	} else {
		runTF()
		runCLI()
	}
	return r
}

// progress prints a line to stderr at once. b.Logf output of a benchmark is
// printed only when it ends and cut to 10 lines, so each benchmark keeps
// b.Logf for its one SUMMARY line and reports details here.
func progress(b *testing.B, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "%s: %s\n", b.Name(), fmt.Sprintf(format, args...))
}

// rotateLog empties a TF_LOG_PATH file so the next command's timeline stands
// alone, first keeping its content as path.suffix if BENCH_TF_LOG_DIR asks to
// keep logs.
func rotateLog(path, suffix string) {
	if os.Getenv("BENCH_TF_LOG_DIR") != "" {
		_ = os.Link(path, path+"."+suffix)
		_ = os.Remove(path)
		return
	}
	_ = os.Truncate(path, 0)
}

func fmtFloats(fs []float64) string {
	out := ""
	for i, f := range fs {
		if i > 0 {
			out += " "
		}
		out += fmt.Sprintf("%.2f", f)
	}
	return out
}

// BenchmarkPlan: a no-change `terraform plan -detailed-exitcode` (exit 0
// expected) of a cluster terraform created, at 6 and 30 nodes. ns/op is the
// plan's wall time. Setup (untimed): fresh nodes, terraform apply. Before each
// plan the nodes' counters are reset (CONFIG RESETSTAT); after it the commands
// they served are summed: cmds/node should stay flat as the cluster grows
// (O(1) questions per node), and out-kB shows whether CLUSTER NODES (O(N) bytes)
// is read from every node (O(N^2)) or a few.
func BenchmarkPlan(b *testing.B) {
	for _, c := range []struct {
		name             string
		masters, replica int
	}{
		{"3x(1+1)", 3, 1},
		{"10x(1+2)", 10, 2},
	} {
		b.Run(c.name, func(b *testing.B) { benchPlan(b, c.masters, c.replica) })
	}
}

func benchPlan(b *testing.B, masters, replicas int) {
	requireProvider(b)
	n := masters * (1 + replicas)
	nodes := startNodes(b, n)
	w := newWorkspace(b, clusterConfig(layout(redistest.Addrs(nodes), masters, replicas)))
	// Setup, untimed. A create that failed midway converges on the next
	// apply (the provider promises it), so a failed first apply is retried
	// once, loudly: BenchmarkCreate is where create failures count.
	setupNote := ""
	out, code, took, err := w.run("apply", "-auto-approve", "-input=false")
	if err != nil || code != 0 {
		progress(b, "setup: terraform apply FAILED after %.3fs (exit %d, %v); applying again\n%s", took.Seconds(), code, err, tail(out, 30))
		setupNote = " (setup: first apply failed, second converged)"
		took = w.mustRun(b, 0, "apply", "-auto-approve", "-input=false")
	}
	progress(b, "setup: terraform apply of %d nodes took %.3fs", n, took.Seconds())
	if w.log != "" {
		rotateLog(w.log, "setup")
	}

	var plans samples
	var cmds, outBytes []float64
	for b.Loop() {
		b.StopTimer()
		resetStats(b, nodes)
		b.StartTimer()
		took := w.mustRun(b, 0, "plan", "-detailed-exitcode", "-input=false")
		b.StopTimer()
		if w.log != "" {
			progress(b, "terraform plan %.3fs; timeline (s since terraform started):\n%s", took.Seconds(), stageSummary(w.log, w.started))
			rotateLog(w.log, fmt.Sprintf("plan-%d", len(plans)+1))
		}
		plans = append(plans, took)
		calls, perNode, ob := cmdStats(b, nodes)
		total := 0
		for _, c := range perNode {
			total += c
		}
		cmds = append(cmds, float64(total))
		outBytes = append(outBytes, float64(ob))
		progress(b, "plan %d: %.3fs, %d commands on %d nodes (per node min %d max %d), %.1f kB sent by the nodes: %s",
			len(plans), took.Seconds(), total, n, minInt(perNode), maxInt(perNode), float64(ob)/1024, formatCalls(calls))
		b.StartTimer()
	}
	b.ReportMetric(plans.mean(), "plan-s")
	b.ReportMetric(meanF(cmds)/float64(n), "cmds/node")
	b.ReportMetric(meanF(outBytes)/1024, "out-kB")
	b.Logf("SUMMARY no-change plan of %dx(1+%d), %d nodes: %s, %.1f commands per node, %.1f kB from the nodes%s; load average %s",
		masters, replicas, n, plans, meanF(cmds)/float64(n), meanF(outBytes)/1024, setupNote, loadavg())
}

// BenchmarkTerraformBaseline: what Terraform costs by itself, to subtract
// from the numbers above. "empty": `terraform plan` of a configuration with
// no provider and no resource (Terraform's own start-up). "provider": the
// redis provider required and configured but no resource (adds starting the
// plugin and reading its schema).
func BenchmarkTerraformBaseline(b *testing.B) {
	requireProvider(b)
	for _, c := range []struct{ name, config string }{
		{"empty", "terraform {}\n"},
		{"provider", tfHeader},
	} {
		b.Run(c.name, func(b *testing.B) {
			w := newWorkspace(b, c.config)
			var plans samples
			for b.Loop() {
				plans = append(plans, w.mustRun(b, 0, "plan", "-detailed-exitcode", "-input=false"))
			}
			b.ReportMetric(plans.mean(), "plan-s")
			b.Logf("SUMMARY terraform plan, %s config: %s; load average %s", c.name, plans, loadavg())
		})
	}
}

func meanF(fs []float64) float64 {
	var s float64
	for _, f := range fs {
		s += f
	}
	return s / float64(len(fs))
}

func minInt(xs []int) int {
	m := xs[0]
	for _, x := range xs {
		m = min(m, x)
	}
	return m
}

func maxInt(xs []int) int {
	m := xs[0]
	for _, x := range xs {
		m = max(m, x)
	}
	return m
}
