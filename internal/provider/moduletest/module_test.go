// Package moduletest applies the example module examples/modules/redis-cluster
// and the example configurations the way users do: the real terraform CLI
// (internal/tfcli: the provider built from this tree, reached through
// dev_overrides; `terraform get` installs the local module), then apply,
// plan and destroy.
package moduletest

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
	"github.com/tfredis/terraform-provider-redis/internal/tfcli"
)

func TestMain(m *testing.M) {
	code := m.Run()
	tfcli.Cleanup()
	os.Exit(code)
}

// repoRoot is the module root.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := tfcli.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// workspace is a fresh terraform working directory whose commands get the
// nodes' password through REDIS_PASSWORD, and a clean-up that destroys
// whatever is left unless the test destroyed it.
func workspace(t *testing.T, password string) *tfcli.Workspace {
	t.Helper()
	w := tfcli.New(t, t.TempDir(), "REDIS_PASSWORD="+password)
	t.Cleanup(func() {
		if r := w.Run("state", "list"); r.Code == 0 && r.Output != "" {
			w.Run(tfcli.DestroyArgs()...)
		}
	})
	return w
}

func hclList(items []string) string {
	return `["` + strings.Join(items, `", "`) + `"]`
}

// TestAccModule_twoEnvironments applies the module twice in one
// configuration, for two environments of different sizes on separate
// local nodes, checks both from their outputs and the live nodes, plans
// empty, and destroys both.
func TestAccModule_twoEnvironments(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	t.Parallel()
	root := repoRoot(t)
	staging := redistest.Start(t, 3, redistest.Options{})
	production := redistest.Start(t, 6, redistest.Options{DistinctHosts: true})
	src := filepath.Join(root, "examples", "modules", "redis-cluster")
	cfg := fmt.Sprintf(`
terraform {
  required_providers {
    redis = { source = "tfredis/redis" }
  }
}

provider "redis" {
  dial_timeout = "1s"
}

module "staging" {
  source        = %q
  nodes         = %s
  replicas      = 0
  force_destroy = true
}

module "production" {
  source        = %q
  nodes         = %s
  replicas      = 1
  slots         = [["0-8191"], ["8192-12287"], ["12288-16383"]]
  force_destroy = true
}

output "staging_state" { value = module.staging.state }
output "production_state" { value = module.production.state }
output "production_nodes" { value = length(module.production.node_ids) }
output "production_first_slots" { value = module.production.shards[0].slots }
`, src, hclList(redistest.Addrs(staging)), src, hclList(redistest.Addrs(production)))
	x := workspace(t, staging[0].Password())
	x.WriteFile("main.tf", cfg)
	x.Get()
	x.Apply()

	outs := x.Outputs()
	var vals []any
	for _, name := range []string{"staging_state", "production_state", "production_nodes", "production_first_slots"} {
		if outs[name] == nil {
			t.Fatalf("no output %s: %v", name, outs)
		}
		vals = append(vals, outs[name].Value)
	}
	got := strings.TrimSpace(fmt.Sprintln(vals...))
	if want := "ok ok 6 [0-8191]"; got != want {
		t.Fatalf("outputs: got %q, want %q", got, want)
	}
	// Two separate clusters: each node knows only its own environment.
	for _, n := range staging {
		if k := redistest.ClusterInfo(t, n)["cluster_known_nodes"]; k != "3" {
			t.Fatalf("staging node %s knows %s nodes, want 3", n.Addr(), k)
		}
	}
	for _, n := range production {
		if info := redistest.ClusterInfo(t, n); info["cluster_known_nodes"] != "6" || info["cluster_state"] != "ok" {
			t.Fatalf("production node %s: %v", n.Addr(), info)
		}
	}
	if p := x.Plan(); p.Changes {
		t.Fatalf("plan after apply has changes:\n%s", x.Show(p))
	}
	x.Destroy()
	for _, n := range append(staging, production...) {
		if k := redistest.ClusterInfo(t, n)["cluster_known_nodes"]; k != "1" {
			t.Fatalf("%s still knows %s nodes after destroy", n.Addr(), k)
		}
	}
}
