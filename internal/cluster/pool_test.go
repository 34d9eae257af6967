package cluster_test

import (
	"context"
	"crypto/tls"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// readNode observes one node through a fresh pool and returns its error.
func readNode(t *testing.T, cfg cluster.PoolConfig, addr string) (*cluster.NodeState, time.Duration) {
	t.Helper()
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = time.Second
	}
	pool := cluster.NewPool(cfg)
	defer pool.Close()
	start := time.Now()
	obs := cluster.Observe(t.Context(), pool, []string{addr}, true)
	return obs.Node(addr), time.Since(start)
}

func nodeError(t *testing.T, n *cluster.NodeState) *cluster.NodeError {
	t.Helper()
	var ne *cluster.NodeError
	if !errors.As(n.Err, &ne) {
		t.Fatalf("%s: got %v, want a *cluster.NodeError", n.Addr, n.Err)
	}
	return ne
}

// TestPoolTLSFailures: every way TLS can be misconfigured is an error of
// kind TLS naming the node, never "unreachable" (which plan would only
// warn about); a dead or stopped TLS node is unreachable.
func TestPoolTLSFailures(t *testing.T) {
	t.Parallel()
	pki := redistest.NewTLSFiles(t)
	other := redistest.NewTLSFiles(t)
	nodes := redistest.Start(t, 3, redistest.Options{TLS: pki})
	node, stopped, dead := nodes[0], nodes[1], nodes[2]
	plain := redistest.Start(t, 1, redistest.Options{})[0]
	pw := node.Password()
	dead.Kill(t)
	if err := syscall.Kill(stopped.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(stopped.Pid(), syscall.SIGCONT) })

	with := func(f func(*tls.Config)) *tls.Config {
		c := pki.ClientConfig()
		f(c)
		return c
	}
	cases := []struct {
		name string
		addr string
		tls  *tls.Config
		kind cluster.ErrorKind
		want string
		runs int // resets and alerts race with the first command: repeat those
	}{
		{"good", node.Addr(), pki.ClientConfig(), -1, "", 1},
		{"wrong_ca", node.Addr(), with(func(c *tls.Config) { c.RootCAs = other.ClientConfig().RootCAs }),
			cluster.ErrTLS, "certificate signed by unknown authority", 1},
		{"server_name", node.Addr(), with(func(c *tls.Config) { c.ServerName = "redis.example" }),
			cluster.ErrTLS, "not redis.example", 1},
		// TLS 1.3: the handshake succeeds, the node resets the connection
		// (or sends an alert) at the first command.
		{"no_client_cert", node.Addr(), with(func(c *tls.Config) { c.Certificates = nil }),
			cluster.ErrTLS, "certificate", 5},
		{"no_client_cert_tls12", node.Addr(), with(func(c *tls.Config) { c.Certificates = nil; c.MaxVersion = tls.VersionTLS12 }),
			cluster.ErrTLS, "client certificate", 1},
		{"client_cert_of_other_ca", node.Addr(), with(func(c *tls.Config) { c.Certificates = other.ClientConfig().Certificates }),
			cluster.ErrTLS, "certificate", 5},
		{"plain_client_tls_node", node.Addr(), nil, cluster.ErrTLS, "the node speaks TLS on this port", 5},
		{"tls_client_plain_node", plain.Addr(), pki.ClientConfig(), cluster.ErrTLS, "answers plain RESP", 1},
		{"dead", dead.Addr(), pki.ClientConfig(), cluster.ErrUnreachable, "refused", 1},
		{"stopped", stopped.Addr(), pki.ClientConfig(), cluster.ErrUnreachable, "", 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			for range c.runs {
				n, took := readNode(t, cluster.PoolConfig{Credentials: cluster.Credentials{Password: pw}, TLS: c.tls}, c.addr)
				if took > 2*time.Second {
					t.Errorf("took %s, want at most twice the dial timeout (1s)", took)
				}
				if c.kind == -1 {
					if !n.OK() || n.ID == "" {
						t.Fatalf("read over TLS: %v", n.Err)
					}
					continue
				}
				ne := nodeError(t, n)
				if ne.Kind != c.kind || !strings.Contains(ne.Error(), c.want) || !strings.Contains(ne.Error(), c.addr) {
					t.Fatalf("got kind %q: %v\nwant kind %q naming %s and saying %q", ne.Kind, ne, c.kind, c.addr, c.want)
				}
			}
		})
	}
}

// minimalACL is the rule set the provider documentation gives for managing
// a cluster (templates/index.md.tmpl, "ACL"), with movesACL for slot moves
// and flushACL for force_destroy.
const (
	minimalACL = "-@all +info +dbsize +role +cluster|myid +cluster|info +cluster|nodes +cluster|meet +cluster|addslots +cluster|addslotsrange +cluster|set-config-epoch +cluster|replicate +cluster|failover +cluster|forget +cluster|reset"
	movesACL   = "~* +cluster|setslot +cluster|getkeysinslot +asking +migrate +restore-asking +select"
	flushACL   = "+flushall"
)

// TestPoolAccessCheck: the first connection to a node checks that the ACL
// user may run every command the provider needs, and a read of a node whose
// user lacks one fails naming the node and the command. The probes change
// nothing, FLUSHALL's included.
func TestPoolAccessCheck(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 1, redistest.Options{Users: []string{
		"minimal on >min-pw " + minimalACL,
		"nomeet on >nomeet-pw " + strings.Replace(minimalACL, " +cluster|meet", "", 1),
		"noinfo on >noinfo-pw " + strings.Replace(minimalACL, " +info", "", 1),
		"full on >full-pw " + minimalACL + " " + movesACL + " " + flushACL,
		"somekeys on >some-pw " + minimalACL + " " + strings.Replace(movesACL, "~* ", "~app:* ", 1),
	}})
	n := nodes[0]
	keys := redistest.FillNode(t, n, 10, "keep")
	as := func(user, pw string) cluster.PoolConfig {
		return cluster.PoolConfig{Credentials: cluster.Credentials{Username: user, Password: pw}}
	}

	st, _ := readNode(t, as("nomeet", "nomeet-pw"), n.Addr())
	ne := nodeError(t, st)
	if ne.Kind != cluster.ErrPermission || ne.Op != "CLUSTER MEET" || !strings.Contains(ne.Error(), "NOPERM") ||
		!strings.Contains(ne.Error(), "ACL SETUSER nomeet +cluster|meet") || !strings.Contains(ne.Error(), n.Addr()) {
		t.Fatalf("read as a user without CLUSTER MEET: %v (kind %q, op %q)", ne, ne.Kind, ne.Op)
	}
	if ne.Remedy() == "" {
		t.Fatal("no remedy")
	}
	st, _ = readNode(t, as("noinfo", "noinfo-pw"), n.Addr())
	if ne := nodeError(t, st); ne.Kind != cluster.ErrPermission || !strings.Contains(ne.Error(), "'info'") {
		t.Fatalf("read as a user without INFO: %v (kind %q)", ne, ne.Kind)
	}

	st, _ = readNode(t, as("minimal", "min-pw"), n.Addr())
	if !st.OK() {
		t.Fatalf("read as the minimal user: %v", st.Err)
	}
	pool := cluster.NewPool(as("minimal", "min-pw"))
	defer pool.Close()
	err := pool.CheckAccess(t.Context(), []string{n.Addr()}, cluster.AccessMove)
	for _, want := range []string{n.Addr(), "permission denied", "cluster|setslot", "migrate", "restore-asking", "select"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("slot-move check as the minimal user: %v; want it to say %q", err, want)
		}
	}
	err = pool.CheckAccess(t.Context(), []string{n.Addr()}, cluster.AccessFlush)
	if err == nil || !strings.Contains(err.Error(), "flushall") {
		t.Fatalf("FLUSHALL check as the minimal user: %v", err)
	}

	// Every move command allowed, but not every key.
	some := cluster.NewPool(as("somekeys", "some-pw"))
	defer some.Close()
	err = some.CheckAccess(t.Context(), []string{n.Addr()}, cluster.AccessMove)
	if err == nil || !strings.Contains(err.Error(), "key access: permission denied") || !strings.Contains(err.Error(), "ACL SETUSER somekeys ~*") ||
		strings.Contains(err.Error(), "+migrate") {
		t.Fatalf("slot-move check as a user limited to some keys: %v", err)
	}

	full := cluster.NewPool(as("full", "full-pw"))
	defer full.Close()
	for _, a := range []cluster.Access{cluster.AccessManage, cluster.AccessMove, cluster.AccessFlush} {
		if err := full.CheckAccess(t.Context(), []string{n.Addr()}, a); err != nil {
			t.Fatalf("check %v as the full user: %v", cluster.AccessCommands(a), err)
		}
	}
	// Nothing changed: still a lone node, every key there.
	if got := redistest.DBSize(t, n); got != int64(len(keys)) {
		t.Fatalf("after the access probes the node holds %d keys, want %d", got, len(keys))
	}
	info := redistest.ClusterInfo(t, n)
	if info["cluster_known_nodes"] != "1" || info["cluster_slots_assigned"] != "0" || info["cluster_current_epoch"] != "0" {
		t.Fatalf("after the access probes: %v", info)
	}
}

// TestPoolRedactsEchoedSecrets: Redis echoes the arguments of a command it
// does not know; no error a pool's client returns shows the pool's
// password or a secret added to it later (an ACL user's password) even
// then, in a single command or a pipeline, and the redacted error is
// still a reply; a wrong password is refused without echoing it.
func TestPoolRedactsEchoedSecrets(t *testing.T) {
	t.Parallel()
	const secret = "Echo-Me-Secret-77x"
	n := redistest.Start(t, 1, redistest.Options{})[0]
	pool := cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Password: n.Password()}})
	defer pool.Close()
	pool.Secrets().Add(secret)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c := pool.Client(n.Addr())
	if raw := c.Do(ctx, "NO-SUCH-COMMAND", "visible-arg").Err(); raw == nil || !strings.Contains(raw.Error(), "visible-arg") {
		t.Fatalf("the server no longer echoes arguments (%v): this test needs another way to provoke an echo", raw)
	}
	for _, s := range []string{secret, n.Password()} {
		var cmd *redis.Cmd
		_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
			cmd = p.Do(ctx, "NO-SUCH-COMMAND", "x", s)
			return nil
		})
		piped := cmd.Err()
		raw := c.Do(ctx, "NO-SUCH-COMMAND", s).Err()
		ne := &cluster.NodeError{Addr: n.Addr(), Op: "NO-SUCH-COMMAND", Err: raw}
		for _, e := range []error{raw, piped, ne} {
			var rerr redis.Error
			if e == nil || strings.Contains(e.Error(), s) || !strings.Contains(e.Error(), "***") || !errors.As(e, &rerr) {
				t.Fatalf("not redacted, or no longer a reply: %v", e)
			}
		}
	}
	// A wrong password is refused without echoing it.
	other := cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Password: secret}})
	defer other.Close()
	obs := cluster.Observe(ctx, other, []string{n.Addr()}, false)
	if e := obs.Node(n.Addr()).Err; e == nil || strings.Contains(e.Error(), secret) || !strings.Contains(e.Error(), "authentication failed") {
		t.Fatalf("a wrong password: %v", e)
	}
}

// TestPoolAccessProbesChangeNothing: the access probes, sent to the master
// and the replica of a live cluster holding keys, leave roles, slots,
// epochs and keys as they were (CLUSTER FAILOVER, RESET and FLUSHALL are
// among them, with arguments that make Redis refuse them).
func TestPoolAccessProbesChangeNothing(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{ExtraArgs: []string{"--repl-diskless-sync-delay", "0"}})
	redistest.CreateCluster(t, nodes, 1)
	keys := redistest.Fill(t, nodes, 200, "probe")
	redistest.WaitFor(t, 20*time.Second, func() bool {
		return redistest.Info(t, nodes[1], "replication")["master_link_status"] == "up"
	}, "the replica to sync")
	epoch := redistest.ClusterInfo(t, nodes[0])["cluster_current_epoch"]
	pool := cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Password: nodes[0].Password()}})
	defer pool.Close()
	for range 3 {
		for _, a := range []cluster.Access{cluster.AccessManage, cluster.AccessMove, cluster.AccessFlush} {
			if err := pool.CheckAccess(t.Context(), redistest.Addrs(nodes), a); err != nil {
				t.Fatalf("check %v: %v", cluster.AccessCommands(a), err)
			}
		}
	}
	// Give a failover or a reset that a probe might have started time to show.
	time.Sleep(2 * time.Second)
	if r := redistest.Info(t, nodes[0], "replication")["role"]; r != "master" {
		t.Fatalf("the master is now %s", r)
	}
	if r := redistest.Info(t, nodes[1], "replication")["role"]; r != "slave" {
		t.Fatalf("the replica is now %s", r)
	}
	for _, n := range nodes {
		info := redistest.ClusterInfo(t, n)
		if info["cluster_current_epoch"] != epoch || info["cluster_known_nodes"] != "2" || info["cluster_slots_assigned"] != "16384" {
			t.Fatalf("%s after the probes: %v (epoch was %s)", n.Addr(), info, epoch)
		}
	}
	redistest.CheckKeys(t, nodes, keys)
}

// TestPoolCheckStepAccess: steps with a slot move need AccessMove on every
// master; other steps need nothing more than every connection checks.
func TestPoolCheckStepAccess(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 1, redistest.Options{Users: []string{"minimal on >min-pw " + minimalACL}})
	redistest.CreateCluster(t, nodes, 0)
	pool := cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Username: "minimal", Password: "min-pw"}})
	defer pool.Close()
	obs := cluster.Observe(t.Context(), pool, redistest.Addrs(nodes), true)
	if err := obs.Node(nodes[0].Addr()).Err; err != nil {
		t.Fatal(err)
	}
	if err := pool.CheckStepAccess(t.Context(), []cluster.Step{{Kind: cluster.StepReplicate}, {Kind: cluster.StepFailover}}, obs); err != nil {
		t.Fatalf("no move: %v", err)
	}
	err := pool.CheckStepAccess(t.Context(), []cluster.Step{{Kind: cluster.StepMoveSlots}}, obs)
	if err == nil || !strings.Contains(err.Error(), nodes[0].Addr()) || !strings.Contains(err.Error(), "MIGRATE") ||
		!strings.Contains(err.Error(), "ACL SETUSER minimal") {
		t.Fatalf("a move as the minimal user: %v", err)
	}
}
