// Package moduletest applies the example module examples/modules/redis-cluster
// the way users do: the real terraform CLI, `terraform init` installing the
// provider built from this tree (from a local filesystem mirror, as no
// registry is reachable here) and the local module, then apply, plan and
// destroy.
package moduletest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// repoRoot is the module root, found from this file's path.
func repoRoot(t *testing.T) string {
	_, file, _, _ := runtime.Caller(0)
	p, err := filepath.Abs(filepath.Join(filepath.Dir(file), "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cliConfig builds the provider into a filesystem mirror and returns a
// CLI config file that installs it from there.
func cliConfig(t *testing.T, root string) string {
	dir := t.TempDir()
	mirror := filepath.Join(dir, "mirror", "registry.terraform.io", "tfredis", "redis", "0.0.1", runtime.GOOS+"_"+runtime.GOARCH)
	build := exec.Command("go", "build", "-o", filepath.Join(mirror, "terraform-provider-redis_v0.0.1"), ".")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	rc := filepath.Join(dir, "terraformrc")
	body := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n    include = [\"registry.terraform.io/tfredis/redis\"]\n  }\n}\n", filepath.Join(dir, "mirror"))
	if err := os.WriteFile(rc, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return rc
}

type tf struct {
	t   *testing.T
	dir string
	env []string
}

// run runs terraform and returns its exit code and output.
func (x tf) run(args ...string) (int, string) {
	x.t.Helper()
	cmd := exec.Command("terraform", append([]string{"-chdir=" + x.dir}, args...)...)
	cmd.Env = append(os.Environ(), x.env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		x.t.Fatalf("terraform %v: %v", args, err)
	}
	return 0, out.String()
}

func (x tf) must(args ...string) string {
	x.t.Helper()
	code, out := x.run(args...)
	if code != 0 {
		x.t.Fatalf("terraform %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
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
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	x := tf{t: t, dir: dir, env: []string{
		"TF_CLI_CONFIG_FILE=" + cliConfig(t, root),
		"REDIS_PASSWORD=" + staging[0].Password(),
		"TF_IN_AUTOMATION=1",
	}}
	x.must("init", "-input=false", "-no-color")
	destroyed := false
	t.Cleanup(func() {
		if !destroyed {
			x.run("destroy", "-auto-approve", "-input=false", "-no-color")
		}
	})
	x.must("apply", "-auto-approve", "-input=false", "-no-color")

	var outs map[string]struct {
		Value any `json:"value"`
	}
	if err := json.Unmarshal([]byte(x.must("output", "-json")), &outs); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(outs["staging_state"].Value, " ", outs["production_state"].Value, " ",
		outs["production_nodes"].Value, " ", outs["production_first_slots"].Value)
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
	if code, out := x.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 0 {
		t.Fatalf("plan after apply exited %d, want 0 (no changes):\n%s", code, out)
	}
	x.must("destroy", "-auto-approve", "-input=false", "-no-color")
	destroyed = true
	for _, n := range append(staging, production...) {
		if k := redistest.ClusterInfo(t, n)["cluster_known_nodes"]; k != "1" {
			t.Fatalf("%s still knows %s nodes after destroy", n.Addr(), k)
		}
	}
}
