package cluster

// The deterministic stand-in for redis-cli's anti-affinity search, with its fixed-seed generator.

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
