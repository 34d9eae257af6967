package provider

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/setvalidator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

var (
	_ resource.Resource                   = (*aclUserResource)(nil)
	_ resource.ResourceWithConfigure      = (*aclUserResource)(nil)
	_ resource.ResourceWithValidateConfig = (*aclUserResource)(nil)
	_ resource.ResourceWithImportState    = (*aclUserResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*aclUserResource)(nil)
)

// NewACLUserResource is the redis_acl_user resource factory.
func NewACLUserResource() resource.Resource { return &aclUserResource{} }

type aclUserResource struct {
	data *providerData
}

type aclUserModel struct {
	ID                types.String `tfsdk:"id"`
	Seeds             types.List   `tfsdk:"seeds"`
	Name              types.String `tfsdk:"name"`
	Rules             types.List   `tfsdk:"rules"`
	PasswordWO        types.String `tfsdk:"password_wo"`
	PasswordWOVersion types.Int64  `tfsdk:"password_wo_version"`
	PasswordHashes    types.Set    `tfsdk:"password_hashes"`
	Nodes             types.Map    `tfsdk:"nodes"`
}

// aclOpTimeout bounds each operation: every node costs at most a few
// round trips, done concurrently.
const aclOpTimeout = 2 * time.Minute

// aclExpectKey is the private state key of what apply left (cluster.ACLExpect):
// the rules' form per engine version and password fingerprints, never a
// password nor the hash Redis keeps.
const aclExpectKey = "acl_expect"

func (r *aclUserResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

func (r *aclUserResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_acl_user"
}

func (r *aclUserResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "One ACL user (Redis 6+) on every member of a cluster: masters, replicas, and nodes that join later. " +
			"Redis keeps ACL users per node and never copies them across a cluster, so a replica promoted by a failover lacks a user set only on its master. " +
			"Apply sets the user on every member (ACL SETUSER with `reset`, the rules and the passwords) and persists it (ACL SAVE with an `aclfile`, CONFIG REWRITE with a config file; a warning names the nodes that have neither). " +
			"Plan reads the user on every member and shows drift per node in `nodes`: missing, other rules or other passwords than apply left. " +
			"Delete removes the user from every member.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The user name.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"seeds": schema.ListAttribute{
				Required:    true,
				ElementType: types.StringType,
				Validators:  []validator.List{listvalidator.SizeAtLeast(1)},
				MarkdownDescription: "Addresses (`host:port`) of any members, at least one: every member is found from them (the seeds and every node they know in CLUSTER NODES). " +
					"Unreachable seeds are skipped. A seed running without `cluster-enabled` is managed alone.",
			},
			"name": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "User name. Changing it replaces the user. It may not be the user the provider authenticates as.",
				Validators:          []validator.String{stringvalidator.LengthAtLeast(1)},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"rules": schema.ListAttribute{
				Required:    true,
				ElementType: types.StringType,
				MarkdownDescription: "ACL rules, one per element, applied in order after `reset` (so the user is `off`, with no commands, keys or channels, unless the rules say otherwise): " +
					"for example `[\"on\", \"~app:*\", \"+@read\", \"+@write\"]`. A selector `\"(~x +get)\"` (Redis 7+) is one element. " +
					"Passwords are not rules here: `>`, `<`, `#` and `!` rules are refused (use `password_wo` or `password_hashes`). " +
					"Before any node is changed, the rules are checked on one node of each engine version with a throw-away user (disabled, no password, deleted at once); a rule the server refuses is an error naming it.",
			},
			"password_wo": schema.StringAttribute{
				Optional:  true,
				Sensitive: true,
				WriteOnly: true,
				MarkdownDescription: "Password, write-only (Terraform 1.11+): never stored in state or plan. Terraform keeps only a fingerprint derived from its SHA-256, to show a node whose passwords changed. " +
					"Set `password_wo_version` with it and change that number to rotate the password: a new `password_wo` alone is not seen.",
				Validators: []validator.String{
					stringvalidator.ConflictsWith(path.MatchRoot("password_hashes")),
					stringvalidator.AlsoRequires(path.MatchRoot("password_wo_version")),
				},
			},
			"password_wo_version": schema.Int64Attribute{
				Optional:            true,
				MarkdownDescription: "Any number; change it to set `password_wo` again (rotation). Required with `password_wo`.",
			},
			"password_hashes": schema.SetAttribute{
				Optional:    true,
				Sensitive:   true,
				ElementType: types.StringType,
				MarkdownDescription: "SHA-256 hashes (64 hex digits) of the user's passwords, set with ACL's `#<hash>` rule: for Terraform older than 1.11, or to accept several passwords during a rotation. " +
					"Compute one with `printf %s \"$PASSWORD\" | sha256sum`. Conflicts with `password_wo`.",
				Validators: []validator.Set{setvalidator.SizeAtLeast(1)},
			},
			"nodes": schema.MapAttribute{
				Computed:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Every member, by address, with the user's state there as last read: `in_sync`, `missing`, `rules_differ`, `passwords_differ`, `rules_and_passwords_differ` " +
					"(compared with what apply left), or `unreachable`. A plan that repairs drift shows the nodes going to `in_sync`.",
			},
		},
	}
}

// aclSpec converts the model; password is the write-only value from the
// configuration ("" when none).
func aclSpec(ctx context.Context, m aclUserModel, password string) (cluster.ACLUser, []string, diag.Diagnostics) {
	var diags diag.Diagnostics
	u := cluster.ACLUser{Name: m.Name.ValueString(), Password: password}
	if !m.Rules.IsNull() && !m.Rules.IsUnknown() {
		diags.Append(m.Rules.ElementsAs(ctx, &u.Rules, false)...)
	}
	if !m.PasswordHashes.IsNull() && !m.PasswordHashes.IsUnknown() {
		diags.Append(m.PasswordHashes.ElementsAs(ctx, &u.Hashes, false)...)
		sort.Strings(u.Hashes)
	}
	seeds := validateSeeds(ctx, m.Seeds, &diags)
	return u, seeds, diags
}

func (r *aclUserResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m aclUserModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !m.Name.IsNull() && !m.Name.IsUnknown() {
		if err := cluster.ValidateACLName(m.Name.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("name"), "Invalid ACL User Name", err.Error()+".")
		}
	}
	if !m.Seeds.IsNull() && !m.Seeds.IsUnknown() {
		validateSeeds(ctx, m.Seeds, &resp.Diagnostics)
	}
	withPassword := !m.PasswordWO.IsNull() || !m.PasswordHashes.IsNull()
	if !m.Rules.IsNull() && !m.Rules.IsUnknown() {
		var rules []types.String
		resp.Diagnostics.Append(m.Rules.ElementsAs(ctx, &rules, false)...)
		known := make([]string, 0, len(rules))
		for _, r := range rules {
			if !r.IsUnknown() {
				known = append(known, r.ValueString())
			}
		}
		if len(known) == len(rules) {
			if err := cluster.ValidateACLRules(known, withPassword); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("rules"), "Invalid ACL Rules", describe(err))
			}
		}
	}
	if !m.PasswordHashes.IsNull() && !m.PasswordHashes.IsUnknown() {
		var hs []types.String
		resp.Diagnostics.Append(m.PasswordHashes.ElementsAs(ctx, &hs, false)...)
		for _, h := range hs {
			if h.IsUnknown() {
				continue
			}
			if err := cluster.ValidateACLHash(h.ValueString()); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("password_hashes"), "Invalid Password Hash", "An element of password_hashes is "+err.Error()+".")
			}
		}
	}
	if m.PasswordWO.IsNull() && !m.PasswordWOVersion.IsNull() {
		resp.Diagnostics.AddAttributeError(path.Root("password_wo_version"), "Password Version Without Password",
			"password_wo_version is set but password_wo is not: set both (the version tells Terraform when to set the write-only password again), or neither.")
	}
}

// errorDiag adds err, with the provider's and the user's passwords redacted.
func (r *aclUserResource) errorDiag(diags *diag.Diagnostics, summary string, err error, password, next string) {
	msg := cluster.Redact(r.data.redact(err), password)
	if rem := remedyOf(err); rem != "" {
		msg += "\n" + rem
	}
	if next != "" {
		msg += "\n\n" + next
	}
	diags.AddError(summary, msg)
}

// maskUser adds the user's password to what logs mask.
func maskUser(ctx context.Context, password string) context.Context {
	if password == "" {
		return ctx
	}
	ctx = tflog.MaskMessageStrings(ctx, password)
	return tflog.MaskAllFieldValuesStrings(ctx, password)
}

// members finds every member from the seeds; a failure is an error diagnostic.
func (r *aclUserResource) members(ctx context.Context, seeds []string, password string, diags *diag.Diagnostics) []string {
	members, err := cluster.ClusterMembers(ctx, r.data.pool, seeds)
	if err != nil {
		r.errorDiag(diags, "Cannot Find Cluster Members", err, password, "")
		return nil
	}
	return members
}

// splitRead sorts a read into unreachable members and members that
// answered wrongly (credentials, permissions), as errors.
func splitRead(read map[string]*cluster.ACLNode) (unreachable []string, failed cluster.Errors) {
	for _, a := range sortedStrings(read) {
		n := read[a]
		switch {
		case n.Err == nil:
		case cluster.IsUnreachable(n.Err):
			unreachable = append(unreachable, a)
		default:
			failed = append(failed, n.Err)
		}
	}
	return unreachable, failed
}

func (r *aclUserResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	r.apply(ctx, req.Plan.Get, req.Config.GetAttribute, &resp.State, resp.Private, &resp.Diagnostics)
}

func (r *aclUserResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	r.apply(ctx, req.Plan.Get, req.Config.GetAttribute, &resp.State, resp.Private, &resp.Diagnostics)
}

type stateSetter interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}

// apply sets the user on every member (create and update alike: SETUSER
// with reset replaces whatever a node had).
func (r *aclUserResource) apply(ctx context.Context, getPlan func(context.Context, any) diag.Diagnostics,
	getConfig func(context.Context, path.Path, any) diag.Diagnostics, state stateSetter, private privateSetter, diags *diag.Diagnostics,
) {
	ctx = r.data.mask(ctx)
	var plan aclUserModel
	diags.Append(getPlan(ctx, &plan)...)
	var pw types.String
	diags.Append(getConfig(ctx, path.Root("password_wo"), &pw)...)
	if diags.HasError() {
		return
	}
	password := pw.ValueString()
	ctx = maskUser(ctx, password)
	u, seeds, d := aclSpec(ctx, plan, password)
	diags.Append(d...)
	if err := cluster.ValidateACLRules(u.Rules, password != "" || len(u.Hashes) > 0); err != nil {
		diags.AddAttributeError(path.Root("rules"), "Invalid ACL Rules", describe(err))
	}
	r.checkNotSelf(u.Name, diags)
	if diags.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, aclOpTimeout)
	defer cancel()
	members := r.members(ctx, seeds, password, diags)
	if diags.HasError() {
		return
	}
	pool := r.data.pool
	read := cluster.ReadACLUser(ctx, pool, members, u.Name)
	unreachable, failed := splitRead(read)
	if len(failed) > 0 {
		r.errorDiag(diags, "ACL User Not Set", failed, password, "No node was changed.")
		return
	}
	planned := map[string]string{}
	if !plan.Nodes.IsUnknown() && !plan.Nodes.IsNull() {
		diags.Append(plan.Nodes.ElementsAs(ctx, &planned, false)...)
	}
	var needed []string
	for _, a := range unreachable {
		if planned[a] == cluster.ACLInSync {
			needed = append(needed, a)
		}
	}
	if len(needed) > 0 {
		diags.AddError("ACL User Not Set",
			fmt.Sprintf("Members %s answered at plan time but not now; no node was changed. Run terraform plan and apply again once they answer, or once they have left the cluster.", strings.Join(needed, ", ")))
		return
	}
	if err := cluster.CheckACLRules(ctx, pool, read, u.Rules); err != nil {
		diags.AddAttributeError(path.Root("rules"), "ACL Rules Refused", cluster.Redact(r.data.redact(err), password)+"\nNo node was changed.")
		return
	}
	volatile, err := cluster.SetACLUser(ctx, pool, read, u)
	if err != nil {
		r.errorDiag(diags, "ACL User Not Set On Every Member", err, password,
			"The other members have the user. Fix the cause and run terraform apply again: it sets the user everywhere.")
		return
	}
	tflog.Info(ctx, "acl user set", map[string]any{"user": u.Name, "members": len(members) - len(unreachable), "unreachable": len(unreachable)})
	if len(unreachable) > 0 {
		diags.AddWarning("ACL User Not Set On Unreachable Members",
			fmt.Sprintf("Members %s did not answer; user %q was set on the others. They show as unreachable in nodes; the next apply once they answer sets it there.",
				strings.Join(unreachable, ", "), u.Name))
	}
	warnVolatile(diags, volatile, "set")

	expect, status, ok := readBackACL(ctx, pool, members, u, diags)
	if !ok {
		return
	}
	if len(planned) > 0 {
		// The plan named these members; one that joined since is set too and shows up in the next read.
		status = planned
	}
	diags.Append(setACLExpect(ctx, private, expect)...)
	diags.Append(r.fillState(ctx, &plan, status)...)
	diags.Append(state.Set(ctx, plan)...)
}

func warnVolatile(diags *diag.Diagnostics, volatile []string, what string) {
	if len(volatile) == 0 {
		return
	}
	diags.AddWarning("ACL Change Not Persisted",
		fmt.Sprintf("Members %s have neither an aclfile nor a config file: the user was %s in memory only and a restart undoes it. "+
			"Start them with aclfile (ACL SAVE is then used) or from a config file (CONFIG REWRITE), then apply again; until then the next plan after a restart shows them as drift.",
			strings.Join(volatile, ", "), what))
}

func (r *aclUserResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx = r.data.mask(ctx)
	var state aclUserModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	_, seeds, diags := aclSpec(ctx, state, "")
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, aclOpTimeout)
	defer cancel()
	name := state.Name.ValueString()
	members, err := cluster.ClusterMembers(ctx, r.data.pool, seeds)
	if err != nil {
		if cluster.IsUnreachable(err) || cluster.IsNoSeed(err) {
			resp.Diagnostics.AddWarning("ACL User Not Read", r.data.redact(err)+"\nThe state keeps what was last read.")
			return
		}
		r.errorDiag(&resp.Diagnostics, "Cannot Find Cluster Members", err, "", "")
		return
	}
	read := cluster.ReadACLUser(ctx, r.data.pool, members, name)
	unreachable, failed := splitRead(read)
	if len(failed) > 0 {
		r.errorDiag(&resp.Diagnostics, "Cannot Read ACL User", failed, "", "")
		return
	}
	if len(unreachable) > 0 {
		resp.Diagnostics.AddWarning("Members Unreachable",
			fmt.Sprintf("Members %s did not answer: whether they have user %q is unknown; nodes shows them as unreachable.", strings.Join(unreachable, ", "), name))
	}
	expect, diags := aclExpectOf(ctx, req.Private)
	resp.Diagnostics.Append(diags...)
	status := map[string]string{}
	exists := false
	for a, n := range read {
		status[a] = cluster.ACLStatus(expect, n)
		exists = exists || n.Exists
	}
	if !exists && len(unreachable) == 0 {
		tflog.Warn(ctx, "the ACL user is on no member: removing it from state", map[string]any{"user": name, "members": len(members)})
		resp.State.RemoveResource(ctx)
		return
	}
	resp.Diagnostics.Append(r.fillState(ctx, &state, status)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

func (r *aclUserResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.data.mask(ctx)
	var state aclUserModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	_, seeds, diags := aclSpec(ctx, state, "")
	resp.Diagnostics.Append(diags...)
	name := state.Name.ValueString()
	r.checkNotSelf(name, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, aclOpTimeout)
	defer cancel()
	members := r.members(ctx, seeds, "", &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	read := cluster.ReadACLUser(ctx, r.data.pool, members, name)
	unreachable, failed := splitRead(read)
	if len(failed) > 0 {
		r.errorDiag(&resp.Diagnostics, "ACL User Not Deleted", failed, "", "No node was changed.")
		return
	}
	volatile, err := cluster.DeleteACLUser(ctx, r.data.pool, read, name)
	if err != nil {
		r.errorDiag(&resp.Diagnostics, "ACL User Not Deleted From Every Member", err, "", "Run terraform destroy again once the cause is fixed.")
		return
	}
	if len(unreachable) > 0 {
		resp.Diagnostics.AddWarning("ACL User Left On Unreachable Members",
			fmt.Sprintf("Members %s did not answer and may still have user %q: delete it there with ACL DELUSER %s once they are back.", strings.Join(unreachable, ", "), name, name))
	}
	warnVolatile(&resp.Diagnostics, volatile, "deleted")
}
