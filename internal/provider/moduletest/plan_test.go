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
	x := workspace(t, nodes[0].Password())
	x.CopyFiles(filepath.Join(root, "examples", "six-node-cluster"), "main.tf", "outputs.tf", "variables.tf", "versions.tf")
	x.WriteFile("terraform.tfvars", fmt.Sprintf("nodes = %s\n", hclList(addrs)))
	x.Apply()

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

	plan := x.Plan()
	if !plan.Changes {
		t.Errorf("the failback plan has no changes")
	}
	if d := plan.Find("Cluster Drifted"); len(d) == 1 && d[0].Address == "redis_cluster.main" {
		t.Logf("the plan's warning:\n%s", d[0])
	} else {
		t.Errorf("the plan does not warn \"Cluster Drifted\" once, from redis_cluster.main: %v", plan.Diagnostics)
	}
	text := x.Show(plan)
	diff := resourceDiff(text, "redis_cluster.main")
	t.Logf("terraform show %s (%d lines in the resource's diff):\n%s", plan.File, len(diff), text)
	if len(diff) == 0 || len(diff) > 25 {
		t.Errorf("the resource's diff has %d lines, want 1-25", len(diff))
	}
	if strings.Contains(text, "(known after apply)") {
		t.Errorf("the failback plan has unknown values:\n%s", text)
	}

	r := plan.PlannedResource("redis_cluster.main")
	if r == nil {
		t.Fatalf("redis_cluster.main is not in the plan's planned_values")
	}
	var planned struct {
		Nodes map[string]struct {
			ID       string `json:"id"`
			Role     string `json:"role"`
			MasterID string `json:"master_id"`
			Slots    string `json:"slots"`
		} `json:"nodes"`
	}
	if err := remarshal(r.AttributeValues, &planned); err != nil {
		t.Fatal(err)
	}
	m, rp := planned.Nodes[master.Addr()], planned.Nodes[replica.Addr()]
	if m.Role != "master" || m.ID != masterID || m.Slots != "0-5460" {
		t.Errorf("planned nodes[%s] = %+v, want the declared master serving 0-5460", master.Addr(), m)
	}
	if rp.Role != "replica" || rp.MasterID != masterID || rp.Slots != "" {
		t.Errorf("planned nodes[%s] = %+v, want a replica of %s", replica.Addr(), rp, masterID)
	}
	for name, oc := range plan.OutputChanges {
		if oc.AfterUnknown != false {
			t.Errorf("output %s is unknown in the plan (after_unknown %v)", name, oc.AfterUnknown)
		}
	}

	x.Apply(plan.File)
	if r := redistest.Info(t, master, "replication")["role"]; r != "master" {
		t.Errorf("%s is %s after apply, want master", master.Addr(), r)
	}
	if p := x.Plan(); p.Changes {
		t.Fatalf("plan after apply has changes:\n%s", x.Show(p))
	}
}

// remarshal converts a decoded JSON value into v through JSON.
func remarshal(from, v any) error {
	b, err := json.Marshal(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
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
