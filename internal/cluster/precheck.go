package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
)

// Problem is one reason a node cannot take part in a change.
type Problem struct {
	Addr   string
	What   string
	Remedy string
	// Kind is the kind of the node's failure when it could not be read
	// (Remedy is then its NodeError's); ErrOther otherwise.
	Kind ErrorKind
}

// ProblemsError lists every node that failed a check; nothing was changed.
type ProblemsError struct {
	Problems []Problem
}

func (e *ProblemsError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "- %s: %s. %s", p.Addr, p.What, p.Remedy)
	}
	return b.String()
}

// Precheck reads every declared node concurrently and checks, before any
// write, that each can become a member of the declared cluster: reachable,
// credentials accepted, cluster mode on, no keys, and knowing no node (or,
// for a create that was interrupted, only declared nodes) and serving no
// slot the declaration gives to another shard. It returns the observation
// so the caller can plan from it without reading again.
func Precheck(ctx context.Context, pool *Pool, d Desired) (*Observed, error) {
	obs := Observe(ctx, pool, d.Addrs(), true)
	return obs, CheckJoinable(d, obs, nil)
}

// CheckJoinable is Precheck's pure part, over an observation of every
// declared node. It checks the nodes in only (all declared nodes when nil).
func CheckJoinable(d Desired, obs *Observed, only []string) error {
	var probs []Problem
	declared := map[string]string{} // node ID -> address
	for _, a := range d.Addrs() {
		if id := obs.ID(a); id != "" {
			declared[id] = a
		}
	}
	check := d.Addrs()
	if only != nil {
		check = only
	}
	for _, a := range check {
		n := obs.Node(a)
		if n == nil {
			continue
		}
		if n.Err != nil {
			what, remedy, kind := n.Err.Error(), "See the node's log.", ErrOther
			if ne, ok := n.Err.(*NodeError); ok {
				kind = ne.Kind
				what = ne.Kind.String() + ": " + ne.Err.Error()
				if ne.Op != "" {
					what = ne.Kind.String() + " (" + ne.Op + "): " + ne.Err.Error()
				}
				remedy = capitalize(ne.Remedy()) + "."
			}
			probs = append(probs, Problem{Addr: a, What: what, Remedy: remedy, Kind: kind})
			continue
		}
		if why := engineProblem(n); why != "" {
			probs = append(probs, Problem{Addr: a, What: why,
				Remedy: "Upgrade the node to Redis 6.0 or later, or Valkey (any version). Nothing was changed."})
			continue
		}
		// Keys are a problem on a node that is not a member yet; a member
		// of this cluster (a create resumed, a node re-joining) holds the
		// cluster's own data.
		if n.Keys > 0 && len(n.Known()) == 0 {
			probs = append(probs, Problem{Addr: a, What: fmt.Sprintf("holds %d keys", n.Keys),
				Remedy: "A new cluster is built from empty nodes only: move the data away or FLUSHALL the node, or declare another node. Nothing was changed."})
		}
		var foreign []string
		for _, l := range n.Known() {
			if _, ok := declared[l.ID]; !ok {
				foreign = append(foreign, describe(l.Addr(), l.ID))
			}
		}
		if len(foreign) > 0 {
			sort.Strings(foreign)
			probs = append(probs, Problem{Addr: a, What: fmt.Sprintf("already belongs to another cluster: it knows %s, which no shard declares", strings.Join(foreign, ", ")),
				Remedy: "Remove the node from that cluster (CLUSTER FORGET on its members, then CLUSTER RESET HARD on the node), or import that cluster instead (terraform import)."})
		}
		if self := n.Self(); self != nil && !self.Slots.Empty() {
			want := SlotSet{}
			if i := d.ShardOf(a); i >= 0 {
				want = d.Shards[i].Slots
			}
			if extra := self.Slots.Minus(want); !extra.Empty() {
				probs = append(probs, Problem{Addr: a, What: fmt.Sprintf("already serves slots %s that the configuration gives to another shard", extra),
					Remedy: "Run CLUSTER RESET HARD on the node if it holds nothing you need, or declare these slots on its shard."})
			}
		}
	}
	if len(probs) > 0 {
		return &ProblemsError{probs}
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
