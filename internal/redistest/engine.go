package redistest

import (
	"fmt"
	"strings"
	"testing"
)

// Engine is the server Start runs: Redis or Valkey, and its version (from `redis-server
// --version`; for Valkey its own version, not the redis_version it reports for clients).
type Engine struct {
	Name                string // "redis" or "valkey"
	Major, Minor, Patch int
}

// String returns e.g. "Redis 6.0.16" or "Valkey 9.1.2".
func (e Engine) String() string {
	name := "Redis"
	if e.Name == "valkey" {
		name = "Valkey"
	}
	return fmt.Sprintf("%s %d.%d.%d", name, e.Major, e.Minor, e.Patch)
}

// Valkey reports whether the engine is Valkey.
func (e Engine) Valkey() bool { return e.Name == "valkey" }

// AtLeast reports whether the engine's own version is at least major.minor.
func (e Engine) AtLeast(major, minor int) bool {
	return serverVersion{major: e.Major, minor: e.Minor, patch: e.Patch}.atLeast(major, minor)
}

// Feature is something a test needs that not every engine has: the Redis and Valkey versions
// where it arrived. Valkey forked from Redis 7.2.4, so every Valkey has what Redis 7.2 has.
type Feature struct {
	Name string
	// Redis is the first Redis major.minor with it; nil: no Redis has it.
	Redis *[2]int
	// Valkey is the first Valkey major.minor with it; nil: every Valkey (it predates the fork).
	// NoValkey marks features no Valkey has.
	Valkey   *[2]int
	NoValkey bool
	// RedisUntil, when set, is the first Redis major.minor without it (a behaviour that went).
	RedisUntil *[2]int
}

func since(major, minor int) *[2]int { return &[2]int{major, minor} }

// Features tests check with Require.
var (
	// CLUSTER ADDSLOTSRANGE / DELSLOTSRANGE (Redis 7.0).
	FeatureAddSlotsRange = Feature{Name: "CLUSTER ADDSLOTSRANGE", Redis: since(7, 0)}
	// cluster-announce-hostname and hostnames in CLUSTER NODES (Redis 7.0).
	FeatureAnnounceHostname = Feature{Name: "cluster-announce-hostname", Redis: since(7, 0)}
	// ACL users (Redis 6.0).
	FeatureACL = Feature{Name: "ACL users", Redis: since(6, 0)}
	// cluster-allow-replica-migration, the setting that turns replica migration off (Redis 6.2).
	FeatureReplicaMigrationSetting = Feature{Name: "cluster-allow-replica-migration", Redis: since(6, 2)}
	// Protected configs (dir, dbfilename, ... refused by CONFIG SET unless
	// enable-protected-configs) (Redis 7.0).
	FeatureProtectedConfigs = Feature{Name: "protected configs", Redis: since(7, 0)}
	// CLUSTER SETSLOT replicated to the master's replicas before it applies (Valkey 8.0).
	FeatureReplicatedSetSlot = Feature{Name: "CLUSTER SETSLOT replicated to replicas", Valkey: since(8, 0)}
	// Keys of slots the node cannot serve (it owns no such slot) hidden from CLUSTER
	// COUNTKEYSINSLOT (0), GETKEYSINSLOT, SCAN and KEYS; DBSIZE still counts them. Came with
	// Redis's atomic slot migration (8.4).
	// CLUSTER MEET reaches a node the receiver forgot (CLUSTER FORGET) while its 60 s ban
	// lasts. Redis 8.6 ignores it until the ban ends (seen on 8.6.3; 8.0.2 and every
	// Valkey of the matrix accept it).
	FeatureMeetDuringForgetBan = Feature{Name: "CLUSTER MEET of a node forgotten less than 60 s ago", Redis: since(3, 0), RedisUntil: since(8, 6)}
	// Atomic slot migration inside the server: CLUSTER MIGRATION IMPORT (Redis 8.4), CLUSTER
	// MIGRATESLOTS (Valkey 9.0).
	FeatureAtomicSlotMigration = Feature{Name: "atomic slot migration", Redis: since(8, 4), Valkey: since(9, 0)}
	FeatureHidesUnownedSlots   = Feature{Name: "keys of unowned slots hidden from COUNTKEYSINSLOT and SCAN", Redis: since(8, 4), NoValkey: true}
)

// Has reports whether the engine has the feature.
func (e Engine) Has(f Feature) bool {
	if e.Valkey() {
		if f.NoValkey {
			return false
		}
		return f.Valkey == nil || e.AtLeast(f.Valkey[0], f.Valkey[1])
	}
	if f.RedisUntil != nil && e.AtLeast(f.RedisUntil[0], f.RedisUntil[1]) {
		return false
	}
	return f.Redis != nil && e.AtLeast(f.Redis[0], f.Redis[1])
}

// need describes where the feature arrived, e.g. "Redis 7.0+, every Valkey".
func (f Feature) need() string {
	var parts []string
	switch {
	case f.Redis != nil && f.RedisUntil != nil:
		parts = append(parts, fmt.Sprintf("Redis %d.%d to before %d.%d", f.Redis[0], f.Redis[1], f.RedisUntil[0], f.RedisUntil[1]))
	case f.Redis != nil:
		parts = append(parts, fmt.Sprintf("Redis %d.%d+", f.Redis[0], f.Redis[1]))
	default:
		parts = append(parts, "no Redis")
	}
	switch {
	case f.NoValkey:
		parts = append(parts, "no Valkey")
	case f.Valkey == nil:
		parts = append(parts, "every Valkey")
	default:
		parts = append(parts, fmt.Sprintf("Valkey %d.%d+", f.Valkey[0], f.Valkey[1]))
	}
	return strings.Join(parts, ", ")
}

// ServerEngine returns the engine Start runs, or fails the test if there is none.
func ServerEngine(t testing.TB) Engine {
	t.Helper()
	_, v := lookupServer(t)
	return v.engine()
}

// Require skips the test, naming the engine, its version and the missing feature, when the
// engine Start runs lacks f.
func Require(t testing.TB, f Feature) {
	t.Helper()
	if e := ServerEngine(t); !e.Has(f) {
		t.Skipf("%s lacks %s (needs %s)", e, f.Name, f.need())
	}
}

// AddSlotsRange assigns slots lo..hi to the node: CLUSTER ADDSLOTSRANGE where the engine has
// it, CLUSTER ADDSLOTS with every slot before Redis 7.0.
func AddSlotsRange(t testing.TB, n *Node, lo, hi int) {
	t.Helper()
	args := []any{"CLUSTER", "ADDSLOTSRANGE", lo, hi}
	if !n.version.engine().Has(FeatureAddSlotsRange) {
		args = []any{"CLUSTER", "ADDSLOTS"}
		for s := lo; s <= hi; s++ {
			args = append(args, s)
		}
	}
	Do(t, n, args...)
}
