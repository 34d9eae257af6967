package redistest

import (
	"context"
	"crypto/tls"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

func cmdCtx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), cmdTimeout)
}

// Addrs returns the nodes' "ip:port" addresses, in order.
func Addrs(nodes []*Node) []string {
	out := make([]string, len(nodes))
	for i, n := range nodes {
		out[i] = n.Addr()
	}
	return out
}

// WaitFor polls cond every 10 ms until it returns true, and fails the test with msg if it has
// not after timeout. cond runs at least once.
func WaitFor(t testing.TB, timeout time.Duration, cond func() bool, msg string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: timed out after %v waiting for %s", timeout, msg)
		}
		time.Sleep(pollInterval)
	}
}

// Do sends one command to the node and fails the test on error.
func Do(t testing.TB, n *Node, args ...any) any {
	t.Helper()
	ctx, cancel := cmdCtx()
	defer cancel()
	v, err := n.Client().Do(ctx, args...).Result()
	if err != nil {
		t.Fatalf("redistest: %s %v: %v", n.Addr(), args, err)
	}
	return v
}

// MyID returns the node's cluster node ID (CLUSTER MYID).
func MyID(t testing.TB, n *Node) string {
	t.Helper()
	ctx, cancel := cmdCtx()
	defer cancel()
	id, err := n.Client().ClusterMyID(ctx).Result()
	if err != nil {
		t.Fatalf("redistest: CLUSTER MYID on %s: %v", n.Addr(), err)
	}
	return id
}

// ClusterNodes returns the node's CLUSTER NODES text.
func ClusterNodes(t testing.TB, n *Node) string {
	t.Helper()
	ctx, cancel := cmdCtx()
	defer cancel()
	s, err := n.Client().ClusterNodes(ctx).Result()
	if err != nil {
		t.Fatalf("redistest: CLUSTER NODES on %s: %v", n.Addr(), err)
	}
	return s
}

// Info returns the node's INFO fields (all default sections, or the given ones) as key->value.
func Info(t testing.TB, n *Node, sections ...string) map[string]string {
	t.Helper()
	ctx, cancel := cmdCtx()
	defer cancel()
	s, err := n.Client().Info(ctx, sections...).Result()
	if err != nil {
		t.Fatalf("redistest: INFO %v on %s: %v", sections, n.Addr(), err)
	}
	return parseFields(s)
}

// ClusterInfo returns the node's CLUSTER INFO fields (cluster_state, cluster_known_nodes, ...).
func ClusterInfo(t testing.TB, n *Node) map[string]string {
	t.Helper()
	ctx, cancel := cmdCtx()
	defer cancel()
	s, err := n.Client().ClusterInfo(ctx).Result()
	if err != nil {
		t.Fatalf("redistest: CLUSTER INFO on %s: %v", n.Addr(), err)
	}
	return parseFields(s)
}

func parseFields(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[k] = v
		}
	}
	return m
}

// DBSize returns the number of keys the node holds.
func DBSize(t testing.TB, n *Node) int64 {
	t.Helper()
	ctx, cancel := cmdCtx()
	defer cancel()
	v, err := n.Client().DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("redistest: DBSIZE on %s: %v", n.Addr(), err)
	}
	return v
}

// ClusterClient returns a go-redis cluster client seeded with the nodes' addresses and their
// password (RESP2, no CLIENT SETINFO, no maintenance notifications; TLS with the client
// certificate when the nodes serve TLS). It is closed when the test ends.
func ClusterClient(t testing.TB, nodes []*Node) *redis.ClusterClient {
	t.Helper()
	if len(nodes) == 0 {
		t.Fatal("redistest: ClusterClient needs at least one node")
	}
	var tc *tls.Config
	if f := nodes[0].TLS(); f != nil {
		tc = f.ClientConfig()
	}
	c := redis.NewClusterClient(&redis.ClusterOptions{
		TLSConfig:       tc,
		Addrs:           Addrs(nodes),
		Password:        nodes[0].Password(),
		DialTimeout:     time.Second,
		ReadTimeout:     cmdTimeout,
		WriteTimeout:    cmdTimeout,
		Protocol:        2,
		DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
	})
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// Fill writes count keys "prefix:0" .. "prefix:<count-1>" through a cluster client seeded with
// the nodes (the cluster must be ready: every slot served) and returns key->value written.
// The values are unique to this call.
func Fill(t testing.TB, nodes []*Node, count int, prefix string) map[string]string {
	t.Helper()
	c := ClusterClient(t, nodes)
	want := make(map[string]string, count)
	tag := rand.Uint32()
	const batch = 500
	for lo := 0; lo < count; lo += batch {
		hi := min(lo+batch, count)
		var cmds []redis.Cmder
		var err error
		// SET is idempotent: a batch that met a redirect the client did not
		// follow (its slot map is loaded lazily) is sent again.
		for attempt := 0; attempt < 20; attempt++ {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			cmds, err = c.Pipelined(ctx, func(p redis.Pipeliner) error {
				for i := lo; i < hi; i++ {
					k := fmt.Sprintf("%s:%d", prefix, i)
					v := fmt.Sprintf("v%d-%08x", i, tag)
					want[k] = v
					p.Set(ctx, k, v, 0)
				}
				return nil
			})
			cancel()
			if err == nil || !redirected(err) {
				break
			}
			c.ReloadState(context.Background())
			time.Sleep(50 * time.Millisecond)
		}
		if err != nil {
			for _, cmd := range cmds {
				if cmd.Err() != nil {
					t.Fatalf("redistest: Fill %s: %v: %v", strings.Join(Addrs(nodes), ","), cmd.Args(), cmd.Err())
				}
			}
			t.Fatalf("redistest: Fill %s: %v", strings.Join(Addrs(nodes), ","), err)
		}
	}
	return want
}

// redirected tells whether err is a cluster redirect or a transient
// cluster state a retry outlives.
func redirected(err error) bool {
	_, moved := redis.IsMovedError(err)
	_, ask := redis.IsAskError(err)
	return moved || ask || redis.IsClusterDownError(err) || redis.IsTryAgainError(err)
}

// CheckKeys reads every key of want through a cluster client seeded with the nodes and fails
// the test, listing up to 10 differences, unless each holds its value.
func CheckKeys(t testing.TB, nodes []*Node, want map[string]string) {
	t.Helper()
	c := ClusterClient(t, nodes)
	keys := make([]string, 0, len(want))
	for k := range want {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var bad []string
	nbad := 0
	const batch = 500
	for lo := 0; lo < len(keys); lo += batch {
		hi := min(lo+batch, len(keys))
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmds, _ := c.Pipelined(ctx, func(p redis.Pipeliner) error {
			for _, k := range keys[lo:hi] {
				p.Get(ctx, k)
			}
			return nil
		})
		cancel()
		for i, cmd := range cmds {
			k := keys[lo+i]
			sc, ok := cmd.(*redis.StringCmd)
			if !ok {
				t.Fatalf("redistest: CheckKeys: unexpected command type %T", cmd)
			}
			got, err := sc.Result()
			if err == nil && got == want[k] {
				continue
			}
			nbad++
			if len(bad) < 10 {
				if err != nil {
					bad = append(bad, fmt.Sprintf("%s: %v", k, err))
				} else {
					bad = append(bad, fmt.Sprintf("%s: got %q, want %q", k, got, want[k]))
				}
			}
		}
	}
	if nbad > 0 {
		t.Fatalf("redistest: %d of %d keys wrong:\n%s", nbad, len(keys), strings.Join(bad, "\n"))
	}
}

// FillNode makes the node hold count keys "prefix:0" .. "prefix:<count-1>" (values
// "value:0" ...) without giving it any slot, and returns key->value. It uses
// DEBUG POPULATE, which writes straight into the keyspace and skips cluster redirection, so it
// works on a lone cluster node that owns no slot (which refuses SET with CLUSTERDOWN), on a
// node whose slots do not cover the keys, and on a non-cluster node. Keys that already exist
// are left as they are. The keys of a cluster node are then visible to DBSIZE, SCAN and
// CLUSTER COUNTKEYSINSLOT, but GET on them is redirected or refused.
func FillNode(t testing.TB, n *Node, count int, prefix string) map[string]string {
	t.Helper()
	ctx, cancel := cmdCtx()
	defer cancel()
	before, err := n.Client().DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("redistest: FillNode %s: DBSIZE: %v", n.Addr(), err)
	}
	if err := n.Client().Do(ctx, "DEBUG", "POPULATE", count, prefix).Err(); err != nil {
		t.Fatalf("redistest: FillNode %s: DEBUG POPULATE (needs --enable-debug-command local on Redis >= 7): %v", n.Addr(), err)
	}
	after, err := n.Client().DBSize(ctx).Result()
	if err != nil {
		t.Fatalf("redistest: FillNode %s: DBSIZE: %v", n.Addr(), err)
	}
	if after <= before && count > 0 {
		t.Fatalf("redistest: FillNode %s: DBSIZE %d after DEBUG POPULATE %d (was %d)", n.Addr(), after, count, before)
	}
	out := make(map[string]string, count)
	for i := range count {
		out[prefix+":"+strconv.Itoa(i)] = "value:" + strconv.Itoa(i)
	}
	return out
}

// Select returns the nodes at addrs, in that order.
func Select(nodes []*Node, addrs []string) []*Node {
	out := make([]*Node, 0, len(addrs))
	for _, a := range addrs {
		for _, n := range nodes {
			if n.Addr() == a {
				out = append(out, n)
				break
			}
		}
	}
	return out
}
