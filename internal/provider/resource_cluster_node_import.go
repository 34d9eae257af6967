package provider

// ImportState for redis_cluster_node: adopting a live member by its address.

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// ImportState adopts a member by its address: its role, master and (for a
// master) slots as read; seeds stay empty.
func (r *clusterNodeResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ctx = r.data.mask(ctx)
	addr := strings.TrimSpace(req.ID)
	if err := cluster.ValidateAddress(addr); err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("Import redis_cluster_node by the node's address: %v.", err))
		return
	}
	st, _ := cluster.ReadNode(ctx, r.data.pool, cluster.NodeSpec{Addr: addr, Failback: true})
	if !st.Reachable {
		if st.Err == nil {
			st.Err = fmt.Errorf("node %s could not be read", addr)
		}
		r.nodeError("Cannot Read Cluster Node", st.Err, "", &resp.Diagnostics)
		return
	}
	if st.Lone {
		resp.Diagnostics.AddError("Node Is Not A Cluster Member",
			fmt.Sprintf("%s knows no other node and serves no slot: there is nothing to import. Declare it and apply instead.", addr))
		return
	}
	m := clusterNodeModel{
		Address:  types.StringValue(addr),
		Seeds:    types.ListNull(types.StringType),
		Master:   types.StringNull(),
		Slots:    types.ListNull(types.StringType),
		Failback: types.BoolValue(true),
		Force:    types.BoolValue(false),
		Config:   types.MapNull(types.StringType),
		Timeouts: timeouts.Value{Object: types.ObjectNull(timeoutAttrTypes)},
	}
	resp.Diagnostics.Append(applyNodeStatus(ctx, &m, st)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}
