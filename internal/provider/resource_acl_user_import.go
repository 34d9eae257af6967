package provider

// ImportState for redis_acl_user: adopting a user by address/name.

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// ImportState adopts a user by "address/name": its rules as ACL LIST prints
// them on that node, its current passwords as the ones to keep.
func (r *aclUserResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	ctx = r.data.mask(ctx)
	addr, name, ok := strings.Cut(strings.TrimSpace(req.ID), "/")
	if !ok {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("Import redis_acl_user as address/name, for example 10.0.0.11:6379/app; got %q.", req.ID))
		return
	}
	if err := cluster.ValidateAddress(addr); err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("Import redis_acl_user as address/name: %v.", err))
		return
	}
	if err := cluster.ValidateACLName(name); err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("Import redis_acl_user as address/name: %v.", err))
		return
	}
	r.checkNotSelf(name, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, aclOpTimeout)
	defer cancel()
	read := cluster.ReadACLUser(ctx, r.data.pool, []string{addr}, name)
	n := read[addr]
	if n.Err != nil {
		r.errorDiag(&resp.Diagnostics, "Cannot Read ACL User", n.Err, "", "")
		return
	}
	rules, hashes, found, err := cluster.ACLListRules(ctx, r.data.pool, addr, name)
	if err != nil {
		r.errorDiag(&resp.Diagnostics, "Cannot Read ACL User", err, "", "")
		return
	}
	if !n.Exists || !found {
		resp.Diagnostics.AddError("ACL User Not Found", fmt.Sprintf("Node %s has no ACL user %q: there is nothing to import.", addr, name))
		return
	}
	expect := cluster.ACLExpect{Forms: map[string]string{n.Version: n.Form}, Fingerprints: cluster.ACLUser{Hashes: hashes}.Fingerprints()}
	resp.Diagnostics.Append(setACLExpect(ctx, resp.Private, expect)...)
	rl, d := types.ListValueFrom(ctx, types.StringType, rules)
	resp.Diagnostics.Append(d...)
	seeds, d := types.ListValueFrom(ctx, types.StringType, []string{addr})
	resp.Diagnostics.Append(d...)
	m := aclUserModel{
		ID:                types.StringValue(name),
		Seeds:             seeds,
		Name:              types.StringValue(name),
		Rules:             rl,
		PasswordWO:        types.StringNull(),
		PasswordWOVersion: types.Int64Null(),
		PasswordHashes:    types.SetNull(types.StringType),
		// Read, which follows, fills in every member.
		Nodes: types.MapNull(types.StringType),
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}
