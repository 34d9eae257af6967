package cluster

// Which path a slot move takes (MIGRATE or the engine's atomic migration), and the announces it spares.

import (
	"context"
	"strconv"
	"strings"
)

// MovePath is how a slot move carries its keys.
type MovePath int

const (
	// PathMigrate: the provider drives the move, SETSLOT IMPORTING and
	// MIGRATING, the keys in MIGRATE batches, then SETSLOT NODE. Clients
	// are redirected with ASK while a slot is half moved.
	PathMigrate MovePath = iota
	// PathRedisImport: Redis 8.4+ atomic slot migration, pulled by the
	// target (CLUSTER MIGRATION IMPORT, STATUS, CANCEL).
	PathRedisImport
	// PathValkeyExport: Valkey 9.0+ atomic slot migration, pushed by the
	// source (CLUSTER MIGRATESLOTS, GETSLOTMIGRATIONS, CANCELSLOTMIGRATIONS).
	PathValkeyExport
)

func (p MovePath) String() string {
	switch p {
	case PathRedisImport:
		return "atomic slot migration (CLUSTER MIGRATION IMPORT, Redis 8.4+)"
	case PathValkeyExport:
		return "atomic slot migration (CLUSTER MIGRATESLOTS, Valkey 9.0+)"
	}
	return "key by key (MIGRATE)"
}

// Atomic tells whether the engine moves the slots itself.
func (p MovePath) Atomic() bool { return p != PathMigrate }

// MovePathFor is the path a move from a node running engine srcEngine
// (version srcVersion, as INFO server reports it: "redis" or "valkey" and
// that engine's own version) to one running dstEngine takes: the engines'
// atomic slot migration when both ends are the same engine and support it,
// else MIGRATE. An unknown engine or version means MIGRATE.
func MovePathFor(srcEngine, srcVersion, dstEngine, dstVersion string) MovePath {
	if srcEngine != dstEngine {
		return PathMigrate
	}
	switch srcEngine {
	case "redis":
		if versionAtLeast(srcVersion, 8, 4) && versionAtLeast(dstVersion, 8, 4) {
			return PathRedisImport
		}
	case "valkey":
		if versionAtLeast(srcVersion, 9, 0) && versionAtLeast(dstVersion, 9, 0) {
			return PathValkeyExport
		}
	}
	return PathMigrate
}

// versionAtLeast tells whether "major.minor[.patch]" is at least major.minor.
func versionAtLeast(v string, major, minor int) bool {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return false
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(parts[1])
	if err1 != nil || err2 != nil {
		return false
	}
	return ma > major || (ma == major && mi >= minor)
}

// movePath is the path s takes, from the engines observed at both ends
// (read from the nodes when the observation lacks one).
func (e *Executor) movePath(ctx context.Context, obs *Observed, s Step) MovePath {
	if e.KeyByKey {
		return PathMigrate
	}
	src, dst := obs.Node(s.Addr), obs.Node(s.Target)
	if !src.OK() || !dst.OK() || src.Engine == "" || dst.Engine == "" {
		p, _ := PathOf(ctx, e.Pool, s.Addr, s.Target)
		return p
	}
	return MovePathFor(src.Engine, src.EngineVersion, dst.Engine, dst.EngineVersion)
}

// skipAnnounces drops the announce round (a second MEET between every two
// nodes) from a plan whose only changes are atomic slot moves that leave
// every source some slots: the move itself tells the other masters the
// new owner (moveSlotsAtomic), roles do not change, and a MEET between
// nodes that know each other opens a handshake entry and reconnects their
// link, which the readiness wait then waits out (about 200 ms measured on
// Redis 8.6, longer than the move of 50k keys itself).
func (e *Executor) skipAnnounces(ctx context.Context, obs *Observed, steps []Step) []Step {
	announces := 0
	giving := map[string]SlotSet{}
	for _, s := range steps {
		switch {
		case s.Kind == StepAnnounce:
			announces++
		case s.Kind.Barrier():
		case s.Kind == StepMoveSlots && e.movePath(ctx, obs, s).Atomic():
			giving[s.Addr] = giving[s.Addr].Union(s.Slots)
			if self := obs.Node(s.Addr).Self(); self == nil || self.Slots.Minus(giving[s.Addr]).Empty() {
				return steps // the source gives its last slot away and turns replica
			}
		default:
			return steps
		}
	}
	if announces == 0 {
		return steps
	}
	e.debug(ctx, "skipping the announce round: the plan only moves slots with the engines' atomic migration", map[string]any{"announces": announces})
	out := make([]Step, 0, len(steps)-announces)
	for _, s := range steps {
		if s.Kind != StepAnnounce {
			out = append(out, s)
		}
	}
	return out
}
