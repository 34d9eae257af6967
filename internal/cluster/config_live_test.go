package cluster_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

func configGet(t *testing.T, n *redistest.Node, key string) string {
	t.Helper()
	v, err := n.Client().ConfigGet(t.Context(), key).Result()
	if err != nil {
		t.Fatalf("%s: CONFIG GET %s: %v", n.Addr(), key, err)
	}
	return v[key]
}

// layout2x2: two masters, each with one replica.
func layout2x2(nodes []*redistest.Node) cluster.Desired {
	a := redistest.Addrs(nodes)
	split := cluster.EvenSplit(2)
	return cluster.Desired{Failback: true, Shards: []cluster.Shard{
		{Master: a[0], Replicas: []string{a[2]}, Slots: split[0]},
		{Master: a[1], Replicas: []string{a[3]}, Slots: split[1]},
	}}
}

// TestConfigApplyDriftAndRestart: create applies the declared settings on
// every node, replicas included, and saves them in the config files; a
// replica's setting changed by hand is planned back naming the node and
// the setting, and apply restores it; a restarted node keeps the settings;
// a node added later gets them; undeclared settings are never touched.
func TestConfigApplyDriftAndRestart(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 5, redistest.Options{ConfigFile: true})
	d := layout2x2(nodes[:4])
	d.Config = map[string]string{"maxmemory-policy": "allkeys-lru", "hz": "20"}
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	untouched := configGet(t, nodes[0], "maxmemory-samples")

	obs, err := cluster.Precheck(ctx, e.Pool, d)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Apply(ctx, d, obs); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes[:4] {
		if got := configGet(t, n, "maxmemory-policy"); got != "allkeys-lru" {
			t.Fatalf("%s: maxmemory-policy %q after create", n.Addr(), got)
		}
		conf, err := os.ReadFile(filepath.Join(n.Dir(), "redis.conf"))
		if err != nil || !strings.Contains(string(conf), "maxmemory-policy allkeys-lru") || !strings.Contains(string(conf), "hz 20") {
			t.Fatalf("%s: config file not rewritten (%v):\n%s", n.Addr(), err, conf)
		}
	}
	if got := configGet(t, nodes[0], "maxmemory-samples"); got != untouched {
		t.Fatalf("an undeclared setting changed: maxmemory-samples %q -> %q", untouched, got)
	}

	// A replica changed by hand is drift, named.
	replica := nodes[3]
	redistest.Do(t, replica, "CONFIG", "SET", "hz", "50")
	read := cluster.ObserveWith(ctx, e.Pool, d.Addrs(), cluster.ObserveOptions{Views: true, Config: d.ConfigKeys()})
	steps, err := cluster.Plan(d, read)
	if err != nil {
		t.Fatal(err)
	}
	drift := cluster.Drift(steps)
	if len(steps) != 1 || steps[0].Kind != cluster.StepConfigSet || len(drift) != 1 ||
		!strings.Contains(drift[0], replica.Addr()) || !strings.Contains(drift[0], `hz is "50", declared "20"`) {
		t.Fatalf("plan after a hand change: steps %v drift %q", steps, drift)
	}
	// A plain observation (no settings asked) plans nothing for them.
	if st, err := cluster.Plan(d, cluster.Observe(ctx, e.Pool, d.Addrs(), true)); err != nil || len(st) != 0 {
		t.Fatalf("plan without settings read: %v %v", st, err)
	}
	// Apply given an observation without the settings reads them itself.
	if _, err := e.Apply(ctx, d, cluster.Observe(ctx, e.Pool, d.Addrs(), true)); err != nil {
		t.Fatal(err)
	}
	if got := configGet(t, replica, "hz"); got != "20" {
		t.Fatalf("hz on %s after apply: %q", replica.Addr(), got)
	}

	// Restarted from its config file, the node keeps the settings.
	replica.Restart(t)
	if got := configGet(t, replica, "maxmemory-policy"); got != "allkeys-lru" {
		t.Fatalf("maxmemory-policy on %s after restart: %q", replica.Addr(), got)
	}
	redistest.WaitFor(t, 30*time.Second, func() bool {
		ok, _ := cluster.Converged(d, cluster.Observe(ctx, e.Pool, d.Addrs(), true))
		return ok
	}, "the restarted replica rejoins")

	// A node added later gets the settings.
	d.Shards[0].Replicas = append(d.Shards[0].Replicas, nodes[4].Addr())
	if _, err := e.Apply(ctx, d, nil); err != nil {
		t.Fatal(err)
	}
	if got := configGet(t, nodes[4], "hz"); got != "20" {
		t.Fatalf("hz on the added node %s: %q", nodes[4].Addr(), got)
	}
}

// TestConfigRefusedBeforeAnyChange: an unknown setting, or one that cannot
// change at runtime, is refused naming it, and no node changed (the valid
// setting declared alongside is not applied either).
func TestConfigRefusedBeforeAnyChange(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 2, redistest.Options{})
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	addrs := redistest.Addrs(nodes)
	before := configGet(t, nodes[0], "hz")
	for _, c := range []struct {
		key, value, want string
	}{
		{"no-such-setting", "1", `setting "no-such-setting" is unknown to ` + addrs[0]},
		{"daemonize", "yes", `setting "daemonize" cannot be changed at runtime`},
		{"requirepass", "x", "credential"},
		{"cluster-*", "1", "not a setting name"},
	} {
		err := cluster.ValidateSettings(ctx, e.Pool, addrs, map[string]string{c.key: c.value, "hz": "33"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.key, err, c.want)
		}
	}
	if redistest.ServerEngine(t).Has(redistest.FeatureProtectedConfigs) {
		err := cluster.ValidateSettings(ctx, e.Pool, addrs, map[string]string{"dir": "/tmp", "hz": "33"})
		if err == nil || !strings.Contains(err.Error(), `setting "dir" cannot be changed at runtime`) {
			t.Errorf("dir: %v", err)
		}
	}
	for _, n := range nodes {
		if got := configGet(t, n, "hz"); got != before {
			t.Fatalf("%s: hz changed to %q by validation", n.Addr(), got)
		}
	}
	if err := cluster.ValidateSettings(ctx, e.Pool, addrs, map[string]string{"hz": "33", "cluster-node-timeout": "5000"}); err != nil {
		t.Fatalf("valid settings refused: %v", err)
	}
	if got := configGet(t, nodes[0], "hz"); got != before {
		t.Fatalf("hz changed to %q by validation", got)
	}
}

// TestConfigValueForm: a value the node stores in another form is an
// error naming the form to declare, not drift forever; a node without a
// config file is reported as not persisted.
func TestConfigValueForm(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 1, redistest.Options{})
	e := newExecutor(t, nodes[0].Password())
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	err := cluster.SetSettings(ctx, e.Pool, nodes[0].Addr(), map[string]string{"maxmemory": "1gb"}, false)
	if err == nil || !strings.Contains(err.Error(), `declare maxmemory = "1073741824"`) || !strings.Contains(err.Error(), nodes[0].Addr()) {
		t.Fatalf("got %v", err)
	}
	d := cluster.Desired{Shards: []cluster.Shard{{Master: nodes[0].Addr()}}, Config: map[string]string{"hz": "10"}}
	if u := cluster.Unpersisted(d, cluster.Observe(ctx, e.Pool, d.Addrs(), false)); len(u) != 1 || u[0] != nodes[0].Addr() {
		t.Fatalf("unpersisted: %v", u)
	}
}

// TestObserveWithoutConfigGrant: a user without +config|get still observes
// the node (the topology is read; ConfigErr says why the settings are
// not), the safety checks skip what needs settings, and a plan declaring
// settings fails naming the node and the grant.
func TestObserveWithoutConfigGrant(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 1, redistest.Options{Users: []string{"minimal on >min-pw " + minimalACL}})
	pool := cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Username: "minimal", Password: "min-pw"}, DialTimeout: time.Second})
	defer pool.Close()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	addr := nodes[0].Addr()
	obs := cluster.ObserveWith(ctx, pool, []string{addr}, cluster.ObserveOptions{Views: true, Config: []string{"hz"}, Safety: true})
	n := obs.Node(addr)
	if !n.OK() || n.ID == "" || n.Self() == nil {
		t.Fatalf("node not observed: %v", n.Err)
	}
	if n.Config != nil || n.ConfigErr == nil || !strings.Contains(n.ConfigErr.Error(), "NOPERM") {
		t.Fatalf("config %v, err %v: want the refusal", n.Config, n.ConfigErr)
	}
	_ = cluster.Safety(n.View, obs, true)
	d := cluster.Desired{Shards: []cluster.Shard{{Master: addr, Slots: cluster.EvenSplit(1)[0]}}, Config: map[string]string{"hz": "10"}}
	if _, err := cluster.Plan(d, obs); err == nil || !strings.Contains(err.Error(), addr) || !strings.Contains(err.Error(), "+config|get") {
		t.Fatalf("plan: %v", err)
	}
}
