package provider

import (
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// TestAddSafetyWarnings: each warning reads detail, then its fix (in the
// provider's attributes where one remedies it), then how to quiet it;
// acknowledged kinds are left out.
func TestAddSafetyWarnings(t *testing.T) {
	ws := []cluster.Warning{
		{Kind: cluster.WarnReplicaMigration, Summary: "Replica Migration Enabled", Detail: "On a:1.", Fix: "set it to no."},
		{Kind: cluster.WarnSameHost, Summary: "Shard Members On One Host", Detail: "Same host.", Fix: "place each replica on another host."},
		{Kind: cluster.WarnNoFailover, Summary: "No Failover Possible", Detail: "No replica."},
	}
	var diags diag.Diagnostics
	addSafetyWarnings(ws, []string{cluster.WarnNoFailover}, &diags)
	want := []string{
		"On a:1. Fix: config = { \"cluster-allow-replica-migration\" = \"no\" }, so only Terraform places replicas; or acknowledge it if you want Redis to move them.\nThis does not block apply. Once decided, quiet it with acknowledge_warnings = [\"" + cluster.WarnReplicaMigration + "\"].",
		"Same host. Fix: place each replica on another host.\nThis does not block apply. Once decided, quiet it with acknowledge_warnings = [\"" + cluster.WarnSameHost + "\"].",
	}
	if len(diags) != len(want) {
		t.Fatalf("%d warnings, want %d: %v", len(diags), len(want), diags)
	}
	for i, d := range diags {
		if d.Detail() != want[i] || d.Summary() != ws[i].Summary || !strings.Contains(d.Detail(), "Fix: ") {
			t.Errorf("warning %d:\n got %q\nwant %q", i, d.Detail(), want[i])
		}
	}
}
