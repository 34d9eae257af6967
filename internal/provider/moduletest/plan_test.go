package moduletest

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestAccPlan_failbackText is the walkthrough's failback through the real
// CLI, on examples/six-node-cluster: after a failover (the old master back
// as a replica of its replica, every node agreeing), the saved plan's text
// is what a reviewer reads and its JSON what a policy tool reads. The
// resource's diff stays short and names the predicted roles; the outputs
// built from nodes stay known; the saved plan applies, and plans empty after.
func TestAccPlan_failbackText(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance test: set TF_ACC=1")
	}
	t.Parallel()
	root := repoRoot(t)
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true, ExtraArgs: []string{"--repl-diskless-sync-delay", "0"}})
	addrs := redistest.Addrs(nodes)
	dir := t.TempDir()
	for _, f := range []string{"main.tf", "outputs.tf", "variables.tf", "versions.tf"} {
		b, err := os.ReadFile(filepath.Join(root, "examples", "six-node-cluster", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	vars := fmt.Sprintf("nodes = %s\n", hclList(addrs))
	if err := os.WriteFile(filepath.Join(dir, "terraform.tfvars"), []byte(vars), 0o600); err != nil {
		t.Fatal(err)
	}
	x := tf{t: t, dir: dir, env: []string{
		"TF_CLI_CONFIG_FILE=" + cliConfig(t, root),
		"REDIS_PASSWORD=" + nodes[0].Password(),
		"TF_IN_AUTOMATION=1",
	}}
	x.must("init", "-input=false", "-no-color")
	t.Cleanup(func() { x.run("destroy", "-auto-approve", "-input=false", "-no-color") })
	x.must("apply", "-auto-approve", "-input=false", "-no-color")

	// Shard 1: master nodes[0], replica nodes[4]. The replica takes over by
	// hand; wait until every node sees nodes[0] as its replica.
	master, replica := nodes[0], nodes[4]
	masterID, replicaID := redistest.MyID(t, master), redistest.MyID(t, replica)
	redistest.WaitFor(t, 30*time.Second, func() bool {
		info := redistest.Info(t, replica, "replication")
		return info["master_link_status"] == "up" && info["master_sync_in_progress"] == "0"
	}, "the replica's first sync")
	redistest.Do(t, replica, "CLUSTER", "FAILOVER")
	redistest.WaitFor(t, 30*time.Second, func() bool {
		for _, n := range nodes {
			for _, l := range redistest.ParseClusterNodes(redistest.ClusterNodes(t, n)) {
				if (l.ID == masterID && (!l.HasFlag("slave") || l.Master != replicaID)) ||
					(l.ID == replicaID && !l.HasFlag("master")) {
					return false
				}
			}
		}
		return true
	}, "every node to agree on the failover")

	planOut := x.must("plan", "-out=failback.tfplan", "-input=false", "-no-color")
	if i := strings.Index(planOut, "Warning: Cluster Drifted"); i >= 0 {
		t.Logf("the plan's warning:\n%s", planOut[i:])
	} else {
		t.Errorf("the plan does not warn \"Cluster Drifted\":\n%s", planOut)
	}
	text := x.must("show", "-no-color", "failback.tfplan")
	diff := resourceDiff(text, "redis_cluster.main")
	t.Logf("terraform show failback.tfplan (%d lines in the resource's diff):\n%s", len(diff), text)
	if len(diff) == 0 || len(diff) > 25 {
		t.Errorf("the resource's diff has %d lines, want 1-25", len(diff))
	}
	if strings.Contains(text, "(known after apply)") {
		t.Errorf("the failback plan has unknown values:\n%s", text)
	}

	var plan struct {
		PlannedValues struct {
			RootModule struct {
				Resources []struct {
					Address string `json:"address"`
					Values  struct {
						Nodes map[string]struct {
							ID       string `json:"id"`
							Role     string `json:"role"`
							MasterID string `json:"master_id"`
							Slots    string `json:"slots"`
						} `json:"nodes"`
					} `json:"values"`
				} `json:"resources"`
			} `json:"root_module"`
		} `json:"planned_values"`
		OutputChanges map[string]struct {
			AfterUnknown any `json:"after_unknown"`
		} `json:"output_changes"`
	}
	if err := json.Unmarshal([]byte(x.must("show", "-json", "failback.tfplan")), &plan); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, r := range plan.PlannedValues.RootModule.Resources {
		if r.Address != "redis_cluster.main" {
			continue
		}
		found = true
		m, rp := r.Values.Nodes[master.Addr()], r.Values.Nodes[replica.Addr()]
		if m.Role != "master" || m.ID != masterID || m.Slots != "0-5460" {
			t.Errorf("planned nodes[%s] = %+v, want the declared master serving 0-5460", master.Addr(), m)
		}
		if rp.Role != "replica" || rp.MasterID != masterID || rp.Slots != "" {
			t.Errorf("planned nodes[%s] = %+v, want a replica of %s", replica.Addr(), rp, masterID)
		}
	}
	if !found {
		t.Errorf("redis_cluster.main is not in the plan's planned_values")
	}
	for name, oc := range plan.OutputChanges {
		if oc.AfterUnknown != false {
			t.Errorf("output %s is unknown in the plan (after_unknown %v)", name, oc.AfterUnknown)
		}
	}

	x.must("apply", "-input=false", "-no-color", "failback.tfplan")
	if r := redistest.Info(t, master, "replication")["role"]; r != "master" {
		t.Errorf("%s is %s after apply, want master", master.Addr(), r)
	}
	if code, out := x.run("plan", "-detailed-exitcode", "-input=false", "-no-color"); code != 0 {
		t.Fatalf("plan after apply exited %d, want 0 (no changes):\n%s", code, out)
	}
}

// resourceDiff returns the lines of one resource's diff in a plan's text,
// from "will be updated in-place" to its closing brace.
func resourceDiff(text, addr string) []string {
	var out []string
	in := false
	for _, l := range strings.Split(text, "\n") {
		if !in && strings.Contains(l, "# "+addr+" will be updated in-place") {
			in = true
		}
		if in {
			out = append(out, l)
			if l == "    }" {
				break
			}
		}
	}
	return out
}
