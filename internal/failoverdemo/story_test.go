package failoverdemo

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
	"github.com/tfredis/terraform-provider-redis/internal/tfcli"
)

func TestMain(m *testing.M) {
	code := m.Run()
	tfcli.Cleanup()
	os.Exit(code)
}

// testNode is a redistest node as the story's Node.
type testNode struct {
	t testing.TB
	n *redistest.Node
}

func (x testNode) Addr() string    { return x.n.Addr() }
func (x testNode) Kill() error     { x.n.Kill(x.t); return nil }
func (x testNode) Restart() error  { x.n.Restart(x.t); return nil }
func (x testNode) Running() bool   { return x.n.Running() }
func (x testNode) LogFile() string { return x.n.LogFile() }

// TestAccFailover_story plays `make demo-failover` on six fresh nodes, each
// on its own loopback host: examples/six-node-cluster applied, 1000 keys
// written, shard 1's master killed with kill -9, the failover, plan showing
// the dead node and the hand-back, the restart (it rejoins as a replica),
// plan showing the drift naming both nodes, apply failing back, an empty
// plan, every key kept. Run with -v to read the story.
func TestAccFailover_story(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true, ExtraArgs: []string{"--repl-diskless-sync-delay", "0"}})
	root, err := tfcli.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	w := tfcli.New(t, t.TempDir(), "REDIS_PASSWORD="+nodes[0].Password())
	w.CopyFiles(filepath.Join(root, "examples", "six-node-cluster"), "main.tf", "outputs.tf", "variables.tf", "versions.tf")
	vars := []string{"-var", "nodes=[\"" + strings.Join(redistest.Addrs(nodes), "\", \"") + "\"]"}
	t.Cleanup(func() { w.Run(tfcli.DestroyArgs(vars...)...) })
	w.Apply(vars...)

	s := &Story{R: t, W: w, Vars: vars, Password: nodes[0].Password(), ShowPlans: testing.Verbose()}
	for _, n := range nodes {
		s.Nodes = append(s.Nodes, testNode{t, n})
	}
	start := time.Now()
	s.Precheck()
	s.Run()
	t.Logf("the story took %s", secs(time.Since(start)))
	if s.Failover == 0 || s.Rejoin == 0 || s.FailBack == 0 {
		t.Errorf("a time of the summary is missing: failover %s, rejoin %s, apply %s", s.Failover, s.Rejoin, s.FailBack)
	}
}

// TestAccFailover_precheckRepairs: a run stopped midway (the master killed,
// its replica promoted) is repaired before the story starts: the node is
// started again and apply puts the declaration back.
func TestAccFailover_precheckRepairs(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true, ExtraArgs: []string{"--repl-diskless-sync-delay", "0"}})
	root, err := tfcli.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	w := tfcli.New(t, t.TempDir(), "REDIS_PASSWORD="+nodes[0].Password())
	w.CopyFiles(filepath.Join(root, "examples", "six-node-cluster"), "main.tf", "outputs.tf", "variables.tf", "versions.tf")
	vars := []string{"-var", "nodes=[\"" + strings.Join(redistest.Addrs(nodes), "\", \"") + "\"]"}
	t.Cleanup(func() { w.Run(tfcli.DestroyArgs(vars...)...) })
	w.Apply(vars...)
	s := &Story{R: t, W: w, Vars: vars, Password: nodes[0].Password()}
	for _, n := range nodes {
		s.Nodes = append(s.Nodes, testNode{t, n})
	}
	redistest.WaitFor(t, 30*time.Second, func() bool { return s.replicates(s.replica(), s.master()) }, "the replica's first sync")
	nodes[0].Kill(t)
	s.Precheck()
	if !nodes[0].Running() || s.replication(s.master())["role"] != "master" || !s.replicates(s.replica(), s.master()) {
		t.Errorf("after Precheck: %s running %v, %v", nodes[0].Addr(), nodes[0].Running(), s.replication(s.master()))
	}
	if p := w.Plan(vars...); p.Changes {
		t.Errorf("plan after Precheck has changes:\n%s", w.Show(p))
	}
}

func TestParseElectionLine(t *testing.T) {
	for _, c := range []struct {
		line string
		want string // "" for no election line
	}{
		{"8406:S 14 Jun 2024 10:39:45.168 # Starting a failover election for epoch 7.", "2024-06-14 10:39:45.168"},
		{"8406:S 14 Jun 2024 10:39:45.174 # Failover election won: I'm the new master.", "2024-06-14 10:39:45.174"},
		{"8406:S 14 Jun 2024 10:39:45.175 # configEpoch set to 7 after successful failover", ""},
		{"garbage Starting a failover election", ""},
	} {
		got, ok := parseElectionLine(c.line)
		s := ""
		if ok {
			s = got.Format("2006-01-02 15:04:05.000")
		}
		if s != c.want {
			t.Errorf("parseElectionLine(%q) = %q, want %q", c.line, s, c.want)
		}
	}
	dir := t.TempDir()
	log := filepath.Join(dir, "redis.log")
	body := "1:S 14 Jun 2024 10:39:45.168 # Starting a failover election for epoch 7.\n" +
		"1:S 14 Jun 2024 10:40:01.000 * Ready to accept connections\n" +
		"1:S 15 Jun 2024 11:00:00.500 # Failover election won: I'm the new master.\n"
	if err := os.WriteFile(log, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := lastElection(log).Format("2006-01-02 15:04:05.000"); got != "2024-06-15 11:00:00.500" {
		t.Errorf("lastElection = %s", got)
	}
	if !lastElection(filepath.Join(dir, "none")).IsZero() {
		t.Error("lastElection of a missing log is not zero")
	}
}

func TestPlanValues(t *testing.T) {
	v := map[string]any{
		"shards": []any{map[string]any{"master": "a:1"}, map[string]any{"master": "b:1"}},
		"nodes":  map[string]any{"a:1": map[string]any{"role": "replica"}},
	}
	got := fmt.Sprint(shardMaster(v, 0), shardMaster(v, 1), shardMaster(v, 2), nodeRole(v, "a:1"), nodeRole(v, "c:1"), shardMaster(nil, 0), nodeRole(nil, "a:1"))
	if want := "a:1b:1replica"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
