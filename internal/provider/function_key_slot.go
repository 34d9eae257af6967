package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/function"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

var _ function.Function = (*keySlotFunction)(nil)

// NewKeySlotFunction is the provider::redis::key_slot factory.
func NewKeySlotFunction() function.Function { return &keySlotFunction{} }

type keySlotFunction struct{}

func (f *keySlotFunction) Metadata(_ context.Context, _ function.MetadataRequest, resp *function.MetadataResponse) {
	resp.Name = "key_slot"
}

func (f *keySlotFunction) Definition(_ context.Context, _ function.DefinitionRequest, resp *function.DefinitionResponse) {
	resp.Definition = function.Definition{
		Summary: "The hash slot of a key, as CLUSTER KEYSLOT computes it.",
		MarkdownDescription: "Returns the hash slot (0-16383) that Redis Cluster assigns to `key`: CRC16 of the key modulo 16384, " +
			"except that when the key contains a `{` followed later by a `}` with at least one character between them, " +
			"only the characters between the first `{` and the first `}` after it are hashed (the *hash tag*), so " +
			"`\"{user1000}.following\"` and `\"{user1000}.followers\"` share a slot. `\"{}\"` is no hash tag: the whole key is hashed.\n\n" +
			"The result equals `CLUSTER KEYSLOT` on any Redis Cluster node for the same bytes. Terraform normalizes every string " +
			"to Unicode NFC, so a key an application writes in another normalization form (for example a decomposed `é`) " +
			"has the slot of its NFC form here.",
		Parameters: []function.Parameter{
			function.StringParameter{
				Name:                "key",
				MarkdownDescription: "The key, as the application writes it (UTF-8).",
			},
		},
		Return: function.Int64Return{},
	}
}

func (f *keySlotFunction) Run(ctx context.Context, req function.RunRequest, resp *function.RunResponse) {
	var key string
	resp.Error = function.ConcatFuncErrors(resp.Error, req.Arguments.Get(ctx, &key))
	if resp.Error != nil {
		return
	}
	resp.Error = function.ConcatFuncErrors(resp.Error, resp.Result.Set(ctx, int64(cluster.KeySlot(key))))
}
