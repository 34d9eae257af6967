// Linux only, like the rest of the benchmarks (127.0.0.X hosts): the
// provider's memory and CPU are read from /proc.

//go:build linux

package bench

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// BenchmarkMove: moving slots with their keys from one master to another,
// `terraform apply` against `redis-cli --cluster reshard` (default
// --cluster-pipeline 10) on the same data, same iteration.
//
// Each iteration (setup untimed) starts 6 fresh nodes in one redistest.Start
// call and builds two identical 3-master clusters (no replicas) with
// terraform apply, declaring the slots explicitly: master 1 "0-5460",
// master 2 "5461-10922", master 3 "10923-16383". Both get the same keys,
// written with a cluster client pipeline; every key hashes to one of the
// slots 0-5459, which move (see moveSlotCount for why slot 5460 stays), so
// all of them live on master 1 and all of them move. Then:
//
//   - terraform: main.tf declares master 1 with "5460" and master 2 with
//     "0-5459", "5461-10922"; `terraform apply -auto-approve -input=false`
//     is timed (the benchmark timer, ns/op, runs around it only). Untimed
//     after it: the cluster is ready, every key reads back with its value,
//     DBSIZE sums to the key count (all on master 2), and a second apply
//     finds nothing to do; that second apply is timed too, as Terraform's
//     fixed overhead.
//   - redis-cli: `redis-cli -a PW --no-auth-warning --cluster reshard
//     <master 1> --cluster-from <id 1> --cluster-to <id 2> --cluster-slots
//     5460 --cluster-yes` (it takes the source's lowest slots: 0-5459) is
//     timed; untimed after it, the same key and DBSIZE checks.
//
// The two contenders alternate which goes first. While terraform runs, the
// provider plugin processes' peak RSS (VmHWM) and CPU time are read from
// /proc (see runWatched). Around each contender's move the nodes' command
// statistics are reset and then read, to show where the nodes spent their
// time (MIGRATE, GETKEYSINSLOT, SETSLOT, ...). keys/s is keys / wall time of
// one iteration; the metrics are means over iterations, and ratio is the
// mean of the iterations' terraform/redis-cli keys/s.
func BenchmarkMove(b *testing.B) {
	for _, c := range []struct {
		name string
		keys int
	}{
		{"50k-keys-5460-slots", 50_000},
		{"5k-keys-5460-slots", 5_000},
	} {
		b.Run(c.name, func(b *testing.B) { benchMove(b, c.keys) })
	}
}

const (
	// moveSlotCount slots, 0..moveSlotCount-1, move from master 1 to master
	// 2: all of master 1's slots but its last one, 5460. A master that gives
	// away its last slot turns itself into a replica of the new owner
	// (cluster-allow-replica-migration, on by default), for redis-cli as for
	// the provider, which then waits for the declared master until its
	// timeout. Keeping one slot (with no key) measures the move itself.
	moveSlotCount = 5460
	// moveValueLen is the length of each value: small keys.
	moveValueLen = 16
)

// moveShards are the masters' slots before and after the move.
var (
	moveBefore = [][]string{{"0-5460"}, {"5461-10922"}, {"10923-16383"}}
	moveAfter  = [][]string{{"5460"}, {"0-5459", "5461-10922"}, {"10923-16383"}}
)

func benchMove(b *testing.B, nkeys int) {
	requireTools(b, "redis-cli")
	requireProvider(b)
	data := moveData(nkeys)
	slotsWithKeys := map[int]bool{}
	for k := range data {
		slotsWithKeys[cluster.KeySlot(k)] = true
	}
	progress(b, "%d keys (values %d bytes) in %d of the %d moving slots", nkeys, moveValueLen, len(slotsWithKeys), moveSlotCount)

	var tf, noop, cli samples
	var tfRate, tfNetRate, cliRate, ratios, netRatios []float64
	var tfPeak, noopPeak, cliPeak int64 // kB
	var tfCPU samples
	iter := 0
	for b.Loop() {
		b.StopTimer()
		cliFirst := iter%2 == 1
		iter++
		r := moveIteration(b, data, cliFirst)
		tf = append(tf, r.tf)
		noop = append(noop, r.noop)
		cli = append(cli, r.cli)
		tfCPU = append(tfCPU, r.tfUse.cpu)
		tr, cr := float64(nkeys)/r.tf.Seconds(), float64(nkeys)/r.cli.Seconds()
		nr := float64(nkeys) / (r.tf - r.noop).Seconds()
		tfRate, cliRate, tfNetRate = append(tfRate, tr), append(cliRate, cr), append(tfNetRate, nr)
		ratios, netRatios = append(ratios, tr/cr), append(netRatios, nr/cr)
		tfPeak, noopPeak, cliPeak = max(tfPeak, r.tfUse.peakKB), max(noopPeak, r.noopUse.peakKB), max(cliPeak, r.cliPeakKB)
		progress(b, "iteration %d (%s first): terraform apply %.3fs = %.0f keys/s (provider peak RSS %s, per plugin start %s; provider CPU %.2fs); no-op apply %.3fs (peak RSS %s, %s; CPU %.2fs), without it %.0f keys/s | redis-cli reshard %.3fs = %.0f keys/s (peak RSS %s) | ratio %.2f, without terraform's overhead %.2f",
			iter, map[bool]string{false: "terraform", true: "redis-cli"}[cliFirst],
			r.tf.Seconds(), tr, fmtMB(r.tfUse.peakKB), fmtMBs(r.tfUse.perPlugin), r.tfUse.cpu.Seconds(),
			r.noop.Seconds(), fmtMB(r.noopUse.peakKB), fmtMBs(r.noopUse.perPlugin), r.noopUse.cpu.Seconds(), nr,
			r.cli.Seconds(), cr, fmtMB(r.cliPeakKB), tr/cr, nr/cr)
		progress(b, "iteration %d: time the nodes spent in commands (INFO commandstats usec), master 1, 2, 3:\n    terraform: %s\n    redis-cli: %s", iter, r.tfServer, r.cliServer)
		b.StartTimer()
	}
	b.ReportMetric(tf.mean(), "tf-move-s")
	b.ReportMetric(meanF(tfRate), "tf-keys/s")
	b.ReportMetric(noop.mean(), "tf-noop-s")
	b.ReportMetric(meanF(tfNetRate), "tf-net-keys/s")
	b.ReportMetric(cli.mean(), "cli-move-s")
	b.ReportMetric(meanF(cliRate), "cli-keys/s")
	b.ReportMetric(meanF(ratios), "ratio")
	b.ReportMetric(meanF(netRatios), "net-ratio")
	b.ReportMetric(float64(tfPeak)/1024, "tf-peak-MB")
	b.ReportMetric(float64(noopPeak)/1024, "noop-peak-MB")
	b.ReportMetric(tfCPU.mean(), "tf-cpu-s")
	b.Logf("SUMMARY %d keys over %d slots, master 1 -> master 2, %d iterations, mean, median (min..max): terraform apply %s, %.0f keys/s; no-op apply %s; without it %.0f keys/s; redis-cli reshard %s, %.0f keys/s; keys/s ratio terraform/redis-cli %.2f (per iteration %s), without terraform's overhead %.2f (%s); provider peak RSS %s during the move apply, %s during a no-op apply, CPU %s; redis-cli peak RSS %s; load average %s",
		nkeys, moveSlotCount, iter, tf, meanF(tfRate), noop, meanF(tfNetRate), cli, meanF(cliRate),
		meanF(ratios), fmtFloats(ratios), meanF(netRatios), fmtFloats(netRatios), fmtMB(tfPeak), fmtMB(noopPeak), tfCPU, fmtMB(cliPeak), loadavg())
}

func fmtMB(kb int64) string { return fmt.Sprintf("%.1f MB", float64(kb)/1024) }

func fmtMBs(kbs []int64) string {
	parts := make([]string, len(kbs))
	for i, kb := range kbs {
		parts[i] = fmt.Sprintf("%.1f", float64(kb)/1024)
	}
	return strings.Join(parts, " ") + " MB"
}

// moveData returns n keys, each hashing to a slot below moveSlotCount, with
// small values.
func moveData(n int) map[string]string {
	out := make(map[string]string, n)
	for i := 0; len(out) < n; i++ {
		k := "bench:move:" + strconv.Itoa(i)
		if cluster.KeySlot(k) < moveSlotCount {
			v := fmt.Sprintf("v%d", i)
			out[k] = v + strings.Repeat("x", max(0, moveValueLen-len(v)))
		}
	}
	return out
}

// slotsConfig declares the masters (no replicas) with their slots.
func slotsConfig(masters []string, slots [][]string) string {
	var sb strings.Builder
	sb.WriteString(tfHeader)
	sb.WriteString("\nresource \"redis_cluster\" \"bench\" {\n  shards = [\n")
	for i, m := range masters {
		q := make([]string, len(slots[i]))
		for j, s := range slots[i] {
			q[j] = strconv.Quote(s)
		}
		fmt.Fprintf(&sb, "    { master = %q, replicas = [], slots = [%s] },\n", m, strings.Join(q, ", "))
	}
	sb.WriteString("  ]\n}\n")
	return sb.String()
}

type moveResult struct {
	tf, noop, cli       time.Duration
	tfUse, noopUse      pluginUsage // the provider's memory and CPU
	cliPeakKB           int64
	tfServer, cliServer string // where the nodes spent their time
}

// moveIteration runs one iteration with its own nodes, stopped before it
// returns. The caller has stopped the benchmark timer; it runs only around
// the terraform apply that moves the slots.
func moveIteration(b *testing.B, data map[string]string, cliFirst bool) (r moveResult) {
	s := newScope(b)
	defer s.close()
	all := startNodes(s, 6)
	tfNodes, cliNodes := all[:3], all[3:]

	// Setup: both clusters built the same way, by terraform, at once.
	tfW := newWorkspace(b, slotsConfig(redistest.Addrs(tfNodes), moveBefore))
	cliW := newWorkspace(b, slotsConfig(redistest.Addrs(cliNodes), moveBefore))
	var wg sync.WaitGroup
	errs := make([]string, 2)
	for i, w := range []*workspace{tfW, cliW} {
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
	for _, w := range []*workspace{tfW, cliW} {
		if w.log != "" {
			rotateLog(w.log, "setup")
		}
	}
	fillKeys(s, tfNodes, data)
	fillKeys(s, cliNodes, data)
	checkDBSize(s, tfNodes, []int{len(data), 0, 0})
	checkDBSize(s, cliNodes, []int{len(data), 0, 0})

	runTF := func() {
		if err := os.WriteFile(filepath.Join(tfW.dir, "main.tf"), []byte(slotsConfig(redistest.Addrs(tfNodes), moveAfter)), 0o600); err != nil {
			s.Fatal(err)
		}
		resetStats(s, tfNodes)
		b.StartTimer()
		out, code, took, use, err := runWatched(tfW, "apply", "-auto-approve", "-input=false")
		b.StopTimer()
		r.tf, r.tfUse = took, use
		r.tfServer = serverTime(s, tfNodes)
		if tfW.log != "" {
			progress(b, "terraform apply (move) %.3fs; timeline (s since terraform started):\n%s%s", took.Seconds(),
				stageSummary(tfW.log, tfW.started), moveLines(tfW.log, tfW.started))
			rotateLog(tfW.log, "move")
		}
		if err != nil || code != 0 {
			s.Fatalf("terraform apply (move): exit %d, %v, after %s\n%s", code, err, took, tail(out, 40))
		}
		if ok, why := ready(readAll(b.Context(), tfNodes)); !ok {
			s.Errorf("terraform apply returned after %.3fs but the cluster is not ready: %s", took.Seconds(), why)
		}
		redistest.CheckKeys(s, tfNodes, data)
		checkDBSize(s, tfNodes, []int{0, len(data), 0})
		// Terraform's fixed overhead: the same apply with nothing left to
		// do (refresh, plan, no change). It also checks that the move
		// converged on the declaration.
		out, code, took, use, err = runWatched(tfW, "apply", "-auto-approve", "-input=false")
		r.noop, r.noopUse = took, use
		if err != nil || code != 0 || !strings.Contains(out, "No changes.") {
			s.Fatalf("terraform apply after the move: exit %d, %v, want no changes:\n%s", code, err, tail(out, 40))
		}
		if tfW.log != "" {
			rotateLog(tfW.log, "noop")
		}
	}
	runCLI := func() {
		from, to := redistest.MyID(s, cliNodes[0]), redistest.MyID(s, cliNodes[1])
		resetStats(s, cliNodes)
		r.cli, r.cliPeakKB = redisCLIReshard(s, cliNodes[0].Addr(), from, to, moveSlotCount)
		r.cliServer = serverTime(s, cliNodes)
		redistest.CheckKeys(s, cliNodes, data)
		checkDBSize(s, cliNodes, []int{0, len(data), 0})
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

// fillKeys writes data through a cluster client pipeline, 1000 keys per
// round trip.
func fillKeys(tb testing.TB, nodes []*redistest.Node, data map[string]string) {
	tb.Helper()
	c := redistest.ClusterClient(tb, nodes)
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	const batch = 1000
	for lo := 0; lo < len(keys); lo += batch {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[lo:min(lo+batch, len(keys))] {
				p.Set(ctx, k, data[k], 0)
			}
			return nil
		})
		cancel()
		if err != nil {
			tb.Fatalf("writing keys: %v", err)
		}
	}
}

// checkDBSize fails unless each node holds the given number of keys.
func checkDBSize(tb testing.TB, nodes []*redistest.Node, want []int) {
	tb.Helper()
	got := make([]int, len(nodes))
	for i, n := range nodes {
		got[i] = int(redistest.DBSize(tb, n))
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		tb.Fatalf("DBSIZE of %v: %v, want %v", redistest.Addrs(nodes), got, want)
	}
}

// redisCLIReshard runs redis-cli --cluster reshard (default pipeline) and
// returns its wall time and peak RSS (from its rusage).
func redisCLIReshard(tb testing.TB, addr, from, to string, slots int) (time.Duration, int64) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "redis-cli", "-a", redistest.DefaultPassword, "--no-auth-warning",
		"--cluster", "reshard", addr, "--cluster-from", from, "--cluster-to", to,
		"--cluster-slots", strconv.Itoa(slots), "--cluster-yes")
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil || strings.Contains(buf.String(), "[ERR]") {
		tb.Fatalf("redis-cli --cluster reshard: %v after %s\n%s", err, took, tail(buf.String(), 40))
	}
	var peak int64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		peak = ru.Maxrss // kB on Linux
	}
	return took, peak
}

// pluginUsage is what runWatched saw of the provider plugin processes.
type pluginUsage struct {
	peakKB    int64         // the largest VmHWM
	perPlugin []int64       // VmHWM (kB) of each plugin process, in start order
	cpu       time.Duration // user+system CPU time of all of them
}

// runWatched is workspace.run that also watches the provider plugin
// processes terraform starts: their peak RSS and CPU time.
//
// How: every 5 ms, list terraform's children (/proc/PID/task/*/children),
// keep those named like the provider binary (/proc/CHILD/comm, which the
// kernel cuts to 15 bytes), and read VmHWM from /proc/CHILD/status and
// utime+stime from /proc/CHILD/stat. VmHWM is the process's own high-water
// mark of resident memory, kept by the kernel, so polling only has to read
// it some time before the process exits, not at the moment of the peak.
// Plugin processes live for a whole validate, plan or apply walk (tens to
// hundreds of ms) and shut down without allocating, so a 5 ms poll misses
// none and no peak; CPU time may be short by the last 5 ms of each. This
// needs no change to the binary terraform runs (a wrapper script would
// change what dev_overrides loads and how go-plugin signals it), and it
// reads the kernel's own counter rather than sampling RSS. Terraform starts
// the provider several times per command, one after another; peakKB is
// the largest. Linux only; elsewhere it reports nothing.
func runWatched(w *workspace, args ...string) (out string, code int, took time.Duration, use pluginUsage, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), tfTimeout)
	defer cancel()
	cmd := w.Command(ctx, args...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	w.started = start
	if err = cmd.Start(); err != nil {
		return "", 0, 0, use, err
	}
	stop := make(chan struct{})
	done := make(chan struct{})
	hwm := map[int]int64{}
	ticks := map[int]int64{}
	go func() {
		defer close(done)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			for _, pid := range childPIDs(cmd.Process.Pid) {
				comm, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
				if name := strings.TrimSpace(string(comm)); name == "" || !strings.HasPrefix("terraform-provider-redis", name) {
					continue
				}
				if kb := vmHWM(pid); kb > hwm[pid] {
					hwm[pid] = kb
				}
				if t := cpuTicks(pid); t > ticks[pid] {
					ticks[pid] = t
				}
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	err = cmd.Wait()
	took = time.Since(start)
	close(stop)
	<-done
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code, err = ee.ExitCode(), nil
	}
	for _, pid := range slices.Sorted(maps.Keys(hwm)) { // pids grow: start order
		use.peakKB = max(use.peakKB, hwm[pid])
		use.perPlugin = append(use.perPlugin, hwm[pid])
		use.cpu += time.Duration(ticks[pid]) * time.Second / clockTicks
	}
	return buf.String(), code, took, use, err
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times: 100 on every
// Linux architecture Go supports.
const clockTicks = 100

// cpuTicks reads a process's utime+stime in clock ticks (0 if gone).
func cpuTicks(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The name, field 2, is in parentheses and may hold spaces: count
	// fields after its closing parenthesis. utime and stime are fields 14
	// and 15, so the 12th and 13th after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

// childPIDs lists the child processes of pid (all its threads').
func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}

// vmHWM reads a process's peak resident set size in kB (0 if gone).
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// moveLine picks the provider's slot move progress out of a TF_LOG file.
var (
	moveLine   = regexp.MustCompile(`^(\S+) \[[A-Z]+\]\s+(?:provider(?:\.terraform-provider-redis)?: )?(moved slots|moving slots|fixed open slot)(?::|\s|$)`)
	moveFields = regexp.MustCompile(`\b(from|to|slots_done|slots_total|keys_moved|keys_per_second|elapsed_ms)=("[^"]*"|\S+)`)
)

// moveLines lists the provider's "moving slots" and "moved slots" lines
// (keys moved, keys per second, elapsed_ms) at their time since start.
func moveLines(path string, start time.Time) string {
	return logTimeline(path, start, moveLine, func(string) *regexp.Regexp { return moveFields })
}

// serverTime sums, per node, the time spent in each command since the last
// resetStats (INFO commandstats usec: for MIGRATE this includes waiting for
// the target's reply, during which the source serves nothing else) and
// formats the biggest ones: "calls×seconds" per command, then the node's
// total.
func serverTime(tb testing.TB, nodes []*redistest.Node) string {
	tb.Helper()
	var parts []string
	for _, n := range nodes {
		type use struct {
			name  string
			calls int
			usec  int64
		}
		var uses []use
		var total int64
		for k, v := range redistest.Info(tb, n, "commandstats") {
			name, ok := strings.CutPrefix(k, "cmdstat_")
			if !ok || name == "config|resetstat" || strings.HasPrefix(name, "replconf") || name == "psync" {
				continue
			}
			u := use{name: name}
			for _, f := range strings.Split(v, ",") {
				if c, ok := strings.CutPrefix(f, "calls="); ok {
					u.calls, _ = strconv.Atoi(c)
				}
				if c, ok := strings.CutPrefix(f, "usec="); ok {
					u.usec, _ = strconv.ParseInt(c, 10, 64)
				}
			}
			uses = append(uses, u)
			total += u.usec
		}
		slices.SortFunc(uses, func(a, b use) int { return int(b.usec - a.usec) })
		var top []string
		for _, u := range uses[:min(4, len(uses))] {
			top = append(top, fmt.Sprintf("%s %d×%.3fs", u.name, u.calls, float64(u.usec)/1e6))
		}
		parts = append(parts, fmt.Sprintf("[%.3fs: %s]", float64(total)/1e6, strings.Join(top, ", ")))
	}
	return strings.Join(parts, " ")
}
