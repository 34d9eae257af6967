package provider

// ModifyPlan for redis_cluster and its helpers: slot split, node claims, safety checks and the move description.

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
		served = servedByNode(state.Nodes)
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
		warnMixedVersions(state.Nodes, &resp.Diagnostics)
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
func warnMixedVersions(nodes types.Map, diags *diag.Diagnostics) {
	if nodes.IsNull() || nodes.IsUnknown() {
		return
	}
	ms := nodeModelsOf(nodes)
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
	current := membersFromMap(priorNodes)
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
		if !ok || x.ID != y.ID || x.Role != y.Role || x.MasterID != y.MasterID || !x.Slots.Equal(y.Slots) {
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
func servedByNode(nodes types.Map) map[string]cluster.SlotSet {
	out := map[string]cluster.SlotSet{}
	if nodes.IsNull() || nodes.IsUnknown() {
		return out
	}
	ms := nodeModelsOf(nodes)
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
