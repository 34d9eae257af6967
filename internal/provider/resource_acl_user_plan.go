package provider

// ModifyPlan for redis_acl_user and its check that the user is not the provider's own.

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// ModifyPlan refuses the provider's own user, and turns drift read by the
// last refresh into a planned update that shows each node going back in
// sync.
func (r *aclUserResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan aclUserModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.Name.IsUnknown() {
		return
	}
	name := plan.Name.ValueString()
	r.checkNotSelf(name, &resp.Diagnostics)
	if name == "default" {
		resp.Diagnostics.AddAttributeWarning(path.Root("name"), "Managing The Default User",
			"The default user is the one clients without a user name log in as, and the one replicas and the cluster bus use unless masteruser is set: "+
				"its password must stay the masterauth (and requirepass) every node is configured with, or replication stops. "+
				"Prefer a named user for applications.")
	}
	if req.State.Raw.IsNull() {
		return
	}
	var state aclUserModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	status := map[string]string{}
	if !state.Nodes.IsNull() && !state.Nodes.IsUnknown() {
		resp.Diagnostics.Append(state.Nodes.ElementsAs(ctx, &status, false)...)
	}
	drift := cluster.ACLDrift(name, status)
	unreachable := false
	repair := false
	for _, s := range status {
		switch s {
		case cluster.ACLUnreachable:
			unreachable = true
		case cluster.ACLInSync:
		default:
			repair = true
		}
	}
	if repair {
		resp.Diagnostics.AddWarning("ACL User Drifted",
			fmt.Sprintf("User %q differs from what apply left:\n- %s\nterraform apply sets it again on every member.", name, strings.Join(drift, "\n- ")))
	}
	changed := !req.Plan.Raw.Equal(req.State.Raw)
	if !repair && !changed {
		return
	}
	// What apply leaves: every member in sync. A member that could not be
	// read may answer at apply time or not: unknown then.
	if unreachable {
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("nodes"), types.MapUnknown(types.StringType))...)
		return
	}
	planned := map[string]string{}
	for a := range status {
		planned[a] = cluster.ACLInSync
	}
	v, d := types.MapValueFrom(ctx, types.StringType, planned)
	resp.Diagnostics.Append(d...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("nodes"), v)...)
}

// checkNotSelf refuses to manage the user the provider logs in as: a
// change there could lock Terraform out of every node.
func (r *aclUserResource) checkNotSelf(name string, diags *diag.Diagnostics) {
	if r.data == nil || name != r.data.pool.User() {
		return
	}
	diags.AddAttributeError(path.Root("name"), "ACL User Is The Provider's Own",
		fmt.Sprintf("The provider authenticates as ACL user %q, so it refuses to manage it: new rules or passwords could lock Terraform out of every node half way. "+
			"Configure the provider with another user (username and password in the provider block) that may run the cluster and ACL commands, then manage %q.", name, name))
}
