package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

var _ function.Function = (*shardsFunction)(nil)

// NewShardsFunction is the provider::redis::shards factory.
func NewShardsFunction() function.Function { return &shardsFunction{} }

type shardsFunction struct{}

func (f *shardsFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "shards"
}

func (f *shardsFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "The shard layout redis-cli --cluster create chooses, as a redis_cluster shards value.",
		MarkdownDescription: "Returns the layout `redis-cli --cluster create <nodes> --cluster-replicas <replicas>` would choose, " +
			"as a list of `{ master, replicas, slots }` objects that can be passed as `redis_cluster`'s `shards` as is.\n\n" +
			"There are `length(nodes) / (replicas + 1)` shards (at least 3). Nodes are grouped by host (the host part of `host:port`, " +
			"compared as text) and interleaved across hosts; the first ones become masters, and each replica is placed on another host " +
			"than its master where possible. When every node is on its own host the result is exactly redis-cli's. When nodes share hosts, " +
			"redis-cli improves its first layout with a random search, so its result varies from run to run; this function searches " +
			"deterministically, always returns the same layout, and puts as few replicas on their master's host as possible. " +
			"Nodes left over when `length(nodes)` is not a multiple of `replicas + 1` become extra replicas, one per shard in order. " +
			"`slots` is the even split redis-cli makes, in shard order (see `even_slots`).",
		Parameters: []function.Parameter{
			function.ListParameter{
				Name:                "nodes",
				ElementType:         types.StringType,
				MarkdownDescription: "Node addresses (`host:port`), each once. Their order matters as it does for redis-cli.",
			},
			function.Int64Parameter{
				Name:                "replicas",
				MarkdownDescription: "Replicas per master (`--cluster-replicas`), 0 or more.",
			},
		},
		Return: function.ListReturn{ElementType: shardObjectType},
	}
}

func (f *shardsFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var nodes []types.String
	var replicas int64
	resp.Error = function.ConcatFuncErrors(resp.Error, req.Arguments.Get(ctx, &nodes, &replicas))
	if resp.Error != nil {
		return
	}
	addrs := make([]string, len(nodes))
	for i, n := range nodes {
		if n.IsNull() {
			resp.Error = function.NewArgumentFuncError(0, fmt.Sprintf("nodes[%d] is null: every element must be a host:port address", i))
			return
		}
		addrs[i] = n.ValueString()
	}
	if replicas < 0 {
		resp.Error = function.NewArgumentFuncError(1, fmt.Sprintf("replicas is %d: it must be 0 or more", replicas))
		return
	}
	if replicas >= int64(len(addrs)) {
		// Placement would say the same; this also keeps replicas+1 from overflowing.
		resp.Error = function.NewArgumentFuncError(1, fmt.Sprintf(
			"replicas is %d with %d nodes: that makes no master, and a Redis Cluster requires at least %d masters, each with replicas replicas",
			replicas, len(addrs), cluster.MinMasters))
		return
	}
	layout, err := cluster.Placement(addrs, int(replicas))
	if err != nil {
		resp.Error = function.NewArgumentFuncError(0, err.Error())
		return
	}
	split := cluster.EvenSplit(len(layout))
	shards := make([]cluster.Shard, len(layout))
	for i, l := range layout {
		shards[i] = cluster.Shard{Master: l.Master, Replicas: l.Replicas, Slots: split[i]}
	}
	list, diags := shardsToList(ctx, shards)
	if diags.HasError() {
		resp.Error = function.FuncErrorFromDiags(ctx, diags)
		return
	}
	resp.Error = function.ConcatFuncErrors(resp.Error, resp.Result.Set(ctx, list))
}
