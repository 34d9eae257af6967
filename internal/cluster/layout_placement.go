package cluster

// Which nodes become masters and which master each replica follows, as redis-cli create chooses.

import (
	"fmt"
	"net"
	"strconv"
)

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
