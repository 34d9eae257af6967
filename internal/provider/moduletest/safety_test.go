package moduletest

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
	"github.com/tfredis/terraform-provider-redis/internal/tfcli"
)

// TestAccSafety_planWarnings reads the safety warnings where a reviewer
// does, in the text of terraform plan: two shards whose masters and
// replicas share one host, without persistence, replica migration on.
// redis_cluster and the data source both warn, naming the nodes; a
// warning goes away when its cause is fixed (config sets appendonly and
// turns replica migration off), and acknowledge_warnings quiets the kinds
// decided on, until plan shows none.
func TestAccSafety_planWarnings(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	t.Parallel()
	nodes := redistest.Start(t, 4, redistest.Options{ExtraArgs: []string{"--repl-diskless-sync-delay", "0"}})
	a := redistest.Addrs(nodes)
	tx := workspace(t, nodes[0].Password())
	write := func(config, acks string) {
		tx.WriteFile("main.tf", fmt.Sprintf(`
terraform {
  required_providers {
    redis = { source = "tfredis/redis" }
  }
}

provider "redis" {
  dial_timeout = "1s"
}

resource "redis_cluster" "c" {
  shards = [
    { master = %q, replicas = [%q] },
    { master = %q, replicas = [%q] },
  ]
  force_destroy = true
%s
%s
}

data "redis_cluster" "live" {
  seeds = [for addr, n in redis_cluster.c.nodes : addr if n.role == "master"]
%s
}
`, a[0], a[2], a[1], a[3], config, acks, acks))
	}
	write("", "")
	tx.Apply()
	for _, n := range nodes[2:] {
		redistest.WaitFor(t, 30*time.Second, func() bool {
			info := redistest.Info(t, n, "replication")
			return info["master_link_status"] == "up" && info["master_sync_in_progress"] == "0"
		}, n.Addr()+" to finish its first sync")
	}

	diags := planDiagnostics(t, tx)
	// Each warning from redis_cluster and from the data source, except
	// replica migration (declared shards only).
	for title, want := range map[string][]string{
		"Master Without Persistence": {"data.redis_cluster.live", "redis_cluster.c"},
		"Shard Members On One Host":  {"data.redis_cluster.live", "redis_cluster.c"},
		"No Failover Possible":       {"data.redis_cluster.live", "redis_cluster.c"},
		"Replica Migration Enabled":  {"redis_cluster.c"},
	} {
		if got := diags[title]; !slices.Equal(got.addresses, want) {
			t.Errorf("%q from %v, want %v", title, got.addresses, want)
		}
	}
	masters := fmt.Sprintf("%s, %s.", min(a[0], a[1]), max(a[0], a[1]))
	for title, want := range map[string][]string{
		"Master Without Persistence": {"(save \"\"): " + masters, `acknowledge_warnings = ["no_persistence"]`},
		"No Failover Possible":       {"only 2 master(s) serve slots"},
		"Shard Members On One Host":  {fmt.Sprintf("shard of %s: %s, %s all on 127.0.0.1", a[0], a[0], a[2])},
		"Replica Migration Enabled":  {`config = { "cluster-allow-replica-migration" = "no" }`},
	} {
		for _, w := range want {
			if !strings.Contains(diags[title].detail, w) {
				t.Errorf("%q lacks %q:\n%s", title, w, diags[title].detail)
			}
		}
	}
	if len(diags) != 4 {
		t.Errorf("warnings without a cause: %v", diags)
	}

	// Fixed through config: persistence and replica migration.
	write(`  config = { "appendonly" = "yes", "cluster-allow-replica-migration" = "no" }`, "")
	tx.Apply()
	diags = planDiagnostics(t, tx)
	if _, ok := diags["Master Without Persistence"]; ok {
		t.Errorf("no_persistence still shown after the fix: %v", diags)
	}
	if _, ok := diags["Replica Migration Enabled"]; ok {
		t.Errorf("replica_migration still shown after the fix: %v", diags)
	}
	if _, ok := diags["Shard Members On One Host"]; !ok {
		t.Errorf("same_host gone without a fix: %v", diags)
	}

	// A replica's setting changed by hand: drift naming the node and the
	// setting; apply sets it back.
	redistest.Do(t, nodes[3], "CONFIG", "SET", "appendonly", "no")
	drift := planDiagnostics(t, tx)["Cluster Drifted"]
	if want := fmt.Sprintf(`%s: setting appendonly is "no", declared "yes"`, a[3]); !strings.Contains(drift.detail, want) {
		t.Errorf("drift lacks %q: %+v", want, drift)
	}
	tx.Apply()
	if v := redistest.Do(t, nodes[3], "CONFIG", "GET", "appendonly"); fmt.Sprint(v) != "[appendonly yes]" {
		t.Errorf("appendonly on %s after apply: %v", a[3], v)
	}

	// Acknowledged: the plan is quiet.
	write(`  config = { "appendonly" = "yes", "cluster-allow-replica-migration" = "no" }`, `  acknowledge_warnings = ["same_host", "no_failover"]`)
	if diags := planDiagnostics(t, tx); len(diags) != 0 {
		t.Errorf("acknowledged warnings shown: %v", diags)
	}
	// The human-readable plan says the same.
	if out := tx.Must([]string{"plan", "-input=false", "-no-color"}).Output; strings.Contains(strings.ReplaceAll(out, "Warning: Provider development overrides", ""), "Warning:") {
		t.Errorf("acknowledged warnings shown:\n%s", out)
	}
}

type planDiag struct {
	addresses []string
	detail    string
}

// planDiagnostics plans and returns the plan's diagnostics by summary, with
// the addresses that raised each (sorted).
func planDiagnostics(t *testing.T, tx *tfcli.Workspace) map[string]planDiag {
	t.Helper()
	diags := map[string]planDiag{}
	for _, d := range tx.Plan().Diagnostics {
		pd := diags[d.Summary]
		pd.addresses = append(pd.addresses, d.Address)
		slices.Sort(pd.addresses)
		pd.detail += d.Detail
		diags[d.Summary] = pd
	}
	return diags
}
