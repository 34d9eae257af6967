package provider

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-timeouts/resource/timeouts"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// clusterModel is the redis_cluster resource's Terraform data.
type clusterModel struct {
	ID           types.String   `tfsdk:"id"`
	Shards       types.List     `tfsdk:"shards"`
	Failback     types.Bool     `tfsdk:"failback"`
	ForceDestroy types.Bool     `tfsdk:"force_destroy"`
	Nodes        types.Map      `tfsdk:"nodes"`
	State        types.String   `tfsdk:"state"`
	Config       types.Map      `tfsdk:"config"`
	Acknowledge  types.Set      `tfsdk:"acknowledge_warnings"`
	Timeouts     timeouts.Value `tfsdk:"timeouts"`
}

// adoptedModel is the state of a cluster adopted as it stands (import):
// id and shards as read, the defaults, and nothing read yet.
func adoptedModel(id string, shards types.List) clusterModel {
	return clusterModel{
		ID:           types.StringValue(id),
		Shards:       shards,
		Failback:     types.BoolValue(true),
		ForceDestroy: types.BoolValue(false),
		Nodes:        types.MapNull(nodeObjectType),
		State:        types.StringNull(),
		Config:       types.MapNull(types.StringType),
		Acknowledge:  types.SetNull(types.StringType),
		Timeouts:     timeouts.Value{Object: types.ObjectNull(timeoutAttrTypes)},
	}
}

// nodeModel is one member in the resource's nodes: what apply sets and
// keeps (role, master, slots), without the gossip (flags, link state) that
// changes with every round; the data source shows those.
type nodeModel struct {
	ID       types.String `tfsdk:"id"`
	Role     types.String `tfsdk:"role"`
	MasterID types.String `tfsdk:"master_id"`
	Slots    types.String `tfsdk:"slots"`
	Engine   types.String `tfsdk:"engine"`
	Version  types.String `tfsdk:"version"`
}

type shardModel struct {
	Master   types.String `tfsdk:"master"`
	Replicas types.List   `tfsdk:"replicas"`
	Slots    types.List   `tfsdk:"slots"`
}

var (
	shardAttrTypes = map[string]attr.Type{
		"master":   types.StringType,
		"replicas": types.ListType{ElemType: types.StringType},
		"slots":    types.ListType{ElemType: types.StringType},
	}
	shardObjectType = types.ObjectType{AttrTypes: shardAttrTypes}

	nodeAttrTypes = map[string]attr.Type{
		"id":        types.StringType,
		"role":      types.StringType,
		"master_id": types.StringType,
		"slots":     types.StringType,
		"engine":    types.StringType,
		"version":   types.StringType,
	}
	nodeObjectType = types.ObjectType{AttrTypes: nodeAttrTypes}

	// healthNodeAttrTypes: a member in the data source's nodes, with the
	// gossip view of it.
	healthNodeAttrTypes = map[string]attr.Type{
		"id":         types.StringType,
		"role":       types.StringType,
		"master_id":  types.StringType,
		"slots":      types.ListType{ElemType: types.StringType},
		"link_state": types.StringType,
		"flags":      types.ListType{ElemType: types.StringType},
	}
	healthNodeObjectType = types.ObjectType{AttrTypes: healthNodeAttrTypes}

	timeoutAttrTypes = map[string]attr.Type{
		"create": types.StringType, "update": types.StringType, "delete": types.StringType,
	}
)

// shardConfig is one shard read from configuration, plan or state.
type shardConfig struct {
	cluster.Shard
	slotsSet  bool // the slots attribute was set (not null)
	slotsText []string
}

// shardsFromList converts the shards attribute. known is false when some
// part is unknown (for example a module input not yet computed); callers
// then skip the checks that need it.
func shardsFromList(ctx context.Context, l types.List) ([]shardConfig, bool, diag.Diagnostics) {
	var diags diag.Diagnostics
	if l.IsNull() || l.IsUnknown() {
		return nil, false, diags
	}
	ms, ok := shardModelsOf(l)
	if !ok {
		// Not the schema's shape: let the framework say why.
		var typed []shardModel
		diags.Append(l.ElementsAs(ctx, &typed, false)...)
		return nil, false, diags
	}
	known := true
	out := make([]shardConfig, len(ms))
	for i, m := range ms {
		if m.Master.IsUnknown() || m.Replicas.IsUnknown() || m.Slots.IsUnknown() {
			known = false
			continue
		}
		out[i].Master = m.Master.ValueString()
		if !m.Replicas.IsNull() {
			for _, r := range stringsOf(m.Replicas) {
				if r.IsUnknown() {
					known = false
				}
				out[i].Replicas = append(out[i].Replicas, r.ValueString())
			}
		}
		if !m.Slots.IsNull() {
			out[i].slotsSet = true
			for _, s := range stringsOf(m.Slots) {
				if s.IsUnknown() {
					known = false
				}
				out[i].slotsText = append(out[i].slotsText, s.ValueString())
			}
			// Invalid text is reported by validateShards; here it parses to
			// what can be read.
			out[i].Slots, _ = cluster.ParseSlotSet(out[i].slotsText)
		}
	}
	return out, known, diags
}

// validateShards adds one diagnostic per problem, on the attribute at fault.
func validateShards(shards []shardConfig, diags *diag.Diagnostics) {
	set := 0
	for i := range shards {
		if shards[i].slotsSet {
			set++
			ss, err := cluster.ParseSlotSet(shards[i].slotsText)
			if err != nil {
				diags.AddAttributeError(path.Root("shards").AtListIndex(i).AtName("slots"), "Invalid Slots",
					fmt.Sprintf("shards[%d].slots: %v. Write slots as \"a-b\" ranges or single \"n\" slots, 0 <= n <= 16383, each once.", i, err))
				continue
			}
			if ss.Empty() {
				diags.AddAttributeError(path.Root("shards").AtListIndex(i).AtName("slots"), "Shard Without Slots",
					fmt.Sprintf("shards[%d].slots is empty. A master that serves no slot turns itself into a replica (Redis' cluster-allow-replica-migration), so it could never be the master declared here. Give it at least one slot, or remove the shard.", i))
				continue
			}
			shards[i].Slots = ss
		}
	}
	if set > 0 && set < len(shards) {
		var missing []string
		for i := range shards {
			if !shards[i].slotsSet {
				missing = append(missing, fmt.Sprintf("shards[%d]", i))
			}
		}
		diags.AddAttributeError(path.Root("shards"), "Slots On Some Shards Only",
			fmt.Sprintf("%d of %d shards set slots, but %v do not. Either every shard sets slots or none does (then the slots are split evenly as redis-cli does).", set, len(shards), missing))
		return
	}
	if diags.HasError() {
		return
	}
	d := cluster.Desired{}
	for _, s := range shards {
		d.Shards = append(d.Shards, s.Shard)
	}
	if set == 0 {
		// Coverage is the provider's job then; check addresses only.
		for i, ss := range cluster.EvenSplit(len(d.Shards)) {
			d.Shards[i].Slots = ss
		}
	}
	if err := d.Validate(); err != nil {
		if es, ok := err.(cluster.Errors); ok {
			for _, e := range es {
				diags.AddAttributeError(path.Root("shards"), "Invalid Shards", shardProblem(e))
			}
			return
		}
		diags.AddAttributeError(path.Root("shards"), "Invalid Shards", shardProblem(err))
	}
}

// shardProblem says what Validate found wrong, naming the attribute.
func shardProblem(err error) string {
	var se *cluster.ShardError
	switch {
	case errors.Is(err, cluster.ErrNoShards):
		return "shards: " + err.Error()
	case errors.As(err, &se):
		return shardAttr(se.At) + ": " + se.Reason(shardAttr)
	}
	return err.Error()
}

// shardAttr names the attribute at p: shards[0].master,
// shards[0].replicas[1], shards[0].slots, shards[*].slots.
func shardAttr(p cluster.Position) string {
	shard := fmt.Sprintf("shards[%d]", p.Shard)
	if p.Shard == cluster.AllShards {
		shard = "shards[*]"
	}
	switch p.Member {
	case cluster.SlotsOf:
		return shard + ".slots"
	case 0:
		return shard + ".master"
	}
	return fmt.Sprintf("%s.replicas[%d]", shard, p.Member-1)
}

// desiredFrom converts a planned or stored model; slots are known there.
func desiredFrom(ctx context.Context, m clusterModel) (cluster.Desired, diag.Diagnostics) {
	shards, known, diags := shardsFromList(ctx, m.Shards)
	if !known && !diags.HasError() {
		diags.AddError("Unknown Shards", "The shards are not known yet: this is a bug in the provider, please report it.")
	}
	d := cluster.Desired{Failback: m.Failback.IsNull() || m.Failback.ValueBool()}
	for i, s := range shards {
		ss, err := cluster.ParseSlotSet(s.slotsText)
		if err != nil {
			diags.AddAttributeError(path.Root("shards").AtListIndex(i).AtName("slots"), "Invalid Slots", err.Error())
		}
		s.Slots = ss
		d.Shards = append(d.Shards, s.Shard)
	}
	cfg, _, cd := configFrom(ctx, m.Config)
	diags.Append(cd...)
	if len(cfg) > 0 {
		d.Config = cfg
	}
	return d, diags
}

func stringList(items []string) types.List {
	vals := make([]attr.Value, len(items))
	for i, s := range items {
		vals[i] = types.StringValue(s)
	}
	return types.ListValueMust(types.StringType, vals)
}

// shardsToList renders shards with their slots as ranges.
func shardsToList(_ context.Context, shards []cluster.Shard) (types.List, diag.Diagnostics) {
	var diags diag.Diagnostics
	vals := make([]attr.Value, len(shards))
	for i, s := range shards {
		obj, d := types.ObjectValue(shardAttrTypes, map[string]attr.Value{
			"master":   types.StringValue(s.Master),
			"replicas": stringList(s.Replicas),
			"slots":    stringList(s.Slots.Strings()),
		})
		diags.Append(d...)
		vals[i] = obj
	}
	l, d := types.ListValue(shardObjectType, vals)
	diags.Append(d...)
	return l, diags
}

func sortedAddrs(members map[string]cluster.Member) []string {
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// healthNodesToMap renders members for the data source, gossip included.
func healthNodesToMap(members map[string]cluster.Member) (types.Map, diag.Diagnostics) {
	var diags diag.Diagnostics
	vals := map[string]attr.Value{}
	for _, k := range sortedAddrs(members) {
		m := members[k]
		obj, d := types.ObjectValue(healthNodeAttrTypes, map[string]attr.Value{
			"id":         types.StringValue(m.ID),
			"role":       types.StringValue(m.Role),
			"master_id":  types.StringValue(m.MasterID),
			"slots":      stringList(m.Slots.Strings()),
			"link_state": types.StringValue(m.LinkState),
			"flags":      stringList(m.Flags),
		})
		diags.Append(d...)
		vals[k] = obj
	}
	mv, d := types.MapValue(healthNodeObjectType, vals)
	diags.Append(d...)
	return mv, diags
}

// nodesToMap renders members for the resource. unknown, when set, tells
// which values a plan cannot know yet (a node not read yet: its ID, engine
// and version, and the master_id of its replicas); otherwise an empty
// engine or version (a member Terraform does not read) is null.
func nodesToMap(members map[string]cluster.Member, unknown func(addr string, m cluster.Member) (id, masterID, engine bool)) (types.Map, diag.Diagnostics) {
	var diags diag.Diagnostics
	vals := map[string]attr.Value{}
	for _, k := range sortedAddrs(members) {
		m := members[k]
		var uID, uMaster, uEngine bool
		if unknown != nil {
			uID, uMaster, uEngine = unknown(k, m)
		}
		str := func(v string, unknown bool) types.String {
			switch {
			case unknown:
				return types.StringUnknown()
			case v == "":
				return types.StringNull()
			}
			return types.StringValue(v)
		}
		id := types.StringValue(m.ID)
		if uID {
			id = types.StringUnknown()
		}
		master := types.StringValue(m.MasterID)
		if uMaster {
			master = types.StringUnknown()
		}
		obj, d := types.ObjectValue(nodeAttrTypes, map[string]attr.Value{
			"id":        id,
			"role":      types.StringValue(m.Role),
			"master_id": master,
			"slots":     types.StringValue(m.Slots.String()),
			"engine":    str(m.Engine, uEngine),
			"version":   str(m.Version, uEngine),
		})
		diags.Append(d...)
		vals[k] = obj
	}
	mv, d := types.MapValue(nodeObjectType, vals)
	diags.Append(d...)
	return mv, diags
}

// membersFromMap reads the resource's nodes back (the state's, to predict
// from). Unknown or unreadable values are left empty.
func membersFromMap(nodes types.Map) map[string]cluster.Member {
	out := map[string]cluster.Member{}
	if nodes.IsNull() || nodes.IsUnknown() {
		return out
	}
	ms := nodeModelsOf(nodes)
	for addr, m := range ms {
		slots, _ := parseSlotString(m.Slots.ValueString())
		out[addr] = cluster.Member{Addr: addr, ID: m.ID.ValueString(), Role: m.Role.ValueString(), MasterID: m.MasterID.ValueString(),
			Slots: slots, Engine: m.Engine.ValueString(), Version: m.Version.ValueString()}
	}
	return out
}

// nodeModelsOf reads the nodes map without the framework's reflection,
// which compiles a regular expression per struct field and element: at
// 200 nodes that was a third of ModifyPlan's time. It returns nil when the
// map is null, unknown, or not of nodeObjectType's shape.
func nodeModelsOf(nodes types.Map) map[string]nodeModel {
	if nodes.IsNull() || nodes.IsUnknown() {
		return nil
	}
	out := make(map[string]nodeModel, len(nodes.Elements()))
	for addr, v := range nodes.Elements() {
		obj, ok := v.(types.Object)
		if !ok || obj.IsNull() || obj.IsUnknown() {
			return nil
		}
		a := obj.Attributes()
		str := func(name string) types.String {
			s, _ := a[name].(types.String)
			return s
		}
		out[addr] = nodeModel{ID: str("id"), Role: str("role"), MasterID: str("master_id"), Slots: str("slots"),
			Engine: str("engine"), Version: str("version")}
	}
	return out
}

// shardModelsOf reads the shards list without the framework's reflection
// (see nodeModelsOf).
func shardModelsOf(l types.List) ([]shardModel, bool) {
	out := make([]shardModel, 0, len(l.Elements()))
	for _, v := range l.Elements() {
		obj, ok := v.(types.Object)
		if !ok || obj.IsNull() || obj.IsUnknown() {
			return nil, false
		}
		a := obj.Attributes()
		m, ok1 := a["master"].(types.String)
		r, ok2 := a["replicas"].(types.List)
		sl, ok3 := a["slots"].(types.List)
		if !ok1 || !ok2 || !ok3 {
			return nil, false
		}
		out = append(out, shardModel{Master: m, Replicas: r, Slots: sl})
	}
	return out, true
}

// stringsOf returns a list's string elements without reflection.
func stringsOf(l types.List) []types.String {
	out := make([]types.String, 0, len(l.Elements()))
	for _, v := range l.Elements() {
		s, _ := v.(types.String)
		out = append(out, s)
	}
	return out
}

// parseSlotString reads a node's slots as the resource's nodes render
// them: "a-b" ranges and single slots joined by commas; "" for none.
func parseSlotString(s string) (cluster.SlotSet, error) {
	if strings.TrimSpace(s) == "" {
		return cluster.SlotSet{}, nil
	}
	return cluster.ParseSlotSet(strings.Split(s, ","))
}
