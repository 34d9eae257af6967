package cluster

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Split is a network partition as one observation shows it. Redis Cluster
// decides by majority: a master's failure is agreed (flag "fail") when a
// majority of the masters serving slots cannot reach it, and only the side
// holding that majority promotes replicas. Terraform may still reach nodes of
// the other side, which keep their own, stale view (a cut-off master goes on
// claiming its slots, with cluster_state:fail). A Split says which nodes
// Terraform reached are on which side, so that plan shows the majority's
// cluster and apply never acts on the minority.
type Split struct {
	// Masters are the IDs of the masters serving slots, each slot credited
	// to its claim with the highest config epoch in any view read; Quorum is
	// a majority of them.
	Masters []string
	Quorum  int
	// Majority lists the declared addresses read that see a majority of
	// Masters up (not flagged fail or fail?), sorted.
	Majority []string
	// CutOff lists the declared addresses read that are cut off from the
	// majority: they see only a minority of Masters up, or the majority
	// side has agreed they failed (flag "fail") while Terraform reaches
	// them. Sorted.
	CutOff []string
	// Why says, per cut-off address, what shows it.
	Why map[string]string
	// Stale says, per cut-off address that still claims slots the majority
	// serves elsewhere at a higher config epoch, which and where.
	Stale map[string]string
	// Suspect lists links that one node read flags failing (fail?) towards
	// another node read, between nodes on the majority side: a partial
	// partition that has not (yet) split the cluster. Plan mentions them;
	// apply does not stop for them.
	Suspect []string
	// NoMajority: no node read sees a majority of Masters up. Terraform
	// reaches only a minority (or the cluster lost its majority): what it
	// reads is not the cluster.
	NoMajority bool
}

// Blocking tells whether apply must not act: a node it would talk to is cut
// off from the majority, or it reaches no majority at all.
func (s *Split) Blocking() bool { return s != nil && (len(s.CutOff) > 0 || s.NoMajority) }

// IsCutOff tells whether addr is on the minority side.
func (s *Split) IsCutOff(addr string) bool {
	if s == nil {
		return false
	}
	if s.NoMajority {
		return true
	}
	for _, a := range s.CutOff {
		if a == addr {
			return true
		}
	}
	return false
}

// FindSplit looks for a partition among addrs (the declared nodes) in obs
// (read with views). It returns nil when every node read sees a majority of
// the masters up, none of them is agreed failed by the others, and no link
// between nodes read is suspected; or when no master serves slots yet (a
// cluster being built). Pure.
//
// The answer is remembered in obs for the same addresses and node states:
// a refresh or plan asks it many times of one observation. Callers must
// not change the Split returned.
func FindSplit(addrs []string, obs *Observed) *Split {
	if obs == nil {
		return findSplit(addrs, obs)
	}
	var key strings.Builder
	for _, a := range addrs {
		fmt.Fprintf(&key, "%s=%p;", a, obs.Nodes[a])
	}
	k := key.String()
	obs.mu.Lock()
	s, ok := obs.splits[k]
	obs.mu.Unlock()
	if ok {
		return s
	}
	s = findSplit(addrs, obs)
	obs.mu.Lock()
	if obs.splits == nil {
		obs.splits = map[string]*Split{}
	}
	obs.splits[k] = s
	obs.mu.Unlock()
	return s
}

// findSplit is FindSplit without the memo.
func findSplit(addrs []string, obs *Observed) *Split {
	read := readSelves(addrs, obs)
	if !anyFailing(read) {
		// Every side of a split shows as fail or fail? flags: without
		// any, every node sees every master up (the common case, and at
		// hundreds of nodes the passes below cost tens of ms).
		return nil
	}
	masters := slotMasters(read)
	if len(masters) == 0 {
		return nil
	}
	s := &Split{Quorum: len(masters)/2 + 1, Why: map[string]string{}, Stale: map[string]string{}}
	for id := range masters {
		s.Masters = append(s.Masters, id)
	}
	sort.Strings(s.Masters)
	name := func(id string) string { return masterName(obs, read, id) }
	down, onMajority := s.sides(read, name)
	for _, n := range read {
		s.judge(n, read, onMajority, down, masters, name)
	}
	sort.Strings(s.CutOff)
	if s.NoMajority {
		s.CutOff = nil
	}
	s.suspectLinks(read, onMajority)
	if len(s.CutOff) == 0 && !s.NoMajority && len(s.Suspect) == 0 {
		return nil
	}
	return s
}

// anyFailing tells whether some node read flags some line fail or fail?.
func anyFailing(read []*NodeState) bool {
	for _, n := range read {
		for i := range n.View {
			if n.View[i].Failing() {
				return true
			}
		}
	}
	return false
}

// readSelves lists the nodes of addrs that were read, with their own line.
func readSelves(addrs []string, obs *Observed) []*NodeState {
	var read []*NodeState
	for _, a := range addrs {
		if n := obs.Node(a); n.OK() && n.Self() != nil {
			read = append(read, n)
		}
	}
	return read
}

// masterName names the node id by its address, from obs or from any view
// read, else by its short ID.
func masterName(obs *Observed, read []*NodeState, id string) string {
	if a := obs.AddrOf(id); a != "" {
		return describe(a, id)
	}
	for _, n := range read {
		if l := n.Lookup(id); l != nil && l.Addr() != "" {
			return describe(l.Addr(), id)
		}
	}
	return "node " + short(id)
}

// sides records which masters each node read sees down (down, by address),
// and which nodes see a majority of them up (s.Majority, onMajority).
func (s *Split) sides(read []*NodeState, name func(string) string) (down map[string][]string, onMajority map[string]bool) {
	down = map[string][]string{}
	for _, n := range read {
		for _, id := range s.Masters {
			if l := n.Lookup(id); l != nil && !l.Myself() && l.Failing() {
				down[n.Addr] = append(down[n.Addr], name(id))
			}
		}
		if len(s.Masters)-len(down[n.Addr]) >= s.Quorum {
			s.Majority = append(s.Majority, n.Addr)
		}
	}
	sort.Strings(s.Majority)
	onMajority = map[string]bool{}
	for _, a := range s.Majority {
		onMajority[a] = true
	}
	s.NoMajority = len(s.Majority) == 0
	return down, onMajority
}

// judge adds n to s.CutOff, with why, when it does not see a majority of
// the masters up or when the majority side has agreed it failed; and to
// s.Stale when it still claims slots that the majority serves elsewhere.
func (s *Split) judge(n *NodeState, read []*NodeState, onMajority map[string]bool, down map[string][]string, masters map[string]masterClaim, name func(string) string) {
	if onMajority[n.Addr] {
		// Agreed failed by the majority side while Terraform reaches it,
		// and it still claims slots as master (one-way links). A node
		// that sees the majority and claims nothing is rejoining (just
		// restarted, say): the majority clears its fail flag at the
		// next ping, and nothing it says can mislead a plan.
		if self := n.Self(); !self.IsMaster() || self.Slots.Empty() {
			return
		}
		by := failedBy(n, read, onMajority)
		if len(by) == 0 {
			return
		}
		s.Why[n.Addr] = fmt.Sprintf("the majority side has agreed it failed (flag fail on %s) although Terraform reaches it", strings.Join(by, ", "))
	} else {
		s.Why[n.Addr] = fmt.Sprintf("it sees %d of the %d masters serving slots up (flags %s as failing; a majority is %d)",
			len(s.Masters)-len(down[n.Addr]), len(s.Masters), strings.Join(down[n.Addr], ", "), s.Quorum)
	}
	s.CutOff = append(s.CutOff, n.Addr)
	if self := n.Self(); self.IsMaster() && !self.Slots.Empty() {
		for _, id := range s.Masters {
			m := masters[id]
			if id != n.ID && m.epoch > self.ConfigEpoch && !m.slots.Intersect(self.Slots).Empty() {
				s.Stale[n.Addr] = fmt.Sprintf("it still claims slots %s as master at config epoch %d; the majority serves %s on %s at config epoch %d",
					self.Slots, self.ConfigEpoch, m.slots.Intersect(self.Slots), name(id), m.epoch)
				break
			}
		}
	}
}

// failedBy lists, sorted, the other nodes on the majority side that flag
// n as fail.
func failedBy(n *NodeState, read []*NodeState, onMajority map[string]bool) []string {
	var by []string
	for _, m := range read {
		if m == n || !onMajority[m.Addr] {
			continue
		}
		if l := m.Lookup(n.ID); l != nil && l.HasFlag("fail") {
			by = append(by, m.Addr)
		}
	}
	sort.Strings(by)
	return by
}

// suspectLinks records partial partitions in s.Suspect: a suspected link
// between two nodes both on the majority side, towards a node Terraform
// reads.
func (s *Split) suspectLinks(read []*NodeState, onMajority map[string]bool) {
	for _, n := range read {
		if !onMajority[n.Addr] || s.IsCutOff(n.Addr) {
			continue
		}
		for _, m := range read {
			if m == n || !onMajority[m.Addr] || s.IsCutOff(m.Addr) {
				continue
			}
			if l := n.Lookup(m.ID); l != nil && l.Failing() {
				s.Suspect = append(s.Suspect, fmt.Sprintf("%s flags %s as %s", n.Addr, describe(m.Addr, m.ID), strings.Join(failFlags(l.Flags), ",")))
			}
		}
	}
	sort.Strings(s.Suspect)
}

func failFlags(flags []string) []string {
	var out []string
	for _, f := range flags {
		if f == "fail" || f == "fail?" {
			out = append(out, f)
		}
	}
	return out
}

type masterClaim struct {
	slots SlotSet
	epoch int64
}

// slotMasters returns the masters serving slots, by ID: every claim (a
// master line with slots, in any view read) that no claim of another node
// with a higher config epoch overlaps. A master's slots are those of its
// winning claims.
func slotMasters(read []*NodeState) map[string]masterClaim {
	type claim struct {
		id string
		masterClaim
	}
	// Every view repeats the same claims: dedupe by ID and epoch first
	// (cheap keys), then by slots.
	type key struct {
		id    string
		epoch int64
	}
	seen := map[key][]int{} // -> indexes in claims
	var claims []claim
	for _, n := range read {
		for i := range n.View {
			l := &n.View[i]
			if !l.IsMaster() || l.Slots.Empty() || l.Handshake() || l.HasFlag("noaddr") {
				continue
			}
			k := key{l.ID, l.ConfigEpoch}
			dup := false
			for _, j := range seen[k] {
				if claims[j].slots.Equal(l.Slots) {
					dup = true
					break
				}
			}
			if !dup {
				seen[k] = append(seen[k], len(claims))
				claims = append(claims, claim{l.ID, masterClaim{l.Slots, l.ConfigEpoch}})
			}
		}
	}
	out := map[string]masterClaim{}
	for _, c := range claims {
		won := c.slots
		for _, o := range claims {
			if o.id != c.id && o.epoch > c.epoch {
				won = won.Minus(o.slots)
			}
		}
		if won.Empty() {
			continue
		}
		m := out[c.id]
		m.slots = m.slots.Union(won)
		m.epoch = max(m.epoch, c.epoch)
		out[c.id] = m
	}
	return out
}

// Describe says in words what the split is, node by node, for plan
// warnings and errors.
func (s *Split) Describe() string {
	if s == nil {
		return ""
	}
	var b strings.Builder
	if s.NoMajority {
		fmt.Fprintf(&b, "No node Terraform reaches sees a majority (%d) of the %d masters serving slots up: Terraform reaches only a minority side of a partition, or the cluster lost its majority. What these nodes report is not the cluster:\n", s.Quorum, len(s.Masters))
	} else {
		fmt.Fprintf(&b, "Nodes cut off from the majority of the cluster (the side holding %d or more of the %d masters serving slots):\n", s.Quorum, len(s.Masters))
	}
	cut := s.CutOff
	if s.NoMajority {
		cut = sortedKeys(s.Why)
	}
	for _, a := range cut {
		fmt.Fprintf(&b, "- %s: %s", a, s.Why[a])
		if st := s.Stale[a]; st != "" {
			fmt.Fprintf(&b, "; %s", st)
		}
		b.WriteString("\n")
	}
	if len(s.Majority) > 0 {
		fmt.Fprintf(&b, "The majority side, as Terraform reads it: %s.\n", strings.Join(s.Majority, ", "))
	}
	if len(s.Suspect) > 0 {
		b.WriteString("Links suspected down between nodes of the majority side (a partial partition):\n- " + strings.Join(s.Suspect, "\n- ") + "\n")
	}
	return strings.TrimRight(b.String(), "\n")
}

// PartitionError is an apply refused because nodes are cut off from the
// majority (or Terraform reaches no majority): nothing was sent to them.
type PartitionError struct {
	Split *Split
	// Waited is how long apply gave the partition to heal before giving up.
	Waited time.Duration
}

func (e *PartitionError) Error() string { return e.Text("asked to") }

// Text says what happened and what to do, saying when apply fails back
// with failback (the provider names its attribute).
func (e *PartitionError) Text(failback string) string {
	what := "nodes " + strings.Join(e.Split.CutOff, ", ") + " are cut off from the majority of the cluster"
	if len(e.Split.CutOff) == 1 {
		what = "node " + e.Split.CutOff[0] + " is cut off from the majority of the cluster"
	}
	if e.Split.NoMajority {
		what = "Terraform reaches no node that sees a majority of the masters"
	}
	return fmt.Sprintf("%s (still so after %s); apply changed nothing on the minority side and stopped.\n%s\n"+
		"Run terraform apply again once they rejoin (when their links heal, Redis makes a cut-off master a replica of the node that took its slots; apply then converges, failing back if "+failback+").",
		what, e.Waited.Round(time.Millisecond), e.Split.Describe())
}
