package cluster

import "fmt"

// Plan's membership phases: config epochs for fresh nodes, forgetting
// stale entries, and the full-mesh MEET.

// epochSteps gives each declared node that has never met anyone (config
// epoch 0, a view of itself only, current epoch 0) a distinct config epoch
// above every current epoch, as redis-cli does when it creates a cluster.
func (p *planner) epochSteps() []Step {
	var maxEpoch int64
	for _, a := range p.addrs {
		if e := p.obs.Node(a).InfoInt("cluster_current_epoch"); e > maxEpoch {
			maxEpoch = e
		}
	}
	var steps []Step
	next := maxEpoch + 1
	for _, a := range p.addrs {
		n := p.obs.Node(a)
		if self := n.Self(); self.ConfigEpoch == 0 && len(n.View) == 1 &&
			n.InfoInt("cluster_current_epoch") == 0 {
			steps = append(steps, Step{Kind: StepSetEpoch, Addr: a, Epoch: next})
			next++
		}
	}
	return steps
}

// forgetSteps makes every member that still knows a stale entry (a node
// reset or replaced at a declared address leaves its old ID behind) forget
// it, except a replica of that ID: it cannot forget its master until it
// follows another one, which a later round handles.
func (p *planner) forgetSteps() []Step {
	var steps []Step
	for _, a := range p.addrs {
		self := p.obs.Node(a).Self()
		for _, l := range p.obs.Node(a).View {
			if why := p.stale[l.ID]; why != "" && !l.Myself() && self.MasterID != l.ID {
				steps = append(steps, Step{Kind: StepForget, Addr: a, TargetID: l.ID, Why: why})
			}
		}
	}
	return steps
}

// meetSteps joins every pair of declared nodes that do not know each
// other with one CLUSTER MEET, then waits until all know each other.
func (p *planner) meetSteps() []Step {
	var steps []Step
	for i, a := range p.addrs {
		for _, b := range p.addrs[i+1:] {
			var st Step
			switch {
			case !knows(p.obs, a, b):
				st = meetStep(StepMeet, p.obs, a, b)
			case !knows(p.obs, b, a):
				st = meetStep(StepMeet, p.obs, b, a)
			default:
				continue
			}
			st.Why = fmt.Sprintf("%s and %s do not know each other; apply joins them with CLUSTER MEET", a, b)
			steps = append(steps, st)
		}
	}
	if len(steps) > 0 {
		steps = append(steps, Step{Kind: StepWaitKnown})
	}
	return steps
}

// staleEntries finds node IDs that declared members still know but that
// no longer exist: an entry at a declared node's address with another ID
// (the node was reset hard or replaced), or an address-less entry whose ID
// no declared node has. It maps each ID to the reason.
func staleEntries(d Desired, obs *Observed) map[string]string {
	current := map[string]bool{}
	byAddr := map[string]string{} // announced address -> declared address
	for _, a := range d.Addrs() {
		current[obs.ID(a)] = true
		byAddr[a] = a
		if self := obs.Node(a).Self(); self != nil && self.Addr() != "" {
			byAddr[self.Addr()] = a
		}
	}
	out := map[string]string{}
	for _, a := range d.Addrs() {
		for _, l := range obs.Node(a).View {
			if current[l.ID] || l.Myself() || l.Handshake() {
				continue
			}
			if at, ok := byAddr[l.Addr()]; ok {
				out[l.ID] = fmt.Sprintf("node ID %s at %s was replaced by %s (the node was reset or replaced); apply makes every member forget the old ID", short(l.ID), at, short(obs.ID(at)))
			} else if l.HasFlag("noaddr") {
				out[l.ID] = fmt.Sprintf("node ID %s has no address and belongs to no declared node (a node that was reset or replaced); apply makes every member forget it", short(l.ID))
			}
		}
	}
	return out
}

// knows tells whether the node at a knows the node at b by its current ID.
func knows(obs *Observed, a, b string) bool {
	l := obs.Node(a).Lookup(obs.ID(b))
	return l != nil && !l.Handshake() && !l.HasFlag("noaddr")
}

func meetStep(kind StepKind, obs *Observed, from, to string) Step {
	t := obs.Node(to)
	self := t.Self()
	ip := self.IP
	if ip == "" {
		ip = t.IP
	}
	port, bus := self.Port, self.BusPort
	return Step{Kind: kind, Addr: from, Target: to, IP: ip, Port: port, BusPort: bus}
}
