//go:build linux

package bench

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// BenchmarkRebalanceScale: adding BENCH_ADD empty masters (default 10) to a
// cluster of BENCH_SHARDS masters (default 100, no replicas) holding
// BENCH_KEYS keys (default 200000) spread over every slot, rebalanced in one
// `terraform apply`, against CLUSTER MEET of each new node (what
// `redis-cli --cluster add-node` sends) and `redis-cli --cluster rebalance
// --cluster-use-empty-masters` on the same data, in the same iteration.
//
// Each contender gets its own fresh nodes (the terraform ones are stopped
// before the redis-cli ones start), its cluster built by terraform apply
// and filled through a cluster client (untimed). Then:
//
//   - terraform: main.tf lists the new masters as shards too (slots unset:
//     the provider splits evenly with the fewest moves);
//     `terraform apply` is timed, to ready.
//   - redis-cli: CLUSTER MEET of each new node (timed), a wait until the
//     cluster is ready (timed: rebalance refuses nodes that disagree, and a
//     new master refuses keys while it reports cluster_state:fail), then
//     rebalance --cluster-use-empty-masters (timed).
//
// After each, untimed: the cluster is ready and the masters' DBSIZE sums to
// the keys written. The ratio is terraform / (redis-cli add + join +
// rebalance).
//
//	go test ./bench -run '^$' -bench RebalanceScale -benchtime 1x -timeout 30m
func BenchmarkRebalanceScale(b *testing.B) {
	requireTools(b, "redis-cli")
	shards := envInt(b, "BENCH_SHARDS", 100)
	add := envInt(b, "BENCH_ADD", 10)
	nkeys := envInt(b, "BENCH_KEYS", 200_000)
	requireProvider(b)
	data := make(map[string]string, nkeys)
	for i := range nkeys {
		data["bench:rb:"+strconv.Itoa(i)] = "v" + strconv.Itoa(i)
	}
	var tf, cliAdd, cliJoin, cliRebalance samples
	for b.Loop() {
		b.StopTimer()
		t := rebalanceTerraform(b, shards, add, data)
		ad, jn, rb := rebalanceCLI(b, shards, add, data)
		tf, cliAdd, cliJoin, cliRebalance = append(tf, t), append(cliAdd, ad), append(cliJoin, jn), append(cliRebalance, rb)
		progress(b, "terraform %.3fs | MEET %.3fs + join %.3fs + rebalance %.3fs = %.3fs | ratio %.2f (load %s)",
			t.Seconds(), ad.Seconds(), jn.Seconds(), rb.Seconds(), (ad + jn + rb).Seconds(), t.Seconds()/(ad+jn+rb).Seconds(), loadavg())
		b.StartTimer()
	}
	cli := cliAdd.mean() + cliJoin.mean() + cliRebalance.mean()
	b.ReportMetric(tf.mean(), "tf-s")
	b.ReportMetric(cliRebalance.mean(), "cli-rebalance-s")
	b.ReportMetric(cli, "cli-total-s")
	b.ReportMetric(tf.mean()/cli, "ratio")
	b.Logf("SUMMARY %d masters + %d empty, %d keys: terraform apply %s; MEET %s, join %s, redis-cli rebalance %s (total %.3fs); terraform/redis-cli %.2f (rebalance alone %.2f); load average %s",
		shards, add, nkeys, tf, cliAdd, cliJoin, cliRebalance, cli, tf.mean()/cli, tf.mean()/cliRebalance.mean(), loadavg())
}

// rebalanceSetup starts shards+add nodes, builds a cluster of the first
// shards with terraform and fills it. Untimed.
func rebalanceSetup(b *testing.B, s *scope, shards, add int, data map[string]string) ([]*redistest.Node, *workspace) {
	nodes := startNodes(s, shards+add)
	w := newWorkspace(b, clusterConfig(layout(redistest.Addrs(nodes[:shards]), shards, 0)))
	took := w.mustRun(b, 0, "apply", "-auto-approve", "-input=false")
	start := time.Now()
	fillKeys(s, nodes[:shards], data)
	progress(b, "setup: %d masters created in %.3fs, %d keys written in %.3fs (load %s)", shards, took.Seconds(), len(data), time.Since(start).Seconds(), loadavg())
	return nodes, w
}

func rebalanceTerraform(b *testing.B, shards, add int, data map[string]string) time.Duration {
	s := newScope(b)
	defer s.close()
	nodes, w := rebalanceSetup(b, s, shards, add, data)
	w.write(b, clusterConfig(layout(redistest.Addrs(nodes), shards+add, 0)))
	b.StartTimer()
	out, code, took, use, err := runWatched(w, "apply", "-auto-approve", "-input=false")
	b.StopTimer()
	if err != nil || code != 0 {
		s.Fatalf("terraform apply (rebalance): exit %d, %v after %.3fs\n%s", code, err, took.Seconds(), tail(out, 40))
	}
	progress(b, "terraform apply rebalanced onto %d new masters in %.3fs, provider peak RSS %.0f MB (load %s)", add, took.Seconds(), float64(use.peakKB)/1024, loadavg())
	if ok, why := ready(readAll(b.Context(), nodes)); !ok {
		s.Errorf("terraform apply returned but the cluster is not ready: %s", why)
	}
	checkKeyTotal(s, nodes, len(data), add)
	return took
}

func rebalanceCLI(b *testing.B, shards, add int, data map[string]string) (addT, joinT, rebalanceT time.Duration) {
	s := newScope(b)
	defer s.close()
	nodes, _ := rebalanceSetup(b, s, shards, add, data)
	seed := nodes[0].Addr()
	// What add-node does, for every new node at once (add-node itself
	// refuses to run until the previous node is known everywhere).
	start := time.Now()
	for _, n := range nodes[shards:] {
		host, port, err := net.SplitHostPort(n.Addr())
		if err != nil {
			s.Fatal(err)
		}
		redistest.Do(s, nodes[0], "CLUSTER", "MEET", host, port)
	}
	addT = time.Since(start)
	// rebalance refuses nodes that disagree, and MIGRATE to a new master
	// fails while it reports cluster_state:fail: wait until ready.
	joinT = waitReady(s, b.Name()+" redis-cli join", nodes, time.Now())
	rebalanceT = redisCLI(s, "rebalance", seed, "--cluster-use-empty-masters", "--cluster-yes")
	waitReady(s, b.Name()+" redis-cli", nodes, time.Now())
	checkKeyTotal(s, nodes, len(data), add)
	return addT, joinT, rebalanceT
}

// checkKeyTotal fails unless the nodes' DBSIZE sums to want and each of the
// last added nodes holds some keys.
func checkKeyTotal(tb testing.TB, nodes []*redistest.Node, want, added int) {
	tb.Helper()
	total := 0
	for i, n := range nodes {
		k := int(redistest.DBSize(tb, n))
		total += k
		if i >= len(nodes)-added && k == 0 {
			tb.Errorf("new master %s holds no keys after the rebalance", n.Addr())
		}
	}
	if total != want {
		tb.Errorf("the masters hold %d keys, want %d", total, want)
	}
}

// write replaces the workspace's main.tf.
func (w *workspace) write(b *testing.B, config string) {
	b.Helper()
	if err := os.WriteFile(filepath.Join(w.dir, "main.tf"), []byte(config), 0o600); err != nil {
		b.Fatal(err)
	}
}
