package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// upgradeJSON upgrades a stored state by editing its JSON (edit gets the
// attributes by name) and reading the result with the current schema: the
// old schemas need not be kept in the code. Attributes the current schema
// no longer has are dropped; new ones are null until the next refresh.
func upgradeJSON(ctx context.Context, r resource.Resource, req resource.UpgradeStateRequest, resp *resource.UpgradeStateResponse, edit func(map[string]any)) {
	if req.RawState == nil || req.RawState.JSON == nil {
		resp.Diagnostics.AddError("Cannot Upgrade State", "The stored state has no JSON to upgrade from. Remove the resource from state and import it again.")
		return
	}
	var attrs map[string]any
	if err := json.Unmarshal(req.RawState.JSON, &attrs); err != nil {
		resp.Diagnostics.AddError("Cannot Upgrade State", fmt.Sprintf("The stored state is not valid JSON (%v). Remove the resource from state and import it again.", err))
		return
	}
	edit(attrs)
	raw, err := json.Marshal(attrs)
	if err != nil {
		resp.Diagnostics.AddError("Cannot Upgrade State", err.Error())
		return
	}
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	typ := sr.Schema.Type().TerraformType(ctx)
	val, err := (&tfprotov6.RawState{JSON: raw}).UnmarshalWithOpts(typ, tfprotov6.UnmarshalOpts{
		ValueFromJSONOpts: tftypes.ValueFromJSONOpts{IgnoreUndefinedAttributes: true},
	})
	if err != nil {
		resp.Diagnostics.AddError("Cannot Upgrade State", fmt.Sprintf("The upgraded state does not fit the schema (%v): this is a bug in the provider, please report it.", err))
		return
	}
	dv, err := tfprotov6.NewDynamicValue(typ, val)
	if err != nil {
		resp.Diagnostics.AddError("Cannot Upgrade State", err.Error())
		return
	}
	resp.DynamicValue = &dv
}

// dropGossip removes flags and link_state from a node object, and adds
// engine and version (null: the next refresh reads them).
func dropGossip(node map[string]any) {
	if slots, ok := node["slots"].([]any); ok {
		// redis_cluster's nodes: a list of ranges becomes one string.
		parts := make([]string, 0, len(slots))
		for _, x := range slots {
			if s, ok := x.(string); ok {
				parts = append(parts, s)
			}
		}
		node["slots"] = strings.Join(parts, ",")
	}
	delete(node, "flags")
	delete(node, "link_state")
	if _, ok := node["engine"]; !ok {
		node["engine"] = nil
	}
	if _, ok := node["version"]; !ok {
		node["version"] = nil
	}
}

// UpgradeState: version 0 kept each node's flags and link_state, which
// change with every gossip round, and its slots as a list; version 1 has
// engine and version instead, and the slots as one string.
func (r *clusterResource) UpgradeState(context.Context) map[int64]resource.StateUpgrader {
	return map[int64]resource.StateUpgrader{
		0: {StateUpgrader: func(ctx context.Context, req resource.UpgradeStateRequest, resp *resource.UpgradeStateResponse) {
			upgradeJSON(ctx, r, req, resp, func(attrs map[string]any) {
				if nodes, ok := attrs["nodes"].(map[string]any); ok {
					for _, n := range nodes {
						if node, ok := n.(map[string]any); ok {
							dropGossip(node)
						}
					}
				}
			})
		}},
	}
}

// UpgradeState: version 0 kept the node's flags and link_state; version 1
// has engine, version and drift instead.
func (r *clusterNodeResource) UpgradeState(context.Context) map[int64]resource.StateUpgrader {
	return map[int64]resource.StateUpgrader{
		0: {StateUpgrader: func(ctx context.Context, req resource.UpgradeStateRequest, resp *resource.UpgradeStateResponse) {
			upgradeJSON(ctx, r, req, resp, func(attrs map[string]any) {
				delete(attrs, "flags")
				delete(attrs, "link_state")
				for _, k := range []string{"engine", "version"} {
					if _, ok := attrs[k]; !ok {
						attrs[k] = nil
					}
				}
				if _, ok := attrs["drift"]; !ok {
					attrs["drift"] = nil
				}
			})
		}},
	}
}
