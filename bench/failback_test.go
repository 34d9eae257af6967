package bench

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// BenchmarkFailback: handing a shard back to its declared master after a
// failover, with `terraform apply`, against doing it by hand with CLUSTER
// FAILOVER.
//
// Each iteration starts six fresh nodes (DistinctHosts, started normally: no
// setting changed for speed), with the default cluster-node-timeout of 15 s
// (3x(1+1)) or with 1 s (3x(1+1),node-timeout=1s: a node pings every peer it
// has not heard from for node-timeout/2, and that is how the news a failover
// does not broadcast spreads), and, untimed: terraform apply of 3x(1+1),
// failbackKeys keys written, every replica in sync. Then:
//
//   - terraform, on shard 1 (master nodes[0], replica nodes[4]): CLUSTER
//     FAILOVER on the replica; once the old master is its replica, in sync
//     (master_link_status:up, offset caught up) and every node agrees, the
//     timed `terraform apply -auto-approve -input=false` must fail back. Checked
//     afterwards (untimed): the cluster is ready and laid out as declared,
//     every key holds its value, and a second apply (a no-op: terraform's
//     fixed cost) is timed for comparison.
//   - by hand, on shard 2 (master nodes[1], replica nodes[5]): CLUSTER
//     FAILOVER on the replica, then, once the old master is an in-sync
//     replica again, CLUSTER FAILOVER on it (back). Each is timed to
//     "promote" (the node's ROLE says master), to "new master" (every node's
//     CLUSTER NODES shows it as a master owning the shard's slots: the winner
//     broadcasts that) and to "agree" (every node also shows the old master
//     as its replica: that spreads by gossip only).
//
// Two shards, so that no election waits on another: a master votes for a
// shard at most once per 2 x cluster-node-timeout (it stores the time on the
// failed-over master: failing over A->B and then B->A touches two different
// nodes' vote times), and Redis 7.0 keeps a replica's last election (start
// time, votes, epoch) for 2 x max(2 x node-timeout, 2 s): a replica that won
// an election, was demoted and is asked to fail over again within that window
// reuses the old votes and "wins" with a stale config epoch, or starts no
// election at all. Every node here runs at most one election per iteration.
//
// The two contenders alternate which goes first. The benchmark timer (ns/op)
// covers the failback apply only.
func BenchmarkFailback(b *testing.B) {
	b.Run("3x(1+1)", func(b *testing.B) { benchFailback(b, nodeTimeout) })
	b.Run("3x(1+1),node-timeout=1s", func(b *testing.B) { benchFailback(b, time.Second) })
}

// failbackKeys is how many keys each iteration writes before the failovers.
const failbackKeys = 10000

// failbackWait bounds one manual failover, and waiting for a replica to
// be in sync.
const failbackWait = 30 * time.Second

func benchFailback(b *testing.B, nt time.Duration) {
	requireProvider(b)
	var tf, noop, promote, agreeMaster, agree samples
	var overNoop []float64
	iter := 0
	for b.Loop() {
		b.StopTimer()
		r := failbackIteration(b, nt, iter%2 == 1)
		iter++
		tf = append(tf, r.tf)
		noop = append(noop, r.noop)
		promote = append(promote, r.promote...)
		agreeMaster = append(agreeMaster, r.agreeMaster...)
		agree = append(agree, r.agree...)
		overNoop = append(overNoop, (r.tf - r.noop).Seconds())
		first := map[bool]string{false: "terraform", true: "by hand"}[iter%2 == 0]
		progress(b, "iteration %d (%s first): terraform apply failback %.3fs (no-op apply %.3fs, +%.3fs) | by hand: promote %s, all see the new master %s, all agree %s",
			iter, first, r.tf.Seconds(), r.noop.Seconds(), (r.tf - r.noop).Seconds(), fmtDurations(r.promote), fmtDurations(r.agreeMaster), fmtDurations(r.agree))
		b.StartTimer()
	}
	ratio := tf.mean() / agree.mean()
	b.ReportMetric(tf.mean(), "tf-failback-s")
	b.ReportMetric(noop.mean(), "tf-noop-s")
	b.ReportMetric(meanF(overNoop), "tf-over-noop-s")
	b.ReportMetric(promote.mean(), "manual-promote-s")
	b.ReportMetric(agreeMaster.mean(), "manual-new-master-s")
	b.ReportMetric(agree.mean(), "manual-agree-s")
	b.ReportMetric(ratio, "ratio")
	b.Logf("SUMMARY failback of one shard, 3x(1+1), cluster-node-timeout %s, %d iterations, mean, median (min..max): terraform apply %s; no-op apply %s; apply minus no-op %.3fs; by hand (%d failovers) promote %s, all see the new master %s, all agree %s; terraform/agree %.2f, terraform/promote %.0f; load average %s",
		nt, iter, tf, noop, meanF(overNoop), len(agree), promote, agreeMaster, agree, ratio, tf.mean()/promote.mean(), loadavg())
}

type failbackResult struct {
	tf, noop                    time.Duration
	promote, agreeMaster, agree []time.Duration
}

func failbackIteration(b *testing.B, nt time.Duration, manualFirst bool) (r failbackResult) {
	s := newScope(b)
	defer s.close()
	// No settle wait (startNodes): create time is not measured here.
	nodes := redistest.Start(s, 6, redistest.Options{DistinctHosts: true, NodeTimeout: nt})
	shards := layout(redistest.Addrs(nodes), 3, 1)
	w := newWorkspace(b, clusterConfig(shards))
	out, code, took, err := w.run("apply", "-auto-approve", "-input=false")
	if err != nil || code != 0 {
		s.Fatalf("setup: terraform apply: exit %d, %v, after %s\n%s", code, err, took, tail(out, 30))
	}
	if w.log != "" {
		rotateLog(w.log, "setup")
	}
	want := redistest.Fill(s, nodes, failbackKeys, "failback")
	// Shard i: master nodes[i], replica as in layout.
	m1, r1 := nodes[0], nodes[4]
	m2, r2 := nodes[1], nodes[5]
	for _, p := range [][2]*redistest.Node{{r1, m1}, {r2, m2}, {nodes[3], nodes[2]}} {
		waitInSync(s, p[0], p[1])
	}

	runTF := func() {
		// The replica takes over by hand, untimed; the declared master is
		// then its replica, in sync, and every node agrees.
		manualFailover(s, r1, m1, nodes)
		waitInSync(s, m1, r1)
		waitReady(s, b.Name()+" before failback", nodes, time.Now())

		b.StartTimer()
		out, code, took, err := w.run("apply", "-auto-approve", "-input=false")
		b.StopTimer()
		r.tf = took
		if err != nil || code != 0 {
			msg := fmt.Sprintf("terraform apply (failback): exit %d, %v, after %.3fs\n%s", code, err, took.Seconds(), tail(out, 30))
			if w.log != "" {
				msg += "\ntimeline (s since terraform started):\n" + stageSummary(w.log, w.started)
			}
			s.Fatal(msg)
		}
		if w.log != "" {
			progress(b, "failback apply %.3fs; timeline (s since terraform started):\n%s", took.Seconds(), stageSummary(w.log, w.started))
			rotateLog(w.log, "failback")
		}
		views := readAll(b.Context(), nodes)
		if ok, why := ready(views); !ok {
			s.Errorf("terraform apply returned after %.3fs but the cluster is not ready: %s", took.Seconds(), why)
			late := waitReady(s, b.Name()+" terraform", nodes, time.Now())
			progress(b, "ready %.3fs after terraform returned", late.Seconds())
			views = readAll(b.Context(), nodes)
		}
		checkLayout(s, nodes, views, shards)
		redistest.CheckKeys(s, nodes, want)

		// Terraform's fixed cost: the same command with nothing to do.
		r.noop = w.mustRun(b, 0, "apply", "-auto-approve", "-input=false")
		if w.log != "" {
			rotateLog(w.log, "noop")
		}
	}
	runManual := func() {
		for _, p := range [][2]*redistest.Node{{r2, m2}, {m2, r2}} {
			f := manualFailover(s, p[0], p[1], nodes)
			r.promote = append(r.promote, f.promote)
			r.agreeMaster = append(r.agreeMaster, f.agreeMaster)
			r.agree = append(r.agree, f.agree)
			waitInSync(s, p[1], p[0])
			waitReady(s, b.Name()+" by hand", nodes, time.Now())
		}
	}
	if manualFirst {
		runManual()
		runTF()
	} else {
		runTF()
		runManual()
	}
	redistest.CheckKeys(s, nodes, want)
	return r
}

// manualTimes is one failover by hand, each time counted from sending
// CLUSTER FAILOVER.
type manualTimes struct {
	promote     time.Duration // the replica's ROLE says master
	agreeMaster time.Duration // every node sees it as a master owning the slots
	agree       time.Duration // ... and the old master as its replica
}

// manualFailover sends CLUSTER FAILOVER to replica, whose master is master,
// and times it (manualTimes), polling every millisecond.
func manualFailover(tb testing.TB, replica, master *redistest.Node, nodes []*redistest.Node) (t manualTimes) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), failbackWait)
	defer cancel()
	newID, oldID := redistest.MyID(tb, replica), redistest.MyID(tb, master)
	slots := ownSlots(tb, master, oldID)
	if len(slots) == 0 {
		tb.Fatalf("%s owns no slot: not a master", master.Addr())
	}
	start := time.Now()
	if err := replica.Client().Do(ctx, "CLUSTER", "FAILOVER").Err(); err != nil {
		tb.Fatalf("%s: CLUSTER FAILOVER: %v", replica.Addr(), err)
	}
	for {
		v, err := replica.Client().Do(ctx, "ROLE").Slice()
		if err == nil && len(v) > 0 && v[0] == "master" {
			t.promote = time.Since(start)
			break
		}
		if ctx.Err() != nil {
			tb.Fatalf("%s: not master %s after CLUSTER FAILOVER (ROLE %v, %v)", replica.Addr(), failbackWait, v, err)
		}
		time.Sleep(time.Millisecond)
	}
	for {
		newOK, why := rolesAgree(ctx, nodes, newID, oldID, slots)
		if newOK && t.agreeMaster == 0 {
			t.agreeMaster = time.Since(start)
		}
		if why == "" {
			t.agree = time.Since(start)
			return t
		}
		if ctx.Err() != nil {
			tb.Fatalf("after CLUSTER FAILOVER on %s, nodes still disagree after %s: %s", replica.Addr(), failbackWait, why)
		}
		time.Sleep(time.Millisecond)
	}
}

// ownSlots returns the slot ranges node id owns, as n's CLUSTER NODES says.
func ownSlots(tb testing.TB, n *redistest.Node, id string) []string {
	tb.Helper()
	for _, cn := range redistest.ParseClusterNodes(redistest.ClusterNodes(tb, n)) {
		if cn.ID == id {
			return cn.Slots
		}
	}
	return nil
}

// rolesAgree reads every node's CLUSTER NODES. newOK: all show newID as a
// master owning exactly slots. why is "" once they also all show oldID as a
// replica of newID; otherwise what the first disagreeing node shows.
func rolesAgree(ctx context.Context, nodes []*redistest.Node, newID, oldID string, slots []string) (newOK bool, why string) {
	whys := make([]string, len(nodes))
	newSeen := make([]bool, len(nodes))
	var wg sync.WaitGroup
	for i, n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			text, err := n.Client().ClusterNodes(ctx).Result()
			if err != nil {
				whys[i] = fmt.Sprintf("%s: %v", n.Addr(), err)
				return
			}
			var sawOld bool
			for _, cn := range redistest.ParseClusterNodes(text) {
				switch cn.ID {
				case newID:
					newSeen[i] = cn.HasFlag("master") && slices.Equal(cn.Slots, slots)
				case oldID:
					sawOld = cn.HasFlag("slave") && cn.Master == newID
				}
			}
			if !newSeen[i] || !sawOld {
				whys[i] = fmt.Sprintf("%s: new master as master with %v: %t, old master as its replica: %t", n.Addr(), slots, newSeen[i], sawOld)
			}
		}()
	}
	wg.Wait()
	newOK = !slices.Contains(newSeen, false)
	for _, w := range whys {
		if w != "" {
			return newOK, w
		}
	}
	return newOK, ""
}

// waitInSync waits until replica is a replica of master with the link up and
// has every write master had when the wait began (its offset caught up).
func waitInSync(tb testing.TB, replica, master *redistest.Node) {
	tb.Helper()
	mi := redistest.Info(tb, master, "replication")
	target, _ := strconv.ParseInt(mi["master_repl_offset"], 10, 64)
	deadline := time.Now().Add(failbackWait)
	for {
		ri := redistest.Info(tb, replica, "replication")
		off, _ := strconv.ParseInt(ri["slave_repl_offset"], 10, 64)
		if ri["role"] == "slave" && ri["master_host"] == master.IP() && ri["master_port"] == strconv.Itoa(master.Port()) &&
			ri["master_link_status"] == "up" && off >= target {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("%s is not an in-sync replica of %s after %s: role %s, master %s:%s, link %s, offset %s of %d",
				replica.Addr(), master.Addr(), failbackWait, ri["role"], ri["master_host"], ri["master_port"],
				ri["master_link_status"], ri["slave_repl_offset"], target)
		}
		time.Sleep(pollInterval)
	}
}

func fmtDurations(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = fmt.Sprintf("%.3fs", d.Seconds())
	}
	return strings.Join(parts, " ")
}
