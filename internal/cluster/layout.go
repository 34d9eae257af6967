package cluster

import (
	"fmt"
	"math"
	"net"
	"sort"
	"strconv"
)

// This file reproduces the layout `redis-cli --cluster create` chooses
// (clusterManagerCommandCreate in redis-cli.c, Redis 5.0 to 7.4): which nodes
// become masters, which slots each master serves and which master each
// replica follows.

// EvenSplit returns the slots `redis-cli --cluster create` gives to each of
// n masters, in master order: for 3 masters 0-5460, 5461-10922, 10923-16383.
// It returns nil when n is below 1 or above 16384 (no master could get a slot).
//
// The split is redis-cli's to the bit, float rounding included, for every n
// where redis-cli's arithmetic gives a valid split: every n below 7542 and
// most above. From 2688 masters on its float rounding can make sizes differ
// by more than one; that is reproduced too. For the n where it would give the
// last master slot 16384 (2989 values from 7542 up; redis-cli writes past its
// slot table there), EvenSplit computes the same formula exactly instead.
func EvenSplit(n int) []SlotSet {
	rs := evenSplitRanges(n)
	if rs == nil {
		return nil
	}
	out := make([]SlotSet, len(rs))
	for i, r := range rs {
		out[i] = NewSlotSet(r)
	}
	return out
}

// evenSplitRanges is EvenSplit as one range per master.
func evenSplitRanges(n int) []SlotRange {
	if n < 1 || n > SlotCount {
		return nil
	}
	if rs, ok := redisCliSplit(n); ok {
		return rs
	}
	return exactSplit(n)
}

// redisCliSplit follows redis-cli.c statement by statement, in the same
// types: the slots per node and the cursor are C floats (float32) and lround
// rounds half away from zero. ok is false when the last range would end past
// slot 16383.
//
//	float slots_per_node = CLUSTER_MANAGER_SLOTS / (float) masters_count;
//	long first = 0;
//	float cursor = 0.0f;
//	for (i = 0; i < masters_count; i++) {
//	    long last = lround(cursor + slots_per_node - 1);
//	    if (last > CLUSTER_MANAGER_SLOTS || i == (masters_count - 1))
//	        last = CLUSTER_MANAGER_SLOTS - 1;
//	    if (last < first) last = first;
//	    ... slots first..last ...
//	    first = last + 1;
//	    cursor += slots_per_node;
//	}
func redisCliSplit(n int) (rs []SlotRange, ok bool) {
	// Explicit float32 conversions keep every step rounded to float as in C
	// (Go could otherwise fuse operations).
	slotsPerNode := float32(SlotCount) / float32(n)
	first := 0
	cursor := float32(0)
	out := make([]SlotRange, n)
	for i := 0; i < n; i++ {
		v := float32(float32(cursor+slotsPerNode) - 1)
		last := int(math.Round(float64(v)))
		if last > SlotCount || i == n-1 {
			last = SlotCount - 1
		}
		if last < first {
			last = first
		}
		if last >= SlotCount {
			return nil, false
		}
		out[i] = SlotRange{first, last}
		first = last + 1
		cursor = float32(cursor + slotsPerNode)
	}
	return out, true
}

// exactSplit is redis-cli's formula in exact arithmetic: master i ends at
// round((i+1)*16384/n - 1), rounding halves up. Sizes differ by at most one.
func exactSplit(n int) []SlotRange {
	out := make([]SlotRange, n)
	first := 0
	for i := 0; i < n; i++ {
		num := (i+1)*SlotCount - n // (i+1)*16384/n - 1 == num/n, num >= 0
		last := (2*num + n) / (2 * n)
		out[i] = SlotRange{first, last}
		first = last + 1
	}
	return out
}

// ShardLayout is one master and the replicas that follow it.
type ShardLayout struct {
	Master   string
	Replicas []string
}

// MinMasters is the smallest number of masters redis-cli creates a cluster with.
const MinMasters = 3

// Placement returns the master/replica layout `redis-cli --cluster create
// --cluster-replicas <replicas>` chooses for addrs (each "host:port"), in
// master order: shard i is the master that EvenSplit(len(shards))[i] goes to.
// Replicas are listed in the order redis-cli assigns them.
//
// What redis-cli does, and so what this does:
//   - len(addrs)/(replicas+1) masters; fewer than 3 is an error.
//   - Nodes are grouped by host, the host part of "host:port" compared as
//     text (no DNS lookup: "localhost" and "127.0.0.1" are different hosts
//     to redis-cli too), groups in order of first appearance. The nodes are
//     interleaved by taking one node from each group in turn; the first ones
//     are the masters.
//   - The rest, rotated left by one, are handed out: each master in turn
//     takes its replicas, each the first remaining node on another host than
//     the master, or the first remaining node when every one is on the
//     master's host. Nodes left over then go one per master, in master order,
//     as extra replicas.
//   - When no host holds two members of one shard, that is the answer:
//     this is always the case when every node is on its own host, and then
//     the result is exactly redis-cli's.
//
// Otherwise redis-cli runs clusterManagerOptimizeAntiAffinity, a random
// search (rand() seeded with the time), so its result cannot be reproduced.
// Placement runs a deterministic version of it, with redis-cli's score
// (10000 for each replica on its master's host, plus k for k >= 2 replicas
// of one master sharing another host) and redis-cli's move (two replicas
// exchange masters, so each master keeps its number of replicas): first the
// first improving exchange in order, repeatedly, then redis-cli's search
// driven by a fixed-seed generator, keeping the first best layout seen. The
// result has as few replicas on their master's host as any assignment of
// these replicas to these masters can have, and spreads each master's
// replicas over hosts as well as the search finds. When nothing better is
// found (all nodes on one host, say), the layout redis-cli printed before
// optimizing comes back unchanged.
//
// Deliberate difference: when more nodes are left over than there are masters
// (only with 4 or more replicas), redis-cli leaves the surplus as masters
// without slots; Placement keeps handing them out one per master, so every
// address is used and there are exactly len(addrs)/(replicas+1) shards.
func Placement(addrs []string, replicas int) ([]ShardLayout, error) {
	if replicas < 0 {
		return nil, fmt.Errorf("replicas is %d: it must be 0 or more", replicas)
	}
	nodes, err := placementNodes(addrs)
	if err != nil {
		return nil, err
	}
	nodeLen := len(nodes)
	masters := nodeLen / (replicas + 1)
	if masters < MinMasters {
		return nil, fmt.Errorf("a Redis Cluster requires at least %d master nodes: %d nodes with %d replicas per master make %d masters; at least %d nodes are required",
			MinMasters, nodeLen, replicas, masters, MinMasters*(replicas+1))
	}
	hosts, interleaved := interleaveByHost(nodes)
	masterIdx := interleaved[:masters]
	rest := append([]int(nil), interleaved[masters:]...)
	// "Rotating the list sometimes helps to get better initial anti-affinity
	// before the optimizer runs."
	if len(rest) > 0 {
		rest = append(rest[1:], rest[0])
	}
	owner, replica := assignReplicas(nodes, masterIdx, rest, replicas)

	// Deterministic anti-affinity optimization.
	hostIdx := map[string]int{}
	for i, h := range hosts {
		hostIdx[h] = i
	}
	opt := antiAffinity{owner: owner, node: replica, nodeHost: make([]int, nodeLen), masterHost: make([]int, masters)}
	for i, n := range nodes {
		opt.nodeHost[i] = hostIdx[n.host]
	}
	for m, n := range masterIdx {
		opt.masterHost[m] = opt.nodeHost[n]
	}
	opt.optimize(len(hosts))

	out := make([]ShardLayout, masters)
	for m, n := range masterIdx {
		out[m].Master = nodes[n].addr
	}
	for k, o := range owner {
		out[o].Replicas = append(out[o].Replicas, nodes[replica[k]].addr)
	}
	return out, nil
}

// placedNode is one address Placement places, with its host.
type placedNode struct {
	addr string
	host string
}

// placementNodes validates addrs (each once, comparing ports as numbers)
// and splits off their hosts; errors name the nodes[i] at fault.
func placementNodes(addrs []string) ([]placedNode, error) {
	nodes := make([]placedNode, len(addrs))
	seen := map[string]int{}
	for i, a := range addrs {
		if err := ValidateAddress(a); err != nil {
			return nil, fmt.Errorf("nodes[%d]: %w", i, err)
		}
		host, port, _ := net.SplitHostPort(a)
		p, _ := strconv.Atoi(port)
		key := net.JoinHostPort(host, strconv.Itoa(p))
		if j, dup := seen[key]; dup {
			return nil, fmt.Errorf("nodes[%d]: address %q is already nodes[%d] (%q): each node may appear once", i, a, j, addrs[j])
		}
		seen[key] = i
		nodes[i] = placedNode{addr: a, host: host}
	}
	return nodes, nil
}

// interleaveByHost groups the nodes by host in order of first appearance
// and returns the hosts and the node indexes taken one per host in turn.
func interleaveByHost(nodes []placedNode) (hosts []string, interleaved []int) {
	byHost := map[string][]int{}
	for i, n := range nodes {
		if _, ok := byHost[n.host]; !ok {
			hosts = append(hosts, n.host)
		}
		byHost[n.host] = append(byHost[n.host], i)
	}
	interleaved = make([]int, 0, len(nodes))
	for taken := 0; len(interleaved) < len(nodes); taken++ {
		for _, h := range hosts {
			if g := byHost[h]; taken < len(g) {
				interleaved = append(interleaved, g[taken])
			}
		}
	}
	return hosts, interleaved
}

// assignReplicas gives the rest of the nodes to the masters as redis-cli
// does: replicas per master in turn, preferring a node on another host,
// then any extra nodes one per master per round. Slot k of the result
// holds replica node[k] for master owner[k] (an index into masterIdx).
func assignReplicas(nodes []placedNode, masterIdx, rest []int, replicas int) (owner, replica []int) {
	masters := len(masterIdx)
	used := make([]bool, len(rest))
	available := len(rest)
	pick := func(m int) int {
		firstSame := -1
		for j, n := range rest {
			if used[j] {
				continue
			}
			if nodes[n].host != nodes[masterIdx[m]].host {
				used[j] = true
				return n
			}
			if firstSame < 0 {
				firstSame = j
			}
		}
		// redis-cli skips over the same-host node (and any used before it)
		// instead of marking it; the effect is the same.
		used[firstSame] = true
		return rest[firstSame]
	}
	for m := 0; m < masters && available > 0; m++ {
		for k := 0; k < replicas && available > 0; k++ {
			owner = append(owner, m)
			replica = append(replica, pick(m))
			available--
		}
	}
	for available > 0 { // extra replicas, one per master per round
		for m := 0; m < masters && available > 0; m++ {
			owner = append(owner, m)
			replica = append(replica, pick(m))
			available--
		}
	}
	return owner, replica
}

// antiAffinity is the deterministic stand-in for redis-cli's
// clusterManagerOptimizeAntiAffinity. Replica places are fixed: place k
// belongs to master owner[k] and holds node node[k]; a move exchanges the
// nodes of two places, so every master keeps its number of replicas.
type antiAffinity struct {
	owner, node []int
	nodeHost    []int // host index of each node
	masterHost  []int // host index of each master
	cnt         [][]int
}

// cost is what c replicas of master m on host h add to redis-cli's
// anti-affinity score: 10000 each on the master's own host, c for c >= 2
// sharing another host.
func (a *antiAffinity) cost(m, h, c int) int {
	switch {
	case h == a.masterHost[m]:
		return 10000 * c
	case c >= 2:
		return c
	}
	return 0
}

// change is how the score moves when master m gains d replicas on host h.
func (a *antiAffinity) change(m, h, d int) int {
	c := a.cnt[m][h]
	return a.cost(m, h, c+d) - a.cost(m, h, c)
}

func (a *antiAffinity) hostAt(k int) int { return a.nodeHost[a.node[k]] }

func (a *antiAffinity) offending(k int) bool {
	m, h := a.owner[k], a.hostAt(k)
	return a.cost(m, h, a.cnt[m][h]) > 0
}

// movable tells whether exchanging places x and y changes anything.
func (a *antiAffinity) movable(x, y int) bool {
	return a.owner[x] != a.owner[y] && a.hostAt(x) != a.hostAt(y)
}

// delta is how the score moves when places x and y (movable) exchange nodes.
// The four (master, host) groups involved are distinct.
func (a *antiAffinity) delta(x, y int) int {
	mx, my, hx, hy := a.owner[x], a.owner[y], a.hostAt(x), a.hostAt(y)
	return a.change(mx, hx, -1) + a.change(mx, hy, +1) + a.change(my, hy, -1) + a.change(my, hx, +1)
}

func (a *antiAffinity) exchange(x, y int) {
	mx, my, hx, hy := a.owner[x], a.owner[y], a.hostAt(x), a.hostAt(y)
	a.cnt[mx][hx]--
	a.cnt[mx][hy]++
	a.cnt[my][hy]--
	a.cnt[my][hx]++
	a.node[x], a.node[y] = a.node[y], a.node[x]
}

// optimize lowers the score in deterministic stages.
//
// First a descent: exchange the first pair of replicas (in place order) that
// lowers the score, repeatedly, until no exchange does. Replicas on their
// master's host are then as few as any assignment of these replicas to these
// masters allows: with one such replica on host A and no exchange that helps,
// every other replica is on A or follows a master on A, which forces that
// many onto A's masters.
//
// Then redis-cli's own search, with a fixed-seed generator instead of rand():
// 500 steps per node, each trying to exchange a random offending replica with
// a random other one, kept unless the score rises (equal moves let it leave
// a plateau). It ends on the first layout with the lowest score seen, so a
// layout no step improves comes back unchanged. While the search finds
// something, descent and search repeat (at most 10 rounds).
func (a *antiAffinity) optimize(hosts int) {
	a.cnt = make([][]int, len(a.masterHost))
	for m := range a.cnt {
		a.cnt[m] = make([]int, hosts)
	}
	score := 0
	for k, m := range a.owner {
		a.cnt[m][a.hostAt(k)]++
	}
	for m := range a.cnt {
		for h, c := range a.cnt[m] {
			score += a.cost(m, h, c)
		}
	}
	if score == 0 {
		return
	}
	rng := splitMix64(0x9e3779b97f4a7c15)
	for round := 0; round < 10 && score > 0; round++ {
		score = a.descend(score)
		if score == 0 {
			break
		}
		s := a.walk(score, 500*len(a.nodeHost), &rng)
		if s == score {
			break
		}
		score = s
	}
}

// descend exchanges the first pair of places (in place order) whose exchange
// lowers the score, repeatedly, until none does; it returns the new score.
func (a *antiAffinity) descend(score int) int {
	n := len(a.owner)
	for improved := true; improved; {
		improved = false
		for x := 0; x < n; x++ {
			for y := 0; y < n && a.offending(x); y++ {
				if a.movable(x, y) {
					if d := a.delta(x, y); d < 0 {
						a.exchange(x, y)
						score += d
						improved = true
					}
				}
			}
		}
	}
	return score
}

// walk is redis-cli's random search for the given number of steps. It ends
// on the first layout with the lowest score it saw and returns that score.
func (a *antiAffinity) walk(score, steps int, rng *splitMix64) int {
	n := len(a.owner)
	if n < 2 {
		return score
	}
	best := append([]int(nil), a.node...)
	for ; steps > 0 && score > 0; steps-- {
		x, y := rng.intn(n), rng.intn(n)
		if !a.offending(x) || !a.movable(x, y) {
			continue
		}
		d := a.delta(x, y)
		if d > 0 {
			continue
		}
		a.exchange(x, y)
		if d < 0 {
			score += d
			copy(best, a.node)
		}
	}
	for k, m := range a.owner {
		a.cnt[m][a.hostAt(k)]--
		a.cnt[m][a.nodeHost[best[k]]]++
	}
	copy(a.node, best)
	return score
}

// splitMix64 is a small generator whose sequence is fixed forever, so the
// layout never changes with the Go version.
type splitMix64 uint64

func (r *splitMix64) next() uint64 {
	*r += 0x9e3779b97f4a7c15
	z := uint64(*r)
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// intn returns a number in [0, n); the slight modulo bias does not matter here.
func (r *splitMix64) intn(n int) int { return int(r.next() % uint64(n)) }

// Rebalance gives every shard an even share of the 16384 slots (the sizes
// EvenSplit would give, the larger shares going to the shards that hold
// most already) while moving as few slots as possible, as
// `redis-cli --cluster rebalance --cluster-use-empty-masters` aims to.
// current holds each shard's slots now (empty for a new shard); orphans
// are slots of shards being removed, or served by nobody. A shard over its
// share gives away its highest slots; a shard under it takes the lowest
// free ones. Every slot ends in exactly one shard.
func Rebalance(current []SlotSet, orphans SlotSet) []SlotSet {
	n := len(current)
	if n == 0 {
		return nil
	}
	out := make([]SlotSet, n)
	copy(out, current)
	base, extra := SlotCount/n, SlotCount%n
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return out[order[a]].Len() > out[order[b]].Len() })
	target := make([]int, n)
	for rank, i := range order {
		target[i] = base
		if rank < extra {
			target[i]++
		}
	}
	// Slots claimed twice keep their first shard; the rest are freed.
	var seen SlotSet
	for i := range out {
		dup := out[i].Intersect(seen)
		out[i] = out[i].Minus(dup)
		seen = seen.Union(out[i])
	}
	pool := orphans.Union(seen.Complement())
	for i := range out {
		pool = pool.Minus(out[i])
	}
	for i := range out {
		for over := out[i].Len() - target[i]; over > 0; over-- {
			last := lastSlot(out[i])
			out[i].Remove(last)
			pool.Add(last)
		}
	}
	for i := range out {
		for need := target[i] - out[i].Len(); need > 0; need-- {
			first := pool.First()
			pool.Remove(first)
			out[i].Add(first)
		}
	}
	return out
}

func lastSlot(s SlotSet) int {
	for i := SlotCount - 1; i >= 0; i-- {
		if s.Has(i) {
			return i
		}
	}
	return -1
}
