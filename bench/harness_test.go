package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
	"github.com/tfredis/terraform-provider-redis/internal/tfcli"
)

// Shared plumbing of the benchmarks: a Terraform workspace (internal/tfcli
// builds the provider and runs terraform through dev_overrides) with its
// TF_LOG timeline, iteration-scoped nodes, and the readiness check both
// contenders are measured against.

const (
	// nodeTimeout is Redis' default cluster-node-timeout (15000 ms). The
	// rejoin delay, clamp(node-timeout, 0.5 s, 5 s), is then 5 s: the floor.
	nodeTimeout = 15 * time.Second
	// writableDelaySettle is how long nodes are left alone after they all
	// answer, before anything is timed. Redis 7.0 ignores a master's
	// cluster state for CLUSTER_WRITABLE_DELAY (2 s) after the server's
	// first cluster cron tick (it stays cluster_state:fail), and during
	// those 2 s it does not note the times it had no slots either: slots
	// added to a node younger than 2 s turn it ok at the 2 s mark, not 5 s
	// later. Measured here: ADDSLOTSRANGE 0 16383 on a lone node 0.5, 1,
	// 1.5, 2 s after start: ok at 2.07-2.09 s after start; at 2.5 s or later:
	// ok 4.95-5.05 s after the ADDSLOTS. Nodes "up beforehand" are older than
	// 2 s, so both contenders start later than that: neither can ride the
	// start-up window, and the floor is the full rejoin delay.
	writableDelaySettle = 2500 * time.Millisecond
	// pollInterval is how often readiness is polled while timing.
	pollInterval = 5 * time.Millisecond
	// readyTimeout bounds the floor measurement.
	readyTimeout = 60 * time.Second
	// waitTimeout bounds waiting for a cluster to become ready (redis-cli's
	// 30-node clusters have taken 40 s).
	waitTimeout = 3 * time.Minute
	// tfTimeout bounds every terraform command.
	tfTimeout = 5 * time.Minute
)

func TestMain(m *testing.M) {
	redis.SetLogger(quietLogger{})
	code := m.Run()
	tfcli.Cleanup()
	os.Exit(code)
}

// quietLogger drops go-redis' "failed to dial" lines, which redistest.Start
// produces by the dozen while servers come up, and passes the rest to stderr.
type quietLogger struct{}

func (quietLogger) Printf(_ context.Context, format string, v ...any) {
	msg := fmt.Sprintf(format, v...)
	if strings.Contains(msg, "failed to dial") {
		return
	}
	fmt.Fprintln(os.Stderr, "redis:", msg)
}

// requireTools skips the benchmark when terraform or redis-cli is missing
// (redistest.Start fails on a missing redis-server by itself).
func requireTools(b *testing.B, tools ...string) {
	b.Helper()
	for _, t := range tools {
		if _, err := exec.LookPath(t); err != nil {
			b.Skipf("%s not found on PATH", t)
		}
	}
}

var describeOnce sync.Once

// requireProvider skips without go or terraform, else builds the provider
// once per test binary (internal/tfcli: newWorkspace then runs it through
// dev_overrides) and says once which tree the numbers belong to.
func requireProvider(b *testing.B) {
	b.Helper()
	requireTools(b, "go", "terraform")
	if _, err := tfcli.CLIConfig(); err != nil {
		b.Fatal(err)
	}
	describeOnce.Do(func() {
		root, err := tfcli.ModuleRoot()
		if err != nil {
			return
		}
		head, _ := exec.Command("git", "-C", root, "rev-parse", "--short", "HEAD").Output()
		dirty, _ := exec.Command("git", "-C", root, "status", "--porcelain", "--", "main.go", "internal", "go.mod").Output()
		fmt.Fprintf(os.Stderr, "bench: provider built from %s with %d uncommitted change(s) under main.go, go.mod, internal/\n",
			strings.TrimSpace(string(head)), strings.Count(string(dirty), "\n"))
	})
}

// scope is a testing.TB whose Cleanup functions run when close is called
// rather than when the benchmark ends, so the nodes of one iteration are
// stopped (and their loopback addresses freed) before the next one starts.
// Everything else goes to the benchmark.
// Failed reports only failures through the scope, so redistest dumps the
// nodes' logs when something about them failed, not after any earlier error
// of the benchmark.
type scope struct {
	testing.TB
	mu     sync.Mutex
	fns    []func()
	failed bool
}

func (s *scope) fail() {
	s.mu.Lock()
	s.failed = true
	s.mu.Unlock()
}

func (s *scope) Failed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

func (s *scope) Error(args ...any)                 { s.fail(); s.TB.Error(args...) }
func (s *scope) Errorf(format string, args ...any) { s.fail(); s.TB.Errorf(format, args...) }
func (s *scope) Fail()                             { s.fail(); s.TB.Fail() }

// The Fatal family must run the cleanups itself: the benchmark's FailNow
// ends the goroutine, and only deferred calls run (createIteration defers
// close).
func (s *scope) Fatal(args ...any)                 { s.fail(); s.TB.Fatal(args...) }
func (s *scope) Fatalf(format string, args ...any) { s.fail(); s.TB.Fatalf(format, args...) }
func (s *scope) FailNow()                          { s.fail(); s.TB.FailNow() }

func newScope(tb testing.TB) *scope { return &scope{TB: tb} }

func (s *scope) Cleanup(f func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fns = append(s.fns, f)
}

func (s *scope) close() {
	s.mu.Lock()
	fns := s.fns
	s.fns = nil
	s.mu.Unlock()
	for i := len(fns) - 1; i >= 0; i-- {
		fns[i]()
	}
}

// startNodes starts n fresh, empty cluster-mode nodes, each on its own
// loopback "host", with the default cluster-node-timeout, pings each once (so
// the pollers' connections are warm), and waits until writableDelaySettle has
// passed since they started. Untimed.
func startNodes(tb testing.TB, n int) []*redistest.Node {
	tb.Helper()
	return startNodesTimeout(tb, n, nodeTimeout)
}

// startNodesTimeout is startNodes with the given cluster-node-timeout.
func startNodesTimeout(tb testing.TB, n int, timeout time.Duration) []*redistest.Node {
	tb.Helper()
	nodes := redistest.Start(tb, n, redistest.Options{DistinctHosts: true, NodeTimeout: timeout})
	// Every process has started by now (each answered), so its 2 s run
	// from before this point.
	up := time.Now()
	for _, nd := range nodes {
		redistest.Do(tb, nd, "PING")
	}
	time.Sleep(time.Until(up.Add(writableDelaySettle)))
	return nodes
}

// ---------------------------------------------------------------------------
// Terraform

type shard struct {
	Master   string
	Replicas []string
}

// layout returns m shards of 1+r nodes. For 3x(1+1) it is the pairing
// `redis-cli --cluster create --cluster-replicas 1` makes on six hosts:
// masters nodes[0..2], replica of nodes[0] = nodes[4], of nodes[1] = nodes[5],
// of nodes[2] = nodes[3]. Otherwise masters are nodes[0..m-1] and replica k
// (nodes[m+k]) follows master k mod m: every node is its own host, so no
// replica shares a host with its master.
func layout(addrs []string, m, r int) []shard {
	if len(addrs) != m*(1+r) {
		panic(fmt.Sprintf("layout: %d addresses for %dx(1+%d)", len(addrs), m, r))
	}
	out := make([]shard, m)
	for i := range m {
		out[i].Master = addrs[i]
	}
	if m == 3 && r == 1 {
		out[0].Replicas = []string{addrs[4]}
		out[1].Replicas = []string{addrs[5]}
		out[2].Replicas = []string{addrs[3]}
		return out
	}
	for k, a := range addrs[m:] {
		out[k%m].Replicas = append(out[k%m].Replicas, a)
	}
	return out
}

const tfHeader = `terraform {
  required_providers {
    redis = {
      source = "tfredis/redis"
    }
  }
}

# The password comes from REDIS_PASSWORD.
provider "redis" {
  dial_timeout = "1s"
}
`

func clusterConfig(shards []shard) string {
	var sb strings.Builder
	sb.WriteString(tfHeader)
	sb.WriteString("\nresource \"redis_cluster\" \"bench\" {\n  shards = [\n")
	for _, s := range shards {
		reps := make([]string, len(s.Replicas))
		for i, r := range s.Replicas {
			reps[i] = strconv.Quote(r)
		}
		fmt.Fprintf(&sb, "    { master = %q, replicas = [%s] },\n", s.Master, strings.Join(reps, ", "))
	}
	sb.WriteString("  ]\n}\n")
	return sb.String()
}

// workspace is one Terraform working directory (internal/tfcli) and the
// TF_LOG file of its commands, if any.
type workspace struct {
	*tfcli.Workspace
	dir string
	log string // TF_LOG_PATH when BENCH_TF_LOG is set
	// started is when the last command started (for stageSummary).
	started time.Time
}

// newWorkspace writes config as main.tf into a fresh directory. The
// environment (besides tfcli's: the dev_overrides CLI config, no input, no
// checkpoint calls, no TF_* of this process): REDIS_PASSWORD, and no TF_LOG
// unless BENCH_TF_LOG names a level (TF_LOG, written to DIR/terraform.log,
// or kept in BENCH_TF_LOG_DIR; debug shows the provider's stage timings).
// Logging costs time: numbers taken with it are not the benchmark's.
func newWorkspace(b *testing.B, config string) *workspace {
	b.Helper()
	dir := b.TempDir()
	w := &workspace{dir: dir}
	env := []string{"REDIS_PASSWORD=" + redistest.DefaultPassword}
	if lvl := os.Getenv("BENCH_TF_LOG"); lvl != "" {
		w.log = filepath.Join(dir, "terraform.log")
		if keep := os.Getenv("BENCH_TF_LOG_DIR"); keep != "" {
			f, err := os.CreateTemp(keep, "terraform-*.log")
			if err != nil {
				b.Fatal(err)
			}
			_ = f.Close()
			w.log = f.Name()
			progress(b, "TF_LOG_PATH=%s", w.log)
		}
		env = append(env, "TF_LOG="+lvl, "TF_LOG_PATH="+w.log)
	}
	w.Workspace = tfcli.New(b, dir, env...)
	w.Timeout = tfTimeout
	w.WriteFile("main.tf", config)
	return w
}

// run runs terraform -chdir=DIR args... and returns its combined output, exit
// code and wall time; err only when terraform could not run. Safe in
// goroutines.
func (w *workspace) run(args ...string) (out string, code int, took time.Duration, err error) {
	r, err := w.Exec(args...)
	w.started = r.Started
	return r.Output, r.Code, r.Took, err
}

// mustRun runs terraform and fails the benchmark unless it exits with want.
func (w *workspace) mustRun(b *testing.B, want int, args ...string) time.Duration { //nolint:unparam // the exit code is part of the contract
	b.Helper()
	out, code, took, err := w.run(args...)
	if err != nil || code != want {
		b.Fatalf("terraform %s: exit %d (want %d), err %v, after %s\n%s", strings.Join(args, " "), code, want, err, took, tail(out, 40))
	}
	return took
}

// timeline is what stageSummary keeps of a TF_LOG file: Terraform's graph
// walks and plugin starts, and the provider's progress.
var (
	timeline = regexp.MustCompile(`^(\S+) \[[A-Z]+\]\s+(?:provider(?:\.terraform-provider-redis)?: )?(starting plugin|plugin exited|Starting graph walk: \w+|configured redis provider|applying cluster plan|[0-9.:]+: add slots|stage done|converged: [^:]*|cluster ready|waiting until [^:]*)(?::|\s|$)`)
	logField = regexp.MustCompile(`\b(stage|steps|elapsed_ms|round|waiting_on|nodes)=("[^"]*"|\S+)`)
)

// stageSummary extracts, from a TF_LOG_PATH file, a timeline of Terraform's
// walks and plugin starts and the provider's progress (stage done, converged,
// cluster ready), each at its time since start, when terraform was run.
func stageSummary(path string, start time.Time) string {
	return logTimeline(path, start, timeline, func(event string) *regexp.Regexp {
		if strings.HasPrefix(event, "Starting") {
			return nil
		}
		return logField
	})
}

// logTimeline lists the lines of a TF_LOG_PATH file that line matches
// (group 1 the timestamp, group 2 the event) at their time since start,
// each with the key=value pairs that fields(event) matches (nil: none).
func logTimeline(path string, start time.Time, line *regexp.Regexp, fields func(event string) *regexp.Regexp) string {
	f, err := os.Open(path)
	if err != nil {
		return err.Error()
	}
	defer func() { _ = f.Close() }()
	var sb strings.Builder
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		text := sc.Text()
		m := line.FindStringSubmatch(text)
		if m == nil {
			continue
		}
		at := "     ?"
		if t, err := time.Parse("2006-01-02T15:04:05.000Z0700", m[1]); err == nil {
			at = fmt.Sprintf("%6.3fs", t.Sub(start).Seconds())
		}
		var kv []string
		if re := fields(m[2]); re != nil {
			for _, fm := range re.FindAllStringSubmatch(text, -1) {
				kv = append(kv, fm[1]+"="+fm[2])
			}
		}
		fmt.Fprintf(&sb, "    %s %s %s\n", at, m[2], strings.Join(kv, " "))
	}
	return sb.String()
}

// loadavg returns the 1, 5 and 15 minute load averages ("?" off Linux):
// other processes on the machine move these numbers.
func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func tail(s string, lines int) string { return tfcli.Tail(s, lines) }

// ---------------------------------------------------------------------------
// redis-cli

// redisCLICreate runs redis-cli --cluster create on the nodes and returns its
// wall time.
func redisCLICreate(tb testing.TB, addrs []string, replicas int) time.Duration {
	tb.Helper()
	args := append([]string{"create"}, addrs...)
	return redisCLI(tb, append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")...)
}

// redisCLI runs redis-cli --cluster <args> and returns its wall time; it
// fails on an error or an [ERR] line.
func redisCLI(tb testing.TB, args ...string) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	full := append([]string{"-a", redistest.DefaultPassword, "--no-auth-warning", "--cluster"}, args...)
	cmd := exec.CommandContext(ctx, "redis-cli", full...)
	var buf bytes.Buffer
	cmd.Stdout, cmd.Stderr = &buf, &buf
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil || strings.Contains(buf.String(), "[ERR]") {
		tb.Fatalf("redis-cli --cluster %s: %v after %s\n%s", strings.Join(args, " "), err, took, tail(buf.String(), 30))
	}
	return took
}

// ---------------------------------------------------------------------------
// Readiness: one definition for both contenders.

// view is one node's reading: its cluster_state, its own ID, and what it
// believes of every node it knows, as "role master slots".
type view struct {
	addr, state, self string
	nodes             map[string]string
	bad               string // why this view alone already says "not ready"
	err               error
}

func readView(ctx context.Context, n *redistest.Node) view {
	v := view{addr: n.Addr()}
	var info, nodes *redis.StringCmd
	_, err := n.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		info = p.ClusterInfo(ctx)
		nodes = p.ClusterNodes(ctx)
		return nil
	})
	if err != nil {
		v.err = err
		return v
	}
	for _, line := range strings.Split(info.Val(), "\n") {
		if s, ok := strings.CutPrefix(strings.TrimSpace(line), "cluster_state:"); ok {
			v.state = s
		}
	}
	v.nodes = map[string]string{}
	for _, cn := range redistest.ParseClusterNodes(nodes.Val()) {
		if cn.Self {
			v.self = cn.ID
		}
		for _, f := range []string{"fail", "fail?", "handshake", "noaddr"} {
			if cn.HasFlag(f) && v.bad == "" {
				v.bad = fmt.Sprintf("%s sees %s %s as %s", v.addr, cn.ID[:8], cn.Addr, f)
			}
		}
		role := "?"
		switch {
		case cn.HasFlag("master"):
			role = "master"
		case cn.HasFlag("slave"):
			role = "replica"
		}
		for _, s := range cn.Slots {
			if strings.HasPrefix(s, "[") && v.bad == "" {
				v.bad = fmt.Sprintf("%s sees slot %s migrating/importing", v.addr, s)
			}
		}
		v.nodes[cn.ID] = role + " " + cn.Master + " " + strings.Join(cn.Slots, ",")
	}
	return v
}

// readAll reads every node's view concurrently.
func readAll(ctx context.Context, nodes []*redistest.Node) []view {
	out := make([]view, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			out[i] = readView(ctx, n)
		}()
	}
	wg.Wait()
	return out
}

// ready is the readiness both contenders are held to, the same as the
// provider's: every node reports cluster_state:ok, knows exactly the given
// nodes (no handshake, none flagged failing, no open slot migration), and
// all views agree on every node's role, master and slots.
func ready(views []view) (bool, string) {
	ids := map[string]bool{}
	for _, v := range views {
		if v.err != nil {
			return false, fmt.Sprintf("%s: %v", v.addr, v.err)
		}
		ids[v.self] = true
	}
	ref := views[0]
	for _, v := range views {
		switch {
		case v.state != "ok":
			return false, fmt.Sprintf("%s reports cluster_state:%s", v.addr, v.state)
		case v.bad != "":
			return false, v.bad
		case len(v.nodes) != len(views):
			return false, fmt.Sprintf("%s knows %d nodes, want %d", v.addr, len(v.nodes), len(views))
		}
		for id, desc := range v.nodes {
			if !ids[id] {
				return false, fmt.Sprintf("%s knows %s, which is none of the nodes", v.addr, id)
			}
			if strings.HasPrefix(desc, "?") {
				return false, fmt.Sprintf("%s sees %s with no role yet", v.addr, id[:8])
			}
			if rd := ref.nodes[id]; rd != desc {
				return false, fmt.Sprintf("%s sees %s as %q, %s as %q", v.addr, id[:8], desc, ref.addr, rd)
			}
		}
	}
	return true, ""
}

// waitReady polls every pollInterval until ready and returns the time since
// start at which it first held. Every 5 s it prints, after label, what the
// cluster is still waiting for.
func waitReady(tb testing.TB, label string, nodes []*redistest.Node, start time.Time) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	var why string
	next := time.Now().Add(5 * time.Second)
	for ctx.Err() == nil {
		ok, w := ready(readAll(ctx, nodes))
		if ok {
			return time.Since(start)
		}
		why = w
		if time.Now().After(next) {
			fmt.Fprintf(os.Stderr, "%s: not ready %.1fs after start: %s\n", label, time.Since(start).Seconds(), why)
			next = next.Add(5 * time.Second)
		}
		time.Sleep(pollInterval)
	}
	tb.Fatalf("cluster of %d nodes not ready %s after start: %s", len(nodes), waitTimeout, why)
	return 0
}

// checkLayout fails unless the nodes' (agreeing) views show the declared
// masters as masters and each replica following its declared master.
func checkLayout(tb testing.TB, nodes []*redistest.Node, views []view, shards []shard) {
	tb.Helper()
	idOf := map[string]string{}
	for i, n := range nodes {
		idOf[n.Addr()] = views[i].self
	}
	ref := views[0].nodes
	for _, s := range shards {
		mid := idOf[s.Master]
		if d := ref[mid]; !strings.HasPrefix(d, "master ") || strings.HasSuffix(d, " ") {
			tb.Errorf("declared master %s is %q", s.Master, d)
		}
		for _, r := range s.Replicas {
			if d := ref[idOf[r]]; d != "replica "+mid+" " {
				tb.Errorf("declared replica %s of %s is %q", r, s.Master, d)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// The floor

// measureFloor gives a fresh lone node every slot (CLUSTER ADDSLOTSRANGE 0
// 16383) and returns the time from sending it until the node reports
// cluster_state:ok, polled every pollInterval: Redis' rejoin delay as this
// server applies it, the least any create can take from its ADDSLOTS.
func measureFloor(tb testing.TB, n *redistest.Node) time.Duration {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	c := n.Client()
	start := time.Now()
	if err := c.Do(ctx, "CLUSTER", "ADDSLOTSRANGE", 0, 16383).Err(); err != nil {
		tb.Fatalf("%s: CLUSTER ADDSLOTSRANGE: %v", n.Addr(), err)
	}
	for ctx.Err() == nil {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return time.Since(start)
		}
		time.Sleep(pollInterval)
	}
	tb.Fatalf("%s: not cluster_state:ok %s after ADDSLOTSRANGE", n.Addr(), readyTimeout)
	return 0
}

// ---------------------------------------------------------------------------
// Command counts

// resetStats runs CONFIG RESETSTAT on every node (command and network
// counters back to zero).
func resetStats(tb testing.TB, nodes []*redistest.Node) {
	tb.Helper()
	for _, n := range nodes {
		redistest.Do(tb, n, "CONFIG", "RESETSTAT")
	}
}

// cmdStats sums, over the nodes, the calls of each command since the last
// resetStats (without that CONFIG RESETSTAT itself, nor replication's REPLCONF
// and PSYNC) and the bytes the nodes sent to clients (total_net_output_bytes,
// which on Redis 7 excludes the replication stream).
func cmdStats(tb testing.TB, nodes []*redistest.Node) (calls map[string]int, perNode []int, outBytes int64) {
	tb.Helper()
	calls = map[string]int{}
	for _, n := range nodes {
		total := 0
		for k, v := range redistest.Info(tb, n, "commandstats") {
			name, ok := strings.CutPrefix(k, "cmdstat_")
			// CONFIG RESETSTAT is ours; REPLCONF (ACKs every second) and
			// PSYNC are replication traffic, not the plan's.
			if !ok || name == "config|resetstat" || strings.HasPrefix(name, "replconf") || name == "psync" {
				continue
			}
			c, _ := strconv.Atoi(strings.TrimPrefix(strings.Split(v, ",")[0], "calls="))
			calls[name] += c
			total += c
		}
		perNode = append(perNode, total)
		ob, _ := strconv.ParseInt(redistest.Info(tb, n, "stats")["total_net_output_bytes"], 10, 64)
		outBytes += ob
	}
	return calls, perNode, outBytes
}

func formatCalls(calls map[string]int) string {
	keys := make([]string, 0, len(calls))
	for k := range calls {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s=%d", k, calls[k])
	}
	return strings.Join(parts, " ")
}

// ---------------------------------------------------------------------------
// Statistics

type samples []time.Duration

func (s samples) mean() float64 {
	var sum float64
	for _, d := range s {
		sum += d.Seconds()
	}
	return sum / float64(len(s))
}

func (s samples) sorted() samples {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

func (s samples) median() float64 {
	c := s.sorted()
	n := len(c)
	if n%2 == 1 {
		return c[n/2].Seconds()
	}
	return (c[n/2-1].Seconds() + c[n/2].Seconds()) / 2
}

// String prints "mean, median (min..max)" in seconds.
func (s samples) String() string {
	if len(s) == 0 {
		return "-"
	}
	c := s.sorted()
	return fmt.Sprintf("%.3fs, %.3fs (%.3f..%.3f)", s.mean(), s.median(), c[0].Seconds(), c[len(c)-1].Seconds())
}
