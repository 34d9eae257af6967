package cluster

import (
	"fmt"
	"sort"
	"strings"
)

// The oldest servers the provider supports: Redis 6.0 (Ubuntu 22.04's) and
// every Valkey (7.2 and later report redis_version 7.2.4). Older servers
// lack ACL users and were never tested.
const (
	minMajor = 6
	minMinor = 0
)

// engineProblem says why a node's server is not supported, or "".
func engineProblem(n *NodeState) string {
	if n == nil || n.Version == "" || n.AtLeast(minMajor, minMinor) {
		return ""
	}
	return fmt.Sprintf("runs %s, older than the Redis %d.%d this provider supports", n.EngineName(), minMajor, minMinor)
}

// EngineName is the node's engine and version as people name them
// ("redis 7.0.15", "valkey 9.1.2").
func (n *NodeState) EngineName() string {
	engine, v := n.Engine, n.EngineVersion
	if engine == "" {
		engine = "redis"
	}
	if v == "" {
		v = n.Version
	}
	return engine + " " + v
}

// MixedVersions describes a cluster whose members run different engines
// or versions (a rolling upgrade), grouping the addresses by what they run;
// "" when all run the same. versions maps an address to its EngineName.
func MixedVersions(versions map[string]string) string {
	by := map[string][]string{}
	for addr, v := range versions {
		if v != "" {
			by[v] = append(by[v], addr)
		}
	}
	if len(by) < 2 {
		return ""
	}
	var parts []string
	for _, v := range sortedKeys(by) {
		addrs := by[v]
		sort.Strings(addrs)
		parts = append(parts, fmt.Sprintf("%s on %s", v, strings.Join(addrs, ", ")))
	}
	return strings.Join(parts, "; ")
}
