package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// TestWarnMixedVersions: members last read on different engines or
// versions (a rolling upgrade) get one warning that names them; a cluster
// on one version gets none.
func TestWarnMixedVersions(t *testing.T) {
	members := map[string]cluster.Member{
		"10.0.0.11:6379": {Addr: "10.0.0.11:6379", ID: "a", Role: cluster.RoleMaster, Engine: "redis", Version: "7.0.15"},
		"10.0.0.12:6379": {Addr: "10.0.0.12:6379", ID: "b", Role: cluster.RoleMaster, Engine: "redis", Version: "7.0.15"},
	}
	nodes, d := nodesToMap(members, nil)
	if d.HasError() {
		t.Fatal(d)
	}
	var diags diag.Diagnostics
	warnMixedVersions(nodes, &diags)
	if len(diags) != 0 {
		t.Fatalf("one version: want no warning, got %v", diags)
	}
	members["10.0.0.13:6379"] = cluster.Member{Addr: "10.0.0.13:6379", ID: "c", Role: cluster.RoleMaster, Engine: "valkey", Version: "8.1.1"}
	nodes, d = nodesToMap(members, nil)
	if d.HasError() {
		t.Fatal(d)
	}
	warnMixedVersions(nodes, &diags)
	if len(diags) != 1 || diags[0].Summary() != "Cluster Runs Mixed Versions" {
		t.Fatalf("want one mixed-versions warning, got %v", diags)
	}
	for _, want := range []string{"redis 7.0.15 on 10.0.0.11:6379, 10.0.0.12:6379", "valkey 8.1.1 on 10.0.0.13:6379"} {
		if !strings.Contains(diags[0].Detail(), want) {
			t.Errorf("the warning should say %q: %s", want, diags[0].Detail())
		}
	}
}
