package cluster_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestErrClassLive provokes the replies from a real cluster (two masters,
// a replica each) through a Pool's clients, wrapped as the package wraps
// them, and checks each predicate recognises its own reply and no other.
func TestErrClassLive(t *testing.T) {
	nodes := redistest.Start(t, 4, redistest.Options{})
	ids := redistest.CreateCluster(t, nodes, 1)
	m1, m2, r1 := nodes[0], nodes[1], nodes[2]
	pool := cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Password: m1.Password()}})
	defer pool.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	do := func(n *redistest.Node, args ...any) error {
		return cluster.WrapNodeErr(n.Addr(), pool.Client(n.Addr()).Do(ctx, args...).Err())
	}
	// A key of slot 0 (m1's), then m2 importing slot 0 with the same key.
	const key = "k596" // slot 0
	if s := cluster.KeySlot(key); s != 0 {
		t.Fatalf("KeySlot(%q) = %d", key, s)
	}
	redistest.Do(t, m1, "SET", key, "v1")
	redistest.Do(t, m2, "CLUSTER", "SETSLOT", 0, "IMPORTING", ids[0])
	c2 := pool.Client(m2.Addr())
	var set *redis.StatusCmd
	_, _ = c2.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Do(ctx, "ASKING")
		set = p.Set(ctx, key, "v2", 0)
		return nil
	})
	if err := set.Err(); err != nil {
		t.Fatalf("ASKING SET on the importing node: %v", err)
	}
	cases := map[string]error{
		"isSlotBusy":           do(m1, "CLUSTER", "ADDSLOTS", 1),
		"isUnknownNode":        do(m1, "CLUSTER", "FORGET", "07c37dfeb235213a872192d90877d0cd55635b91"),
		"isReplicateNotMaster": do(m1, "CLUSTER", "REPLICATE", ids[3]),
		"isReplicateNotEmpty":  do(m1, "CLUSTER", "REPLICATE", ids[1]),
		"isSetSlotNotMaster":   do(r1, "CLUSTER", "SETSLOT", 0, "NODE", ids[0]),
		"isAlreadySlotOwner":   do(m1, "CLUSTER", "SETSLOT", 0, "IMPORTING", ids[1]),
		"isStillHoldsKeys":     do(m1, "CLUSTER", "SETSLOT", 0, "NODE", ids[1]),
		"isResetWithKeys":      do(m1, "CLUSTER", "RESET"),
		"isMigrateBusyKey":     do(m1, "MIGRATE", m2.IP(), m2.Port(), key, 0, 5000, "AUTH", m2.Password()),
		"isAuth/relayed":       do(m1, "MIGRATE", m2.IP(), m2.Port(), key, 0, 5000, "AUTH", "wrong"),
		"isPermission":         do(m1, "ACL", "SETUSER", "probe", "on", "nopass", "-@all", "+acl|whoami"),
	}
	plain := redistest.Start(t, 1, redistest.Options{ClusterEnabled: redistest.Bool(false)})[0]
	cases["isClusterDisabled"] = do(plain, "CLUSTER", "INFO")
	// The NOPERM replies need a user that lacks the grants: the probe user
	// above on m1 (its own SETUSER succeeded, so that case is replaced).
	probe := redis.NewClient(&redis.Options{Addr: m1.Addr(), Username: "probe", Password: "x", Protocol: 2, DisableIdentity: true})
	defer probe.Close()
	if err := cases["isPermission"]; err != nil {
		t.Fatalf("ACL SETUSER probe: %v", err)
	}
	cases["isPermission"] = cluster.WrapNodeErr(m1.Addr(), probe.Do(ctx, "CLUSTER", "INFO").Err())
	redistest.Do(t, m1, "ACL", "SETUSER", "probe", "+get", "resetkeys")
	cases["isKeyPermission"] = cluster.WrapNodeErr(m1.Addr(), probe.Get(ctx, key).Err())
	wrong := redis.NewClient(&redis.Options{Addr: m1.Addr(), Password: "wrong", Protocol: 2, DisableIdentity: true})
	defer wrong.Close()
	cases["isAuth"] = cluster.WrapNodeErr(m1.Addr(), wrong.Ping(ctx).Err())

	byName := cluster.ErrClass
	for key, err := range cases {
		name, _, _ := strings.Cut(key, "/")
		t.Logf("%s: %v", key, err)
		if err == nil {
			t.Errorf("%s: the command succeeded; want its refusal", name)
			continue
		}
		if !byName[name](err) {
			t.Errorf("%s(%v) = false, want true", key, err)
		}
		for other, is := range byName {
			// A key NOPERM is a NOPERM too.
			keyPerm := name == "isKeyPermission" && other == "isPermission"
			if other != name && !keyPerm && is(err) {
				t.Errorf("%s(%v) = true: it is the reply of %s", other, err, name)
			}
		}
	}
}
