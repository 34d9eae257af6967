package cluster

// Which commands the ACL user may run: probes on first connection and before a plan's first change.

import (
	"context"
	"errors"
	"sort"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Access names a set of commands the provider sends to a node.
type Access int

const (
	// AccessManage: build, read, repair and fail back a cluster, and reset
	// its nodes on destroy. Checked on every first connection to a node.
	AccessManage Access = iota
	// AccessMove: move slots with their keys (a slot change, a shard added
	// or removed without declared slots, an open slot settled). MIGRATE
	// authenticates on the target as the same user, where it runs
	// RESTORE-ASKING (and SELECT), so every master needs these.
	AccessMove
	// AccessFlush: FLUSHALL before destroy, with force_destroy.
	AccessFlush
)

// accessProbe is one command of an Access set, and a harmless way to ask a
// node whether the ACL user may run it: Redis checks ACL permissions after
// the arity and before the command runs, so a probe with the right number
// of arguments but an invalid one is refused with NOPERM when the command
// is not allowed, and by the command's own argument check (changing
// nothing) when it is. Read-only commands are simply run.
type accessProbe struct {
	acl  string // ACL name, e.g. "cluster|meet"
	args []any
}

var accessProbes = map[Access][]accessProbe{
	AccessManage: {
		// INFO, CLUSTER MYID/INFO/NODES and DBSIZE are read before anything
		// changes; a NOPERM there names the command too.
		{"role", []any{"ROLE"}},
		{"cluster|meet", []any{"CLUSTER", "MEET", "-", "-"}},
		{"cluster|addslots", []any{"CLUSTER", "ADDSLOTS", "-1"}},
		{"cluster|addslotsrange", []any{"CLUSTER", "ADDSLOTSRANGE", "-1", "-1"}},
		{"cluster|set-config-epoch", []any{"CLUSTER", "SET-CONFIG-EPOCH", "-"}},
		{"cluster|replicate", []any{"CLUSTER", "REPLICATE", "-"}},
		{"cluster|failover", []any{"CLUSTER", "FAILOVER", "-"}},
		{"cluster|forget", []any{"CLUSTER", "FORGET", "-"}},
		{"cluster|reset", []any{"CLUSTER", "RESET", "-"}},
	},
	AccessMove: {
		{"cluster|setslot", []any{"CLUSTER", "SETSLOT", "-1", "STABLE"}},
		{"cluster|getkeysinslot", []any{"CLUSTER", "GETKEYSINSLOT", "0", "0"}},
		{"asking", []any{"ASKING"}},
		// A key that does not exist: NOKEY without connecting anywhere (or
		// MOVED). It also asks for key access: MIGRATE moves every key.
		{"migrate", []any{"MIGRATE", "127.0.0.1", "1", "", "0", "1", "KEYS", "{terraform-acl-probe}"}},
		// An invalid payload: refused before the key is touched.
		{"restore-asking", []any{"RESTORE-ASKING", "{terraform-acl-probe}", "0", "-"}},
		{"select", []any{"SELECT", "0"}},
	},
	AccessFlush: {
		// Two arguments are a syntax error in every version that has ACLs.
		{"flushall", []any{"FLUSHALL", "-", "-"}},
	},
}

// AccessCommands lists the ACL command names of an Access set, for
// documentation and messages.
func AccessCommands(a Access) []string {
	var out []string
	for _, p := range accessProbes[a] {
		out = append(out, p.acl)
	}
	return out
}

// probeAccess sends a's probes in one round trip and returns a
// *PermissionError naming every refused command, nil when all are allowed,
// or the transport error when the node did not answer.
func (p *Pool) probeAccess(ctx context.Context, c interface {
	Pipelined(context.Context, func(redis.Pipeliner) error) ([]redis.Cmder, error)
}, a Access) error {
	probes := accessProbes[a]
	cmds := make([]*redis.Cmd, len(probes))
	_, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, pr := range probes {
			cmds[i] = pl.Do(ctx, pr.args...)
		}
		return nil
	})
	var perm *PermissionError
	for i, cmd := range cmds {
		e := cmd.Err()
		if e == nil || errors.Is(e, redis.Nil) {
			continue
		}
		if !isRedisError(e) {
			return e // the connection failed
		}
		if !isPermission(e) {
			continue // refused by the command itself: allowed
		}
		if perm == nil {
			perm = &PermissionError{User: p.user(), Reply: e.Error()}
		}
		if isKeyPermission(e) {
			// The command is allowed, the probe's key is not: MIGRATE
			// and RESTORE-ASKING need every key (~*).
			perm.Keys = true
			continue
		}
		perm.Missing = append(perm.Missing, probes[i].acl)
	}
	if perm != nil {
		return perm
	}
	if err != nil && !isRedisError(err) {
		return err
	}
	return nil
}

func permissionNodeError(addr string, perm *PermissionError) *NodeError {
	ops := make([]string, 0, len(perm.Missing)+1)
	for _, c := range perm.Missing {
		ops = append(ops, strings.ToUpper(strings.ReplaceAll(c, "|", " ")))
	}
	if perm.Keys {
		ops = append(ops, "key access")
	}
	return &NodeError{Addr: addr, Kind: ErrPermission, Op: strings.Join(ops, ", "), Err: perm}
}

// onConnect checks AccessManage on the first connection to addr.
func (p *Pool) onConnect(ctx context.Context, addr string, cn *redis.Conn) error {
	p.mu.Lock()
	done := p.checked[addr]
	p.mu.Unlock()
	if done {
		return nil
	}
	err := p.probeAccess(ctx, cn, AccessManage)
	var perm *PermissionError
	switch {
	case errors.As(err, &perm):
		return &connError{permissionNodeError(addr, perm)}
	case err != nil:
		return err
	}
	p.mu.Lock()
	p.checked[addr] = true
	p.mu.Unlock()
	return nil
}

// CheckAccess asks every node in addrs, concurrently, whether the ACL user
// may run the commands of a, changing nothing. It returns one NodeError per
// node that refuses any (naming the commands) or did not answer. Callers
// run it before the first command of a that would change something: slot
// moves, FLUSHALL.
func (p *Pool) CheckAccess(ctx context.Context, addrs []string, a Access) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs Errors
	for _, addr := range addrs {
		wg.Add(1)
		go func(addr string) {
			defer wg.Done()
			err := p.probeAccess(ctx, p.Client(addr), a)
			if err == nil {
				return
			}
			var perm *PermissionError
			var ne error
			if errors.As(err, &perm) {
				ne = permissionNodeError(addr, perm)
			} else {
				ne = nodeErr(addr, "ACL check", err)
			}
			mu.Lock()
			errs = append(errs, ne)
			mu.Unlock()
		}(addr)
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs.Err()
}

// CheckStepAccess checks, before steps run, that the ACL user may run what
// they need beyond AccessManage, which every connection checks already:
// with a slot move among them (StepMoveSlots, StepFixSlot), AccessMove on
// every master observed, as MIGRATE logs in on the target as the same user
// and SETSLOT NODE goes to every master. It changes nothing; a refusal names
// each node and command, before the first slot opens.
func (p *Pool) CheckStepAccess(ctx context.Context, steps []Step, obs *Observed) error {
	moves := false
	for _, s := range steps {
		if s.Kind == StepMoveSlots || s.Kind == StepFixSlot {
			moves = true
			break
		}
	}
	if !moves || obs == nil {
		return nil
	}
	var masters []string
	for _, a := range sortedKeys(obs.Nodes) {
		if self := obs.Node(a).Self(); self != nil && self.IsMaster() {
			masters = append(masters, a)
		}
	}
	return p.CheckAccess(ctx, masters, AccessMove)
}
