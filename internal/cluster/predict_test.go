package cluster

import (
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"
)

// members builds the current members from fake nodes (as Members reads them).
func members(t *testing.T, nodes []fakeNode) map[string]Member {
	t.Helper()
	out := map[string]Member{}
	for _, n := range nodes {
		m := Member{Addr: n.addr, ID: n.id, MasterID: n.master, Role: RoleMaster, Engine: "redis", Version: "7.0.15", Reachable: true,
			LinkState: "connected", Flags: []string{"master"}}
		if n.master != "" {
			m.Role, m.Flags = RoleReplica, []string{"slave"}
		}
		if n.slots != "" {
			ss, err := ParseSlotSet(strings.Split(n.slots, ","))
			if err != nil {
				t.Fatal(err)
			}
			m.Slots = ss
		}
		out[n.addr] = m
	}
	return out
}

// observedFrom builds the observation of a cluster that every member sees
// as predicted (IDs the prediction leaves unknown get fresh ones), for
// checking a prediction against Converged.
func observedFrom(t *testing.T, d Desired, predicted map[string]Member) *Observed {
	t.Helper()
	ids := map[string]string{}
	next := 1000
	addrs := make([]string, 0, len(predicted))
	for a, m := range predicted {
		addrs = append(addrs, a)
		if m.ID == "" {
			next++
			ids[a] = fid(next)
		} else {
			ids[a] = m.ID
		}
	}
	sort.Strings(addrs)
	var nodes []fakeNode
	for _, a := range addrs {
		m := predicted[a]
		n := fakeNode{addr: a, id: ids[a], slots: m.Slots.String(), epoch: 1}
		if m.Role == RoleReplica {
			n.master = m.MasterID
			if i := d.ShardOf(a); n.master == "" && i >= 0 { // a replica of a master joining now
				for _, b := range d.Shards[i].Members() {
					if predicted[b].Role == RoleMaster {
						n.master = ids[b]
					}
				}
			}
		}
		nodes = append(nodes, n)
	}
	return fakeObserved(t, nodes)
}

func memberString(m Member) string {
	return fmt.Sprintf("%s %s master=%q slots=%s", short(m.ID), m.Role, short(m.MasterID), m.Slots)
}

func TestPredict(t *testing.T) {
	a := func(i int) string { return fmt.Sprintf("10.0.0.1%d:6379", i) }
	split := EvenSplit(3)
	cases := []struct {
		name     string
		d        func() Desired
		current  []fakeNode
		want     map[string]string // address -> memberString of the prediction
		noChange []string          // addresses whose role, master and slots stay
	}{
		{
			name: "failback: the declared master takes its slots back, its replica follows it",
			d:    func() Desired { return desired3x2(true) },
			current: []fakeNode{
				{addr: a(1), id: fid(1), master: fid(5)},
				{addr: a(2), id: fid(2), slots: "5461-10922"},
				{addr: a(3), id: fid(3), slots: "10923-16383"},
				{addr: a(4), id: fid(4), master: fid(3)},
				{addr: a(5), id: fid(5), slots: "0-5460"},
				{addr: a(6), id: fid(6), master: fid(2)},
			},
			want: map[string]string{
				a(1): "00000000 master master=\"\" slots=0-5460",
				a(5): "00000000 replica master=\"00000000\" slots=",
			},
			noChange: []string{a(2), a(3), a(4), a(6)},
		},
		{
			name: "no failback: the promoted replica stays master",
			d:    func() Desired { return desired3x2(false) },
			current: []fakeNode{
				{addr: a(1), id: fid(1), master: fid(5)},
				{addr: a(2), id: fid(2), slots: "5461-10922"},
				{addr: a(3), id: fid(3), slots: "10923-16383"},
				{addr: a(4), id: fid(4), master: fid(3)},
				{addr: a(5), id: fid(5), slots: "0-5460"},
				{addr: a(6), id: fid(6), master: fid(2)},
			},
			noChange: []string{a(1), a(2), a(3), a(4), a(5), a(6)},
		},
		{
			name: "replica re-pointed by hand follows its declared master again",
			d:    func() Desired { return desired3x2(true) },
			current: []fakeNode{
				{addr: a(1), id: fid(1), slots: "0-5460"},
				{addr: a(2), id: fid(2), slots: "5461-10922"},
				{addr: a(3), id: fid(3), slots: "10923-16383"},
				{addr: a(4), id: fid(4), master: fid(3)},
				{addr: a(5), id: fid(5), master: fid(2)},
				{addr: a(6), id: fid(6), master: fid(2)},
			},
			noChange: []string{a(1), a(2), a(3), a(4), a(6)},
		},
		{
			name: "slot moved by hand goes back",
			d:    func() Desired { return desired3x2(true) },
			current: []fakeNode{
				{addr: a(1), id: fid(1), slots: "0-99,101-5460"},
				{addr: a(2), id: fid(2), slots: "100,5461-10922"},
				{addr: a(3), id: fid(3), slots: "10923-16383"},
				{addr: a(4), id: fid(4), master: fid(3)},
				{addr: a(5), id: fid(5), master: fid(1)},
				{addr: a(6), id: fid(6), master: fid(2)},
			},
			noChange: []string{a(3), a(4), a(5), a(6)},
		},
		{
			name: "a shard added: the new nodes' IDs are unknown, their roles and slots known",
			d: func() Desired {
				s := EvenSplit(4)
				return Desired{Failback: true, Shards: []Shard{
					{Master: a(1), Slots: s[0]}, {Master: a(2), Slots: s[1]}, {Master: a(3), Slots: s[2]},
					{Master: a(7), Replicas: []string{a(8)}, Slots: s[3]},
				}}
			},
			current: []fakeNode{
				{addr: a(1), id: fid(1), slots: split[0].String()},
				{addr: a(2), id: fid(2), slots: split[1].String()},
				{addr: a(3), id: fid(3), slots: split[2].String()},
			},
			want: map[string]string{
				a(7): " master master=\"\" slots=12288-16383",
				a(8): " replica master=\"\" slots=",
			},
		},
		{
			name: "a shard removed: its nodes leave, its slots go to the others",
			d: func() Desired {
				s := EvenSplit(2)
				return Desired{Failback: true, Remove: []string{a(3), a(4)}, Shards: []Shard{
					{Master: a(1), Slots: s[0]}, {Master: a(2), Slots: s[1]},
				}}
			},
			current: []fakeNode{
				{addr: a(1), id: fid(1), slots: split[0].String()},
				{addr: a(2), id: fid(2), slots: split[1].String()},
				{addr: a(3), id: fid(3), slots: split[2].String()},
				{addr: a(4), id: fid(4), master: fid(3)},
			},
			want: map[string]string{
				a(1): "00000000 master master=\"\" slots=0-8191",
				a(2): "00000000 master master=\"\" slots=8192-16383",
			},
		},
		{
			name: "a member joined by hand stays; its replica of a demoted master follows the new master",
			d:    func() Desired { return desired3x2(true) },
			current: []fakeNode{
				{addr: a(1), id: fid(1), master: fid(5)},
				{addr: a(2), id: fid(2), slots: "5461-10922"},
				{addr: a(3), id: fid(3), slots: "10923-16383"},
				{addr: a(4), id: fid(4), master: fid(3)},
				{addr: a(5), id: fid(5), slots: "0-5460"},
				{addr: a(6), id: fid(6), master: fid(2)},
				{addr: a(7), id: fid(7), master: fid(5)},
			},
			want: map[string]string{
				a(7): "00000000 replica master=\"00000000\" slots=",
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.d()
			// desired3x2 uses 10.0.0.1N addresses with N = 1..6.
			cur := members(t, c.current)
			got := Predict(d, cur)
			for addr, want := range c.want {
				if s := memberString(got[addr]); s != want {
					t.Errorf("%s: got %s, want %s", addr, s, want)
				}
			}
			for _, addr := range c.noChange {
				g, w := got[addr], cur[addr]
				if g.ID != w.ID || g.Role != w.Role || g.MasterID != w.MasterID || !g.Slots.Equal(w.Slots) {
					t.Errorf("%s changes: %s -> %s", addr, memberString(w), memberString(g))
				}
				if ch := Changes(cur, got); containsPrefix(ch, addr) {
					t.Errorf("Changes names %s, which does not change: %v", addr, ch)
				}
			}
			for _, r := range d.Remove {
				if _, ok := got[r]; ok {
					t.Errorf("%s is removed but predicted as a member", r)
				}
			}
			for addr, m := range got {
				if m.LinkState != "" || m.Flags != nil {
					t.Errorf("%s: gossip fields predicted: %q %v", addr, m.LinkState, m.Flags)
				}
				if cm, ok := cur[addr]; ok && m.ID != cm.ID {
					t.Errorf("%s: ID %s predicted, read %s", addr, m.ID, cm.ID)
				}
			}
			checkConverged(t, d, got)
		})
	}
}

func containsPrefix(list []string, p string) bool {
	for _, s := range list {
		if strings.HasPrefix(s, p+":") {
			return true
		}
	}
	return false
}

// checkConverged: a cluster in which every member sees the prediction is
// one apply accepts as done.
func checkConverged(t *testing.T, d Desired, predicted map[string]Member) {
	t.Helper()
	d.Remove = nil // gone after apply: the next plan does not read them
	obs := observedFrom(t, d, predicted)
	if ok, why := Converged(d, obs); !ok {
		t.Errorf("the predicted cluster is not converged: %s", why)
	}
	steps, err := Plan(d, obs)
	if err != nil {
		t.Errorf("plan of the predicted cluster: %v", err)
	}
	for _, s := range steps {
		if s.Kind != StepSetEpoch {
			t.Errorf("plan of the predicted cluster has step %s", s)
		}
	}
}

func TestChangesSayWhatTheDiffShows(t *testing.T) {
	d := desired3x2(true)
	cur := members(t, []fakeNode{
		{addr: "10.0.0.11:6379", id: fid(1), master: fid(5)},
		{addr: "10.0.0.12:6379", id: fid(2), slots: "5461-10922"},
		{addr: "10.0.0.13:6379", id: fid(3), slots: "10923-16383"},
		{addr: "10.0.0.14:6379", id: fid(4), master: fid(3)},
		{addr: "10.0.0.15:6379", id: fid(5), slots: "0-5460"},
		{addr: "10.0.0.16:6379", id: fid(6), master: fid(2)},
	})
	got := strings.Join(Changes(cur, Predict(d, cur)), "\n")
	want := "10.0.0.11:6379: replica of 10.0.0.15:6379 -> master of slots 0-5460\n" +
		"10.0.0.15:6379: master of slots 0-5460 -> replica of 10.0.0.11:6379"
	if got != want {
		t.Errorf("Changes:\n%s\nwant:\n%s", got, want)
	}
}

// FuzzPredictConverges: whatever the cluster looks like now (roles swapped,
// replicas elsewhere, slots scattered, nodes not joined yet), a cluster
// that looks as predicted is converged on the declaration, and the
// prediction keeps every node ID read.
func FuzzPredictConverges(f *testing.F) {
	for _, seed := range []int64{1, 2, 3, 42, 1000} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed int64) {
		rnd := rand.New(rand.NewSource(seed))
		nShards := 1 + rnd.Intn(4)
		split := EvenSplit(nShards)
		d := Desired{Failback: rnd.Intn(2) == 0}
		var addrs []string
		port := 7000
		for i := range nShards {
			s := Shard{Master: fmt.Sprintf("127.0.0.1:%d", port), Slots: split[i]}
			port++
			for range rnd.Intn(3) {
				s.Replicas = append(s.Replicas, fmt.Sprintf("127.0.0.1:%d", port))
				port++
			}
			d.Shards = append(d.Shards, s)
			addrs = append(addrs, s.Members()...)
		}
		// Current: each declared node is missing (joining), a master with
		// some slots, or a replica of some other node.
		cur := map[string]Member{}
		for i, a := range addrs {
			if rnd.Intn(5) == 0 {
				continue
			}
			cur[a] = Member{Addr: a, ID: fid(i + 1), Role: RoleMaster, Engine: "valkey", Version: "8.1.1"}
		}
		var ids []string
		for _, m := range cur {
			ids = append(ids, m.ID)
		}
		sort.Strings(ids)
		for a, m := range cur {
			if rnd.Intn(2) == 0 && len(ids) > 1 {
				m.Role, m.MasterID = RoleReplica, ids[rnd.Intn(len(ids))]
			} else {
				lo := rnd.Intn(SlotCount)
				m.Slots = NewSlotSet(SlotRange{lo, min(SlotCount-1, lo+rnd.Intn(4000))})
			}
			cur[a] = m
		}
		got := Predict(d, cur)
		for _, a := range addrs {
			if got[a].ID != cur[a].ID {
				t.Fatalf("%s: predicted ID %q, read %q", a, got[a].ID, cur[a].ID)
			}
		}
		if len(got) != len(addrs) {
			t.Fatalf("predicted %d members, declared %d", len(got), len(addrs))
		}
		checkConverged(t, d, got)
	})
}
