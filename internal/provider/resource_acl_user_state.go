package provider

// What redis_acl_user records after apply: the read-back, the state and the private acl_expect.

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// readBackACL reads the user back from the members after ACL SETUSER: the
// form each engine version stores (what later reads compare with) and
// each member's status. It reports members that differ and returns false.
func readBackACL(ctx context.Context, pool *cluster.Pool, members []string, u cluster.ACLUser, diags *diag.Diagnostics) (cluster.ACLExpect, map[string]string, bool) {
	after := cluster.ReadACLUser(ctx, pool, members, u.Name)
	expect := cluster.ACLExpect{Forms: map[string]string{}, Fingerprints: u.Fingerprints()}
	for _, a := range sortedStrings(after) {
		if n := after[a]; n.Err == nil && n.Exists {
			if _, ok := expect.Forms[n.Version]; !ok {
				expect.Forms[n.Version] = n.Form
			}
		}
	}
	status := map[string]string{}
	var off []string
	for a, n := range after {
		status[a] = cluster.ACLStatus(expect, n)
		if status[a] != cluster.ACLInSync && status[a] != cluster.ACLUnreachable {
			off = append(off, a+": "+status[a])
		}
	}
	if len(off) > 0 {
		sort.Strings(off)
		diags.AddError("ACL User Not In Sync After Apply",
			"Read back after ACL SETUSER, these members differ (another client changed them meanwhile?):\n- "+strings.Join(off, "\n- ")+"\nRun terraform apply again.")
		return expect, nil, false
	}
	return expect, status, true
}

func (r *aclUserResource) fillState(ctx context.Context, m *aclUserModel, status map[string]string) diag.Diagnostics {
	m.ID = types.StringValue(m.Name.ValueString())
	m.PasswordWO = types.StringNull()
	v, diags := types.MapValueFrom(ctx, types.StringType, status)
	m.Nodes = v
	return diags
}

// privateGetter and privateSetter are the parts of the framework's private
// state (request and response sides) this resource uses.
type privateGetter interface {
	GetKey(ctx context.Context, key string) ([]byte, diag.Diagnostics)
}

type privateSetter interface {
	SetKey(ctx context.Context, key string, value []byte) diag.Diagnostics
}

func setACLExpect(ctx context.Context, p privateSetter, e cluster.ACLExpect) diag.Diagnostics {
	raw, err := json.Marshal(e)
	if err != nil {
		var diags diag.Diagnostics
		diags.AddError("Cannot Record ACL State", err.Error())
		return diags
	}
	return p.SetKey(ctx, aclExpectKey, raw)
}

func aclExpectOf(ctx context.Context, p privateGetter) (cluster.ACLExpect, diag.Diagnostics) {
	var e cluster.ACLExpect
	raw, diags := p.GetKey(ctx, aclExpectKey)
	if len(raw) == 0 || diags.HasError() {
		return e, diags
	}
	if err := json.Unmarshal(raw, &e); err != nil {
		diags.AddWarning("Unreadable Private State", fmt.Sprintf("What the last apply left could not be decoded (%v): every member shows as drift until the next apply.", err))
	}
	return e, diags
}
