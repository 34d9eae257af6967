package cluster

import (
	"strings"
	"testing"
)

// healthyFacts gives every node of obs settings and replication facts that
// trigger no warning: persistence on, matching settings, replicas in sync,
// replica migration off.
func healthyFacts(obs *Observed) {
	for _, n := range obs.Nodes {
		n.Config = map[string]string{
			"cluster-node-timeout": "15000", "cluster-require-full-coverage": "yes",
			"cluster-allow-replica-migration": "no", "cluster-migration-barrier": "1",
			"save": "3600 1", "appendonly": "no",
		}
		n.Repl = map[string]string{"role": "master"}
		if self := n.Self(); self != nil && self.IsReplica() {
			n.Repl = map[string]string{"role": "slave", "master_link_status": "up", "master_sync_in_progress": "0"}
		}
	}
}

// sixNodes: three shards, each master with one replica, every node on its
// own host.
func sixNodes() []fakeNode {
	return []fakeNode{
		{addr: "10.0.0.1:6379", id: fid(1), slots: "0-5460"},
		{addr: "10.0.0.2:6379", id: fid(2), slots: "5461-10922"},
		{addr: "10.0.0.3:6379", id: fid(3), slots: "10923-16383"},
		{addr: "10.0.0.4:6379", id: fid(4), master: fid(1)},
		{addr: "10.0.0.5:6379", id: fid(5), master: fid(2)},
		{addr: "10.0.0.6:6379", id: fid(6), master: fid(3)},
	}
}

func warnKinds(ws []Warning) string {
	var out []string
	for _, w := range ws {
		out = append(out, w.Kind)
	}
	return strings.Join(out, ",")
}

func findWarning(ws []Warning, kind string) *Warning {
	for i := range ws {
		if ws[i].Kind == kind {
			return &ws[i]
		}
	}
	return nil
}

func TestSafetyHealthyClusterIsQuiet(t *testing.T) {
	obs := fakeObserved(t, sixNodes())
	healthyFacts(obs)
	if ws := Safety(obs.Node("10.0.0.1:6379").View, obs, true); len(ws) != 0 {
		t.Fatalf("warnings on a healthy cluster: %s\n%+v", warnKinds(ws), ws)
	}
}

// Each condition yields its warning, naming the nodes, and nothing else.
func TestSafetyEachWarning(t *testing.T) {
	cases := []struct {
		name     string
		nodes    func() []fakeNode
		mutate   func(obs *Observed)
		declared bool
		kind     string
		nodesIn  []string
		detail   []string
	}{
		{name: "settings differ", kind: WarnSettingsDiffer, nodes: sixNodes,
			mutate: func(o *Observed) { o.Node("10.0.0.5:6379").Config["cluster-node-timeout"] = "5000" },
			// every node involved, with its value
			nodesIn: []string{"10.0.0.1:6379", "10.0.0.5:6379"},
			detail:  []string{`cluster-node-timeout: "15000" on 10.0.0.1:6379`, `"5000" on 10.0.0.5:6379`}},
		{name: "no persistence", kind: WarnNoPersistence, nodes: sixNodes,
			mutate: func(o *Observed) {
				o.Node("10.0.0.2:6379").Config["save"] = ""
				// a replica without persistence is not a master at risk
				o.Node("10.0.0.4:6379").Config["save"] = ""
			},
			nodesIn: []string{"10.0.0.2:6379"}, detail: []string{"comes back empty", "appendonly"}},
		{name: "replica link down", kind: WarnReplicaNotInSync, nodes: sixNodes,
			mutate:  func(o *Observed) { o.Node("10.0.0.6:6379").Repl["master_link_status"] = "down" },
			nodesIn: []string{"10.0.0.6:6379"}, detail: []string{"10.0.0.6:6379 (replica of 10.0.0.3:6379): its link to the master is down", "refuses to fail over"}},
		{name: "first sync pending", kind: WarnReplicaNotInSync, nodes: sixNodes,
			mutate:  func(o *Observed) { o.Node("10.0.0.4:6379").Repl["master_sync_in_progress"] = "1" },
			nodesIn: []string{"10.0.0.4:6379"}, detail: []string{"first sync is still in progress"}},
		{name: "same host", kind: WarnSameHost, mutate: func(*Observed) {},
			nodes: func() []fakeNode {
				n := sixNodes()
				n[4].addr = "10.0.0.2:6380" // replica of 10.0.0.2:6379 on its host
				return n
			},
			nodesIn: []string{"10.0.0.2:6379", "10.0.0.2:6380"}, detail: []string{"shard of 10.0.0.2:6379", "on 10.0.0.2"}},
		{name: "master without replica", kind: WarnNoFailover, mutate: func(*Observed) {},
			nodes:   func() []fakeNode { return sixNodes()[:5] },
			nodesIn: []string{"10.0.0.3:6379"}, detail: []string{"masters without a replica: 10.0.0.3:6379"}},
		{name: "fewer than three masters", kind: WarnNoFailover, mutate: func(*Observed) {},
			nodes: func() []fakeNode {
				return []fakeNode{
					{addr: "10.0.0.1:6379", id: fid(1), slots: "0-8191"},
					{addr: "10.0.0.2:6379", id: fid(2), slots: "8192-16383"},
					{addr: "10.0.0.4:6379", id: fid(4), master: fid(1)},
					{addr: "10.0.0.5:6379", id: fid(5), master: fid(2)},
				}
			},
			nodesIn: []string{"10.0.0.1:6379", "10.0.0.2:6379"}, detail: []string{"only 2 master(s)"}},
		{name: "replica migration", kind: WarnReplicaMigration, declared: true, nodes: sixNodes,
			mutate: func(o *Observed) {
				for _, n := range o.Nodes {
					n.Config["cluster-allow-replica-migration"] = "yes"
				}
			},
			nodesIn: []string{"10.0.0.3:6379"}, detail: []string{"cluster-allow-replica-migration is yes"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obs := fakeObserved(t, c.nodes())
			healthyFacts(obs)
			c.mutate(obs)
			ws := Safety(obs.Node("10.0.0.1:6379").View, obs, c.declared)
			if len(ws) != 1 || ws[0].Kind != c.kind {
				t.Fatalf("warnings %s, want only %s: %+v", warnKinds(ws), c.kind, ws)
			}
			w := ws[0]
			for _, a := range c.nodesIn {
				if !contains(w.Nodes, a) || !strings.Contains(w.Detail, a) {
					t.Errorf("warning does not name %s: nodes %v\n%s", a, w.Nodes, w.Detail)
				}
			}
			for _, d := range c.detail {
				if !strings.Contains(w.Detail, d) {
					t.Errorf("detail lacks %q:\n%s", d, w.Detail)
				}
			}
			if w.Fix == "" || strings.Contains(w.Detail, "Fix:") {
				t.Errorf("no fix, or the fix in the detail: %q\n%s", w.Fix, w.Detail)
			}
		})
	}
}

// Replica migration concerns declared shards: the data source (declared
// false) does not report it.
func TestSafetyReplicaMigrationOnlyWhenDeclared(t *testing.T) {
	obs := fakeObserved(t, sixNodes())
	healthyFacts(obs)
	for _, n := range obs.Nodes {
		n.Config["cluster-allow-replica-migration"] = "yes"
	}
	if ws := Safety(obs.Node("10.0.0.1:6379").View, obs, false); len(ws) != 0 {
		t.Fatalf("undeclared: %s", warnKinds(ws))
	}
	w := findWarning(Safety(obs.Node("10.0.0.1:6379").View, obs, true), WarnReplicaMigration)
	if w == nil || len(w.Nodes) != 6 {
		t.Fatalf("declared: %+v", w)
	}
}

// A node not read (unreachable) gives no facts: only the topology checks
// see it, and nothing is reported about its settings.
func TestSafetyUnreadNode(t *testing.T) {
	obs := fakeObserved(t, sixNodes())
	healthyFacts(obs)
	obs.Node("10.0.0.5:6379").Err = errTest
	if ws := Safety(obs.Node("10.0.0.1:6379").View, obs, true); len(ws) != 0 {
		t.Fatalf("warnings: %s", warnKinds(ws))
	}
}

type testErr string

func (e testErr) Error() string { return string(e) }

var errTest = testErr("unreachable")

func TestDeclaredSafety(t *testing.T) {
	ws := DeclaredSafety([]Shard{{Master: "10.0.0.1:6379", Replicas: []string{"10.0.0.1:6380"}}})
	if warnKinds(ws) != WarnSameHost+","+WarnNoFailover {
		t.Fatalf("got %s", warnKinds(ws))
	}
	ws = DeclaredSafety([]Shard{
		{Master: "10.0.0.1:6379", Replicas: []string{"10.0.0.4:6379"}},
		{Master: "10.0.0.2:6379", Replicas: []string{"10.0.0.5:6379"}},
		{Master: "10.0.0.3:6379", Replicas: []string{"10.0.0.6:6379"}},
	})
	if len(ws) != 0 {
		t.Fatalf("got %s", warnKinds(ws))
	}
}

func TestAcknowledged(t *testing.T) {
	if !Acknowledged(WarnSameHost, []string{WarnNoFailover, WarnSameHost}) || Acknowledged(WarnSameHost, nil) {
		t.Fatal("Acknowledged")
	}
}
