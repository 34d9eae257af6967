// Command demo-failover is `make demo-failover`: the failover story of
// internal/failoverdemo played on the cluster `make demo` built (six nodes
// on 127.0.0.11-16:6379, state in .demo/work): kill -9 the master of shard
// 1, watch terraform plan show the failover, apply fail back, plan empty,
// every key kept. Each expectation is checked; it exits 1 if any failed.
//
// Re-runnable: a run stopped midway can leave a node down or the roles
// swapped; the next run starts a stopped node with its own config and applies
// before it begins.
//
// Flags point it at another copy of the demo (its nodes started the way
// scripts/demo.sh starts them): -dir, -hosts, -port. REDIS_PASSWORD is the
// nodes' password (default "demo-password", as for make demo).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tfredis/terraform-provider-redis/internal/failoverdemo"
	"github.com/tfredis/terraform-provider-redis/internal/tfcli"
)

func main() {
	root, err := tfcli.ModuleRoot()
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	dir := flag.String("dir", filepath.Join(root, ".demo"), "the demo's directory: nodes/<ip>/redis.conf and work/terraform.tfstate")
	hosts := flag.String("hosts", "127.0.0.11,127.0.0.12,127.0.0.13,127.0.0.14,127.0.0.15,127.0.0.16", "the six nodes' addresses, in the order of examples/six-node-cluster's nodes")
	port := flag.Int("port", 6379, "the nodes' port")
	flag.Parse()
	os.Exit(run(*dir, strings.Split(*hosts, ","), *port))
}

func run(dir string, hosts []string, port int) int {
	rep := &reporter{}
	defer tfcli.Cleanup()
	password := os.Getenv("REDIS_PASSWORD")
	if password == "" {
		password = "demo-password"
	}
	work := filepath.Join(dir, "work")
	if _, err := os.Stat(filepath.Join(work, "terraform.tfstate")); err != nil {
		rep.Fatalf("the demo is not up (no %s): run make demo first", filepath.Join(work, "terraform.tfstate"))
	}
	if len(hosts) != 6 {
		rep.Fatalf("-hosts lists %d addresses, want 6", len(hosts))
	}
	s := &failoverdemo.Story{R: rep, Password: password, ShowPlans: true}
	var addrs []string
	for _, h := range hosts {
		n := &demoNode{addr: net.JoinHostPort(h, strconv.Itoa(port)), dir: filepath.Join(dir, "nodes", h), password: password}
		if _, err := os.Stat(filepath.Join(n.dir, "redis.conf")); err != nil {
			rep.Fatalf("no %s: run make demo first", filepath.Join(n.dir, "redis.conf"))
		}
		if !n.Running() && n.answers() {
			rep.Fatalf("%s answers but its pidfile names no running redis-server: make demo-down, then make demo", n.addr)
		}
		s.Nodes = append(s.Nodes, n)
		addrs = append(addrs, n.addr)
	}
	s.Vars = []string{"-var", `nodes=["` + strings.Join(addrs, `", "`) + `"]`}
	s.W = tfcli.New(rep, work, "REDIS_PASSWORD="+password)

	rep.Logf("==> Checking that the demo cluster is up and as declared (make demo)")
	s.Precheck()
	s.Run()
	if rep.failed > 0 {
		fmt.Fprintf(os.Stderr, "demo: %d expectation(s) failed (marked [FAILED] above)\n", rep.failed)
		return 1
	}
	fmt.Println("    every expectation met")
	return 0
}

// reporter prints the story's lines; a failed expectation is counted, a
// fatal one ends the program.
type reporter struct{ failed int }

func (*reporter) Helper() {}
func (*reporter) Logf(format string, args ...any) {
	fmt.Printf(format+"\n", args...)
}
func (r *reporter) Errorf(format string, args ...any) {
	r.failed++
	fmt.Printf(format+"\n", args...)
}
func (*reporter) Fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
	tfcli.Cleanup()
	os.Exit(1)
}

// demoNode is a node scripts/demo.sh started: daemonized from DIR/redis.conf,
// its pid in DIR/redis.pid, its log in DIR/redis.log.
type demoNode struct {
	addr, dir, password string
}

func (n *demoNode) Addr() string    { return n.addr }
func (n *demoNode) LogFile() string { return filepath.Join(n.dir, "redis.log") }

// pid is the node's pid from its pidfile, 0 unless that process is a live
// redis-server (a daemonized node killed with -9 stays a zombie until PID 1
// reaps it).
func (n *demoNode) pid() int {
	b, err := os.ReadFile(filepath.Join(n.dir, "redis.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !alive(pid) {
		return 0
	}
	if comm, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); err == nil && !strings.Contains(string(comm), "redis") {
		return 0
	}
	return pid
}

func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(stat)
	if i := strings.LastIndex(s, ") "); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

func (n *demoNode) Running() bool { return n.pid() != 0 }

func (n *demoNode) Kill() error {
	pid := n.pid()
	if pid == 0 {
		return fmt.Errorf("no running redis-server for %s (pidfile %s)", n.addr, filepath.Join(n.dir, "redis.pid"))
	}
	fmt.Printf("    kill -9 %d   (from %s)\n", pid, filepath.Join(n.dir, "redis.pid"))
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return err
	}
	for deadline := time.Now().Add(10 * time.Second); alive(pid); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			return fmt.Errorf("pid %d still running 10 s after kill -9", pid)
		}
	}
	return nil
}

// Restart runs redis-server DIR/redis.conf (it daemonizes) and waits up to
// 10 s until the node answers PING.
func (n *demoNode) Restart() error {
	conf := filepath.Join(n.dir, "redis.conf")
	fmt.Printf("    redis-server %s\n", conf)
	if out, err := exec.Command("redis-server", conf).CombinedOutput(); err != nil {
		return fmt.Errorf("redis-server %s: %v\n%s", conf, err, out)
	}
	for deadline := time.Now().Add(10 * time.Second); !n.answers(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			return errors.New(n.addr + " did not answer PING within 10 s (log: " + n.LogFile() + ")")
		}
	}
	return nil
}

func (n *demoNode) answers() bool {
	c := redis.NewClient(&redis.Options{Addr: n.addr, Password: n.password, DialTimeout: time.Second, MaxRetries: -1, Protocol: 2})
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return c.Ping(ctx).Err() == nil
}
