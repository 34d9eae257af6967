package provider

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"
	"github.com/redis/go-redis/v9"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// runFunction calls f's Run as Terraform would, with the result type from
// its definition, and returns the result or the function error.
func runFunction(t *testing.T, f function.Function, args ...attr.Value) (attr.Value, *function.FuncError) {
	t.Helper()
	ctx := context.Background()
	var def function.DefinitionResponse
	f.Definition(ctx, function.DefinitionRequest{}, &def)
	if def.Diagnostics.HasError() {
		t.Fatalf("definition: %v", def.Diagnostics)
	}
	var vr function.DefinitionValidateResponse
	def.Definition.ValidateImplementation(ctx, function.DefinitionValidateRequest{FuncName: "f"}, &vr)
	if vr.Diagnostics.HasError() {
		t.Fatalf("definition does not validate: %v", vr.Diagnostics)
	}
	result, ferr := def.Definition.Return.NewResultData(ctx)
	if ferr != nil {
		t.Fatalf("result data: %v", ferr)
	}
	resp := function.RunResponse{Result: result}
	f.Run(ctx, function.RunRequest{Arguments: function.NewArgumentsData(args)}, &resp)
	return resp.Result.Value(), resp.Error
}

// functionConfig is a configuration that only calls provider functions:
// they need no provider block. The provider is required by the address
// terraform-plugin-testing serves it under (hashicorp/redis).
func functionConfig(body string) string {
	return `
terraform {
  required_providers {
    redis = { source = "hashicorp/redis" }
  }
}
` + body
}

// example returns an example configuration of examples/, which the
// documentation embeds.
func example(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "examples", path))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestFunctionKeySlot_run(t *testing.T) {
	t.Parallel()
	for key, want := range map[string]int64{
		"":                     0,
		"foo":                  12182,  // the example of the Redis Cluster specification
		"123456789":            0x31C3, // the CRC16/XMODEM check value, below 16384
		"{user1000}.following": int64(cluster.KeySlot("user1000")),
		"{user1000}.followers": int64(cluster.KeySlot("user1000")),
		"foo{}{bar}":           int64(cluster.KeySlot("foo{}{bar}")), // {} first: no tag, whole key
		"foo{{bar}}zap":        int64(cluster.KeySlot("{bar")),
		"foo{bar}{zap}":        int64(cluster.KeySlot("bar")),
	} {
		got, ferr := runFunction(t, NewKeySlotFunction(), types.StringValue(key))
		if ferr != nil {
			t.Fatalf("key_slot(%q): %v", key, ferr)
		}
		if !got.Equal(types.Int64Value(want)) {
			t.Errorf("key_slot(%q) = %v, want %d", key, got, want)
		}
	}
}

func TestAccFunction_key_slot_terraform(t *testing.T) {
	t.Parallel()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		Steps: []resource.TestStep{{
			Config: functionConfig(`
output "s" {
  value = provider::redis::key_slot("foo")
}
output "tagged" {
  value = provider::redis::key_slot("{user1000}.followers")
}
# "e" + U+0301 COMBINING ACUTE ACCENT: Terraform hands the provider NFC "é".
output "decomposed" {
  value = provider::redis::key_slot("e\u0301")
}
`),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("s", knownvalue.Int64Exact(12182)),
				statecheck.ExpectKnownOutputValue("tagged", knownvalue.Int64Exact(int64(cluster.KeySlot("user1000")))),
				statecheck.ExpectKnownOutputValue("decomposed", knownvalue.Int64Exact(int64(cluster.KeySlot("\u00e9")))),
			},
		}},
	})
	if cluster.KeySlot("\u00e9") == cluster.KeySlot("e\u0301") {
		t.Fatal("the NFC and NFD forms of é share a slot: the decomposed output proves nothing")
	}
}

// TestAccFunction_key_slot_example applies the documentation's example.
func TestAccFunction_key_slot_example(t *testing.T) {
	t.Parallel()
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		Steps: []resource.TestStep{{
			Config: functionConfig(example(t, "functions/key_slot/function.tf")),
			ConfigStateChecks: []statecheck.StateCheck{
				statecheck.ExpectKnownOutputValue("foo_slot", knownvalue.Int64Exact(12182)),
				statecheck.ExpectKnownOutputValue("user_keys_share_a_slot", knownvalue.Bool(true)),
				statecheck.ExpectKnownOutputValue("foo_shard", knownvalue.Int64Exact(2)),
			},
		}},
	})
}

// keySlotSamples returns n keys of every kind the hash tag rule cares about.
func keySlotSamples(n int) []string {
	r := rand.New(rand.NewPCG(1, 2))
	pieces := []string{"{", "}", "{}", "}{", "user", "1000", ".", "é", "日本", "🔑", "\x00", "\xff", " ", ":"}
	fixed := []string{"", "{", "}", "{}", "{}{}", "{{}}", "}{", "{a}", "{}a", "a{}", "a{}{b}", "{{a}}", "a{b}c}", "{a", "a}",
		"foo", "{user1000}.following", "{user1000}.followers", "über", "日本語{キー}", "🔑{🔒}", "{é}", "e\u0301"}
	out := append([]string(nil), fixed...)
	for len(out) < n {
		var b strings.Builder
		switch len(out) % 4 {
		case 0: // random bytes, any value
			for range r.IntN(24) {
				b.WriteByte(byte(r.IntN(256)))
			}
		case 1: // hash tag somewhere, maybe empty
			fmt.Fprintf(&b, "k%d{", r.IntN(1000))
			for range r.IntN(3) {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
			fmt.Fprintf(&b, "}%d", r.IntN(1000))
		default: // pieces mixed
			for range 1 + r.IntN(8) {
				b.WriteString(pieces[r.IntN(len(pieces))])
			}
		}
		out = append(out, b.String())
	}
	return out
}

// TestFunctionKeySlot_matchesLiveNode compares key_slot with CLUSTER
// KEYSLOT on a real node for 2000 keys.
func TestFunctionKeySlot_matchesLiveNode(t *testing.T) {
	t.Parallel()
	node := redistest.Start(t, 1, redistest.Options{})[0]
	keys := keySlotSamples(2000)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmds := make([]*redis.IntCmd, len(keys))
	if _, err := node.Client().Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			cmds[i] = p.ClusterKeySlot(ctx, k)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tagged := 0
	for i, k := range keys {
		want := cmds[i].Val()
		got, ferr := runFunction(t, NewKeySlotFunction(), types.StringValue(k))
		if ferr != nil {
			t.Fatalf("key_slot(%q): %v", k, ferr)
		}
		if !got.Equal(types.Int64Value(want)) {
			t.Errorf("key_slot(%q) = %v, CLUSTER KEYSLOT = %d", k, got, want)
		}
		if s := strings.IndexByte(k, '{'); s >= 0 {
			if e := strings.IndexByte(k[s+1:], '}'); e > 0 {
				tagged++
			}
		}
	}
	if tagged < 400 {
		t.Fatalf("only %d of %d keys carry a non-empty hash tag", tagged, len(keys))
	}
}
