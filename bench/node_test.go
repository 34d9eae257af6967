//go:build linux

package bench

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// BenchmarkNodeResources: the walkthrough's six nodes (3 masters, 1 replica
// each, every node its own host, default 15 s node timeout) built and torn
// down three ways on the same nodes in one iteration:
//
//   - nodes: six redis_cluster_node resources (force_destroy = true), as
//     examples/resources/redis_cluster_node declares them;
//   - cluster: one redis_cluster (force_destroy = true);
//   - redis-cli: `redis-cli --cluster create --cluster-replicas 1`, and by
//     hand FLUSHALL (masters) then CLUSTER RESET HARD on every node, one
//     redis-cli call each, in sequence (what a runbook does).
//
// Timed: terraform apply (it returns once ready, each node's resource once
// it and its seeds agree) then the wait until every node reports ok and
// agrees (waitReady); then, after nKeys keys are written over the
// cluster, terraform destroy (or the by-hand loop). Untimed: a second apply
// must find nothing to do; after each teardown every node must be a lone
// empty node. The node resources' destroy is the case whose masters all
// leave in one run: each finds no master staying and flushes its keys.
func BenchmarkNodeResources(b *testing.B) {
	requireTools(b, "terraform", "redis-cli", "redis-server")
	requireProvider(b)
	const nKeys = 10000
	var res [3][2]samples // [nodes, cluster, cli][ready, teardown]
	for b.Loop() {
		b.StopTimer()
		nodes := startNodes(b, 6)
		addrs := redistest.Addrs(nodes)
		shards := layout(addrs, 3, 1)
		for k, config := range []string{nodeConfig(shards), forceCluster(clusterConfig(shards))} {
			w := newWorkspace(b, config)
			start := time.Now()
			b.StartTimer()
			w.mustRun(b, 0, "apply", "-auto-approve")
			b.StopTimer()
			res[k][0] = append(res[k][0], waitReady(b, "terraform", nodes, start))
			w.mustRun(b, 0, "plan", "-detailed-exitcode")
			redistest.Fill(b, nodes, nKeys, fmt.Sprintf("bench%d", k))
			b.StartTimer()
			res[k][1] = append(res[k][1], w.mustRun(b, 0, "destroy", "-auto-approve"))
			b.StopTimer()
			checkLone(b, nodes)
		}
		start := time.Now()
		redisCLICreate(b, addrs, 1)
		res[2][0] = append(res[2][0], waitReady(b, "redis-cli", nodes, start))
		redistest.Fill(b, nodes, nKeys, "benchcli")
		start = time.Now()
		for _, a := range addrs {
			host, port, _ := strings.Cut(a, ":")
			for _, c := range [][]string{{"FLUSHALL"}, {"CLUSTER", "RESET", "HARD"}} {
				args := append([]string{"-h", host, "-p", port, "-a", redistest.DefaultPassword, "--no-auth-warning"}, c...)
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
				cancel()
				if c[0] == "FLUSHALL" && strings.Contains(string(out), "READONLY") {
					continue // a replica: CLUSTER RESET flushes it
				}
				if err != nil || !strings.Contains(string(out), "OK") {
					b.Fatalf("redis-cli %s on %s: %v %s", strings.Join(c, " "), a, err, out)
				}
			}
		}
		res[2][1] = append(res[2][1], time.Since(start))
		checkLone(b, nodes)
		b.StartTimer()
	}
	names := []string{"nodes", "cluster", "redis-cli"}
	for k, n := range names {
		b.Logf("%-9s ready %s   teardown (%d keys) %s", n, res[k][0], nKeys, res[k][1])
	}
	b.Logf("ratios (mean): ready nodes/cluster %.2f, nodes/redis-cli %.2f; teardown nodes/cluster %.2f, nodes/redis-cli %.2f",
		res[0][0].mean()/res[1][0].mean(), res[0][0].mean()/res[2][0].mean(),
		res[0][1].mean()/res[1][1].mean(), res[0][1].mean()/res[2][1].mean())
}

// nodeConfig declares the shards as redis_cluster_node resources, masters
// with the split redis-cli makes and force_destroy, every node seeded with
// the masters.
func nodeConfig(shards []shard) string {
	var sb strings.Builder
	sb.WriteString(tfHeader)
	split := []string{"0-5460", "5461-10922", "10923-16383"}
	var masters []string
	for _, s := range shards {
		masters = append(masters, fmt.Sprintf("%q", s.Master))
	}
	seeds := "[" + strings.Join(masters, ", ") + "]"
	for i, s := range shards {
		fmt.Fprintf(&sb, "\nresource \"redis_cluster_node\" \"m%d\" {\n  address = %q\n  seeds = %s\n  role = \"master\"\n  slots = [%q]\n  force_destroy = true\n}\n", i, s.Master, seeds, split[i])
		for j, r := range s.Replicas {
			fmt.Fprintf(&sb, "\nresource \"redis_cluster_node\" \"r%d_%d\" {\n  address = %q\n  seeds = %s\n  role = \"replica\"\n  master = %q\n}\n", i, j, r, seeds, s.Master)
		}
	}
	return sb.String()
}

func forceCluster(config string) string {
	return strings.Replace(config, "resource \"redis_cluster\" \"bench\" {\n", "resource \"redis_cluster\" \"bench\" {\n  force_destroy = true\n", 1)
}

// checkLone fails unless every node is a lone empty node.
func checkLone(tb testing.TB, nodes []*redistest.Node) {
	tb.Helper()
	for _, n := range nodes {
		info := redistest.ClusterInfo(tb, n)
		if info["cluster_known_nodes"] != "1" || info["cluster_slots_assigned"] != "0" || redistest.DBSize(tb, n) != 0 {
			tb.Fatalf("%s after teardown: known nodes %s, slots %s, keys %d", n.Addr(), info["cluster_known_nodes"], info["cluster_slots_assigned"], redistest.DBSize(tb, n))
		}
	}
}
