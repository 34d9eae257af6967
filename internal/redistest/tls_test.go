package redistest

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// TestTLSCluster: TLS-only nodes (cluster bus and replication over TLS too) form a cluster
// with a replica, take keys and replicate them; plain TCP gets no answer on their port.
func TestTLSCluster(t *testing.T) {
	t.Parallel()
	f := NewTLSFiles(t)
	nodes := Start(t, 4, Options{TLS: f, DistinctHosts: true, ExtraArgs: []string{"--repl-diskless-sync-delay", "0"}})
	for _, n := range nodes {
		if got := configGet(t, n, "tls-port"); len(got) != 2 || got[1] != strconv.Itoa(n.Port()) {
			t.Fatalf("%s: tls-port %v", n.Addr(), got)
		}
		if got := configGet(t, n, "port"); len(got) != 2 || got[1] != "0" {
			t.Fatalf("%s: port %v, want 0", n.Addr(), got)
		}
	}
	CreateCluster(t, nodes, 1)
	want := Fill(t, nodes, 200, "tls")
	CheckKeys(t, nodes, want)
	// The replicas synced over TLS.
	WaitFor(t, 20*time.Second, func() bool {
		info := Info(t, nodes[2], "replication")
		return info["master_link_status"] == "up" && info["master_sync_in_progress"] == "0"
	}, "the replica to sync over TLS")
	// CLUSTER NODES announces the TLS port.
	for _, cn := range ParseClusterNodes(ClusterNodes(t, nodes[0])) {
		if !strings.HasSuffix(cn.Addr, ":"+strconv.Itoa(byID(t, nodes, cn.ID).Port())) {
			t.Fatalf("CLUSTER NODES line %s %s does not carry the TLS port", cn.ID, cn.Addr)
		}
	}
	// A plain client is refused.
	plain := NewClient(nodes[0].Addr(), nodes[0].Password())
	defer plain.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := plain.Ping(ctx).Err(); err == nil {
		t.Fatal("a plain-TCP PING to a TLS-only node succeeded")
	}
}

// TestTLSWithoutClientCert: with tls-auth-clients no, a client with the CA only is served;
// with the default (yes) it is not.
func TestTLSWithoutClientCert(t *testing.T) {
	t.Parallel()
	f := NewTLSFiles(t)
	optional := Start(t, 1, Options{TLS: f, TLSAuthClients: "no"})[0]
	strict := Start(t, 1, Options{TLS: f})[0]
	cfg := f.ClientConfig()
	cfg.Certificates = nil
	ping := func(n *Node) error {
		opt := clientOptions(n.Addr(), n.Password(), nil)
		opt.TLSConfig = cfg
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		c := redis.NewClient(opt)
		defer c.Close()
		return c.Ping(ctx).Err()
	}
	if err := ping(optional); err != nil {
		t.Fatalf("tls-auth-clients no: %v", err)
	}
	if err := ping(strict); err == nil {
		t.Fatal("tls-auth-clients yes served a client without a certificate")
	}
}

// TestACLUsers: --user rules create ACL users next to the default user.
func TestACLUsers(t *testing.T) {
	t.Parallel()
	n := Start(t, 1, Options{Users: []string{"reader on >reader-pw -@all +ping +cluster|info"}})[0]
	opt := clientOptions(n.Addr(), "reader-pw", nil)
	opt.Username = "reader"
	c := redis.NewClient(opt)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := c.Ping(ctx).Err(); err != nil {
		t.Fatalf("PING as reader: %v", err)
	}
	if err := c.ClusterInfo(ctx).Err(); err != nil {
		t.Fatalf("CLUSTER INFO as reader: %v", err)
	}
	if err := c.ClusterNodes(ctx).Err(); err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
		t.Fatalf("CLUSTER NODES as reader: got %v, want NOPERM", err)
	}
	// The harness still works as the default user.
	if got := MyID(t, n); len(got) != 40 {
		t.Fatalf("CLUSTER MYID as default: %q", got)
	}
}

func byID(t *testing.T, nodes []*Node, id string) *Node {
	t.Helper()
	for _, n := range nodes {
		if MyID(t, n) == id {
			return n
		}
	}
	t.Fatalf("no node has ID %s", id)
	return nil
}
