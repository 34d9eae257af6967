package cluster

import (
	"fmt"
	"net"
	"sort"
	"strings"
)

// Safety checks: what hurts people who run Redis Cluster by hand before it
// bites. Each check is a pure function of one observation (or of the
// declaration alone, before the cluster exists) and yields warnings that
// name the nodes, say what can go wrong and how to fix it.

// Warning kinds, as acknowledge_warnings names them.
const (
	WarnSettingsDiffer   = "settings_differ"
	WarnNoPersistence    = "no_persistence"
	WarnReplicaNotInSync = "replica_not_in_sync"
	WarnSameHost         = "same_host"
	WarnNoFailover       = "no_failover"
	WarnReplicaMigration = "replica_migration"
)

// WarningKinds lists every kind, in the order warnings are reported.
var WarningKinds = []string{
	WarnSettingsDiffer, WarnNoPersistence, WarnReplicaNotInSync,
	WarnSameHost, WarnNoFailover, WarnReplicaMigration,
}

// MatchSettings should have one value on every node of a cluster.
var MatchSettings = []string{
	"cluster-node-timeout", "cluster-require-full-coverage",
	"cluster-allow-replica-migration", "cluster-migration-barrier",
}

// SafetyKeys are the settings the safety checks read on every node.
var SafetyKeys = append(append([]string(nil), MatchSettings...), "save", "appendonly")

// Warning is one safety finding.
type Warning struct {
	Kind    string
	Nodes   []string // the nodes concerned, sorted
	Summary string   // short, Title Case
	Detail  string   // the nodes and what can go wrong
	Fix     string   // what to do about it
}

// safetyMember is one cluster member as the checks see it.
type safetyMember struct {
	addr     string
	ip       string
	master   bool
	masterID string
	id       string
	serving  bool       // a master serving slots
	facts    *NodeState // nil when the node was not read
}

// Safety runs every check on an observation. view is one member's CLUSTER
// NODES (the topology: who is master, who replicates whom, the announced
// IPs); obs holds the nodes read with ObserveOptions.Safety, matched to
// view by node ID. A member not read gets only the topology checks.
// declared tells that the shards are declared (redis_cluster), which
// replica migration works against. Pure.
func Safety(view []NodeLine, obs *Observed, declared bool) []Warning {
	var ms []safetyMember
	for _, l := range view {
		if l.Handshake() || l.HasFlag("noaddr") || l.Failing() {
			continue
		}
		m := safetyMember{id: l.ID, ip: l.IP, master: l.IsMaster(), masterID: l.MasterID,
			serving: l.IsMaster() && !l.Slots.Empty(), addr: l.Addr()}
		if a := obs.AddrOf(l.ID); a != "" {
			m.addr = a
			m.facts = obs.Node(a)
			if m.ip == "" {
				m.ip = m.facts.IP
			}
		}
		if m.addr == "" {
			continue
		}
		ms = append(ms, m)
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].addr < ms[j].addr })
	var out []Warning
	out = append(out, settingsDiffer(ms)...)
	out = append(out, noPersistence(ms)...)
	out = append(out, replicasNotInSync(ms)...)
	out = append(out, topologyWarnings(shardsOf(ms))...)
	if declared {
		out = append(out, replicaMigration(ms)...)
	}
	return out
}

// DeclaredSafety runs the checks a declaration alone allows, before the
// cluster exists: shard members on one host (by the host part of their
// addresses) and shards that cannot fail over. Pure.
func DeclaredSafety(shards []Shard) []Warning {
	var groups []safetyShard
	for _, s := range shards {
		g := safetyShard{master: safetyMember{addr: s.Master, ip: hostOf(s.Master), master: true, serving: true}}
		for _, r := range s.Replicas {
			g.replicas = append(g.replicas, safetyMember{addr: r, ip: hostOf(r)})
		}
		groups = append(groups, g)
	}
	return topologyWarnings(groups)
}

func hostOf(addr string) string {
	h, _, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	return h
}

type safetyShard struct {
	master   safetyMember
	replicas []safetyMember
}

func shardsOf(ms []safetyMember) []safetyShard {
	var out []safetyShard
	for _, m := range ms {
		if !m.serving {
			continue
		}
		g := safetyShard{master: m}
		for _, r := range ms {
			if !r.master && r.masterID == m.id {
				g.replicas = append(g.replicas, r)
			}
		}
		out = append(out, g)
	}
	return out
}

func settingsDiffer(ms []safetyMember) []Warning {
	var lines []string
	nodes := map[string]bool{}
	for _, k := range MatchSettings {
		byValue := map[string][]string{}
		for _, m := range ms {
			if !m.facts.OK() || m.facts.Config == nil {
				continue
			}
			if v, ok := m.facts.Config[k]; ok {
				byValue[v] = append(byValue[v], m.addr)
			}
		}
		if len(byValue) < 2 {
			continue
		}
		var parts []string
		for _, v := range sortedKeys(byValue) {
			parts = append(parts, fmt.Sprintf("%q on %s", v, strings.Join(byValue[v], ", ")))
			for _, a := range byValue[v] {
				nodes[a] = true
			}
		}
		lines = append(lines, fmt.Sprintf("- %s: %s", k, strings.Join(parts, "; ")))
	}
	if len(lines) == 0 {
		return nil
	}
	return []Warning{{Kind: WarnSettingsDiffer, Nodes: sortedKeys(nodes), Summary: "Cluster Settings Differ Between Nodes",
		Detail: "These settings should have one value on every node, replicas included, but differ:\n" + strings.Join(lines, "\n") +
			"\nNodes then disagree on when a node has failed, on whether the cluster serves with slots uncovered, and on when replicas move: " +
			"failovers happen on some nodes' terms and not others'.",
		Fix: "declare one value for each of these settings and apply: every node gets it."}}
}

func noPersistence(ms []safetyMember) []Warning {
	var bad []string
	for _, m := range ms {
		if !m.serving || !m.facts.OK() || m.facts.Config == nil {
			continue
		}
		save, ok1 := m.facts.Config["save"]
		aof, ok2 := m.facts.Config["appendonly"]
		if ok1 && ok2 && strings.TrimSpace(save) == "" && aof == "no" {
			bad = append(bad, m.addr)
		}
	}
	if len(bad) == 0 {
		return nil
	}
	return []Warning{{Kind: WarnNoPersistence, Nodes: bad, Summary: "Master Without Persistence",
		Detail: fmt.Sprintf("Masters with neither AOF (appendonly no) nor RDB save points (save \"\"): %s.\n", strings.Join(bad, ", ")) +
			"If such a master restarts (crash, reboot, OOM kill, systemd restart) before a replica takes over (within cluster-node-timeout), " +
			"it comes back empty, or with an old dump.rdb left from when it was a replica, and its replicas resync from it: every key of its slots is lost.",
		Fix: "enable AOF or save points (appendonly yes), or make sure a failed master is not restarted automatically (it then rejoins as a replica after the failover)."}}
}

func replicasNotInSync(ms []safetyMember) []Warning {
	byID := map[string]string{}
	for _, m := range ms {
		byID[m.id] = m.addr
	}
	var bad, lines []string
	for _, m := range ms {
		if m.master || !m.facts.OK() || m.facts.Repl == nil {
			continue
		}
		r := m.facts.Repl
		why := ""
		switch {
		case r["master_sync_in_progress"] == "1":
			why = "its first sync is still in progress"
		case r["master_link_status"] != "up":
			why = fmt.Sprintf("its link to the master is %s", orUnknown(r["master_link_status"]))
		}
		if why == "" {
			continue
		}
		master := byID[m.masterID]
		if master == "" {
			master = "node " + short(m.masterID)
		}
		bad = append(bad, m.addr)
		lines = append(lines, fmt.Sprintf("- %s (replica of %s): %s", m.addr, master, why))
	}
	if len(bad) == 0 {
		return nil
	}
	return []Warning{{Kind: WarnReplicaNotInSync, Nodes: bad, Summary: "Replica Not In Sync",
		Detail: "These replicas are not in sync with their master:\n" + strings.Join(lines, "\n") +
			"\nA replica whose data is not usable refuses to fail over: if the master fails now, its slots stay down, and nothing else says so.",
		Fix: "a first sync after a replica joins takes a few seconds (repl-diskless-sync-delay) and ends by itself; " +
			"a link that stays down needs the replica's log: masterauth, the network between the nodes, or a replication buffer too small (client-output-buffer-limit replica)."}}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

func topologyWarnings(shards []safetyShard) []Warning {
	var out []Warning
	var hostLines []string
	hostNodes := map[string]bool{}
	for _, s := range shards {
		byIP := map[string][]string{}
		for _, m := range append([]safetyMember{s.master}, s.replicas...) {
			if m.ip != "" {
				byIP[m.ip] = append(byIP[m.ip], m.addr)
			}
		}
		for _, ip := range sortedKeys(byIP) {
			if len(byIP[ip]) > 1 {
				hostLines = append(hostLines, fmt.Sprintf("- shard of %s: %s all on %s", s.master.addr, strings.Join(byIP[ip], ", "), ip))
				for _, a := range byIP[ip] {
					hostNodes[a] = true
				}
			}
		}
	}
	if len(hostLines) > 0 {
		out = append(out, Warning{Kind: WarnSameHost, Nodes: sortedKeys(hostNodes), Summary: "Shard Members On One Host",
			Detail: "A master and its replicas share a host (same IP):\n" + strings.Join(hostLines, "\n") +
				"\nWhen that host fails, the master and its replicas fail together: no replica is left to take over, and the shard's slots are down.",
			Fix: "place each replica on another host than its master (and than the other replicas of that master)."})
	}
	var lines []string
	nodes := map[string]bool{}
	if n := len(shards); n > 0 && n < 3 {
		var masters []string
		for _, s := range shards {
			masters = append(masters, s.master.addr)
			nodes[s.master.addr] = true
		}
		lines = append(lines, fmt.Sprintf("- only %d master(s) serve slots (%s): a failover needs a majority of the masters to vote, and with fewer than three the loss of one master leaves no majority", n, strings.Join(masters, ", ")))
	}
	var lonely []string
	for _, s := range shards {
		if len(s.replicas) == 0 {
			lonely = append(lonely, s.master.addr)
			nodes[s.master.addr] = true
		}
	}
	sort.Strings(lonely)
	if len(lonely) > 0 {
		lines = append(lines, fmt.Sprintf("- masters without a replica: %s: when one fails, no node can take over its slots", strings.Join(lonely, ", ")))
	}
	if len(lines) > 0 {
		out = append(out, Warning{Kind: WarnNoFailover, Nodes: sortedKeys(nodes), Summary: "No Failover Possible",
			Detail: "The cluster cannot fail over:\n" + strings.Join(lines, "\n") +
				"\nA failed master then keeps its slots down (and, with cluster-require-full-coverage yes, the whole cluster) until it comes back.",
			Fix: "run at least three masters, each with at least one replica on another host."})
	}
	return out
}

func replicaMigration(ms []safetyMember) []Warning {
	var on []string
	for _, m := range ms {
		if m.facts.OK() && m.facts.Config != nil && m.facts.Config["cluster-allow-replica-migration"] == "yes" {
			on = append(on, m.addr)
		}
	}
	if len(on) == 0 {
		return nil
	}
	return []Warning{{Kind: WarnReplicaMigration, Nodes: on, Summary: "Replica Migration Enabled",
		Detail: fmt.Sprintf("cluster-allow-replica-migration is yes (the default) on %s, while the shards are declared.\n", strings.Join(on, ", ")) +
			"When a master is left without a working replica, Redis moves a replica from a master that has more than cluster-migration-barrier of them: " +
			"the live shards then differ from the declared ones, the next plan shows it as drift, and apply moves the replica back.",
		Fix: "set cluster-allow-replica-migration to no, so that only the declared shards place replicas; or accept this warning if you want Redis to move them."}}
}

// Acknowledged tells whether kind is among acks.
func Acknowledged(kind string, acks []string) bool {
	for _, a := range acks {
		if a == kind {
			return true
		}
	}
	return false
}
