package redistest

// Cluster helpers: parsing CLUSTER NODES, creating a cluster of started nodes and waiting until it is ready.

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// ClusterNode is one line of CLUSTER NODES, as far as tests need it.
type ClusterNode struct {
	ID     string
	Addr   string // "ip:port", without "@bus" or ",hostname"
	Flags  []string
	Master string // master's ID, "" for a master
	Slots  []string
	Self   bool
}

// HasFlag reports whether the line carries the flag (e.g. "master", "fail?", "handshake").
func (c ClusterNode) HasFlag(f string) bool { return slices.Contains(c.Flags, f) }

// ParseClusterNodes parses CLUSTER NODES text.
func ParseClusterNodes(s string) []ClusterNode {
	var out []ClusterNode
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) < 8 {
			continue
		}
		addr, _, _ := strings.Cut(f[1], "@")
		addr, _, _ = strings.Cut(addr, ",")
		cn := ClusterNode{ID: f[0], Addr: addr, Flags: strings.Split(f[2], ","), Slots: f[8:]}
		if f[3] != "-" {
			cn.Master = f[3]
		}
		cn.Self = cn.HasFlag("myself")
		out = append(out, cn)
	}
	return out
}

// CreateCluster makes a ready cluster of the nodes, which must be empty cluster-mode nodes
// knowing no other: the first len(nodes)/(1+replicas) are masters with an even split of the
// 16384 slots, the rest replicate them in turn (nodes[m+i] replicates nodes[i%m]). It assigns
// slots first, MEETs every pair, attaches replicas, and returns once every node reports
// cluster_state:ok and sees every other with the right role and slots. Replicas may not have
// finished their first sync. Returns the node IDs, in order.
//
// Timing: Redis 7.0 keeps a master at cluster_state:fail for 2 s after the server started
// (CLUSTER_WRITABLE_DELAY), and for the rejoin delay, clamp(cluster-node-timeout, 0.5 s, 5 s),
// after it last had no slots; so on nodes just returned by Start this takes about 2 s.
func CreateCluster(t testing.TB, nodes []*Node, replicas int) []string {
	t.Helper()
	if replicas < 0 || len(nodes) == 0 || len(nodes)%(1+replicas) != 0 {
		t.Fatalf("redistest: CreateCluster: %d nodes cannot make masters with %d replicas each", len(nodes), replicas)
	}
	m := len(nodes) / (1 + replicas)
	ranges := make([]string, m)
	for i := range m {
		lo, hi := i*16384/m, (i+1)*16384/m-1
		if lo == hi {
			ranges[i] = strconv.Itoa(lo)
		} else {
			ranges[i] = fmt.Sprintf("%d-%d", lo, hi)
		}
		AddSlotsRange(t, nodes[i], lo, hi)
	}
	ids := make([]string, len(nodes))
	for i, n := range nodes {
		ids[i] = MyID(t, n)
	}
	meetAll := func() {
		for i, a := range nodes {
			ctx, cancel := cmdCtx()
			_, err := a.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, b := range nodes[i+1:] {
					p.ClusterMeet(ctx, b.IP(), strconv.Itoa(b.Port()))
				}
				return nil
			})
			cancel()
			if err != nil {
				t.Fatalf("redistest: CLUSTER MEET from %s: %v", a.Addr(), err)
			}
		}
	}
	meetAll()
	knowsAll := func(n *Node) bool {
		ctx, cancel := cmdCtx()
		defer cancel()
		s, err := n.Client().ClusterNodes(ctx).Result()
		if err != nil {
			return false
		}
		known := 0
		for _, cn := range ParseClusterNodes(s) {
			if cn.HasFlag("handshake") || cn.HasFlag("noaddr") {
				return false
			}
			if slices.Contains(ids, cn.ID) {
				known++
			}
		}
		return known == len(nodes)
	}
	WaitFor(t, 30*time.Second, func() bool {
		for _, n := range nodes {
			if !knowsAll(n) {
				return false
			}
		}
		return true
	}, "every node to know every other")
	for i := m; i < len(nodes); i++ {
		master := ids[(i-m)%m]
		deadline := time.Now().Add(10 * time.Second)
		for {
			ctx, cancel := cmdCtx()
			err := nodes[i].Client().ClusterReplicate(ctx, master).Err()
			cancel()
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("redistest: CLUSTER REPLICATE %s on %s: %v", master, nodes[i].Addr(), err)
			}
			time.Sleep(pollInterval)
		}
	}
	// A second MEET to already known nodes makes each receiver read the sender's role and
	// slots at once, instead of waiting for gossip.
	meetAll()
	want := map[string]ClusterNode{}
	for i, id := range ids {
		cn := ClusterNode{ID: id}
		if i < m {
			cn.Slots = []string{ranges[i]}
		} else {
			cn.Master = ids[(i-m)%m]
		}
		want[id] = cn
	}
	WaitClusterReady(t, nodes, want, 30*time.Second)
	return ids
}

// WaitClusterReady waits until every node reports cluster_state:ok and its CLUSTER NODES
// lists exactly the IDs of want, none failing or in handshake, each with want's master ("" for
// a master) and, for masters, want's slots. want nil only checks cluster_state:ok and that all
// nodes list the same number of nodes as len(nodes).
func WaitClusterReady(t testing.TB, nodes []*Node, want map[string]ClusterNode, timeout time.Duration) {
	t.Helper()
	var why string
	agrees := func(n *Node) bool {
		ctx, cancel := cmdCtx()
		defer cancel()
		info, err := n.Client().ClusterInfo(ctx).Result()
		if err != nil {
			why = fmt.Sprintf("%s: %v", n.Addr(), err)
			return false
		}
		if st := parseFields(info)["cluster_state"]; st != "ok" {
			why = fmt.Sprintf("%s: cluster_state:%s", n.Addr(), st)
			return false
		}
		s, err := n.Client().ClusterNodes(ctx).Result()
		if err != nil {
			why = fmt.Sprintf("%s: %v", n.Addr(), err)
			return false
		}
		seen := ParseClusterNodes(s)
		wantLen := len(nodes)
		if want != nil {
			wantLen = len(want)
		}
		if len(seen) != wantLen {
			why = fmt.Sprintf("%s knows %d nodes, want %d", n.Addr(), len(seen), wantLen)
			return false
		}
		for _, cn := range seen {
			if cn.HasFlag("fail") || cn.HasFlag("fail?") || cn.HasFlag("handshake") || cn.HasFlag("noaddr") {
				why = fmt.Sprintf("%s sees %s as %v", n.Addr(), cn.Addr, cn.Flags)
				return false
			}
			if want == nil {
				continue
			}
			w, ok := want[cn.ID]
			if !ok {
				why = fmt.Sprintf("%s knows unexpected node %s %s", n.Addr(), cn.ID, cn.Addr)
				return false
			}
			if cn.Master != w.Master || (w.Master == "" && !slices.Equal(cn.Slots, w.Slots)) {
				why = fmt.Sprintf("%s sees %s with master %q slots %v, want master %q slots %v",
					n.Addr(), cn.Addr, cn.Master, cn.Slots, w.Master, w.Slots)
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for _, n := range nodes {
			if !agrees(n) {
				ok = false
				break
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("redistest: cluster not ready after %v: %s", timeout, why)
		}
		time.Sleep(pollInterval)
	}
}
