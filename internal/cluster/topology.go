package cluster

import (
	"errors"
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
// once. It returns ErrNoShards, or Errors of *ShardError, each naming the
// shard and member or slots at fault.
func (d Desired) Validate() error {
	var errs Errors
	if len(d.Shards) == 0 {
		return ErrNoShards
	}
	seen := map[string]Position{}
	for i, s := range d.Shards {
		for j, a := range s.Members() {
			at := Position{Shard: i, Member: j}
			if err := ValidateAddress(a); err != nil {
				errs = append(errs, &ShardError{At: at, Err: err})
				continue
			}
			if prev, dup := seen[a]; dup {
				errs = append(errs, &ShardError{At: at, Addr: a, Dup: &prev})
				continue
			}
			seen[a] = at
		}
	}
	var all SlotSet
	for i, s := range d.Shards {
		if ov := all.Intersect(s.Slots); !ov.Empty() {
			errs = append(errs, &ShardError{At: Position{Shard: i, Member: SlotsOf}, Twice: ov})
		}
		all = all.Union(s.Slots)
	}
	if missing := all.Complement(); !missing.Empty() {
		errs = append(errs, &ShardError{At: Position{Shard: AllShards, Member: SlotsOf}, Missing: missing})
	}
	return errs.Err()
}

// ErrNoShards: a declaration without any shard.
var ErrNoShards = errors.New("at least one shard is required")

// Position points into a declaration: shard Shard (AllShards: every
// shard), its member Member (0 the master, j > 0 replica j-1) or its
// slots (SlotsOf).
type Position struct {
	Shard, Member int
}

const (
	// AllShards is the Shard of a Position about the shards together.
	AllShards = -1
	// SlotsOf is the Member of a Position about a shard's slots.
	SlotsOf = -1
)

func (p Position) String() string {
	shard := fmt.Sprintf("shard %d", p.Shard)
	if p.Shard == AllShards {
		shard = "the shards"
	}
	switch p.Member {
	case SlotsOf:
		return shard + " slots"
	case 0:
		return shard + " master"
	}
	return fmt.Sprintf("%s replica %d", shard, p.Member-1)
}

// ShardError is one problem Validate found, at At; one of Err (the
// address is malformed), Dup (Addr is also the member at Dup), Twice (the
// slots are also an earlier shard's) or Missing (no shard has the slots).
type ShardError struct {
	At      Position
	Err     error
	Addr    string
	Dup     *Position
	Twice   SlotSet
	Missing SlotSet
}

func (e *ShardError) Error() string { return e.At.String() + ": " + e.Reason(Position.String) }

// Reason says what is wrong, naming other positions with name.
func (e *ShardError) Reason(name func(Position) string) string {
	switch {
	case e.Err != nil:
		return e.Err.Error()
	case e.Dup != nil:
		return fmt.Sprintf("address %s is already used by %s: each node may appear once", e.Addr, name(*e.Dup))
	case !e.Twice.Empty():
		return fmt.Sprintf("slots %s are also assigned to an earlier shard: each slot belongs to exactly one shard", e.Twice)
	}
	return fmt.Sprintf("slots %s are assigned to no shard: together the shards must cover 0-16383", e.Missing)
}

func (e *ShardError) Unwrap() error { return e.Err }

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
