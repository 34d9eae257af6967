package cluster

import (
	"fmt"
	"sort"
)

// Predict returns the members an apply of d leaves, from the members as
// last read (current, keyed by address as Members returns them). Apply
// returns only once the cluster converged on d (see Converged), so:
//   - each declared shard's master serves exactly the shard's slots and
//     every other member of the shard replicates it. With Failback the
//     master is the declared one; without it, a replica promoted by a
//     failover (it serves slots while the declared master does not) stays
//     master, as Plan leaves it;
//   - node IDs do not change: a declared node keeps the ID read, and a node
//     not read yet (joining the cluster) has ID "" (unknown until apply), as
//     has the master_id of its replicas;
//   - nodes in d.Remove leave the members;
//   - a member no shard declares (joined by hand) keeps its role and slots;
//     a replica of it follows its master's new master when that master
//     becomes a replica, as Redis moves the replicas of a demoted master.
//
// LinkState and Flags, which change with every gossip round, are left
// empty. Pure.
func Predict(d Desired, current map[string]Member) map[string]Member {
	out := map[string]Member{}
	newMaster := map[string]string{} // node ID -> ID of the master it follows after apply
	for _, s := range d.Shards {
		acting := s.Master
		if !d.Failback || cutOff(current[s.Master]) {
			acting = actingMaster(s, current)
		}
		masterID := current[acting].ID
		for _, a := range s.Members() {
			c := current[a]
			if cutOff(c) && a != acting {
				// Apply sends nothing to a node cut off from the majority
				// (it fails instead): it stays as the majority sees it.
				m := c
				m.LinkState, m.Flags = "", nil
				out[a] = m
				continue
			}
			m := Member{Addr: a, ID: c.ID, Engine: c.Engine, Version: c.Version, Reachable: true}
			if a == acting {
				m.Role, m.Slots = RoleMaster, s.Slots
			} else {
				m.Role, m.MasterID = RoleReplica, masterID
			}
			if c.ID != "" && m.Role == RoleReplica && masterID != "" {
				newMaster[c.ID] = masterID
			}
			out[a] = m
		}
	}
	removed := map[string]bool{}
	for _, a := range d.Remove {
		removed[a] = true
	}
	for a, c := range current {
		if _, declared := out[a]; declared || removed[a] {
			continue
		}
		m := c
		m.LinkState, m.Flags = "", nil
		if id, ok := newMaster[m.MasterID]; ok && m.Role == RoleReplica {
			m.MasterID = id
		}
		out[a] = m
	}
	return out
}

// cutOff tells whether a member Terraform reaches is flagged failing by
// the cluster (its flags come from the majority's view): it is on the
// minority side of a partition.
func cutOff(m Member) bool {
	if !m.Reachable {
		return false
	}
	for _, f := range m.Flags {
		if f == "fail" || f == "fail?" {
			return true
		}
	}
	return false
}

// actingMaster is the member of s that stays master without failback: the
// declared master when it serves slots, else a declared replica that serves
// slots since a failover, else the declared master.
func actingMaster(s Shard, current map[string]Member) string {
	if m := current[s.Master]; m.Role == RoleMaster && !m.Slots.Empty() {
		return s.Master
	}
	for _, r := range s.Replicas {
		if m := current[r]; m.Role == RoleMaster && !m.Slots.Empty() {
			return r
		}
	}
	return s.Master
}

// Changes says in words, node by node in address order, how predicted
// differs from current in role, master and slots: the same changes a plan
// diff of the members shows.
func Changes(current, predicted map[string]Member) []string {
	addrOf := map[string]string{}
	for _, ms := range []map[string]Member{current, predicted} {
		for a, m := range ms {
			if m.ID != "" {
				addrOf[m.ID] = a
			}
		}
	}
	describe := func(m Member, ok bool) string {
		switch {
		case !ok:
			return "not a member"
		case m.Role == RoleMaster && m.Slots.Empty():
			return "master without slots"
		case m.Role == RoleMaster:
			return "master of slots " + m.Slots.String()
		case m.Role == RoleReplica && m.MasterID == "":
			return "replica of a node joining now"
		case m.Role == RoleReplica:
			if a := addrOf[m.MasterID]; a != "" {
				return "replica of " + a
			}
			return "replica of node " + short(m.MasterID)
		}
		return "unknown role"
	}
	addrs := make([]string, 0, len(predicted)+len(current))
	for a := range predicted {
		addrs = append(addrs, a)
	}
	for a := range current {
		if _, ok := predicted[a]; !ok {
			addrs = append(addrs, a)
		}
	}
	sort.Strings(addrs)
	var out []string
	for _, a := range addrs {
		c, inC := current[a]
		p, inP := predicted[a]
		if inC && inP && c.Role == p.Role && c.MasterID == p.MasterID && c.Slots.Equal(p.Slots) {
			continue
		}
		out = append(out, fmt.Sprintf("%s: %s -> %s", a, describe(c, inC), describe(p, inP)))
	}
	return out
}
