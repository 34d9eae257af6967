package cluster

// The wait until every declared node knows every other, and the MEETs it
// sends for pairs that gossip leaves out.

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// meetStall is how long gossip gets to join a pair before waitKnown
// meets it directly: once few pairs are left (at most one per declared
// node), each pair missing for meetStall; at any count, every pair when
// the count has not shrunk for meetStall. Gossip joins the last pairs of a
// large mesh slowly: on 200 fresh Redis 7.0 nodes met through a hub, all
// but one pair knew each other after 3.4 s and that one took 6 s more.
const meetStall = time.Second

// waitKnown waits until every declared node knows every other, meeting
// the pairs gossip is slow to join (see meetStall). With a hub, it first
// seeds gossip from it (seedGossip).
func (e *Executor) waitKnown(ctx context.Context, d Desired, obs *Observed, hub string) error {
	if hub != "" {
		e.seedGossip(ctx, d, obs, hub)
	}
	n := strconv.Itoa(len(d.Addrs()))
	t := &meetTracker{nodes: len(d.Addrs())}
	return e.wait(ctx, d, obs, waitSpec{what: "every node knows every other",
		cond: func(o *Observed) (bool, string) {
			if err := requireAll(d, o); err != nil {
				return false, err.Error()
			}
			missing := missingPairs(d.Addrs(), o)
			if len(missing) == 0 {
				return true, ""
			}
			e.meetPairs(ctx, o, t.due(missing, time.Now()), false)
			m := missing[0]
			return false, fmt.Sprintf("%d pairs of nodes do not know each other yet, among them: %s does not know %s yet", len(missing), m.Addr, describe(m.Target, o.ID(m.Target)))
		},
		gate: func(infos map[string]map[string]string) (bool, string) {
			return infoFails(d.Addrs(), infos, "cluster_known_nodes", n, true)
		},
		detail: func(o *Observed) []string { return unknownPeers(d, o, 10) },
	})
}

// meetTracker decides, read after read, which of the pairs that do not
// know each other waitKnown meets directly (see meetStall). Pure.
type meetTracker struct {
	nodes  int                     // declared nodes
	fewest int                     // fewest pairs missing so far
	since  time.Time               // when fewest last shrank, or the last meet of all
	first  map[[2]string]time.Time // pair -> missing since (or last met)
	read   bool                    // a read was seen
}

// due returns the MEETs to send now, given the pairs missing at now: every
// pair missing for meetStall once few are left (at most one per declared
// node), and every pair when the count has not shrunk for meetStall.
func (t *meetTracker) due(missing []Step, now time.Time) []Step {
	seen := make(map[[2]string]time.Time, len(missing))
	var out []Step
	for _, s := range missing {
		k := [2]string{s.Addr, s.Target}
		at, ok := t.first[k]
		if !ok {
			at = now
		}
		if len(missing) <= t.nodes && now.Sub(at) >= meetStall {
			out, at = append(out, s), now
		}
		seen[k] = at
	}
	t.first = seen
	switch {
	case !t.read || len(missing) < t.fewest:
		t.read, t.fewest, t.since = true, len(missing), now
	case now.Sub(t.since) >= meetStall:
		// No progress at all: meet every pair left.
		out, t.since = missing, now
		for k := range t.first {
			t.first[k] = now
		}
	}
	return out
}

// seedWait bounds how long seedGossip waits for the hub to know every
// node before it sends anyway.
const seedWait = 2 * time.Second

// seedGossip starts the gossip that completes a mesh met through hub: once
// the hub knows every declared node, it meets each of them again. A MEET
// carries a tenth of the sender's table, so every node learns about twenty
// random peers of a 200-node cluster at once and starts handshakes with
// them, each trading gossip in turn. Left to itself a node hears from the
// hub at its next random ping, about a second later, and the cascade
// starts from there. Measured on 200 bare Redis 7.0 nodes met through one
// node (two cores): every node knew every other after 3.1 to 4.3 s with
// one to three seeding rounds, and after more than 11.7 s without (all
// but a few dozen pairs at 3.7 s; the tail then came a pair at a time).
func (e *Executor) seedGossip(ctx context.Context, d Desired, obs *Observed, hub string) {
	start := time.Now()
	c := e.Pool.Client(hub)
	for {
		// CLUSTER INFO first (it counts handshake entries too): the hub
		// is the busiest node of the cluster just now.
		info, err := c.ClusterInfo(ctx).Result()
		if known, _ := strconv.Atoi(ParseInfo(info)["cluster_known_nodes"]); err == nil && known >= len(d.Addrs()) {
			if v, err := c.ClusterNodes(ctx).Result(); err == nil {
				if view, err := ParseNodes(v); err == nil && knowsAll(view, d, obs) {
					break
				}
			}
		}
		if time.Since(start) > seedWait {
			break
		}
		if err := sleep(ctx, e.poll()); err != nil {
			return
		}
	}
	var meets []Step
	for _, a := range d.Addrs() {
		if a != hub {
			meets = append(meets, meetStep(StepMeet, obs, hub, a))
		}
	}
	e.info(ctx, "seeding gossip from the hub", map[string]any{"address": hub, "meets": len(meets), "elapsed_ms": time.Since(start).Milliseconds()})
	e.meetPairs(ctx, obs, meets, true)
}

// knowsAll tells whether view (a node's CLUSTER NODES) shows every
// declared node by its ID, past the handshake.
func knowsAll(view []NodeLine, d Desired, obs *Observed) bool {
	seen := make(map[string]bool, len(view))
	for i := range view {
		if !view[i].Handshake() {
			seen[view[i].ID] = true
		}
	}
	for _, a := range d.Addrs() {
		if !seen[obs.ID(a)] {
			return false
		}
	}
	return true
}

// missingPairs lists, as MEET steps, the pairs of addrs in which a node
// does not know the other: from the node that does not, or from the first
// of the pair when neither does.
func missingPairs(addrs []string, obs *Observed) []Step {
	// 20,000 pairs at 200 nodes, in every plan and every poll of a wait:
	// each node and ID is looked up once, not once per pair.
	nodes := make([]*NodeState, len(addrs))
	ids := make([]string, len(addrs))
	for i, a := range addrs {
		nodes[i], ids[i] = obs.Node(a), obs.ID(a)
	}
	knowsAt := func(i, j int) bool { return knownLine(nodes[i].Lookup(ids[j])) }
	var out []Step
	for i, a := range addrs {
		for j := i + 1; j < len(addrs); j++ {
			b := addrs[j]
			var st Step
			switch {
			case !knowsAt(i, j):
				st = meetStep(StepMeet, obs, a, b)
			case !knowsAt(j, i):
				st = meetStep(StepMeet, obs, b, a)
			default:
				continue
			}
			st.Why = fmt.Sprintf("%s and %s do not know each other; apply joins them with CLUSTER MEET", a, b)
			out = append(out, st)
		}
	}
	return out
}

// meetPairs sends the MEETs, pipelined per node, all nodes at once. They
// are best effort: the wait reads the nodes again and names any pair that
// still does not know each other at its deadline.
func (e *Executor) meetPairs(ctx context.Context, obs *Observed, meets []Step, quiet bool) {
	if len(meets) == 0 {
		return
	}
	byNode := map[string][]Step{}
	for _, s := range meets {
		byNode[s.Addr] = append(byNode[s.Addr], s)
	}
	if !quiet {
		e.info(ctx, "meeting the pairs gossip has not joined", map[string]any{"pairs": len(meets), "first": meets[0].String()})
	}
	done := make(chan struct{}, len(byNode))
	for addr, steps := range byNode {
		go func() {
			defer func() { done <- struct{}{} }()
			n := obs.Node(addr)
			_, err := e.Pool.Client(addr).Pipelined(ctx, func(p redis.Pipeliner) error {
				for _, s := range steps {
					p.Do(ctx, commandFor(n, s)...)
				}
				return nil
			})
			if err != nil {
				e.debug(ctx, "meet failed", map[string]any{"address": addr, "error": err.Error()})
			}
		}()
	}
	for range byNode {
		<-done
	}
}

// markAgreed reads every declared node again when an announce stage
// starts and marks the announces whose target already shows the sender as
// it is (see showsAsIs): only the others are sent. A MEET between nodes that know each other costs both a
// connection and a handshake entry; on a new cluster, every handshake a
// node completed second already carried its role and slots. The marked
// steps still count as done (AfterStep sees them), so a plan's steps are
// the same whatever the read finds.
func (e *Executor) markAgreed(ctx context.Context, d Desired, obs *Observed, stage []Step) []Step {
	fresh := e.refresh(ctx, d, obs)
	out := make([]Step, len(stage))
	agreed := 0
	for i, s := range stage {
		out[i] = s
		if s.Kind == StepAnnounce && showsAsIs(fresh, s.Target, s.Addr) {
			out[i].agreed = true
			agreed++
		}
	}
	e.debug(ctx, "announces the targets need", map[string]any{"sent": len(stage) - agreed, "agreed": agreed})
	return out
}

// showsAsIs tells whether the node at at shows the node at who as who
// reports itself: same role and master, a master's slots and config
// epoch, handshake done.
func showsAsIs(obs *Observed, at, who string) bool {
	self := obs.Node(who).Self()
	n := obs.Node(at)
	if self == nil || !n.OK() {
		return false
	}
	l := n.Lookup(self.ID)
	if l == nil || l.Handshake() || l.IsMaster() != self.IsMaster() || l.MasterID != self.MasterID {
		return false
	}
	// A replica's config epoch is its master's to its peers (the bus
	// header carries the master's): compare a master's only.
	return !self.IsMaster() || (l.ConfigEpoch == self.ConfigEpoch && l.Slots.Equal(self.Slots))
}
