package provider

// ImportState for redis_cluster: adopting a live cluster through any member.

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// ImportState adopts a live cluster through any member: its topology,
// read through that node, becomes the shards with their slots.
func (r *clusterResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ctx = r.data.mask(ctx)
	addr := strings.TrimSpace(req.ID)
	if err := cluster.ValidateAddress(addr); err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("Import redis_cluster by the address of any member: %v.", err))
		return
	}
	obs := cluster.Observe(ctx, r.data.pool, []string{addr}, true)
	n := obs.Node(addr)
	if !n.OK() {
		resp.Diagnostics.AddError("Cannot Read Cluster Node", r.data.redact(n.Err)+"\n"+remedyOf(n.Err))
		return
	}
	// A node cut off from the majority describes a stale cluster.
	if split := cluster.FindSplit([]string{addr}, obs); split.Blocking() {
		resp.Diagnostics.AddError("Cannot Import Cluster",
			fmt.Sprintf("node %s is cut off from the majority of its cluster, so its view is stale:\n%s\nImport through a node of the majority side, or once it rejoins.", addr, split.Describe()))
		return
	}
	shards, id, err := cluster.ImportShards(addr, n, r.data.pool.AnnouncedAddress)
	if err != nil {
		resp.Diagnostics.AddError("Cannot Import Cluster", fmt.Sprintf("node %s: %v", addr, err))
		return
	}
	list, diags := shardsToList(ctx, shards)
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.State.Set(ctx, adoptedModel(id, list))...)
}
