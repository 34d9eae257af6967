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
			"nodes": schema.MapNestedAttribute{
				Computed: true,
				MarkdownDescription: "Every node by address: the declared nodes and any member joined by hand (shown, never removed). " +
					"In a plan, what apply leaves: each declared node's role, master and slots as declared (a node apply does not change shows no change); " +
					"only the ID of a node not yet in the cluster is unknown. After apply and refresh, as read. " +
					"Gossip that changes every round (flags, link state) is in the `redis_cluster` data source.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":        schema.StringAttribute{Computed: true, MarkdownDescription: "Node ID (CLUSTER MYID)."},
						"role":      schema.StringAttribute{Computed: true, MarkdownDescription: "`master` or `replica`; empty when the node could not be read."},
						"master_id": schema.StringAttribute{Computed: true, MarkdownDescription: "Node ID of the master a replica follows; empty for masters."},
						"slots":     schema.StringAttribute{Computed: true, MarkdownDescription: "Slots the node serves, as `a-b` ranges and single slots joined by commas (`0-5460`); empty for a replica. One string, so that a plan moving slots shows one line per node."},
						"engine":    schema.StringAttribute{Computed: true, MarkdownDescription: "`redis` or `valkey` (INFO server's `server_name`); null for a member Terraform does not read (joined by hand)."},
						"version":   schema.StringAttribute{Computed: true, MarkdownDescription: "The engine's own version: `valkey_version` on Valkey, else `redis_version`; null for a member Terraform does not read."},
					},
				},
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

// ModifyPlan fills in the slots when the configuration does not set them
// (the state's split for an existing cluster, so slot moves made outside
// Terraform are not drift; an even rebalance with the fewest moves when
// shards are added or removed; the split redis-cli would make for a new
// cluster) and, before anything changes, says which slots will move from
// which node to which, with how many keys.
func (r *clusterResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	if req.Plan.Raw.IsNull() {
		return
	}
	// The configuration says whether slots are declared: in the plan an
	// unset Optional+Computed attribute is already unknown.
	var config clusterModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &config)...)
	if resp.Diagnostics.HasError() {
		return
	}
	shards, known, diags := shardsFromList(ctx, config.Shards)
	resp.Diagnostics.Append(diags...)
	if !known || resp.Diagnostics.HasError() {
		return
	}
	if r.claimNodes(req, shards, &resp.Diagnostics); resp.Diagnostics.HasError() {
		return
	}
	declared := false
	for _, s := range shards {
		declared = declared || s.slotsSet
	}
	var state clusterModel
	var prior []shardConfig
	served := map[string]cluster.SlotSet{}
	exists := !req.State.Raw.IsNull()
	if exists {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
		prior, _, diags = shardsFromList(ctx, state.Shards)
		resp.Diagnostics.Append(diags...)
		served = servedByNode(ctx, state.Nodes)
	}
	out := make([]cluster.Shard, len(shards))
	for i, s := range shards {
		out[i] = s.Shard
	}
	// Terraform leaves nodes and state unknown when anything else in the
	// plan differs from the state (or on create).
	var plannedNodes types.Map
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("nodes"), &plannedNodes)...)
	changing := !exists || plannedNodes.IsUnknown()
	if !declared {
		var history *cluster.SlotHistory
		if exists {
			history = &cluster.SlotHistory{Shards: shardsOf(prior), Served: served}
		}
		for i, set := range cluster.PlanSlots(out, history) {
			out[i].Slots = set
		}
		list, d := shardsToList(ctx, out)
		resp.Diagnostics.Append(d...)
		resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("shards"), list)...)
		// Terraform proposes the prior state for unset Optional+Computed
		// values, so filling in slots can be what makes this an update.
		changing = changing || (exists && !state.Shards.Equal(list))
	}
	// A partition shows at plan time, with the sides; the planned nodes
	// are what apply can reach without acting on the minority side.
	var split *cluster.Split
	if exists && r.data != nil && !resp.Diagnostics.HasError() {
		split = r.planPartition(ctx, req, out, prior, &resp.Diagnostics)
	}
	if !resp.Diagnostics.HasError() {
		r.planNodes(ctx, req, resp, out, prior, state.Nodes, changing, split)
	}
	if exists && r.data != nil {
		r.describeMoves(ctx, served, out, &resp.Diagnostics)
		warnMixedVersions(ctx, state.Nodes, &resp.Diagnostics)
	}
	if r.data != nil {
		r.planSafety(ctx, req, resp, config, state, out, exists)
	}
}

// claimNodes records that this resource declares every member of shards,
// for this run; a member another resource also declares is an error on
// shards.
func (r *clusterResource) claimNodes(req resource.ModifyPlanRequest, shards []shardConfig, diags *diag.Diagnostics) {
	if r.data == nil || len(shards) == 0 {
		return
	}
	self := newClaim(fmt.Sprintf("a redis_cluster (shards led by %s)", shards[0].Master), req.Config, req.State)
	for _, s := range shards {
		for _, a := range append([]string{s.Master}, s.Replicas...) {
			if other, conflict := r.data.claims.take(a, self); conflict {
				diags.AddAttributeError(path.Root("shards"), "Node Declared Twice", declaredTwice(a, self, other))
			}
		}
	}
}

// planPartition reads whether the declared nodes are split (unless this
// run's refresh saw no partition among the same members) and warns with
// the sides: the planned nodes are what apply can reach without acting on
// the minority side.
func (r *clusterResource) planPartition(ctx context.Context, req resource.ModifyPlanRequest, out []cluster.Shard, prior []shardConfig, diags *diag.Diagnostics) *cluster.Split {
	var addrs []string
	for _, s := range out {
		addrs = append(addrs, s.Members()...)
	}
	var split *cluster.Split
	raw, d := req.Private.GetKey(ctx, splitKey)
	diags.Append(d...)
	if !r.readNoSplit(raw) || !sameMembers(addrs, prior) {
		split = r.readSplit(ctx, addrs)
	}
	r.warnPartition(split, diags)
	return split
}

// warnMixedVersions warns when the members last read run different engines
// or versions: a rolling upgrade. The executor asks each node for what it
// supports (ADDSLOTSRANGE, atomic slot migration), so a mixed cluster gets
// only what both ends of each command support.
func warnMixedVersions(ctx context.Context, nodes types.Map, diags *diag.Diagnostics) {
	if nodes.IsNull() || nodes.IsUnknown() {
		return
	}
	var ms map[string]nodeModel
	if d := nodes.ElementsAs(ctx, &ms, false); d.HasError() {
		return
	}
	versions := map[string]string{}
	for addr, m := range ms {
		if e, v := m.Engine.ValueString(), m.Version.ValueString(); e != "" && v != "" {
			versions[addr] = e + " " + v
		}
	}
	if mixed := cluster.MixedVersions(versions); mixed != "" {
		diags.AddWarning("Cluster Runs Mixed Versions",
			"The members run different engines or versions: "+mixed+".\n"+
				"Fine during a rolling upgrade: apply uses on each node only what that node (and, for slot moves, the other end) supports. "+
				"Finish the upgrade so that every node behaves the same in a failover.")
	}
}

// planSafety refuses, before any change, declared settings the nodes do
// not know or cannot change at runtime (only settings the state does not
// declare yet: the others were checked when they were added), and shows
// the safety warnings the last read found (for a new cluster, those the
// declaration alone shows), less the acknowledged kinds.
func (r *clusterResource) planSafety(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, config, state clusterModel, shards []cluster.Shard, exists bool) {
	cfg, known, diags := configFrom(ctx, config.Config)
	resp.Diagnostics.Append(diags...)
	if known && len(cfg) > 0 {
		prior, _, _ := configFrom(ctx, state.Config)
		if fresh := newSettings(cfg, prior); len(fresh) > 0 {
			addrs := cluster.Desired{Shards: shards}.Addrs()
			if err := cluster.ValidateSettings(r.data.mask(ctx), r.data.pool, addrs, fresh); err != nil {
				resp.Diagnostics.AddAttributeError(path.Root("config"), "Setting Cannot Be Applied",
					"Nothing was changed. "+r.data.redact(err))
				return
			}
		}
	}
	acks := acksFrom(ctx, config.Acknowledge)
	if !exists {
		addSafetyWarnings(cluster.DeclaredSafety(shards), acks, &resp.Diagnostics)
		return
	}
	raw, diags := req.Private.GetKey(ctx, safetyKey)
	resp.Diagnostics.Append(diags...)
	addSafetyWarnings(decodeWarnings(raw), acks, &resp.Diagnostics)
}

// planNodes sets the planned nodes and state to what apply will leave
// (cluster.Predict): apply returns only once the cluster converged on the
// declaration, and it reads the cluster back, so the state after apply is
// exactly this. Only what no one knows yet is unknown: the ID, engine and
// version of a node not read yet, and the master_id of its replicas.
// When nothing else changes (changing is false), a member whose role,
// master or slots differ from the prediction (a failover to hand back) is
// what makes the plan an update; otherwise the plan stays empty.
//
// During a partition (split), the members cut off from the majority stay as
// the majority sees them and their shards keep the acting master: apply
// sends them nothing.
func (r *clusterResource) planNodes(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse, shards []cluster.Shard, prior []shardConfig, priorNodes types.Map, changing bool, split *cluster.Split) {
	var failback types.Bool
	resp.Diagnostics.Append(req.Plan.GetAttribute(ctx, path.Root("failback"), &failback)...)
	d := cluster.Desired{Shards: shards, Failback: failback.IsNull() || failback.IsUnknown() || failback.ValueBool()}
	var was []string
	for _, p := range prior {
		was = append(was, p.Members()...)
	}
	d.Remove = minus(was, d.Addrs())
	declared := map[string]bool{}
	for _, a := range d.Addrs() {
		declared[a] = true
	}
	current := membersFromMap(ctx, priorNodes)
	markCutOff(current, split)
	predicted := cluster.Predict(d, current)
	if !changing && !topologyDiffers(current, predicted) {
		return
	}
	nodes, diags := nodesToMap(predicted, func(addr string, m cluster.Member) (bool, bool, bool) {
		if !declared[addr] {
			return false, false, false // joined by hand: kept as read
		}
		return m.ID == "", m.Role == cluster.RoleReplica && m.MasterID == "", m.Engine == ""
	})
	resp.Diagnostics.Append(diags...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("nodes"), nodes)...)
	resp.Diagnostics.Append(resp.Plan.SetAttribute(ctx, path.Root("state"), types.StringValue("ok"))...)
}

// topologyDiffers tells whether any member's ID, role, master or slots
// differ, or a member is only in one of a and b.
func topologyDiffers(a, b map[string]cluster.Member) bool {
	if len(a) != len(b) {
		return true
	}
	for addr, x := range a {
		y, ok := b[addr]
		if !ok || x.ID != y.ID || x.Role != y.Role || x.MasterID != y.MasterID || x.Slots != y.Slots {
			return true
		}
	}
	return false
}

// describeMoves warns, at plan time, which slots will move with how many
// keys (counted on the serving node; "not counted" if it cannot be read).
func (r *clusterResource) describeMoves(ctx context.Context, served map[string]cluster.SlotSet, planned []cluster.Shard, diags *diag.Diagnostics) {
	moves := cluster.SlotMoves(served, planned)
	if len(moves) == 0 {
		return
	}
	ctx = r.data.mask(ctx)
	ctx, cancel := context.WithTimeout(ctx, 2*r.data.pool.DialTimeout())
	defer cancel()
	lines := make([]string, len(moves))
	for i := range moves {
		if n, err := cluster.CountKeys(ctx, r.data.pool, moves[i].From, moves[i].Slots); err == nil {
			moves[i].Keys = n
		}
		if path, err := cluster.PathOf(ctx, r.data.pool, moves[i].From, moves[i].To); err == nil {
			moves[i].Path = &path // else the apply decides once it reads both nodes
		}
		lines[i] = "- " + moves[i].String()
	}
	diags.AddWarning("Slots Will Move",
		"Apply moves these slots with their keys (the cluster keeps serving them meanwhile):\n"+strings.Join(lines, "\n"))
}

// servedByNode reads the slots each node served, from the state's nodes
// (a half-migrated slot still counts for its owner there, while the
// shards' slots leave it out so that the plan shows the open move).
func servedByNode(ctx context.Context, nodes types.Map) map[string]cluster.SlotSet {
	out := map[string]cluster.SlotSet{}
	if nodes.IsNull() || nodes.IsUnknown() {
		return out
	}
	var ms map[string]nodeModel
	if diags := nodes.ElementsAs(ctx, &ms, false); diags.HasError() {
		return out
	}
	for addr, m := range ms {
		if ss, err := parseSlotString(m.Slots.ValueString()); err == nil && m.Role.ValueString() == cluster.RoleMaster {
			out[addr] = ss
		}
	}
	return out
}

// shardsOf returns the shards of a list of configured shards.
func shardsOf(cs []shardConfig) []cluster.Shard {
	out := make([]cluster.Shard, len(cs))
	for i, c := range cs {
		out[i] = c.Shard
	}
	return out
}

// sameMembers tells whether addrs are exactly the members of the prior
// shards (the nodes the refresh read), in any order.
func sameMembers(addrs []string, prior []shardConfig) bool {
	was := map[string]bool{}
	for _, p := range prior {
		for _, m := range p.Members() {
			was[m] = true
		}
	}
	if len(was) != len(addrs) {
		return false
	}
	for _, a := range addrs {
		if !was[a] {
			return false
		}
	}
	return true
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
	m := clusterModel{
		ID:           types.StringValue(id),
		Shards:       list,
		Failback:     types.BoolValue(true),
		ForceDestroy: types.BoolValue(false),
		Nodes:        types.MapNull(nodeObjectType),
		State:        types.StringNull(),
		Config:       types.MapNull(types.StringType),
		Acknowledge:  types.SetNull(types.StringType),
		Timeouts:     timeouts.Value{Object: types.ObjectNull(timeoutAttrTypes)},
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
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
