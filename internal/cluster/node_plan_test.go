package cluster

import (
	"errors"
	"strings"
	"testing"
)

func planLine(id, addr, flags, master, slots string) string {
	return id + " " + addr + "@16379 " + flags + " " + master + " 0 0 1 connected " + slots
}

func stepsOf(steps []Step) string {
	var out []string
	for _, s := range steps {
		out = append(out, s.String())
	}
	return strings.Join(out, "; ")
}

// A new, empty master declared with exactly the slots another master
// serves takes that shard over by replication and failover; in every other
// case the slots move with their keys.
func TestNodePlanTakeover(t *testing.T) {
	const a, b = "10.0.0.1:6379", "10.0.0.2:6379"
	spec := NodeSpec{Addr: a, Role: RoleMaster, Slots: nodeSlots(t, "0-100"), Seeds: []string{b}}
	newNode := func(keys int64, bFlags string) *NodeState {
		return nodeObs(t, a, nidA, keys, "101",
			planLine(nidA, a, "myself,master", "-", ""),
			planLine(nidB, b, bFlags, "-", "0-100"))
	}
	acting := func(slots string) *NodeState {
		return nodeObs(t, b, nidB, 5, "101",
			planLine(nidB, b, "myself,master", "-", slots),
			planLine(nidA, a, "master", "-", ""))
	}
	p, err := NodePlan(spec, nodeObsOf(newNode(0, "master"), acting("0-100")), NodePlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if p.Takeover != b || len(p.Steps) == 0 || p.Steps[0].Kind != StepReplicate || p.Steps[0].Target != b {
		t.Fatalf("exact shard: takeover %q, steps %s", p.Takeover, stepsOf(p.Steps))
	}
	// Once it follows the acting master, the next step is the failover.
	follower := nodeObs(t, a, nidA, 5, "101",
		planLine(nidA, a, "myself,slave", nidB, ""),
		planLine(nidB, b, "master", "-", "0-100"))
	bWithReplica := nodeObs(t, b, nidB, 5, "101",
		planLine(nidB, b, "myself,master", "-", "0-100"),
		planLine(nidA, a, "slave", nidB, ""))
	p, err = NodePlan(spec, nodeObsOf(follower, bWithReplica), NodePlanOptions{TakingOver: b})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Steps) == 0 || p.Steps[0].Kind != StepFailover || p.Steps[0].Addr != a {
		t.Fatalf("following the acting master: steps %s", stepsOf(p.Steps))
	}
	for name, obs := range map[string]*Observed{
		"owner serves more": nodeObsOf(newNode(0, "master"), acting("0-200")),
		"node holds keys":   nodeObsOf(newNode(3, "master"), acting("0-100")),
		"owner failing":     nodeObsOf(newNode(0, "master,fail?"), acting("0-100")),
	} {
		p, err := NodePlan(spec, obs, NodePlanOptions{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if p.Takeover != "" {
			t.Errorf("%s: took over from %s; want slots moved with MIGRATE", name, p.Takeover)
		}
		if len(p.Steps) == 0 || p.Steps[0].Kind != StepMoveSlots || p.Steps[0].Addr != b || p.Steps[0].Target != a {
			t.Errorf("%s: steps %s; want a move from %s", name, stepsOf(p.Steps), b)
		}
	}
	// The master handing its slots off (its resource is deleting it): the
	// slots come with their keys.
	p, err = NodePlan(spec, nodeObsOf(newNode(0, "master"), acting("0-100")), NodePlanOptions{NoTakeover: true})
	if err != nil || p.Takeover != "" || len(p.Steps) == 0 || p.Steps[0].Kind != StepMoveSlots {
		t.Fatalf("no takeover: %v, %q, %s", err, p.Takeover, stepsOf(p.Steps))
	}
	// An owner nobody can read: the plan cannot tell where its slots go.
	unread := &NodeState{Addr: b, Err: errors.New("dial tcp 10.0.0.2:6379: connection refused")}
	if _, err := NodePlan(spec, nodeObsOf(newNode(0, "master"), unread), NodePlanOptions{}); err == nil || !strings.Contains(err.Error(), "cannot be read") {
		t.Fatalf("unreadable owner: %v", err)
	}
}

// The node's plan touches only the node: a replica joining a cluster whose
// other members do not know each other meets only its own peers and
// re-points only itself.
func TestNodePlanScope(t *testing.T) {
	const a, b, c = "10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"
	spec := NodeSpec{Addr: c, Role: RoleReplica, Master: a, Seeds: []string{b}}
	obs := nodeObsOf(
		nodeObs(t, a, nidA, 0, "8192", planLine(nidA, a, "myself,master", "-", "0-8191")),
		nodeObs(t, b, nidB, 0, "8192", planLine(nidB, b, "myself,master", "-", "8192-16383")),
		nodeObs(t, c, nidC, 0, "0", planLine(nidC, c, "myself,master", "-", "")),
	)
	p, err := NodePlan(spec, obs, NodePlanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Steps {
		if s.Addr != c && s.Target != c {
			t.Errorf("step %s does not involve %s", s, c)
		}
	}
	met := map[string]bool{}
	for _, s := range p.Steps {
		if s.Kind == StepMeet {
			met[s.Addr+s.Target] = true
		}
	}
	got := stepsOf(p.Steps)
	if metAC, metBC := met[a+c] || met[c+a], met[b+c] || met[c+b]; !metAC || !metBC || !strings.Contains(got, c+": replicate "+a) {
		t.Fatalf("steps %s; want %s to meet %s and %s and replicate %s", got, c, a, b, a)
	}
	// A declared master that is itself a replica just now: wait.
	obs.Nodes[a] = nodeObs(t, a, nidA, 0, "16384", planLine(nidA, a, "myself,slave", nidB, ""), planLine(nidB, b, "master", "-", "0-16383"))
	obs.Nodes[b] = nodeObs(t, b, nidB, 0, "16384", planLine(nidB, b, "myself,master", "-", "0-16383"), planLine(nidA, a, "slave", nidB, ""))
	p, err = NodePlan(spec, obs, NodePlanOptions{})
	if err != nil || p.Wait == "" || len(p.Steps) > 0 {
		t.Fatalf("master is a replica: %v, wait %q, steps %s", err, p.Wait, stepsOf(p.Steps))
	}
}

// A failover swapped the node and its declared partner: with failback the
// plan hands the shard back; without, it changes nothing and says so.
func TestNodePlanSwapped(t *testing.T) {
	const a, b = "10.0.0.1:6379", "10.0.0.2:6379"
	aObs := nodeObs(t, a, nidA, 5, "16384", planLine(nidA, a, "myself,slave", nidB, ""), planLine(nidB, b, "master", "-", "0-16383"))
	bObs := nodeObs(t, b, nidB, 5, "16384", planLine(nidB, b, "myself,master", "-", "0-16383"), planLine(nidA, a, "slave", nidB, ""))
	for _, spec := range []NodeSpec{
		{Addr: a, Role: RoleMaster, Slots: nodeSlots(t, "0-16383"), Seeds: []string{b}},
		{Addr: b, Role: RoleReplica, Master: a},
	} {
		p, err := NodePlan(spec, nodeObsOf(aObs, bObs), NodePlanOptions{})
		if err != nil || !p.Swapped || len(p.Steps) > 0 {
			t.Fatalf("%s without failback: %v, swapped %v, steps %s", spec.Addr, err, p.Swapped, stepsOf(p.Steps))
		}
		spec.Failback = true
		p, err = NodePlan(spec, nodeObsOf(aObs, bObs), NodePlanOptions{})
		if err != nil || p.Swapped || len(p.Steps) == 0 || p.Steps[0].Kind != StepFailover || p.Steps[0].Addr != a {
			t.Fatalf("%s with failback: %v, steps %s", spec.Addr, err, stepsOf(p.Steps))
		}
	}
}
