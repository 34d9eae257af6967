package failoverdemo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/tfcli"
)

// Precheck makes sure the cluster is as declared before the story starts,
// repairing what a run stopped midway leaves behind: a stopped node is
// started again (after its replica took over, so it does not come back
// empty as a master), and a plan with changes is applied first. It stops
// through Fatalf when the cluster cannot be put back.
func (s *Story) Precheck() {
	s.R.Helper()
	if s.Keys == 0 {
		s.Keys = 1000
	}
	if s.Prefix == "" {
		s.Prefix = "demo:failover"
	}
	if len(s.Nodes) != 6 {
		s.R.Fatalf("the story needs the six nodes of examples/six-node-cluster, got %d", len(s.Nodes))
	}
	for _, n := range s.Nodes {
		if n.Running() {
			continue
		}
		s.say("%s is down (a previous run stopped midway?)", n.Addr())
		// The nodes keep no data on disk: a master restarted before its
		// replica took over comes back empty, and the replica would copy
		// that. Wait for the failover first.
		if !waitUntil(4*s.nodeTimeout(s.other(n))+30*time.Second, func() bool { return !s.servedBy(n) }) {
			s.say("the others still see it serving slots; starting it anyway (it comes back empty)")
		}
		if err := n.Restart(); err != nil {
			s.R.Fatalf("start %s again: %v", n.Addr(), err)
		}
		s.say("started %s again with its own config", n.Addr())
	}
	p := s.W.Plan(s.Vars...)
	if p.Changes {
		s.say("terraform plan shows changes: putting the declaration back first")
		s.W.Apply(s.Vars...)
		if p := s.W.Plan(s.Vars...); p.Changes {
			s.R.Fatalf("terraform plan still shows changes after apply:\n%s", s.W.Show(p))
		}
	}
	s.say("terraform plan: no changes; the cluster is as declared")
	m, r := s.master(), s.replica()
	if role := s.replication(m)["role"]; role != "master" {
		s.R.Fatalf("%s is %q, not a master, although plan is empty", m.Addr(), role)
	}
	if !s.replicates(r, m) {
		s.R.Fatalf("%s does not replicate %s although plan is empty", r.Addr(), m.Addr())
	}
}

// other is a node other than n.
func (s *Story) other(n Node) Node {
	for _, o := range s.Nodes {
		if o.Addr() != n.Addr() {
			return o
		}
	}
	return n
}

// servedBy tells whether any live node sees n as a master owning slots.
func (s *Story) servedBy(n Node) bool {
	for _, o := range s.Nodes {
		if o.Addr() == n.Addr() || !o.Running() {
			continue
		}
		if cn := s.seenAs(o, n.Addr()); strings.Contains(cn.flags, "master") && len(cn.slots) > 0 {
			return true
		}
	}
	return false
}

// replicates tells whether r is a replica of m with its link up.
func (s *Story) replicates(r, m Node) bool {
	info := s.replication(r)
	host, port := hostPort(m.Addr())
	return info["role"] == "slave" && info["master_host"] == host && info["master_port"] == fmt.Sprint(port) &&
		info["master_link_status"] == "up"
}

// Run plays the story; Precheck must have run.
func (s *Story) Run() {
	s.R.Helper()
	m, r := s.master(), s.replica()
	nt := s.nodeTimeout(r)
	s.waitElectionReset(r, nt)

	want, onMaster := s.stepKeys(m, r)
	start := s.stepKill(m)
	s.stepFailover(m, r, nt, start)
	s.stepPlanDead(m, r)
	s.stepRejoin(m, r)
	p := s.stepPlanDrift(m, r)
	s.stepApply(m, p)
	s.stepPlanClean()
	s.stepKeysBack(m, r, want, onMaster)

	s.R.Logf("==> Summary")
	s.say("failover: %s from kill -9 to %s role:master (cluster-node-timeout %s)", secs(s.Failover), r.Addr(), nt)
	s.say("rejoin:   %s from restart to %s an in-sync replica", secs(s.Rejoin), m.Addr())
	s.say("apply:    %s for terraform apply to fail back", secs(s.FailBack))
}

// stepKeys (1) writes the keys through a cluster client and waits until
// the replica r has every write of the master m, so the kill -9 cannot
// lose any. It returns the keys and how many of them live on m.
func (s *Story) stepKeys(m, r Node) (want map[string]string, onMaster int) {
	s.R.Helper()
	am, ar := m.Addr(), r.Addr()
	s.step(1, "Writing %d keys %s:0..%d through a cluster client (follows MOVED)", s.Keys, s.Prefix, s.Keys-1)
	want = s.writeKeys()
	onMaster = s.countKeys(m)
	s.say("%d keys written; %d of them live on shard 1 (master %s)", len(want), onMaster, am)
	// Replication is asynchronous: wait until the replica has every write
	// the master acknowledged, so the kill -9 below cannot lose any.
	moff := s.replication(m)["master_repl_offset"]
	if !waitUntil(10*time.Second, func() bool {
		return atoi(s.replication(r)["slave_repl_offset"]) >= atoi(moff)
	}) {
		s.R.Fatalf("%s did not catch up with %s within 10 s (master offset %s)", ar, am, moff)
	}
	s.say("%s has every write of %s (replication offset >= %s)", ar, am, moff)
	return want, onMaster
}

// stepKill (2) kills the master m with SIGKILL and returns when it did.
func (s *Story) stepKill(m Node) time.Time {
	s.R.Helper()
	am := m.Addr()
	s.step(2, "kill -9 %s (master of shard 1)", am)
	start := time.Now()
	if err := m.Kill(); err != nil {
		s.R.Fatalf("kill -9 %s: %v", am, err)
	}
	s.say("%s is gone (%s)", am, secs(time.Since(start)))
	return start
}

// stepFailover (3) waits until the replica r wins the failover and every
// live node sees it as the owner of shard 1's slots.
func (s *Story) stepFailover(m, r Node, nt time.Duration, start time.Time) {
	s.R.Helper()
	am, ar := m.Addr(), r.Addr()
	s.step(3, "Waiting for %s to win the failover (INFO replication role:master)", ar)
	s.say("The others flag %s fail? after cluster-node-timeout (%s), then fail; its replica then runs for election.", am, nt)
	last := ""
	if !waitUntil(4*nt+30*time.Second, func() bool {
		role := s.replication(r)["role"]
		cur := fmt.Sprintf("%s role:%s; it sees %s as %s", ar, role, am, s.seenAs(r, am).flags)
		if cur != last {
			s.say("%8.3fs  %s", time.Since(start).Seconds(), cur)
			last = cur
		}
		return role == "master"
	}) {
		s.R.Fatalf("%s was not promoted within %s of the kill", ar, 4*nt+30*time.Second)
	}
	s.Failover = time.Since(start)
	s.say("%s is master %s after the kill", ar, secs(s.Failover))
	// The others must accept it as the owner of shard 1's slots (they do not
	// when it won with a stale epoch; see waitElectionReset).
	var behind []string
	waitUntil(10*time.Second, func() bool {
		behind = nil
		for _, o := range s.Nodes[1:] {
			if owner := s.slot0Owner(o); owner != ar {
				behind = append(behind, o.Addr()+" sees "+owner)
			}
		}
		return len(behind) == 0
	})
	if !s.check(len(behind) == 0, "every live node sees "+ar+" as the owner of slot 0", ": ", behind) {
		s.R.Fatalf("%s is left dead: the cluster does not agree on the failover", am)
	}
}

// stepPlanDead (4) plans with the old master m dead: the plan warns that
// it is unreachable and hands shard 1 back to it.
func (s *Story) stepPlanDead(m, r Node) {
	s.R.Helper()
	am, ar := m.Addr(), r.Addr()
	s.step(4, "terraform plan   (%s still dead)", am)
	p := s.plan()
	s.check(p.Changes, "plan has changes (exit 2)")
	unreachable := p.Find("Cluster Node Unreachable")
	s.check(len(unreachable) > 0 && strings.Contains(joinDetails(unreachable), "node "+am+": unreachable"),
		"plan warns that "+am+" is unreachable", ": ", p.Summaries())
	before, after := s.change(p)
	s.check(shardMaster(before, 0) == ar && shardMaster(after, 0) == am,
		fmt.Sprintf("the diff hands shard 1 back: master %q -> %q", ar, am),
		fmt.Sprintf(": master %q -> %q", shardMaster(before, 0), shardMaster(after, 0)))
}

// stepRejoin (5) restarts the old master m and waits until it is an
// in-sync replica of r.
func (s *Story) stepRejoin(m, r Node) {
	s.R.Helper()
	am, ar := m.Addr(), r.Addr()
	s.step(5, "Restarting %s with its own config and nodes.conf", am)
	s.say("Its nodes.conf still names it master of shard 1 at an older config epoch; the others tell it")
	s.say("%s owns those slots now, so it rejoins as that node's replica and syncs.", ar)
	start, last := time.Now(), ""
	if err := m.Restart(); err != nil {
		s.R.Fatalf("restart %s: %v", am, err)
	}
	if !waitUntil(60*time.Second, func() bool {
		info := s.replication(m)
		cur := fmt.Sprintf("%s role:%s master:%s:%s link:%s", am, info["role"], info["master_host"], info["master_port"], info["master_link_status"])
		if cur != last {
			s.say("%8.3fs  %s", time.Since(start).Seconds(), cur)
			last = cur
		}
		return s.replicates(m, r)
	}) {
		s.R.Fatalf("%s did not become an in-sync replica of %s within 60 s", am, ar)
	}
	s.Rejoin = time.Since(start)
	s.say("%s is a replica of %s, in sync, %s after the restart", am, ar, secs(s.Rejoin))
}

// stepPlanDrift (6) plans with every node up and m a replica: the plan
// warns of drift and swaps the roles back. It returns the plan to apply.
func (s *Story) stepPlanDrift(m, r Node) *tfcli.Plan {
	s.R.Helper()
	am, ar := m.Addr(), r.Addr()
	s.step(6, "terraform plan   (every node up; %s is a replica)", am)
	p := s.plan()
	s.check(p.Changes, "plan has changes (exit 2)")
	drifted := p.Find("Cluster Drifted")
	s.check(len(drifted) == 1 && drifted[0].Address == Resource && strings.Contains(drifted[0].Detail, am) && strings.Contains(drifted[0].Detail, ar),
		"plan warns \"Cluster Drifted\" naming "+am+" and "+ar, ": ", p.Summaries())
	before, after := s.change(p)
	s.check(nodeRole(before, am) == "replica" && nodeRole(after, am) == "master",
		fmt.Sprintf("the diff hands shard 1 back: %s role \"replica\" -> \"master\"", am),
		fmt.Sprintf(": %q -> %q", nodeRole(before, am), nodeRole(after, am)))
	s.check(nodeRole(before, ar) == "master" && nodeRole(after, ar) == "replica",
		fmt.Sprintf("and %s role \"master\" -> \"replica\"", ar),
		fmt.Sprintf(": %q -> %q", nodeRole(before, ar), nodeRole(after, ar)))
	s.check(len(p.Find("Cluster Node Unreachable")) == 0, "no node is reported unreachable")
	return p
}

// stepApply (7) applies the plan p, which fails shard 1 back to m.
func (s *Story) stepApply(m Node, p *tfcli.Plan) {
	s.R.Helper()
	s.step(7, "terraform apply   (fail back: CLUSTER FAILOVER on %s)", m.Addr())
	res := s.W.Run(tfcli.ApplyArgs(p.File)...)
	s.FailBack = res.Took
	for _, l := range strings.Split(res.Output, "\n") {
		if strings.HasPrefix(l, Resource+":") || strings.HasPrefix(l, "Apply complete") {
			s.say("  %s", l)
		}
	}
	s.check(res.Code == 0, "apply succeeds in "+secs(res.Took), ": ", res.Err())
}

// stepPlanClean (8) plans after the apply: no change, drift or unreachable node.
func (s *Story) stepPlanClean() {
	s.R.Helper()
	s.step(8, "terraform plan   (after the apply)")
	p := s.plan()
	s.check(!p.Changes, "plan has no changes (exit 0)")
	s.check(len(p.Find("Cluster Drifted"))+len(p.Find("Cluster Node Unreachable")) == 0,
		"plan warns of no drift and no unreachable node", ": ", p.Summaries())
}

// stepKeysBack (9) reads the keys back and checks that m holds shard 1's
// keys again as master, with r its replica, and the cluster's layout.
func (s *Story) stepKeysBack(m, r Node, want map[string]string, onMaster int) {
	s.R.Helper()
	am, ar := m.Addr(), r.Addr()
	s.step(9, "Reading the %d keys back; the cluster's layout", s.Keys)
	s.checkKeys(want)
	back := s.countKeys(m)
	s.check(back == onMaster, fmt.Sprintf("%s holds shard 1's %d keys again", am, onMaster), fmt.Sprintf(": %d", back))
	s.check(s.replication(m)["role"] == "master" && s.replicates(r, m), am+" is master again, "+ar+" its replica")
	s.checkLayout()
}

// storyWarnings are the warnings the story is about; the others (the
// safety warnings the example's nodes raise at every plan) are only named.
var storyWarnings = map[string]bool{"Cluster Node Unreachable": true, "Cluster Drifted": true}

// checkLayout checks every node's view (the checks of redis-cli --cluster
// check that matter here): cluster_state:ok, shard 1's master serving
// 0-5460, its replica following it; and shows redis-cli --cluster check
// when redis-cli is on PATH.
func (s *Story) checkLayout() {
	s.R.Helper()
	m, r := s.master(), s.replica()
	var bad []string
	for _, n := range s.Nodes {
		if st := s.clusterInfo(n)["cluster_state"]; st != "ok" {
			bad = append(bad, n.Addr()+" reports cluster_state:"+st)
		}
		cm, cr := s.seenAs(n, m.Addr()), s.seenAs(n, r.Addr())
		if !strings.Contains(cm.flags, "master") || strings.Join(cm.slots, " ") != "0-5460" {
			bad = append(bad, fmt.Sprintf("%s sees %s as %s %v", n.Addr(), m.Addr(), cm.flags, cm.slots))
		}
		if !strings.Contains(cr.flags, "slave") || cr.master != cm.id {
			bad = append(bad, fmt.Sprintf("%s sees %s as %s of %s", n.Addr(), r.Addr(), cr.flags, cr.master))
		}
	}
	s.check(len(bad) == 0, "every node reports cluster_state:ok and sees "+m.Addr()+" serving 0-5460, "+r.Addr()+" its replica", ": ", bad)
	if _, err := exec.LookPath("redis-cli"); err != nil {
		return
	}
	host, port := hostPort(m.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "redis-cli", "-h", host, "-p", fmt.Sprint(port), "--cluster", "check", m.Addr())
	cmd.Env = append(os.Environ(), "REDISCLI_AUTH="+s.Password)
	out, err := cmd.CombinedOutput()
	s.say("redis-cli --cluster check %s", m.Addr())
	for _, l := range strings.Split(strings.TrimRight(ansi.ReplaceAllString(string(out), ""), "\n"), "\n") {
		s.say("  %s", l)
	}
	s.check(err == nil, "redis-cli --cluster check passes", ": ", err)
}

// ansi matches the colour codes redis-cli writes even to a pipe.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*m")

// plan runs terraform plan and shows its warnings (and diff, if asked).
func (s *Story) plan() *tfcli.Plan {
	s.R.Helper()
	p := s.W.Plan(s.Vars...)
	if s.ShowPlans {
		for _, l := range strings.Split(strings.TrimRight(s.W.Show(p), "\n"), "\n") {
			s.say("  %s", l)
		}
	}
	var others []string
	for _, d := range p.Diagnostics {
		if !storyWarnings[d.Summary] {
			if !slices.Contains(others, d.Summary) {
				others = append(others, d.Summary)
			}
			continue
		}
		for _, l := range strings.Split(d.String(), "\n") {
			s.say("  %s", l)
		}
	}
	if len(others) > 0 {
		s.say("  (and the example's standing safety warnings: %s)", strings.Join(others, ", "))
	}
	return p
}

// change returns the resource's values before and after the plan (nil when
// it plans no change).
func (s *Story) change(p *tfcli.Plan) (before, after any) {
	rc := p.ResourceChange(Resource)
	if rc == nil || rc.Change == nil {
		return nil, nil
	}
	return rc.Change.Before, rc.Change.After
}

func shardMaster(v any, i int) string {
	obj, _ := v.(map[string]any)
	shards, _ := obj["shards"].([]any)
	if i >= len(shards) {
		return ""
	}
	sh, _ := shards[i].(map[string]any)
	m, _ := sh["master"].(string)
	return m
}

func nodeRole(v any, addr string) string {
	obj, _ := v.(map[string]any)
	nodes, _ := obj["nodes"].(map[string]any)
	n, _ := nodes[addr].(map[string]any)
	r, _ := n["role"].(string)
	return r
}

func joinDetails(ds []tfcli.Diagnostic) string {
	var sb strings.Builder
	for _, d := range ds {
		sb.WriteString(d.Detail + "\n")
	}
	return sb.String()
}

func atoi(s string) int64 {
	var n int64
	_, _ = fmt.Sscan(s, &n)
	return n
}
