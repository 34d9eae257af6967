package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

var (
	_ datasource.DataSource                   = (*clusterDataSource)(nil)
	_ datasource.DataSourceWithConfigure      = (*clusterDataSource)(nil)
	_ datasource.DataSourceWithValidateConfig = (*clusterDataSource)(nil)
)

// NewClusterDataSource is the redis_cluster data source factory.
func NewClusterDataSource() datasource.DataSource { return &clusterDataSource{} }

type clusterDataSource struct {
	data *providerData
}

// clusterDataModel is the redis_cluster data source's Terraform data.
type clusterDataModel struct {
	Seeds         types.List   `tfsdk:"seeds"`
	Nodes         types.Map    `tfsdk:"nodes"`
	Shards        types.List   `tfsdk:"shards"`
	State         types.String `tfsdk:"state"`
	SlotsAssigned types.Int64  `tfsdk:"slots_assigned"`
	SlotsOK       types.Int64  `tfsdk:"slots_ok"`
	SlotsPFail    types.Int64  `tfsdk:"slots_pfail"`
	SlotsFail     types.Int64  `tfsdk:"slots_fail"`
	KnownNodes    types.Int64  `tfsdk:"known_nodes"`
	Size          types.Int64  `tfsdk:"size"`
	CurrentEpoch  types.Int64  `tfsdk:"current_epoch"`
	Acknowledge   types.Set    `tfsdk:"acknowledge_warnings"`
}

func (d *clusterDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_cluster"
}

func (d *clusterDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	info := func(field, what string) schema.Int64Attribute {
		return schema.Int64Attribute{
			Computed:            true,
			MarkdownDescription: fmt.Sprintf("`%s` from CLUSTER INFO of the first reachable seed: %s.", field, what),
		}
	}
	resp.Schema = schema.Schema{
		MarkdownDescription: "Reads a live Redis Cluster through one or more of its members: its nodes, its shards and the health " +
			"figures of CLUSTER INFO. Made for outputs and for `check` blocks, for example " +
			"`assert { condition = data.redis_cluster.c.state == \"ok\" }`.\n\n" +
			"Every seed is read concurrently. A seed that does not answer is a warning naming it, and the others are used; " +
			"when none answers, or a seed refuses the credentials, TLS settings or cluster commands, reading fails with an error naming it.",
		Attributes: map[string]schema.Attribute{
			"seeds": schema.ListAttribute{
				Required:    true,
				ElementType: types.StringType,
				Validators:  []validator.List{listvalidator.SizeAtLeast(1)},
				MarkdownDescription: "Addresses (`host:port`) of cluster members to read, at least one. " +
					"`shards` and the CLUSTER INFO figures come from the first one that answers; `nodes` and `state` from all that answer.",
			},
			"nodes": schema.MapNestedAttribute{
				Computed: true,
				MarkdownDescription: "Every node, by address: each seed, and every node the seeds know (by the address it announces). " +
					"The same shape as `redis_cluster`'s `nodes`.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"id":         schema.StringAttribute{Computed: true, MarkdownDescription: "Node ID (CLUSTER MYID)."},
						"role":       schema.StringAttribute{Computed: true, MarkdownDescription: "`master` or `replica`; empty when not known (a node in a handshake)."},
						"master_id":  schema.StringAttribute{Computed: true, MarkdownDescription: "Node ID of the master a replica follows; empty for masters."},
						"slots":      schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Slots the node serves, as ranges."},
						"link_state": schema.StringAttribute{Computed: true, MarkdownDescription: "`connected` or `disconnected` as the other members see the node; `unreachable` for a seed that did not answer (its other fields are then as another seed sees it)."},
						"flags":      schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "CLUSTER NODES flags as the other members see the node (`master`, `slave`, `fail?`, `fail`, ...)."},
					},
				},
			},
			"shards": schema.ListNestedAttribute{
				Computed: true,
				MarkdownDescription: "The shards as the first reachable seed sees them: one per master that owns slots, ordered by its lowest slot, " +
					"with the replicas that follow it (ordered by address, failed ones left out) and its slots. On a healthy cluster " +
					"this is what `terraform import` of `redis_cluster` would read, usable as its `shards`. A failed master still " +
					"heads the shard of the slots it owns.",
				NestedObject: schema.NestedAttributeObject{
					Attributes: map[string]schema.Attribute{
						"master":   schema.StringAttribute{Computed: true, MarkdownDescription: "Address (`host:port`) of the shard's master."},
						"replicas": schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Addresses of the master's replicas."},
						"slots":    schema.ListAttribute{Computed: true, ElementType: types.StringType, MarkdownDescription: "Slots the master serves, as `\"a-b\"` ranges or single `\"n\"` slots."},
					},
				},
			},
			"state": schema.StringAttribute{
				Computed:            true,
				MarkdownDescription: "`cluster_state`: `ok` when every seed that answered reports ok, otherwise the first other value (`fail`) in address order.",
			},
			"slots_assigned": info("cluster_slots_assigned", "slots served by some master (16384 when all are)"),
			"slots_ok":       info("cluster_slots_ok", "slots whose master is not failing"),
			"slots_pfail":    info("cluster_slots_pfail", "slots whose master this node suspects to be down (`fail?`)"),
			"slots_fail":     info("cluster_slots_fail", "slots whose master the cluster agreed is down (`fail`)"),
			"known_nodes":    info("cluster_known_nodes", "nodes known, this one included (nodes in a handshake count too)"),
			"size":           info("cluster_size", "masters serving at least one slot"),
			"current_epoch":  info("cluster_current_epoch", "the cluster's current epoch"),
			"acknowledge_warnings": schema.SetAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				Validators:          acknowledgeValidators,
				MarkdownDescription: acknowledgeAttrDescription + " (`replica_migration` concerns declared shards, so the data source never reports it.)",
			},
		},
	}
}

func (d *clusterDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.data = configuredData(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks the seed addresses before anything is dialed.
func (d *clusterDataSource) ValidateConfig(ctx context.Context, req datasource.ValidateConfigRequest, resp *datasource.ValidateConfigResponse) {
	var seeds types.List
	resp.Diagnostics.Append(req.Config.GetAttribute(ctx, path.Root("seeds"), &seeds)...)
	if resp.Diagnostics.HasError() || seeds.IsNull() || seeds.IsUnknown() {
		return
	}
	validateSeeds(ctx, seeds, &resp.Diagnostics)
}

func (d *clusterDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	if d.data == nil {
		resp.Diagnostics.AddError("Provider Not Configured", "The redis provider was not configured before reading redis_cluster: this is a bug in the provider or in Terraform, please report it.")
		return
	}
	ctx = d.data.mask(ctx)
	var m clusterDataModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	seeds := validateSeeds(ctx, m.Seeds, &resp.Diagnostics)
	if resp.Diagnostics.HasError() {
		return
	}
	pool := d.data.pool
	obs := cluster.ObserveWith(ctx, pool, seeds, cluster.ObserveOptions{Views: true, Safety: true})

	var first *cluster.NodeState
	var dead []string
	for _, s := range seeds {
		n := obs.Node(s)
		switch {
		case n.OK():
			if first == nil {
				first = n
			}
		case cluster.IsUnreachable(n.Err):
			dead = append(dead, d.data.redact(n.Err))
		default:
			resp.Diagnostics.AddAttributeError(path.Root("seeds"), "Cannot Read Cluster Seed",
				d.data.redact(n.Err)+"\n"+remedyOf(n.Err))
		}
	}
	if resp.Diagnostics.HasError() {
		return
	}
	if first == nil {
		resp.Diagnostics.AddAttributeError(path.Root("seeds"), "No Cluster Seed Reachable",
			fmt.Sprintf("None of the %d seeds answered:\n- %s\nCheck that redis-server runs at these addresses and that they are reachable from where Terraform runs (dial_timeout bounds each attempt).",
				len(seeds), strings.Join(dead, "\n- ")))
		return
	}
	for _, msg := range dead {
		resp.Diagnostics.AddWarning("Cluster Seed Unreachable",
			msg+"\nThe cluster is reported as the other seeds see it; in nodes this seed's link_state is \"unreachable\".")
	}
	for _, s := range seeds {
		n := obs.Node(s)
		if n.OK() && n != first && first.Lookup(n.ID) == nil {
			resp.Diagnostics.AddWarning("Cluster Seeds Disagree",
				fmt.Sprintf("Seed %s (node ID %s) is unknown to seed %s, whose view gives shards and the CLUSTER INFO figures: "+
					"they are not members of one cluster, or %s was reset or forgotten.", s, n.ID, first.Addr, s))
		}
	}

	d.safety(ctx, first, obs, m.Acknowledge, &resp.Diagnostics)
	members := cluster.Members(seeds, obs, pool.AnnouncedAddress)
	nodes, diags := healthNodesToMap(members)
	resp.Diagnostics.Append(diags...)
	shards, diags := shardsToList(ctx, cluster.ServedShards(first.View, pool.AnnouncedAddress))
	resp.Diagnostics.Append(diags...)
	m.Nodes = nodes
	m.Shards = shards
	m.State = types.StringValue(cluster.State(seeds, obs))
	m.SlotsAssigned = types.Int64Value(first.InfoInt("cluster_slots_assigned"))
	m.SlotsOK = types.Int64Value(first.InfoInt("cluster_slots_ok"))
	m.SlotsPFail = types.Int64Value(first.InfoInt("cluster_slots_pfail"))
	m.SlotsFail = types.Int64Value(first.InfoInt("cluster_slots_fail"))
	m.KnownNodes = types.Int64Value(first.InfoInt("cluster_known_nodes"))
	m.Size = types.Int64Value(first.InfoInt("cluster_size"))
	m.CurrentEpoch = types.Int64Value(first.InfoInt("cluster_current_epoch"))
	tflog.Debug(ctx, "read redis_cluster", map[string]any{
		"seeds": len(seeds), "unreachable": len(dead), "state": m.State.ValueString(), "from": first.Addr,
	})
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

// safety reads the safety facts of the members the seeds did not cover
// (one round trip each, concurrently) and warns about what it finds, less
// the acknowledged kinds. A member that does not answer only misses the
// checks that need its facts.
func (d *clusterDataSource) safety(ctx context.Context, first *cluster.NodeState, seeds *cluster.Observed, acks types.Set, diags *diag.Diagnostics) {
	var others []string
	for j := range first.View {
		l := &first.View[j]
		if l.Handshake() || l.HasFlag("noaddr") || l.Failing() || l.Addr() == "" || seeds.AddrOf(l.ID) != "" {
			continue
		}
		others = append(others, l.Addr())
	}
	all := &cluster.Observed{Nodes: map[string]*cluster.NodeState{}}
	for a, n := range seeds.Nodes {
		all.Nodes[a] = n
	}
	if len(others) > 0 {
		for a, n := range cluster.ObserveWith(ctx, d.data.pool, others, cluster.ObserveOptions{Safety: true}).Nodes {
			all.Nodes[a] = n
		}
	}
	addSafetyWarnings(cluster.Safety(first.View, all, false), acksFrom(ctx, acks), diags)
}

// validateSeeds checks every known seed address and returns them without
// duplicates, in order.
func validateSeeds(ctx context.Context, l types.List, diags *diag.Diagnostics) []string {
	var seeds []types.String
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	if ds := l.ElementsAs(ctx, &seeds, false); ds.HasError() {
		diags.Append(ds...)
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for i, s := range seeds {
		if s.IsUnknown() {
			continue
		}
		p := path.Root("seeds").AtListIndex(i)
		if s.IsNull() {
			diags.AddAttributeError(p, "Invalid Seed", fmt.Sprintf("seeds[%d] is null: each seed is a host:port address, for example 10.0.0.11:6379.", i))
			continue
		}
		a := strings.TrimSpace(s.ValueString())
		if err := cluster.ValidateAddress(a); err != nil {
			diags.AddAttributeError(p, "Invalid Seed", fmt.Sprintf("seeds[%d]: %v.", i, err))
			continue
		}
		if !seen[a] {
			seen[a] = true
			out = append(out, a)
		}
	}
	return out
}
