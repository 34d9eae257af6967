// Package failoverdemo plays the failover story of `make demo-failover`
// through the real Terraform CLI (internal/tfcli) on a six-node cluster
// declared by examples/six-node-cluster: keys are written; the master of
// shard 1 is killed with kill -9; its replica wins the failover; plan shows
// the dead node and the hand-back; the old master restarts and rejoins as a
// replica; plan shows the drift naming both nodes; apply fails back; plan is
// empty; every key is still there. Each expectation is checked and reported
// in readable lines.
//
// The same story runs in a Go test on nodes internal/redistest starts
// (failover_test.go) and on the demo's nodes (cmd/demo-failover); the Node
// each gives says how to kill and restart a node.
package failoverdemo

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tfredis/terraform-provider-redis/internal/tfcli"
)

// Node is one redis-server of the cluster, which the story can kill and
// start again.
type Node interface {
	// Addr is the node's "host:port", as the configuration declares it.
	Addr() string
	// Kill sends SIGKILL and returns once the process is gone.
	Kill() error
	// Restart starts the stopped node again with its own configuration and
	// nodes.conf (same node ID) and returns once it answers.
	Restart() error
	// Running tells whether the node's process is up.
	Running() bool
	// LogFile is the path of the node's log ("" if unknown).
	LogFile() string
}

// Reporter is where the story tells what it does and checks; testing.TB is
// one. Errorf marks a failed expectation and goes on; Fatalf stops.
type Reporter interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

// Resource is the address of the example's cluster.
const Resource = "redis_cluster.main"

// Story is one run of the failover story.
type Story struct {
	R Reporter
	// W is a workspace holding the example's configuration and its state
	// (the cluster already applied, or about to be: see Precheck).
	W *tfcli.Workspace
	// Vars are the arguments every plan and apply gets (-var nodes=...).
	Vars []string
	// Nodes are the six nodes in the order of the example's nodes variable:
	// shard 1 is Nodes[0] (master) and Nodes[4] (replica).
	Nodes    []Node
	Password string
	// Keys is how many keys are written before the kill (default 1000).
	Keys int
	// Prefix names the keys (default "demo:failover").
	Prefix string
	// ShowPlans prints each plan's diff as terraform show gives it.
	ShowPlans bool

	// The times the summary reports.
	Failover, Rejoin, FailBack time.Duration
}

func (s *Story) master() Node  { return s.Nodes[0] }
func (s *Story) replica() Node { return s.Nodes[4] }

func (s *Story) step(n int, format string, args ...any) {
	s.R.Helper()
	s.R.Logf("==> (%d) %s", n, fmt.Sprintf(format, args...))
}

func (s *Story) say(format string, args ...any) {
	s.R.Helper()
	s.R.Logf("    "+format, args...)
}

// check reports an expectation: [ok] or [FAILED] (the story goes on, so the
// cluster is put back, and the reporter knows it failed).
func (s *Story) check(ok bool, what string, why ...any) bool {
	s.R.Helper()
	if ok {
		s.R.Logf("    [ok] %s", what)
	} else {
		s.R.Errorf("    [FAILED] %s%s", what, fmt.Sprint(why...))
	}
	return ok
}

func (s *Story) client(n Node) *redis.Client {
	return redis.NewClient(&redis.Options{Addr: n.Addr(), Password: s.Password, DialTimeout: time.Second,
		ReadTimeout: 5 * time.Second, MaxRetries: -1, Protocol: 2})
}

// do runs one command on a node, bounded to 5 s.
func (s *Story) do(n Node, args ...any) (any, error) {
	c := s.client(n)
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return c.Do(ctx, args...).Result()
}

// replication returns the fields of INFO replication on n (empty if
// unreachable).
func (s *Story) replication(n Node) map[string]string {
	return fields(s.do(n, "INFO", "replication"))
}

// clusterInfo returns the fields of CLUSTER INFO on n (empty if unreachable).
func (s *Story) clusterInfo(n Node) map[string]string {
	return fields(s.do(n, "CLUSTER", "INFO"))
}

// fields parses "key:value" lines of a reply.
func fields(v any, err error) map[string]string {
	out := map[string]string{}
	if str, ok := v.(string); err == nil && ok {
		for _, l := range strings.Split(str, "\n") {
			if k, val, ok := strings.Cut(strings.TrimSpace(l), ":"); ok {
				out[k] = val
			}
		}
	}
	return out
}

// clusterNode is one line of CLUSTER NODES.
type clusterNode struct {
	id, addr, flags, master string
	slots                   []string
}

func (s *Story) clusterNodes(viewer Node) []clusterNode {
	v, err := s.do(viewer, "CLUSTER", "NODES")
	str, ok := v.(string)
	if err != nil || !ok {
		return nil
	}
	var out []clusterNode
	for _, l := range strings.Split(strings.TrimSpace(str), "\n") {
		f := strings.Fields(l)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		out = append(out, clusterNode{id: f[0], addr: addr, flags: f[2], master: f[3], slots: f[8:]})
	}
	return out
}

// seenAs is how viewer's CLUSTER NODES shows addr: "flags" ("?" if absent).
func (s *Story) seenAs(viewer Node, addr string) clusterNode {
	for _, cn := range s.clusterNodes(viewer) {
		if cn.addr == addr {
			return cn
		}
	}
	return clusterNode{flags: "?"}
}

// slot0Owner is the address viewer gives as the owner of slot 0.
func (s *Story) slot0Owner(viewer Node) string {
	for _, cn := range s.clusterNodes(viewer) {
		for _, sl := range cn.slots {
			if sl == "0" || strings.HasPrefix(sl, "0-") {
				return cn.addr
			}
		}
	}
	return ""
}

// waitUntil polls cond every 100 ms until it holds or timeout passes.
func waitUntil(timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// nodeTimeout is the cluster-node-timeout of n (15 s if unreadable).
func (s *Story) nodeTimeout(n Node) time.Duration {
	v, err := s.do(n, "CONFIG", "GET", "cluster-node-timeout")
	if err == nil {
		var ms string
		switch x := v.(type) {
		case []any:
			if len(x) == 2 {
				ms = fmt.Sprint(x[1])
			}
		case map[any]any:
			ms = fmt.Sprint(x["cluster-node-timeout"])
		}
		if n, err := strconv.Atoi(ms); err == nil && n > 0 {
			return time.Duration(n) * time.Millisecond
		}
	}
	return 15 * time.Second
}

// hostPort splits addr; the port is 0 when it does not parse.
func hostPort(addr string) (string, int) {
	h, p, _ := net.SplitHostPort(addr)
	port, _ := strconv.Atoi(p)
	return h, port
}

func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }
