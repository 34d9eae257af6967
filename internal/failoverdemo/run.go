package failoverdemo

import (
	"bufio"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

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
	am, ar := m.Addr(), r.Addr()
	nt := s.nodeTimeout(r)
	s.waitElectionReset(r, nt)

	// (1) Keys.
	s.step(1, "Writing %d keys %s:0..%d through a cluster client (follows MOVED)", s.Keys, s.Prefix, s.Keys-1)
	want := s.writeKeys()
	onMaster := s.countKeys(m)
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

	// (2) kill -9.
	s.step(2, "kill -9 %s (master of shard 1)", am)
	start := time.Now()
	if err := m.Kill(); err != nil {
		s.R.Fatalf("kill -9 %s: %v", am, err)
	}
	s.say("%s is gone (%s)", am, secs(time.Since(start)))

	// (3) Failover.
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

	// (4) plan, the old master dead.
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

	// (5) The old master back.
	s.step(5, "Restarting %s with its own config and nodes.conf", am)
	s.say("Its nodes.conf still names it master of shard 1 at an older config epoch; the others tell it")
	s.say("%s owns those slots now, so it rejoins as that node's replica and syncs.", ar)
	start, last = time.Now(), ""
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

	// (6) plan, drift.
	s.step(6, "terraform plan   (every node up; %s is a replica)", am)
	p = s.plan()
	s.check(p.Changes, "plan has changes (exit 2)")
	drifted := p.Find("Cluster Drifted")
	s.check(len(drifted) == 1 && drifted[0].Address == Resource && strings.Contains(drifted[0].Detail, am) && strings.Contains(drifted[0].Detail, ar),
		"plan warns \"Cluster Drifted\" naming "+am+" and "+ar, ": ", p.Summaries())
	before, after = s.change(p)
	s.check(nodeRole(before, am) == "replica" && nodeRole(after, am) == "master",
		fmt.Sprintf("the diff hands shard 1 back: %s role \"replica\" -> \"master\"", am),
		fmt.Sprintf(": %q -> %q", nodeRole(before, am), nodeRole(after, am)))
	s.check(nodeRole(before, ar) == "master" && nodeRole(after, ar) == "replica",
		fmt.Sprintf("and %s role \"master\" -> \"replica\"", ar),
		fmt.Sprintf(": %q -> %q", nodeRole(before, ar), nodeRole(after, ar)))
	s.check(len(p.Find("Cluster Node Unreachable")) == 0, "no node is reported unreachable")

	// (7) apply.
	s.step(7, "terraform apply   (fail back: CLUSTER FAILOVER on %s)", am)
	res := s.W.Run(tfcli.ApplyArgs(p.File)...)
	s.FailBack = res.Took
	for _, l := range strings.Split(res.Output, "\n") {
		if strings.HasPrefix(l, Resource+":") || strings.HasPrefix(l, "Apply complete") {
			s.say("  %s", l)
		}
	}
	s.check(res.Code == 0, "apply succeeds in "+secs(res.Took), ": ", res.Err())

	// (8) plan, clean.
	s.step(8, "terraform plan   (after the apply)")
	p = s.plan()
	s.check(!p.Changes, "plan has no changes (exit 0)")
	s.check(len(p.Find("Cluster Drifted"))+len(p.Find("Cluster Node Unreachable")) == 0,
		"plan warns of no drift and no unreachable node", ": ", p.Summaries())

	// (9) Keys and layout.
	s.step(9, "Reading the %d keys back; the cluster's layout", s.Keys)
	s.checkKeys(want)
	back := s.countKeys(m)
	s.check(back == onMaster, fmt.Sprintf("%s holds shard 1's %d keys again", am, onMaster), fmt.Sprintf(": %d", back))
	s.check(s.replication(m)["role"] == "master" && s.replicates(r, m), am+" is master again, "+ar+" its replica")
	s.checkLayout()

	s.R.Logf("==> Summary")
	s.say("failover: %s from kill -9 to %s role:master (cluster-node-timeout %s)", secs(s.Failover), ar, nt)
	s.say("rejoin:   %s from restart to %s an in-sync replica", secs(s.Rejoin), am)
	s.say("apply:    %s for terraform apply to fail back", secs(s.FailBack))
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

func (s *Story) clusterClient() *redis.ClusterClient {
	addrs := make([]string, len(s.Nodes))
	for i, n := range s.Nodes {
		addrs[i] = n.Addr()
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Password: s.Password,
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second, Protocol: 2})
}

// writeKeys writes Keys keys with values unique to this run and returns them.
func (s *Story) writeKeys() map[string]string {
	s.R.Helper()
	c := s.clusterClient()
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	token := time.Now().UnixNano()
	want := make(map[string]string, s.Keys)
	for i := range s.Keys {
		k, v := fmt.Sprintf("%s:%d", s.Prefix, i), fmt.Sprintf("%d:%d", token, i)
		if err := c.Set(ctx, k, v, 0).Err(); err != nil {
			s.R.Fatalf("SET %s: %v", k, err)
		}
		want[k] = v
	}
	return want
}

// checkKeys reads every key back and compares the values.
func (s *Story) checkKeys(want map[string]string) {
	s.R.Helper()
	c := s.clusterClient()
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	found, same := 0, 0
	hw, hg := sha256.New(), sha256.New()
	for i := range s.Keys {
		k := fmt.Sprintf("%s:%d", s.Prefix, i)
		v, err := c.Get(ctx, k).Result()
		if err == nil {
			found++
		}
		if v == want[k] {
			same++
		}
		fmt.Fprintln(hw, want[k])
		fmt.Fprintln(hg, v)
	}
	s.say("%d of %d keys exist; checksum of their values %x (written: %x)", found, s.Keys, hg.Sum(nil)[:8], hw.Sum(nil)[:8])
	s.check(found == s.Keys, fmt.Sprintf("all %d keys exist", s.Keys), fmt.Sprintf(": %d", found))
	s.check(same == s.Keys, "every value is the one written", fmt.Sprintf(": %d of %d", same, s.Keys))
}

// countKeys counts the story's keys on one node (SCAN MATCH).
func (s *Story) countKeys(n Node) int {
	s.R.Helper()
	c := s.client(n)
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	count := 0
	iter := c.Scan(ctx, 0, s.Prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		count++
	}
	if err := iter.Err(); err != nil {
		s.R.Fatalf("SCAN on %s: %v", n.Addr(), err)
	}
	return count
}

// waitElectionReset waits, when the replica ran a failover election
// recently, until killing its master is safe. Redis 7.0 keeps a replica's
// election (its start time, votes and config epoch) after it won, even after
// it became a replica again. If its master fails within auth_timeout =
// max(2 x cluster-node-timeout, 2 s) of that election's start, the replica
// counts the old votes, "wins" at once with its old epoch, and the others
// ignore it; between auth_timeout and 2 x auth_timeout it starts no election
// at all. So wait until the master's failure will be detected (after
// cluster-node-timeout) later than 2 x auth_timeout after the replica's
// last election, as its log gives it.
func (s *Story) waitElectionReset(r Node, nt time.Duration) {
	s.R.Helper()
	last := lastElection(r.LogFile())
	if last.IsZero() {
		return
	}
	auth := max(2*nt, 2*time.Second)
	until := last.Add(2*auth - nt + 2*time.Second)
	if wait := time.Until(until); wait > 0 {
		s.say("%s ran a failover election %s ago. Redis 7.0 reuses a replica's election (votes and", r.Addr(), secs(time.Since(last)))
		s.say("config epoch) for %s: a failover now would \"win\" with a stale epoch the others ignore.", 2*auth)
		s.say("Waiting %s first.", secs(wait))
		time.Sleep(wait)
	}
}

// lastElection is when the log at path last shows a failover election
// started or won (zero if never, or no log).
func lastElection(path string) time.Time {
	f, err := os.Open(path)
	if err != nil {
		return time.Time{}
	}
	defer func() { _ = f.Close() }()
	var last time.Time
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for sc.Scan() {
		if t, ok := parseElectionLine(sc.Text()); ok {
			last = t
		}
	}
	return last
}

// parseElectionLine reads the time of a log line such as
// "8406:S 14 Jun 2024 10:39:45.168 # Starting a failover election for epoch 7."
// (local time), if it is an election line.
func parseElectionLine(line string) (time.Time, bool) {
	if !strings.Contains(line, "Starting a failover election") && !strings.Contains(line, "Failover election won") {
		return time.Time{}, false
	}
	f := strings.Fields(line)
	if len(f) < 5 {
		return time.Time{}, false
	}
	t, err := time.ParseInLocation("2 Jan 2006 15:04:05.000", strings.Join(f[1:5], " "), time.Local)
	if err != nil {
		return time.Time{}, false
	}
	return t, true
}
