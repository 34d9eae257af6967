package provider

// The redis_cluster_node model and its conversions to and from cluster.NodeSpec and cluster.NodeStatus.

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

type clusterNodeModel struct {
	ID       types.String   `tfsdk:"id"`
	Address  types.String   `tfsdk:"address"`
	Seeds    types.List     `tfsdk:"seeds"`
	Role     types.String   `tfsdk:"role"`
	Master   types.String   `tfsdk:"master"`
	Slots    types.List     `tfsdk:"slots"`
	Failback types.Bool     `tfsdk:"failback"`
	Force    types.Bool     `tfsdk:"force_destroy"`
	Engine   types.String   `tfsdk:"engine"`
	Version  types.String   `tfsdk:"version"`
	Drift    types.List     `tfsdk:"drift"`
	Config   types.Map      `tfsdk:"config"`
	Timeouts timeouts.Value `tfsdk:"timeouts"`
}

// specFrom converts the model; unknown values are left empty.
func specFrom(ctx context.Context, m clusterNodeModel) (cluster.NodeSpec, diag.Diagnostics) {
	var diags diag.Diagnostics
	spec := cluster.NodeSpec{
		Addr:     m.Address.ValueString(),
		Role:     m.Role.ValueString(),
		Master:   m.Master.ValueString(),
		Failback: m.Failback.IsNull() || m.Failback.IsUnknown() || m.Failback.ValueBool(),
		// Unknown or unset: refuse to discard keys.
		ForceDestroy: m.Force.ValueBool(),
	}
	if !m.Seeds.IsNull() && !m.Seeds.IsUnknown() {
		var seeds []types.String
		diags.Append(m.Seeds.ElementsAs(ctx, &seeds, false)...)
		for _, s := range seeds {
			if s.IsUnknown() {
				continue
			}
			spec.Seeds = append(spec.Seeds, s.ValueString())
		}
	}
	if !m.Slots.IsNull() && !m.Slots.IsUnknown() {
		var items []types.String
		diags.Append(m.Slots.ElementsAs(ctx, &items, false)...)
		var strs []string
		for _, s := range items {
			if s.IsUnknown() {
				continue
			}
			strs = append(strs, s.ValueString())
		}
		set, err := cluster.ParseSlotSet(strs)
		if err != nil {
			diags.AddAttributeError(path.Root("slots"), "Invalid Slots", err.Error())
		}
		spec.Slots = set
	}
	return spec, diags
}

// fill writes what was read into the computed attributes.
func fillNodeComputed(m *clusterNodeModel, st cluster.NodeStatus) diag.Diagnostics {
	m.ID = types.StringValue(st.ID)
	m.Engine = types.StringValue(st.Engine)
	m.Version = types.StringValue(st.Version)
	m.Drift = stringList(st.Drift)
	return nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// applyNodeStatus writes a read into the model in the declared shape: the
// slot list keeps its spelling when it names the same slots.
func applyNodeStatus(ctx context.Context, m *clusterNodeModel, st cluster.NodeStatus) diag.Diagnostics {
	var diags diag.Diagnostics
	if st.Role != "" {
		m.Role = types.StringValue(st.Role)
	}
	if st.Master != "" {
		m.Master = types.StringValue(st.Master)
	} else {
		m.Master = types.StringNull()
	}
	prior, _ := specFrom(ctx, *m)
	switch {
	case st.Slots.Empty() && (m.Slots.IsNull() || prior.Slots.Empty()):
		// keep null or an empty list as it was
	case !m.Slots.IsNull() && prior.Slots.Equal(st.Slots):
		// same slots, as declared
	default:
		l, d := types.ListValueFrom(ctx, types.StringType, nonNil(st.Slots.Strings()))
		diags.Append(d...)
		m.Slots = l
	}
	diags.Append(fillNodeComputed(m, st)...)
	return diags
}
