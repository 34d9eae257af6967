package redistest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// fakeTB records failures instead of failing the real test, so failure paths can be tested.
type fakeTB struct {
	testing.TB
	mu       sync.Mutex
	msgs     []string
	failed   bool
	cleanups []func()
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) record(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failed = true
	f.msgs = append(f.msgs, msg)
}

func (f *fakeTB) Errorf(format string, args ...any) { f.record(fmt.Sprintf(format, args...)) }
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.record(fmt.Sprintf(format, args...))
	runtime.Goexit()
}
func (f *fakeTB) Fatal(args ...any) {
	f.record(fmt.Sprint(args...))
	runtime.Goexit()
}
func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}
func (f *fakeTB) Cleanup(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cleanups = append(f.cleanups, fn)
}

// runFake runs fn with a fakeTB in its own goroutine (Fatal ends it), then runs the cleanups,
// and returns what was reported.
func runFake(t *testing.T, fn func(tb testing.TB)) string {
	t.Helper()
	f := &fakeTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(f)
	}()
	<-done
	for i := len(f.cleanups) - 1; i >= 0; i-- {
		f.cleanups[i]()
	}
	return strings.Join(f.msgs, "\n")
}

func ping(n *Node) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return n.Client().Ping(ctx).Err()
}

// processGone reports whether pid no longer exists (or is a zombie nobody reaped yet).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	// "pid (comm) S ...": the state follows the last ')'.
	s := string(stat)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && s[i+2] == 'Z'
}

// Not parallel: it swaps redisServerBin, which the parallel tests read after it has finished.
func TestMissingBinary(t *testing.T) {
	skipShort(t)
	old := redisServerBin
	redisServerBin = "redis-server-does-not-exist-7f3a"
	defer func() { redisServerBin = old }()
	t.Setenv("REDISTEST_SERVER", "")
	msg := runFake(t, func(tb testing.TB) {
		Start(tb, 1, Options{})
		tb.Errorf("Start returned without failing")
	})
	if !strings.Contains(msg, MissingServerMessage) {
		t.Fatalf("got %q, want it to contain %q", msg, MissingServerMessage)
	}
	if !strings.Contains(msg, "apt-get install -y redis-server") {
		t.Fatalf("message %q does not say how to install", msg)
	}
}

// Not parallel: it sets testHookBeforeSpawn. Another process taking the chosen port between
// the check and the start makes the start retry on another port.
func TestPortTakenRetries(t *testing.T) {
	var mu sync.Mutex
	var taken []net.Listener
	testHookBeforeSpawn = func(ip string, port int) {
		mu.Lock()
		defer mu.Unlock()
		if len(taken) < 2 { // steal the first two ports chosen
			l, err := net.Listen("tcp", net.JoinHostPort(ip, strconv.Itoa(port)))
			if err == nil {
				taken = append(taken, l)
			}
		}
	}
	defer func() {
		testHookBeforeSpawn = nil
		for _, l := range taken {
			l.Close()
		}
	}()
	nodes := Start(t, 1, Options{})
	if len(taken) != 2 {
		t.Fatalf("hook stole %d ports, want 2", len(taken))
	}
	for _, l := range taken {
		if l.Addr().String() == nodes[0].Addr() {
			t.Fatalf("node started on stolen address %s", nodes[0].Addr())
		}
	}
	if err := ping(nodes[0]); err != nil {
		t.Fatal(err)
	}
}

func TestStartCluster(t *testing.T) {
	t.Parallel()
	for _, distinct := range []bool{false, true} {
		t.Run(fmt.Sprintf("DistinctHosts=%v", distinct), func(t *testing.T) {
			t.Parallel()
			nodes := Start(t, 3, Options{DistinctHosts: distinct})
			if len(nodes) != 3 {
				t.Fatalf("got %d nodes", len(nodes))
			}
			addrs, ips, ids := map[string]bool{}, map[string]bool{}, map[string]bool{}
			for _, n := range nodes {
				if !n.Running() {
					t.Fatalf("%s not running", n)
				}
				if n.Addr() != n.IP()+":"+strconv.Itoa(n.Port()) {
					t.Fatalf("Addr %q vs IP %q Port %d", n.Addr(), n.IP(), n.Port())
				}
				if n.Port() < minPort || n.Port() > maxPort || n.BusPort() != n.Port()+10000 {
					t.Fatalf("port %d bus %d", n.Port(), n.BusPort())
				}
				if !distinct && n.IP() != "127.0.0.1" {
					t.Fatalf("IP %s, want 127.0.0.1", n.IP())
				}
				if distinct && (n.IP() == "127.0.0.1" || !strings.HasPrefix(n.IP(), "127.0.0.")) {
					t.Fatalf("IP %s, want 127.0.0.2-254", n.IP())
				}
				if _, err := os.Stat(n.Dir()); err != nil {
					t.Fatal(err)
				}
				if got := Info(t, n, "cluster")["cluster_enabled"]; got != "1" {
					t.Fatalf("cluster_enabled:%s", got)
				}
				// The password is required.
				c := NewClient(n.Addr(), "")
				err := c.Ping(context.Background()).Err()
				c.Close()
				if err == nil || !strings.Contains(err.Error(), "NOAUTH") {
					t.Fatalf("PING without password: %v, want NOAUTH", err)
				}
				addrs[n.Addr()], ips[n.IP()], ids[MyID(t, n)] = true, true, true
			}
			if len(addrs) != 3 || len(ids) != 3 {
				t.Fatalf("addresses %v ids %v not distinct", addrs, ids)
			}
			if distinct && len(ips) != 3 {
				t.Fatalf("IPs %v not distinct", ips)
			}
			// Redis 6 has no bind-source-addr: the node announces its address instead.
			setting := "bind-source-addr"
			if !nodes[0].version.atLeast(7, 0) {
				setting = "cluster-announce-ip"
			}
			if v := configGet(t, nodes[0], setting); distinct && (len(v) < 2 || v[1] != nodes[0].IP()) {
				t.Fatalf("%s %v, want %s", setting, v, nodes[0].IP())
			}
			if v := configGet(t, nodes[0], "cluster-node-timeout"); v[1] != "1000" {
				t.Fatalf("cluster-node-timeout %v", v)
			}
		})
	}
}

func configGet(t *testing.T, n *Node, key string) []string {
	t.Helper()
	v, ok := Do(t, n, "CONFIG", "GET", key).([]any)
	if !ok {
		t.Fatalf("CONFIG GET %s did not answer a list", key)
	}
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = fmt.Sprint(x)
	}
	return out
}

// meet introduces b to a and waits until a has finished the handshake (a handshake node is
// counted by cluster_known_nodes but not saved to nodes.conf).
func meet(t *testing.T, a, b *Node) {
	t.Helper()
	Do(t, a, "CLUSTER", "MEET", b.IP(), b.Port())
	WaitFor(t, 5*time.Second, func() bool {
		cns := ParseClusterNodes(ClusterNodes(t, a))
		return len(cns) == 2 && !cns[0].HasFlag("handshake") && !cns[1].HasFlag("handshake")
	}, "MEET")
}

func TestKillRestartKeepsID(t *testing.T) {
	t.Parallel()
	nodes := Start(t, 2, Options{})
	n, other := nodes[0], nodes[1]
	id := MyID(t, n)
	meet(t, n, other)
	pid := n.Pid()

	n.Kill(t)
	if n.Running() || n.Pid() != 0 {
		t.Fatal("still running after Kill")
	}
	if !processGone(pid) {
		t.Fatalf("pid %d still exists after Kill", pid)
	}
	if err := ping(n); err == nil {
		t.Fatal("PING answered after Kill")
	}
	n.Kill(t) // no-op

	n.Restart(t)
	if !n.Running() || n.Pid() == pid {
		t.Fatalf("Running %v pid %d (was %d)", n.Running(), n.Pid(), pid)
	}
	if err := ping(n); err != nil {
		t.Fatalf("Client after Restart: %v", err)
	}
	if got := MyID(t, n); got != id {
		t.Fatalf("node ID after Restart %s, want %s", got, id)
	}
	if got := ClusterInfo(t, n)["cluster_known_nodes"]; got != "2" {
		t.Fatalf("cluster_known_nodes after Restart %s, want 2 (nodes.conf kept)", got)
	}
	// Restart of a running node kills it first.
	n.Restart(t)
	if got := MyID(t, n); got != id {
		t.Fatalf("node ID after second Restart %s, want %s", got, id)
	}
}

func TestWipeChangesID(t *testing.T) {
	t.Parallel()
	nodes := Start(t, 2, Options{})
	n, other := nodes[0], nodes[1]
	id := MyID(t, n)
	meet(t, n, other)
	FillNode(t, n, 10, "w")
	addr := n.Addr()

	n.Wipe(t)
	if n.Addr() != addr || !n.Running() {
		t.Fatalf("after Wipe: addr %s running %v", n.Addr(), n.Running())
	}
	if got := MyID(t, n); got == id || got == "" {
		t.Fatalf("node ID after Wipe %q, was %q", got, id)
	}
	if got := ClusterInfo(t, n)["cluster_known_nodes"]; got != "1" {
		t.Fatalf("cluster_known_nodes after Wipe %s, want 1", got)
	}
	if got := DBSize(t, n); got != 0 {
		t.Fatalf("DBSIZE after Wipe %d", got)
	}
	if _, err := os.Stat(n.LogFile()); err != nil {
		t.Fatalf("log file gone after Wipe: %v", err)
	}
}

func TestFillNodeWithoutSlots(t *testing.T) {
	t.Parallel()
	n := Start(t, 1, Options{})[0]
	// A lone cluster node without slots refuses ordinary writes ...
	ctx := context.Background()
	err := n.Client().Set(ctx, "x", "y", 0).Err()
	if err == nil || !strings.Contains(err.Error(), "CLUSTERDOWN") {
		t.Fatalf("SET on a node without slots: %v, want CLUSTERDOWN", err)
	}
	// ... but FillNode makes it hold keys anyway.
	keys := FillNode(t, n, 100, "fill")
	if len(keys) != 100 {
		t.Fatalf("FillNode returned %d keys", len(keys))
	}
	if got := DBSize(t, n); got != 100 {
		t.Fatalf("DBSIZE %d, want 100", got)
	}
	if got := ClusterInfo(t, n)["cluster_slots_assigned"]; got != "0" {
		t.Fatalf("cluster_slots_assigned %s, want 0", got)
	}
	slot, err := n.Client().ClusterKeySlot(ctx, "fill:7").Result()
	if err != nil {
		t.Fatal(err)
	}
	cnt, err := n.Client().ClusterCountKeysInSlot(ctx, int(slot)).Result()
	if e := ServerEngine(t); e.Has(FeatureHidesUnownedSlots) {
		// Redis 8.4+ hides keys of slots the node cannot serve from
		// COUNTKEYSINSLOT, GETKEYSINSLOT, SCAN and KEYS: DBSIZE still counts them.
		if err != nil || cnt != 0 {
			t.Fatalf("%s: COUNTKEYSINSLOT %d of a slot the node does not own: %d %v, want 0", e, slot, cnt, err)
		}
	} else if err != nil || cnt < 1 {
		t.Fatalf("COUNTKEYSINSLOT %d: %d %v", slot, cnt, err)
	}
	FillNode(t, n, 150, "fill") // existing keys are kept, 50 more are added
	if got := DBSize(t, n); got != 150 {
		t.Fatalf("DBSIZE %d, want 150", got)
	}
}

func TestNonCluster(t *testing.T) {
	t.Parallel()
	n := Start(t, 1, Options{ClusterEnabled: Bool(false), Password: "other-pw"})[0]
	if got := Info(t, n, "cluster")["cluster_enabled"]; got != "0" {
		t.Fatalf("cluster_enabled:%s, want 0", got)
	}
	if n.ClusterEnabled() || n.Password() != "other-pw" {
		t.Fatal("options not kept")
	}
	want := FillNode(t, n, 20, "nc")
	ctx := context.Background()
	for k, v := range want {
		got, err := n.Client().Get(ctx, k).Result()
		if err != nil || got != v {
			t.Fatalf("GET %s = %q, %v; want %q", k, got, err, v)
		}
	}
	if err := n.Client().Set(ctx, "plain", "ok", 0).Err(); err != nil {
		t.Fatal(err)
	}
}

func TestBadArgsReportLog(t *testing.T) {
	skipShort(t)
	t.Parallel()
	msg := runFake(t, func(tb testing.TB) {
		Start(tb, 1, Options{ExtraArgs: []string{"--no-such-directive", "1"}})
		tb.Errorf("Start returned without failing")
	})
	if !strings.Contains(msg, "exited before answering") || !strings.Contains(msg, "no-such-directive") {
		t.Fatalf("message does not explain the failure:\n%s", msg)
	}
}

// TestCleanup checks that the process and its directory are gone when the test ends.
func TestCleanup(t *testing.T) {
	t.Parallel()
	var pid int
	var dir string
	t.Run("inner", func(t *testing.T) {
		n := Start(t, 1, Options{})[0]
		pid, dir = n.Pid(), n.Dir()
		if pid == 0 {
			t.Fatal("no pid")
		}
	})
	if !processGone(pid) {
		t.Fatalf("pid %d survived the test", pid)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("dir %s survived the test: %v", dir, err)
	}
}

// TestDiesWithTestBinary runs this test binary as a child that starts a node and exits
// without cleanup: the kernel must kill the server (Pdeathsig).
func TestDiesWithTestBinary(t *testing.T) {
	skipShort(t)
	if os.Getenv("REDISTEST_HELPER_CHILD") == "1" {
		n := Start(t, 1, Options{})[0]
		fmt.Printf("PID %d DIR %s\n", n.Pid(), n.Dir())
		os.Exit(3) // no cleanup runs (os.Exit(0) would panic inside a test, and unwind)
	}
	if runtime.GOOS != "linux" {
		t.Skip("Pdeathsig is Linux only")
	}
	t.Parallel()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDiesWithTestBinary$", "-test.count=1")
	cmd.Env = append(os.Environ(), "REDISTEST_HELPER_CHILD=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid, dir := 0, ""
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "PID %d DIR %s", &pid, &dir); err == nil {
			break
		}
	}
	_ = cmd.Wait()
	if pid == 0 {
		t.Fatal("child did not report a pid")
	}
	if strings.Contains(dir, "redistest-") {
		t.Cleanup(func() { os.RemoveAll(dir) })
	}
	WaitFor(t, 5*time.Second, func() bool { return processGone(pid) }, fmt.Sprintf("redis-server pid %d to die with its parent", pid))
}

// TestFillByHand builds a 3-master cluster by hand on distinct hosts, then checks that Fill
// writes keys that read back through another client.
func TestFillByHand(t *testing.T) {
	t.Parallel()
	nodes := Start(t, 3, Options{DistinctHosts: true})
	for i, n := range nodes {
		AddSlotsRange(t, n, i*16384/3, (i+1)*16384/3-1)
	}
	for i, a := range nodes {
		for _, b := range nodes[i+1:] {
			Do(t, a, "CLUSTER", "MEET", b.IP(), b.Port())
		}
	}
	WaitFor(t, 15*time.Second, func() bool {
		for _, n := range nodes {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			s, err := n.Client().ClusterInfo(ctx).Result()
			cancel()
			if err != nil || !strings.Contains(s, "cluster_state:ok") {
				return false
			}
		}
		return true
	}, "cluster_state:ok on all 3")
	// Peers are seen on their own addresses: the cluster bus joined from distinct hosts.
	for _, cn := range ParseClusterNodes(ClusterNodes(t, nodes[0])) {
		found := false
		for _, n := range nodes {
			found = found || cn.Addr == n.Addr()
		}
		if !found {
			t.Fatalf("unexpected address %s in CLUSTER NODES", cn.Addr)
		}
	}

	want := Fill(t, nodes, 100, "k")
	if len(want) != 100 {
		t.Fatalf("Fill returned %d keys", len(want))
	}
	var total int64
	for _, n := range nodes {
		total += DBSize(t, n)
	}
	if total != 100 {
		t.Fatalf("nodes hold %d keys, want 100", total)
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{nodes[2].Addr()}, Password: nodes[2].Password(), Protocol: 2, DisableIdentity: true})
	defer c.Close()
	for k, v := range want {
		got, err := c.Get(context.Background(), k).Result()
		if err != nil || got != v {
			t.Fatalf("GET %s = %q, %v; want %q", k, got, err, v)
		}
	}
	CheckKeys(t, nodes, want)
	// CheckKeys notices a lost key.
	want["k:0"] = "changed"
	if msg := runFake(t, func(tb testing.TB) { CheckKeys(tb, nodes, want) }); !strings.Contains(msg, `k:0: got "v0-`) {
		t.Fatalf("CheckKeys did not report the difference: %q", msg)
	}
}

func TestCreateClusterWithReplicas(t *testing.T) {
	t.Parallel()
	nodes := Start(t, 6, Options{})
	start := time.Now()
	ids := CreateCluster(t, nodes, 1)
	t.Logf("3x(1+1) ready in %v", time.Since(start))
	for i, n := range nodes {
		role := Info(t, n, "replication")["role"]
		if want := map[bool]string{true: "master", false: "slave"}[i < 3]; role != want {
			t.Fatalf("%s role %s, want %s", n, role, want)
		}
		if MyID(t, n) != ids[i] {
			t.Fatal("ids out of order")
		}
	}
	want := Fill(t, nodes, 300, "r")
	CheckKeys(t, nodes, want)
}

// skipShort skips harness tests that start (or fail to start) servers:
// with -short every server start skips, which these tests cannot observe.
func skipShort(t *testing.T) {
	if testing.Short() {
		t.Skip("starts servers; skipped with -short")
	}
}
