package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// The config attribute and the safety warnings, shared by redis_cluster,
// redis_cluster_node and the redis_cluster data source.

const configDescription = "Settings applied with CONFIG SET on every node (replicas and nodes added later included), " +
	"e.g. `{ \"cluster-node-timeout\" = \"5000\", \"maxmemory-policy\" = \"allkeys-lru\" }`, " +
	"and saved with CONFIG REWRITE where the node was started from a config file (apply warns, naming the nodes, where it was not: a restart loses them there). " +
	"Write values in the form CONFIG GET returns (`1073741824`, not `1gb`; `yes`/`no`). " +
	"Plan shows a node whose value differs as drift, naming the node and the setting, and apply sets it back. " +
	"A setting the nodes do not know, one that cannot change at runtime, or one that holds a credential is refused at plan time, before any change. " +
	"Settings not listed here are never changed. See the Safety checks guide."

// acknowledgeAttrDescription describes acknowledge_warnings.
var acknowledgeAttrDescription = "Safety warning kinds decided on, which plan no longer shows: " +
	"`" + strings.Join(cluster.WarningKinds, "`, `") + "`. See the Safety checks guide."

var acknowledgeValidators = []validator.Set{setvalidator.ValueStringsAre(stringvalidator.OneOf(cluster.WarningKinds...))}

// configFrom reads a config map; known is false when it or a value is
// unknown.
func configFrom(ctx context.Context, m types.Map) (map[string]string, bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	if m.IsUnknown() {
		return nil, false, diags
	}
	if m.IsNull() {
		return nil, true, diags
	}
	var vals map[string]types.String
	diags.Append(m.ElementsAs(ctx, &vals, false)...)
	out := make(map[string]string, len(vals))
	known := true
	for k, v := range vals {
		if v.IsUnknown() {
			known = false
			continue
		}
		out[k] = v.ValueString()
	}
	return out, known, diags
}

// configWithRead returns the state's config with, for each setting, the
// value read on the first node (in addrs order) that differs from it: the
// plan then shows the setting as changing back to the declared value.
// Nodes not read keep the declared value.
func configWithRead(cfg map[string]string, addrs []string, read func(addr string) map[string]string) (map[string]string, bool) {
	out := make(map[string]string, len(cfg))
	changed := false
	for k, v := range cfg {
		out[k] = v
		for _, a := range addrs {
			r := read(a)
			if r == nil {
				continue
			}
			if got, ok := r[k]; ok && got != v {
				out[k] = got
				changed = true
				break
			}
		}
	}
	return out, changed
}

func configMap(cfg map[string]string) types.Map {
	vals := make(map[string]string, len(cfg))
	for k, v := range cfg {
		vals[k] = v
	}
	m, _ := types.MapValueFrom(context.Background(), types.StringType, vals)
	return m
}

// acksFrom reads acknowledge_warnings (unknown or null: none).
func acksFrom(ctx context.Context, s types.Set) []string {
	if s.IsNull() || s.IsUnknown() {
		return nil
	}
	var out []string
	_ = s.ElementsAs(ctx, &out, false)
	return out
}

// addSafetyWarnings adds the warnings whose kind is not acknowledged, in
// the order given, each saying how to quiet it.
func addSafetyWarnings(ws []cluster.Warning, acks []string, diags *diag.Diagnostics) {
	for _, w := range ws {
		if cluster.Acknowledged(w.Kind, acks) {
			continue
		}
		detail := w.Detail
		if fix := safetyFix(w); fix != "" {
			detail += " Fix: " + fix
		}
		diags.AddWarning(w.Summary, fmt.Sprintf("%s\nThis does not block apply. Once decided, quiet it with acknowledge_warnings = [%q].", detail, w.Kind))
	}
}

// safetyFix is a warning's fix, in the provider's attributes where one
// remedies it.
func safetyFix(w cluster.Warning) string {
	switch w.Kind {
	case cluster.WarnSettingsDiffer:
		return "declare the value in config (for example config = { \"cluster-node-timeout\" = \"15000\" }) and apply: every node gets it."
	case cluster.WarnNoPersistence:
		return "enable AOF or save points (config = { \"appendonly\" = \"yes\" }), or make sure a failed master is not restarted automatically (it then rejoins as a replica after the failover)."
	case cluster.WarnReplicaMigration:
		return "config = { \"cluster-allow-replica-migration\" = \"no\" }, so only Terraform places replicas; or acknowledge it if you want Redis to move them."
	}
	return w.Fix
}

// safetyKey is the private-state key holding the warnings Read found, for
// ModifyPlan to show filtered by the configuration's acknowledge_warnings.
const safetyKey = "safety_warnings"

func encodeWarnings(ws []cluster.Warning) []byte {
	if ws == nil {
		ws = []cluster.Warning{}
	}
	raw, _ := json.Marshal(ws)
	return raw
}

func decodeWarnings(raw []byte) []cluster.Warning {
	var ws []cluster.Warning
	if len(raw) == 0 || json.Unmarshal(raw, &ws) != nil {
		return nil
	}
	return ws
}

// unpersistedWarning says where CONFIG REWRITE could not save the settings.
func unpersistedWarning(nodes []string, diags *diag.Diagnostics) {
	if len(nodes) == 0 {
		return
	}
	sort.Strings(nodes)
	diags.AddWarning("Settings Not Persisted",
		fmt.Sprintf("The declared config is applied at runtime, but these nodes were not started from a config file, so CONFIG REWRITE cannot save it and a restart loses it: %s.\n"+
			"Until they are started from a config file, the next plan after a restart shows the settings as drift and apply sets them again.", strings.Join(nodes, ", ")))
}

// newSettings lists the settings of cfg that prior does not declare with
// the same name: those are checked against a node at plan time.
func newSettings(cfg, prior map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range cfg {
		if _, ok := prior[k]; !ok {
			out[k] = v
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
