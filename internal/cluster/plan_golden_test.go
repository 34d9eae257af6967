package cluster

import (
	"crypto/sha256"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// updateGolden rewrites testdata/plan_golden*.txt from the current Plan:
// go test ./internal/cluster -run TestPlanGolden -update-golden.
var updateGolden = flag.Bool("update-golden", false, "rewrite the Plan golden files")

// renderPlan writes every field of every step (or the error) so that any
// change in Plan's output, order or wording changes the text.
func renderPlan(steps []Step, err error) string {
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "error: %s\n", err)
	}
	for _, s := range steps {
		fmt.Fprintf(&b, "%d %s\n", s.Kind, s)
		fmt.Fprintf(&b, "\tfields: addr=%s target=%s id=%s slots=%s epoch=%d meet=%s:%d@%d wave=%d\n",
			s.Addr, s.Target, s.TargetID, s.Slots, s.Epoch, s.IP, s.Port, s.BusPort, s.Wave)
		if len(s.Settings) > 0 {
			fmt.Fprintf(&b, "\tsettings: %v\n", s.Settings)
		}
		if s.Expect != nil {
			fmt.Fprintf(&b, "\texpect: %+v\n", *s.Expect)
		}
		if s.Why != "" {
			fmt.Fprintf(&b, "\twhy: %s\n", s.Why)
		}
	}
	return b.String()
}

// mutateHealthy applies one of FuzzPlan's mutations (plus an open slot,
// what%6 == 5) to nodes, whose first six are healthy3x2.
func mutateHealthy(nodes []fakeNode, who, what uint8, slot uint16, forget uint8) []fakeNode {
	i := int(who) % len(nodes)
	switch what % 6 {
	case 0: // promote a replica over its master
		if nodes[i].master != "" {
			for j := range nodes {
				if nodes[j].id == nodes[i].master {
					nodes[i].slots, nodes[j].slots = nodes[j].slots, ""
					nodes[j].master = nodes[i].id
				}
			}
			nodes[i].master = ""
		}
	case 1: // point a replica elsewhere
		if nodes[i].master != "" {
			nodes[i].master = fid(1 + int(slot)%3)
		}
	case 2: // a lone, fresh node
		nodes[i] = fakeNode{addr: nodes[i].addr, id: fid(50 + i), knows: []string{}}
	case 3: // move one slot between masters
		s := int(slot) % SlotCount
		from := s * 3 / SlotCount
		to := (from + 1) % 3
		src, _ := ParseSlotSet(strings.Split(nodes[from].slots, ","))
		dst, _ := ParseSlotSet(strings.Split(nodes[to].slots, ","))
		src.Remove(s)
		dst.Add(s)
		nodes[from].slots, nodes[to].slots = src.String(), dst.String()
	case 4: // a node forgets another
		var ks []string
		for j := range nodes {
			if j != int(forget)%len(nodes) && j != i {
				ks = append(ks, nodes[j].id)
			}
		}
		nodes[i].knows = ks
	}
	return nodes
}

// markMigrating marks slot migrating on the node at addr (what%6 == 5).
func markMigrating(obs *Observed, addr string, slot int) {
	n := obs.Node(addr)
	for k := range n.View {
		if n.View[k].Myself() {
			n.View[k].Migrating = map[int]string{slot: fid(2)}
		}
	}
}

type goldenDesired struct {
	name string
	d    func(failback bool) Desired
}

// goldenDesireds are declarations the tests use: the walkthrough's,
// swapped ranges, a scale-out, a scale-in, a takeover, an emptied master
// declared a replica, and declared settings.
func goldenDesireds() []goldenDesired {
	return []goldenDesired{
		{"3x2", desired3x2},
		{"swapped", func(fb bool) Desired {
			d := desired3x2(fb)
			d.Shards[0].Slots, d.Shards[1].Slots = d.Shards[1].Slots, d.Shards[0].Slots
			return d
		}},
		{"scale-out", func(fb bool) Desired {
			split := EvenSplit(4)
			d := desired3x2(fb)
			d.Shards = append(d.Shards, Shard{Master: "10.0.0.21:6379", Replicas: []string{"10.0.0.22:6379"}})
			for i := range d.Shards {
				d.Shards[i].Slots = split[i]
			}
			return d
		}},
		{"scale-in", func(fb bool) Desired {
			split := EvenSplit(2)
			d := desired3x2(fb)
			d.Shards = d.Shards[:2]
			d.Shards[0].Slots, d.Shards[1].Slots = split[0], split[1]
			d.Remove = []string{"10.0.0.13:6379", "10.0.0.14:6379"}
			return d
		}},
		{"takeover", func(fb bool) Desired {
			d := desired3x2(fb)
			d.Shards[0].Master = "10.0.0.21:6379"
			d.Remove = []string{"10.0.0.11:6379"}
			return d
		}},
		{"emptied", func(fb bool) Desired {
			split := EvenSplit(2)
			return Desired{Failback: fb, Shards: []Shard{
				{Master: "10.0.0.11:6379", Replicas: []string{"10.0.0.15:6379", "10.0.0.12:6379"}, Slots: split[0]},
				{Master: "10.0.0.13:6379", Replicas: []string{"10.0.0.14:6379", "10.0.0.16:6379"}, Slots: split[1]},
			}}
		}},
		{"config", func(fb bool) Desired {
			d := desired3x2(fb)
			d.Config = map[string]string{"cluster-node-timeout": "15000", "hz": "10"}
			return d
		}},
	}
}

// goldenBases are the clusters the mutations start from.
func goldenBases() map[string]func() []fakeNode {
	return map[string]func() []fakeNode{
		"healthy":    healthy3x2,
		"failedover": failedOver,
		"plus-empty": func() []fakeNode {
			return withNode(fakeNode{addr: "10.0.0.21:6379", id: fid(21), epoch: 1}, fakeNode{addr: "10.0.0.22:6379", id: fid(22), knows: []string{}})
		},
		"plus-replica": func() []fakeNode {
			return withNode(fakeNode{addr: "10.0.0.21:6379", id: fid(21), master: fid(1), epoch: 1}, fakeNode{addr: "10.0.0.22:6379", id: fid(22), master: fid(21)})
		},
	}
}

// goldenVariants lists the (slot, forget) arguments worth trying for a
// mutation: slot matters only to what 1, 3 and 5, forget only to 4. full
// asks for more of them.
func goldenVariants(what uint8, full bool) [][2]int {
	slots := []int{5461}
	forgets := []int{0}
	if full {
		slots, forgets = []int{0, 5460, 10923, 16383}, []int{0, 2, 3, 5}
	}
	var out [][2]int
	switch what {
	case 1, 3, 5:
		for _, s := range slots {
			out = append(out, [2]int{s, 0})
		}
	case 4:
		for _, f := range forgets {
			out = append(out, [2]int{0, f})
		}
	default:
		out = append(out, [2]int{0, 0})
	}
	return out
}

// planGolden runs Plan over every declaration, base and mutation (all of
// them on the walkthrough's declaration, fewer on the others) and returns
// one line per group: its name and a digest of the rendered plans.
func planGolden(t *testing.T) string {
	var out strings.Builder
	for _, gd := range goldenDesireds() {
		for _, base := range sortedKeys(goldenBases()) {
			mk := goldenBases()[base]
			full := gd.name == "3x2"
			for _, fb := range []bool{true, false} {
				for who := range uint8(len(mk())) {
					for what := range uint8(6) {
						h := sha256.New()
						for _, v := range goldenVariants(what, full) {
							slot, forget := uint16(v[0]), uint8(v[1])
							nodes := mutateHealthy(mk(), who, what, slot, forget)
							obs := fakeObserved(t, nodes)
							if what == 5 {
								markMigrating(obs, nodes[int(who)%len(nodes)].addr, int(slot))
							}
							d := gd.d(fb)
							if d.Config != nil {
								healthyFacts(obs)
								obs.Node(nodes[int(who+3)%len(nodes)].addr).Config["hz"] = "10"
							}
							steps, err := Plan(d, obs)
							fmt.Fprintf(h, "slot=%d forget=%d\n%s", slot, forget, renderPlan(steps, err))
						}
						fmt.Fprintf(&out, "%s %s failback=%t who=%d what=%d %x\n", gd.name, base, fb, who, what, h.Sum(nil)[:8])
					}
				}
			}
		}
	}
	return out.String()
}

// planGoldenTable renders in full the plans of a few named scenarios the
// unit tests use, so that a change shows in words.
func planGoldenTable(t *testing.T) string {
	var out strings.Builder
	run := func(name string, d Desired, obs *Observed) {
		steps, err := Plan(d, obs)
		fmt.Fprintf(&out, "== %s\n%s", name, renderPlan(steps, err))
	}
	var fresh []fakeNode
	for i, n := range healthy3x2() {
		fresh = append(fresh, fakeNode{addr: n.addr, id: fid(i + 1), knows: []string{}})
	}
	run("fresh", desired3x2(true), fakeObserved(t, fresh))
	run("healthy", desired3x2(true), fakeObserved(t, healthy3x2()))
	run("failback", desired3x2(true), fakeObserved(t, failedOver()))
	run("no failback", desired3x2(false), fakeObserved(t, failedOver()))
	for _, gd := range goldenDesireds() {
		for _, base := range sortedKeys(goldenBases()) {
			obs := fakeObserved(t, goldenBases()[base]())
			d := gd.d(true)
			if d.Config != nil {
				healthyFacts(obs)
				obs.Node("10.0.0.15:6379").Config["cluster-node-timeout"] = "5000"
			}
			run(gd.name+" on "+base, d, obs)
		}
	}
	partial := healthy3x2()
	for i := 3; i < 6; i++ {
		partial[i].master = ""
	}
	run("partial create", desired3x2(true), fakeObserved(t, partial))
	undeclared := healthy3x2()
	undeclared[2].slots = "10923-16000"
	undeclared = append(undeclared, fakeNode{addr: "10.0.0.99:6379", id: fid(99), slots: "16001-16383"})
	obs := fakeObserved(t, undeclared)
	delete(obs.Nodes, "10.0.0.99:6379")
	run("undeclared owner", desired3x2(true), obs)
	obs = fakeObserved(t, healthy3x2())
	obs.Nodes["10.0.0.16:6379"] = &NodeState{Addr: "10.0.0.16:6379", Err: &NodeError{Addr: "10.0.0.16:6379", Kind: ErrUnreachable, Err: fmt.Errorf("connection refused")}}
	run("unreachable", desired3x2(true), obs)
	return out.String()
}

// TestPlanGolden pins Plan's output (steps, order, every field and Why)
// over thousands of observations: a refactor of the planner must keep it
// byte for byte. Rewrite the files with -update-golden only for an
// intended change of behaviour.
func TestPlanGolden(t *testing.T) {
	for file, got := range map[string]string{
		"plan_golden_digests.txt": planGolden(t),
		"plan_golden_table.txt":   planGoldenTable(t),
	} {
		path := filepath.Join("testdata", file)
		if *updateGolden {
			if err := os.MkdirAll("testdata", 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		want, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run with -update-golden to create it)", err)
		}
		if string(want) != got {
			wl, gl := strings.Split(string(want), "\n"), strings.Split(got, "\n")
			for i := range min(len(wl), len(gl)) {
				if wl[i] != gl[i] {
					t.Fatalf("%s differs at line %d:\nwant %s\ngot  %s", file, i+1, wl[i], gl[i])
				}
			}
			t.Fatalf("%s differs in length: want %d lines, got %d", file, len(wl), len(gl))
		}
	}
}
