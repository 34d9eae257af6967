package cluster

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Shard is a master, its replicas and the slots the master serves. In a
// desired topology these are declared addresses; in an observed one they are
// what the cluster reports for the same addresses.
type Shard struct {
	Master   string
	Replicas []string
	Slots    SlotSet
}

// Members lists the shard's master first, then its replicas.
func (s Shard) Members() []string {
	return append([]string{s.Master}, s.Replicas...)
}

// Desired is the cluster a configuration declares.
type Desired struct {
	Shards []Shard
	// Failback: a replica promoted by a failover is handed mastership back.
	Failback bool
	// Remove lists nodes to take out of the cluster: their slots move (with
	// their keys) to the declared owners, every member forgets them, and
	// they are reset to empty lone nodes.
	Remove []string
	// Config: settings every declared node must have (CONFIG GET form),
	// applied with CONFIG SET; nil declares none.
	Config map[string]string
}

// Observed lists every address an apply reads: the declared nodes and
// those being removed.
func (d Desired) Observed() []string {
	return append(d.Addrs(), d.Remove...)
}

// Addrs lists every declared address, shard by shard, master first.
func (d Desired) Addrs() []string {
	var out []string
	for _, s := range d.Shards {
		out = append(out, s.Members()...)
	}
	return out
}

// Role returns the declared role of addr and, for a replica, its master.
func (d Desired) Role(addr string) (role, master string, ok bool) {
	for _, s := range d.Shards {
		if s.Master == addr {
			return RoleMaster, "", true
		}
		for _, r := range s.Replicas {
			if r == addr {
				return RoleReplica, s.Master, true
			}
		}
	}
	return "", "", false
}

// ShardOf returns the index of the shard that declares addr, or -1.
func (d Desired) ShardOf(addr string) int {
	for i, s := range d.Shards {
		for _, m := range s.Members() {
			if m == addr {
				return i
			}
		}
	}
	return -1
}

// Validate checks what can be checked without talking to Redis: at least one
// shard, well-formed unique addresses, and slots that cover 0-16383 exactly
// once. Each problem names the shard and attribute.
func (d Desired) Validate() error {
	var errs Errors
	if len(d.Shards) == 0 {
		return fmt.Errorf("shards: at least one shard is required")
	}
	seen := map[string]string{}
	for i, s := range d.Shards {
		for j, a := range s.Members() {
			where := fmt.Sprintf("shards[%d].master", i)
			if j > 0 {
				where = fmt.Sprintf("shards[%d].replicas[%d]", i, j-1)
			}
			if err := ValidateAddress(a); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", where, err))
				continue
			}
			if prev, dup := seen[a]; dup {
				errs = append(errs, fmt.Errorf("%s: address %s is already used by %s: each node may appear once", where, a, prev))
				continue
			}
			seen[a] = where
		}
	}
	var all SlotSet
	for i, s := range d.Shards {
		if ov := all.Intersect(s.Slots); !ov.Empty() {
			errs = append(errs, fmt.Errorf("shards[%d].slots: slots %s are also assigned to an earlier shard: each slot belongs to exactly one shard", i, ov))
		}
		all = all.Union(s.Slots)
	}
	if missing := all.Complement(); !missing.Empty() {
		errs = append(errs, fmt.Errorf("shards[*].slots: slots %s are assigned to no shard: together the shards must cover 0-16383", missing))
	}
	return errs.Err()
}

// ValidateAddress checks "host:port" with a port in 1-65535.
func ValidateAddress(a string) error {
	host, port, err := net.SplitHostPort(a)
	if err != nil {
		return fmt.Errorf("%q is not a host:port address (for example 10.0.0.11:6379)", a)
	}
	if host == "" || strings.ContainsAny(host, " /") {
		return fmt.Errorf("%q has no valid host (want host:port, for example 10.0.0.11:6379)", a)
	}
	p, err := strconv.Atoi(port)
	if err != nil || p < 1 || p > 65535 {
		return fmt.Errorf("%q has port %q: the port must be a number from 1 to 65535", a, port)
	}
	return nil
}
