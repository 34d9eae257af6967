package cluster

import (
	"fmt"
	"sort"
	"strings"
)

// CheckPeers tells, before a node resource changes anything, whether the
// node may meet its seeds (and its declared master). Pure: it looks at obs
// only.
//
// A peer that does not answer is skipped (any reachable seed will do), but
// one that answers wrongly is an error naming it: a node without
// cluster-enabled, rejected credentials, a TLS mismatch, a missing ACL
// grant. These do not go away by retrying, and skipping them would join
// the node through whatever seed is left.
//
// A lone seed (it knows no other node) is fine: a cluster built from node
// resources starts as lone nodes meeting each other. What is refused is a
// meeting that would merge two clusters: the node and its peers fall into
// groups that do not know each other, and two groups serve some of the
// same slots. Redis would settle each such slot by config epoch, leaving
// the keys of the loser unreachable.
func CheckPeers(spec NodeSpec, obs *Observed) error {
	var errs Errors
	for _, p := range spec.peers() {
		n := obs.Node(p)
		if n == nil || n.OK() || IsUnreachable(n.Err) {
			continue
		}
		what := "seed"
		if p == spec.Master {
			what = "declared master"
		}
		errs = append(errs, fmt.Errorf("%s %s of %s cannot be used: %w", what, p, spec.Addr, n.Err))
	}
	if len(errs) > 0 {
		return errs.Err()
	}
	groups := peerGroups(append([]string{spec.Addr}, spec.peers()...), obs)
	for i := range groups {
		for j := i + 1; j < len(groups); j++ {
			if both := groups[i].slots.Intersect(groups[j].slots); !both.Empty() {
				return fmt.Errorf("node %s and its seeds belong to two different clusters that both serve slots %s: "+
					"%s on one side, %s on the other. Meeting them would merge the clusters and lose the keys of one side. "+
					"List seeds of the cluster the node should join only (and CLUSTER RESET the node first if it belongs to the other)",
					spec.Addr, both, strings.Join(groups[i].addrs, ", "), strings.Join(groups[j].addrs, ", "))
			}
		}
	}
	return nil
}

// peerGroup is a set of observed nodes that know each other, directly or
// through others, with the slots its members see served.
type peerGroup struct {
	addrs []string
	slots SlotSet
}

// peerGroups splits the reachable nodes at addrs into groups of nodes that
// know one another (an entry in either's CLUSTER NODES, handshakes aside).
func peerGroups(addrs []string, obs *Observed) []peerGroup {
	parent := map[string]string{}
	var find func(string) string
	find = func(x string) string {
		if parent[x] == "" || parent[x] == x {
			parent[x] = x
			return x
		}
		parent[x] = find(parent[x])
		return parent[x]
	}
	union := func(a, b string) { parent[find(a)] = find(b) }
	var seen []string
	for _, a := range dedup(addrs) {
		n := obs.Node(a)
		if !n.OK() || n.ID == "" {
			continue
		}
		seen = append(seen, a)
		find(n.ID)
		for j := range n.View {
			l := &n.View[j]
			if !l.Handshake() {
				union(n.ID, l.ID)
			}
		}
	}
	byRoot := map[string]*peerGroup{}
	for _, a := range seen {
		n := obs.Node(a)
		r := find(n.ID)
		g := byRoot[r]
		if g == nil {
			g = &peerGroup{}
			byRoot[r] = g
		}
		g.addrs = append(g.addrs, a)
		var served SlotBuilder
		served.AddSet(g.slots)
		for j := range n.View {
			l := &n.View[j]
			if l.IsMaster() && !l.Handshake() {
				served.AddSet(l.Slots)
			}
		}
		g.slots = served.Set()
	}
	out := make([]peerGroup, 0, len(byRoot))
	for _, g := range byRoot {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].addrs[0] < out[j].addrs[0] })
	return out
}
