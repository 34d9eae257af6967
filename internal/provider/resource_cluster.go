package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/listdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

var (
	_ resource.Resource                   = (*clusterResource)(nil)
	_ resource.ResourceWithConfigure      = (*clusterResource)(nil)
	_ resource.ResourceWithValidateConfig = (*clusterResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*clusterResource)(nil)
	_ resource.ResourceWithImportState    = (*clusterResource)(nil)
	_ resource.ResourceWithUpgradeState   = (*clusterResource)(nil)
)

const (
	defaultCreateTimeout = 10 * time.Minute
	defaultUpdateTimeout = 30 * time.Minute
	defaultDeleteTimeout = 5 * time.Minute
)

// NewClusterResource is the redis_cluster resource factory.
func NewClusterResource() resource.Resource { return &clusterResource{} }

type clusterResource struct {
	data *providerData
}

func (r *clusterResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

func (r *clusterResource) Schema(ctx context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		Version: 1,
		MarkdownDescription: "A whole Redis Cluster: its shards (a master and its replicas) and the split of the 16384 hash slots. " +
			"Create builds the cluster from empty nodes and returns once every node reports `cluster_state:ok` and agrees on roles and slot owners. " +
			"Plan shows where the live cluster drifted from the declaration; apply puts the declaration back. " +
			"Destroy resets every node (CLUSTER RESET HARD) to an empty lone node.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "Opaque, stable identifier: the node ID that served slot 0 when the cluster was created or imported.",
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"shards": schema.ListNestedAttribute{
				Required:            true,
				MarkdownDescription: "The shards, in order. Each node address may appear once in the whole list.",
				Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"master": schema.StringAttribute{
							Required:            true,
							MarkdownDescription: "Address (`host:port`) of the shard's master.",
						},
						"replicas": schema.ListAttribute{
							Optional:            true,
							Computed:            true,
							ElementType:         types.StringType,
							Default:             listdefault.StaticValue(types.ListValueMust(types.StringType, nil)),
							MarkdownDescription: "Addresses (`host:port`) of the master's replicas. Default: none.",
						},
						"slots": schema.ListAttribute{
							Optional:    true,
							Computed:    true,
							ElementType: types.StringType,
							MarkdownDescription: "Hash slots the master serves, as `\"a-b\"` ranges or single `\"n\"` slots. Either every shard sets it or none does. " +
								"Set: together the shards cover 0-16383 exactly once and apply enforces it. " +
								"Unset: create splits the slots evenly in shard order exactly as `redis-cli --cluster create` does, the plan shows the split, " +
								"and slot moves made later outside Terraform are not drift.",
						},
					},
				},
			},
			"failback": schema.BoolAttribute{
				Optional: true,
				Computed: true,
				Default:  booldefault.StaticBool(true),
				MarkdownDescription: "When a failover promoted a replica, show the shard's roles as drift and hand mastership back to the declared master with CLUSTER FAILOVER. " +
					"When false, a shard's members are compared as a set and a promotion is not drift. Default `true`.",
			},
			"force_destroy": schema.BoolAttribute{
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
				MarkdownDescription: "Destroy refuses while any master holds keys, naming them, unless this is `true`; then it flushes the masters first. Default `false`.",
			},
			// A map of plain objects, not a MapNestedAttribute: the same
			// Terraform type and HCL, but the framework does not walk each
			// of the 200 entries' attributes as schema attributes on every
			// decode and plan (a no-change plan of 200 nodes spent about
			// 90 ms there).
			"nodes": schema.MapAttribute{
				Computed:    true,
				ElementType: nodeObjectType,
				MarkdownDescription: "Every node by address: the declared nodes and any member joined by hand (shown, never removed). " +
					"In a plan, what apply leaves: each declared node's role, master and slots as declared (a node apply does not change shows no change); " +
					"only the ID of a node not yet in the cluster is unknown. After apply and refresh, as read. " +
					"Gossip that changes every round (flags, link state) is in the `redis_cluster` data source. " +
					"Each node: `id` (CLUSTER MYID); `role`, `master` or `replica` (empty when the node could not be read); " +
					"`master_id`, the master a replica follows (empty for masters); " +
					"`slots`, as `a-b` ranges and single slots joined by commas (`0-5460`; one string, so that a plan moving slots shows one line per node; empty for a replica); " +
					"`engine` (`redis` or `valkey`) and `version` (`valkey_version` on Valkey, else `redis_version`), null for a member Terraform does not read (joined by hand).",
			},
			"state": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`cluster_state` as last read: `ok` when every reachable declared node reports ok. During a partition only the majority side counts (see the Partitions guide). A plan that changes the cluster shows `ok`: apply returns once every node reports it.",
			},
			"config": schema.MapAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: configDescription,
			},
			"acknowledge_warnings": schema.SetAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          acknowledgeValidators,
				MarkdownDescription: acknowledgeAttrDescription,
			},
		},
		Blocks: map[string]schema.Block{
			"timeouts": timeouts.Block(ctx, timeouts.Opts{Create: true, Update: true, Delete: true}),
		},
	}
}

func (r *clusterResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks the shards before anything talks to Redis.
func (r *clusterResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m clusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	shards, known, diags := shardsFromList(ctx, m.Shards)
	resp.Diagnostics.Append(diags...)
	if !known || resp.Diagnostics.HasError() {
		return
	}
	validateShards(shards, &resp.Diagnostics)
	if cfg, known, _ := configFrom(ctx, m.Config); known {
		if err := cluster.CheckSettingNames(cfg); err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("config"), "Invalid Setting", describe(err))
		}
	}
}

func (r *clusterResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	ctx = r.data.mask(ctx)
	var plan clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Create(ctx, defaultCreateTimeout)
	resp.Diagnostics.Append(diags...)
	desired, diags := desiredFrom(ctx, plan)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	start := time.Now()
	obs, err := cluster.Precheck(ctx, r.data.pool, desired)
	if err != nil {
		resp.Diagnostics.AddError("Nodes Cannot Form The Cluster",
			"Every node was checked before any change, and nothing was changed. Problems:\n"+r.data.redact(err))
		return
	}
	obs, err = r.data.executor().Apply(ctx, desired, obs)
	if err != nil {
		resp.Diagnostics.AddError("Cluster Not Ready",
			fmt.Sprintf("Building the cluster stopped after %s: %s\n\nNo data was at risk (the nodes were empty). "+
				"Fix the cause and run terraform apply again: it continues from what was built, without a manual reset.",
				time.Since(start).Round(time.Millisecond), r.data.redact(err)))
		return
	}
	tflog.Info(ctx, "cluster ready", map[string]any{"elapsed_ms": time.Since(start).Milliseconds(), "nodes": len(desired.Addrs())})
	unpersistedWarning(cluster.Unpersisted(desired, obs), &resp.Diagnostics)
	plan.ID = types.StringValue(cluster.ClusterID(obs, desired))
	resp.Diagnostics.Append(r.fillFromObservation(ctx, &plan, desired, obs)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *clusterResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	ctx = r.data.mask(ctx)
	var state clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	desired, diags := desiredFrom(ctx, state)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	addrs := desired.Addrs()
	obs := cluster.ObserveWith(ctx, r.data.pool, addrs, cluster.ObserveOptions{Views: true, Config: desired.ConfigKeys(), Safety: true})
	if cluster.Gone(addrs, obs) {
		tflog.Warn(ctx, "every declared node is a lone node serving no slot: the cluster is gone", map[string]any{"nodes": len(addrs)})
		resp.State.RemoveResource(ctx)
		return
	}
	reachable := 0
	for _, a := range addrs {
		n := obs.Node(a)
		if n.OK() {
			reachable++
			continue
		}
		var ne *cluster.NodeError
		if errors.As(n.Err, &ne) && ne.Kind == cluster.ErrUnreachable {
			resp.Diagnostics.AddWarning("Cluster Node Unreachable",
				fmt.Sprintf("%s\nThe plan uses what the other members report about it. Apply fails if it needs this node; bring it back or remove it from shards.", r.data.redact(n.Err)))
			continue
		}
		if cluster.IsLoading(n.Err) {
			resp.Diagnostics.AddWarning("Cluster Node Loading",
				fmt.Sprintf("%s\nThe node is loading its dataset (after a restart, or a replica's full sync) and answers once it has. "+
					"The plan uses what the other members report about it; apply waits until it has loaded.", r.data.redact(n.Err)))
			continue
		}
		resp.Diagnostics.AddError("Cannot Read Cluster Node", r.data.redact(n.Err)+"\n"+remedyOf(n.Err))
	}
	if resp.Diagnostics.HasError() || reachable == 0 {
		return // keep the last known state
	}
	split := cluster.FindSplit(addrs, obs)
	if split != nil && split.NoMajority {
		// What a minority reports is not the cluster: keep the last state.
		resp.Diagnostics.AddWarning("Cluster Partitioned",
			r.data.redact(errors.New(split.Describe()))+"\nThe state keeps the cluster as last read from a majority."+partitionNote)
		return
	}
	// Say in words what drifted since the last apply; the plan diff shows
	// it against the configuration.
	if reachable == len(addrs) && !split.Blocking() {
		steps, err := cluster.Plan(desired, obs)
		if err != nil {
			resp.Diagnostics.AddWarning("Cluster Drift Needs Attention", r.data.redact(err))
		} else if drift := cluster.Drift(steps); len(drift) > 0 {
			// The same nodes and changes as the plan's nodes diff.
			members := cluster.Members(addrs, obs, r.data.pool.AnnouncedAddress)
			changes := ""
			if ch := cluster.Changes(members, cluster.Predict(desired, members)); len(ch) > 0 {
				changes = "\nApply leaves these nodes changed (the plan's nodes show the same):\n- " + strings.Join(ch, "\n- ")
			}
			resp.Diagnostics.AddWarning("Cluster Drifted",
				"The live cluster differs from the last applied state:\n- "+strings.Join(drift, "\n- ")+changes+
					"\nterraform apply puts the declaration back without losing keys.")
		}
	}
	resp.Diagnostics.Append(r.fillFromObservation(ctx, &state, desired, obs)...)
	// A node whose declared setting differs shows in the plan as config
	// changing back to the declared value.
	if len(desired.Config) > 0 {
		if cfg, changed := configWithRead(desired.Config, addrs, func(a string) map[string]string {
			return obs.Node(a).ConfigOrNil()
		}); changed {
			state.Config = configMap(cfg)
		}
	}
	// The safety warnings, for ModifyPlan to show less the kinds the
	// configuration acknowledges.
	var view []cluster.NodeLine
	for _, a := range addrs {
		if n := obs.Node(a); n.OK() && len(n.View) > 0 {
			view = n.View
			break
		}
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, safetyKey, encodeWarnings(cluster.Safety(view, obs, true)))...)
	// The plan of this run need not read every node again for a partition
	// when this read saw none (see readNoSplit).
	record := []byte(nil)
	if reachable == len(addrs) && split == nil {
		record = noSplitRecord(r.data.run)
	}
	resp.Diagnostics.Append(resp.Private.SetKey(ctx, splitKey, record)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, state)...)
}

func (r *clusterResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	ctx = r.data.mask(ctx)
	var plan, state clusterModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := plan.Timeouts.Update(ctx, defaultUpdateTimeout)
	resp.Diagnostics.Append(diags...)
	desired, diags := desiredFrom(ctx, plan)
	resp.Diagnostics.Append(diags...)
	prior, diags := desiredFrom(ctx, state)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	desired.Remove = minus(prior.Addrs(), desired.Addrs())
	obs := cluster.ObserveWith(ctx, r.data.pool, desired.Observed(), cluster.ObserveOptions{Views: true, Config: desired.ConfigKeys()})
	if added := minus(desired.Addrs(), prior.Addrs()); len(added) > 0 {
		if err := cluster.CheckJoinable(desired, obs, added); err != nil {
			resp.Diagnostics.AddError("Nodes Cannot Join The Cluster", "Nothing was changed. Problems:\n"+r.data.redact(err))
			return
		}
	}
	obs, err := r.data.executor().Apply(ctx, desired, obs)
	var pe *cluster.PartitionError
	if errors.As(err, &pe) {
		resp.Diagnostics.AddError("Cluster Partitioned", r.data.redact(err))
		return
	}
	if err != nil {
		resp.Diagnostics.AddError("Cluster Not Updated", r.data.redact(err)+"\n\nRun terraform apply again once the cause is fixed: it continues from the cluster as it is.")
		return
	}
	plan.ID = state.ID
	unpersistedWarning(cluster.Unpersisted(desired, obs), &resp.Diagnostics)
	resp.Diagnostics.Append(r.fillFromObservation(ctx, &plan, desired, obs)...)
	resp.Diagnostics.Append(resp.State.Set(ctx, plan)...)
}

func (r *clusterResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.data.mask(ctx)
	var state clusterModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	timeout, diags := state.Timeouts.Delete(ctx, defaultDeleteTimeout)
	resp.Diagnostics.Append(diags...)
	desired, diags := desiredFrom(ctx, state)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := r.data.executor().Destroy(ctx, desired.Addrs(), state.ForceDestroy.ValueBool())
	var ke *cluster.KeysError
	switch {
	case errors.As(err, &ke):
		resp.Diagnostics.AddError("Cluster Holds Keys",
			fmt.Sprintf("Destroy refused, and nothing was changed: %s.\nMove the data away, or set force_destroy = true and apply it before destroying to flush the masters first.", ke))
	case err != nil:
		resp.Diagnostics.AddError("Cluster Not Destroyed", r.data.redact(err))
	}
}

// fillFromObservation writes what was read into m: the shards in the
// declared shape (so drift shows as a diff), nodes and state.
func (r *clusterResource) fillFromObservation(ctx context.Context, m *clusterModel, desired cluster.Desired, obs *cluster.Observed) diag.Diagnostics {
	var diags diag.Diagnostics
	shards := cluster.ObservedShards(desired.Shards, obs)
	list, d := shardsToList(ctx, shards)
	diags.Append(d...)
	m.Shards = list
	nodes, d := nodesToMap(cluster.Members(desired.Addrs(), obs, r.data.pool.AnnouncedAddress), nil)
	diags.Append(d...)
	m.Nodes = nodes
	m.State = types.StringValue(cluster.State(desired.Addrs(), obs))
	return diags
}

func remedyOf(err error) string {
	var ne *cluster.NodeError
	if errors.As(err, &ne) {
		return "Remedy: " + remedy(ne) + "."
	}
	return ""
}

func minus(a, b []string) []string {
	in := map[string]bool{}
	for _, x := range b {
		in[x] = true
	}
	var out []string
	for _, x := range a {
		if !in[x] {
			out = append(out, x)
		}
	}
	return out
}

var _ attr.Value = types.String{}
