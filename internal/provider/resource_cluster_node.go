package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

var (
	_ resource.Resource                   = (*clusterNodeResource)(nil)
	_ resource.ResourceWithConfigure      = (*clusterNodeResource)(nil)
	_ resource.ResourceWithValidateConfig = (*clusterNodeResource)(nil)
	_ resource.ResourceWithImportState    = (*clusterNodeResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*clusterNodeResource)(nil)
	_ resource.ResourceWithUpgradeState   = (*clusterNodeResource)(nil)
)

// NewClusterNodeResource is the redis_cluster_node resource factory.
func NewClusterNodeResource() resource.Resource { return &clusterNodeResource{} }

type clusterNodeResource struct {
	data *providerData
}

func (r *clusterNodeResource) Configure(ctx context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	c := &clusterResource{}
	c.Configure(ctx, req, resp)
	r.data = c.data
}

func (r *clusterNodeResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster_node"
}

func (r *clusterNodeResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Version: 1,
		MarkdownDescription: "One node's membership and role in a Redis Cluster, for clusters composed of one resource per node (with `for_each`, inside modules). " +
			"Terraform creates, updates and destroys such resources in parallel; no `depends_on` is needed between them.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Node ID (CLUSTER MYID).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"address": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "Address (`host:port`) of the node. Changing it replaces the resource.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"seeds": schema.ListAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Addresses (`host:port`) of members, or of nodes joining alongside, that the node meets to join. Unreachable seeds are skipped.",
			},
			"role": schema.StringAttribute{
				Required:            true,
				MarkdownDescription: "`master` or `replica`.",
				Validators:          []validator.String{stringvalidator.OneOf(cluster.RoleMaster, cluster.RoleReplica)},
			},
			"master": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "Replicas only, and required for them: address (`host:port`) of the master the node follows.",
			},
			"slots": schema.ListAttribute{
				Optional:    true,
				ElementType: types.StringType,
				MarkdownDescription: "Masters only: hash slots the node serves, as `\"a-b\"` ranges or single `\"n\"` slots. " +
					"Slots nobody serves are assigned before the node meets its seeds; slots another master serves move here with their keys.",
			},
			"failback": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
				MarkdownDescription: "When a failover swapped this node and its declared master (or replica), show it as drift and hand mastership back with CLUSTER FAILOVER once the replica is in sync. " +
					"When false, such a swap is not drift. Default `true`.",
			},
			"force_destroy": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(false),
				MarkdownDescription: "Masters only. Destroy moves a master's slots with their keys to the masters that stay. " +
					"When none stays (the node is the last master, or every other master is destroyed in the same run), destroy refuses while the node holds keys, unless this is `true`: then the keys are discarded (FLUSHALL). " +
					"Like every destroy-time setting, it takes effect once applied. Default `false`.",
			},
			"engine": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`redis` or `valkey` (INFO server's `server_name`).",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"version": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "The engine's own version: `valkey_version` on Valkey, else `redis_version`.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"drift": schema.ListAttribute{
				Computed:    true,
				ElementType: types.StringType,
				MarkdownDescription: "What the last read found to repair beyond role, master and slots, in words (the `Cluster Node Drifted` warning says the same): " +
					"an old ID members still know, a member that forgot the node, a slot left open by an interrupted move. Empty when none. " +
					"A plan that repairs it shows it known after apply. The node's flags and link state, which change with every gossip round, are in the `redis_cluster` data source.",
			},
			"config": schema.MapAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: strings.Replace(configDescription, "on every node (replicas and nodes added later included)", "on this node", 1),
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *clusterNodeResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m clusterNodeModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, diags := specFrom(ctx, m)
	resp.Diagnostics.Append(diags...)
	if m.Role.IsUnknown() || m.Role.IsNull() {
		return
	}
	switch spec.Role {
	case cluster.RoleMaster:
		if !m.Master.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("master"), "Master Set On A Master",
				fmt.Sprintf("role is %q, so master must not be set: only a replica follows a master. Remove master, or set role = %q.", cluster.RoleMaster, cluster.RoleReplica))
		}
	case cluster.RoleReplica:
		if m.Master.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("master"), "Replica Without Master",
				fmt.Sprintf("role is %q, so master is required: the address of the master it follows.", cluster.RoleReplica))
		}
		if !m.Slots.IsNull() {
			resp.Diagnostics.AddAttributeError(path.Root("slots"), "Slots Set On A Replica",
				fmt.Sprintf("role is %q, so slots must not be set: a replica serves no slots of its own. Remove slots, or set role = %q.", cluster.RoleReplica, cluster.RoleMaster))
		}
	}
	check := func(p path.Path, v types.String) {
		if v.IsNull() || v.IsUnknown() {
			return
		}
		if err := cluster.ValidateAddress(v.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(p, "Invalid Address", err.Error())
		}
	}
	check(path.Root("address"), m.Address)
	check(path.Root("master"), m.Master)
	if !m.Seeds.IsNull() && !m.Seeds.IsUnknown() {
		var seeds []types.String
		resp.Diagnostics.Append(m.Seeds.ElementsAs(ctx, &seeds, false)...)
		for i, s := range seeds {
			check(path.Root("seeds").AtListIndex(i), s)
		}
	}
	if cfg, known, _ := configFrom(ctx, m.Config); known {
		if err := cluster.CheckSettingNames(cfg); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("config"), "Invalid Setting", describe(err))
		}
	}
	if !m.Master.IsNull() && !m.Address.IsUnknown() && m.Master.ValueString() == m.Address.ValueString() {
		resp.Diagnostics.AddAttributeError(path.Root("master"), "Node Follows Itself", "master is the node's own address.")
	}
}

// ModifyPlan refuses a node another resource of the configuration declares
// too.
func (r *clusterNodeResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() || r.data == nil {
		return
	}
	var plan clusterNodeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || plan.Address.IsUnknown() || plan.Address.IsNull() {
		return
	}
	addr := plan.Address.ValueString()
	if !req.State.Raw.IsNull() {
		// What Read found beyond role, master and slots: nothing in the
		// configuration shows it, so plan an update that repairs it. Else
		// the drift stays empty, also through an update.
		var prior types.List
		resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("drift"), &prior)...)
		var drift []string
		if !prior.IsNull() && !prior.IsUnknown() {
			resp.Diagnostics.Append(prior.ElementsAs(ctx, &drift, false)...)
		}
		if len(drift) > 0 {
			resp.Diagnostics.AddWarning("Cluster Node Drifted",
				fmt.Sprintf("%s:\n- %s\nterraform apply repairs it without losing keys.", addr, strings.Join(drift, "\n- ")))
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("drift"), types.ListUnknown(types.StringType))...)
		} else if !prior.IsNull() {
			resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("drift"), stringList(nil))...)
		}
	}
	if cfg, known, diags := configFrom(ctx, plan.Config); known && len(cfg) > 0 {
		resp.Diagnostics.Append(diags...)
		var prior types.Map
		if !req.State.Raw.IsNull() {
			resp.Diagnostics.Append(req.State.GetAttribute(ctx, path.Root("config"), &prior)...)
		}
		was, _, _ := configFrom(ctx, prior)
		if fresh := newSettings(cfg, was); len(fresh) > 0 {
			if err := cluster.ValidateSettings(r.data.mask(ctx), r.data.pool, []string{addr}, fresh); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("config"), "Setting Cannot Be Applied", "Nothing was changed. "+r.data.redact(err))
			}
		}
	}
	self := newClaim(fmt.Sprintf("a redis_cluster_node (role %q)", plan.Role.ValueString()), req.Config, req.State)
	if other, conflict := r.data.claims.take(addr, self); conflict {
		resp.Diagnostics.AddAttributeError(path.Root("address"), "Node Declared Twice", declaredTwice(addr, self, other))
	}
}

func (r *clusterNodeResource) nodeError(summary string, err error, next string, diags *diag.Diagnostics) {
	msg := r.data.redact(err)
	if rem := remedyOf(err); rem != "" {
		msg += "\n" + rem
	}
	if next != "" {
		msg += "\n\n" + next
	}
	diags.AddError(summary, msg)
}

func (r *clusterNodeResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx = r.data.mask(ctx)
	var plan clusterNodeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(diags...)
	spec, diags := specFrom(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	obs, err := r.data.executor().JoinNode(ctx, spec, true)
	if err != nil {
		r.nodeError("Cluster Node Not Joined", fmt.Errorf("joining %s stopped after %s: %w",
			spec.Addr, time.Since(start).Round(time.Millisecond), err),
			"Fix the cause and run terraform apply again: it continues from where the node is.", &resp.Diagnostics)
		return
	}
	tflog.Info(ctx, "cluster node ready", map[string]any{"address": spec.Addr, "elapsed_ms": time.Since(start).Milliseconds()})
	if !r.applySettings(ctx, plan, obs, &resp.Diagnostics) {
		return
	}
	resp.Diagnostics.Append(r.joined(&plan, spec, obs)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

// joined fills in what create or update read back once JoinNode returned,
// with the drift left for the next plan. JoinNode returns once the
// node and its peers agree on the declared role, master and slots
// (NodeReady), so the state keeps the declaration with what was read: a
// master may still serve slots another resource is taking from it, and
// that resource's apply finishes it.
//
// A drift planned as known (none) stays so: drift that another resource's
// apply in the same run leaves behind for a moment (a node joining while
// another leaves) is for the next refresh to read, not an inconsistent
// result of this apply.
func (r *clusterNodeResource) joined(m *clusterNodeModel, spec cluster.NodeSpec, obs *cluster.Observed) diag.Diagnostics {
	planned := m.Drift
	diags := fillNodeComputed(m, cluster.NodeStatusOf(spec, obs, r.data.pool.AnnouncedAddress))
	if !planned.IsUnknown() && !planned.IsNull() {
		m.Drift = planned
	}
	return diags
}

func (r *clusterNodeResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx = r.data.mask(ctx)
	var state clusterNodeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	spec, diags := specFrom(ctx, state)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	st, _ := cluster.ReadNode(ctx, r.data.pool, spec)
	if !st.Reachable {
		if cluster.IsUnreachable(st.Err) {
			resp.Diagnostics.AddWarning("Cluster Node Unreachable",
				fmt.Sprintf("%s\nThe state keeps what was last read. Apply fails if it needs this node.", r.data.redact(st.Err)))
			return
		}
		if st.Err != nil {
			r.nodeError("Cannot Read Cluster Node", st.Err, "", &resp.Diagnostics)
		}
		return
	}
	if cluster.IsNodeGone(st, state.ID.ValueString()) {
		tflog.Warn(ctx, "the node left its cluster (lone, or reset with a new ID): removing it from state", map[string]any{"address": spec.Addr})
		resp.State.RemoveResource(ctx)
		return
	}
	resp.Diagnostics.Append(applyNodeStatus(ctx, &state, st)...)
	if cfg, _, _ := configFrom(ctx, state.Config); len(cfg) > 0 {
		read, err := cluster.ReadSettings(ctx, r.data.pool, spec.Addr, sortedKeys(cfg))
		if err != nil {
			r.nodeError("Cannot Read Node Settings", err, "The provider's ACL user needs +config|get to compare the declared config.", &resp.Diagnostics)
			return
		}
		if now, changed := configWithRead(cfg, []string{spec.Addr}, func(string) map[string]string { return read }); changed {
			state.Config = configMap(now)
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

// applySettings sets the declared config on the node (CONFIG SET, read
// back, CONFIG REWRITE when it has a config file) and warns when it
// cannot be persisted. It tells whether it succeeded.
func (r *clusterNodeResource) applySettings(ctx context.Context, plan clusterNodeModel, obs *cluster.Observed, diags *diag.Diagnostics) bool {
	cfg, _, d := configFrom(ctx, plan.Config)
	diags.Append(d...)
	if len(cfg) == 0 {
		return true
	}
	addr := plan.Address.ValueString()
	read, err := cluster.ReadSettings(ctx, r.data.pool, addr, sortedKeys(cfg))
	if err == nil {
		var diff map[string]string
		diff, err = cluster.SettingsDrift(addr, cfg, read)
		if err == nil && len(diff) > 0 {
			n := obs.Node(addr)
			err = cluster.SetSettings(ctx, r.data.pool, addr, diff, n.OK() && n.ConfigFile != "")
		}
	}
	if err != nil {
		r.nodeError("Node Settings Not Applied", err, "The node's membership is applied; fix the cause and run terraform apply again.", diags)
		return false
	}
	if n := obs.Node(addr); n.OK() && n.ConfigFile == "" {
		unpersistedWarning([]string{addr}, diags)
	}
	return true
}

func (r *clusterNodeResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	ctx = r.data.mask(ctx)
	var plan, state clusterNodeModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultUpdateTimeout)
	resp.Diagnostics.Append(diags...)
	spec, diags := specFrom(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	obs, err := r.data.executor().JoinNode(ctx, spec, false)
	if err != nil {
		r.nodeError("Cluster Node Not Updated", err,
			"Run terraform apply again once the cause is fixed: it continues from the node as it is.", &resp.Diagnostics)
		return
	}
	if !r.applySettings(ctx, plan, obs, &resp.Diagnostics) {
		return
	}
	resp.Diagnostics.Append(r.joined(&plan, spec, obs)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *clusterNodeResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.data.mask(ctx)
	var state clusterNodeModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	spec, diags := specFrom(ctx, state)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := r.data.executor().LeaveNode(ctx, spec); err != nil {
		var held *cluster.KeysHeldError
		if errors.As(err, &held) {
			resp.Diagnostics.AddError("Cluster Node Holds Keys", r.data.redact(err)+".")
			return
		}
		var ne *cluster.NodeError
		next := ""
		if errors.As(err, &ne) && ne.Kind == cluster.ErrUnreachable && ne.Addr == spec.Addr {
			next = "If the node is gone for good, remove it from state with terraform state rm, and make the members forget it (CLUSTER FORGET)."
		}
		r.nodeError("Cluster Node Not Removed", err, next, &resp.Diagnostics)
	}
}
