package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

var _ function.Function = (*evenSlotsFunction)(nil)

// NewEvenSlotsFunction is the provider::redis::even_slots factory.
func NewEvenSlotsFunction() function.Function { return &evenSlotsFunction{} }

type evenSlotsFunction struct{}

func (f *evenSlotsFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "even_slots"
}

func (f *evenSlotsFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "The slot split redis-cli --cluster create makes for n masters.",
		MarkdownDescription: "Returns, for each of `n` masters in order, the list of slot ranges (`\"a-b\"`, or `\"n\"` for a single slot) " +
			"that `redis-cli --cluster create` assigns to it: for 3 masters `[[\"0-5460\"], [\"5461-10922\"], [\"10923-16383\"]]`. " +
			"Each element can be used as a shard's `slots` in `redis_cluster`; it is also the split `redis_cluster` makes when no shard sets `slots`.",
		Parameters: []function.Parameter{
			function.Int64Parameter{
				Name:                "n",
				MarkdownDescription: fmt.Sprintf("The number of masters, from 1 to %d.", cluster.SlotCount),
			},
		},
		Return: function.ListReturn{ElementType: types.ListType{ElemType: types.StringType}},
	}
}

func (f *evenSlotsFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var n int64
	resp.Error = function.ConcatFuncErrors(resp.Error, req.Arguments.Get(ctx, &n))
	if resp.Error != nil {
		return
	}
	if n < 1 || n > cluster.SlotCount {
		resp.Error = function.NewArgumentFuncError(0, fmt.Sprintf(
			"n is %d: the number of masters must be from 1 to %d (each master needs at least one of the %d slots)",
			n, cluster.SlotCount, cluster.SlotCount))
		return
	}
	split := cluster.EvenSplitRanges(int(n))
	vals := make([]attr.Value, len(split))
	for i, r := range split {
		vals[i] = stringList([]string{r.String()})
	}
	list, diags := types.ListValue(types.ListType{ElemType: types.StringType}, vals)
	if diags.HasError() {
		resp.Error = function.FuncErrorFromDiags(ctx, diags)
		return
	}
	resp.Error = function.ConcatFuncErrors(resp.Error, resp.Result.Set(ctx, list))
}
