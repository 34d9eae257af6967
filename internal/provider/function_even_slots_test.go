package provider

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// evenSlotsGo runs even_slots(n) and converts the result to Go.
func evenSlotsGo(t *testing.T, n int64) ([][]string, *function.FuncError) {
	t.Helper()
	v, ferr := runFunction(t, NewEvenSlotsFunction(), types.Int64Value(n))
	if ferr != nil {
		return nil, ferr
	}
	var out [][]string
	list, ok := v.(types.List)
	if !ok {
		t.Fatalf("even_slots(%d) returned %T, want a list", n, v)
	}
	if d := list.ElementsAs(context.Background(), &out, false); d.HasError() {
		t.Fatalf("even_slots(%d) result: %v", n, d)
	}
	return out, nil
}

func TestFunctionEvenSlots_matchesEvenSplit(t *testing.T) {
	t.Parallel()
	for n := int64(1); n <= 50; n++ {
		got, ferr := evenSlotsGo(t, n)
		if ferr != nil {
			t.Fatalf("even_slots(%d): %v", n, ferr)
		}
		want := cluster.EvenSplit(int(n))
		if len(got) != len(want) {
			t.Fatalf("even_slots(%d) has %d masters", n, len(got))
		}
		for i := range want {
			if strings.Join(got[i], ",") != strings.Join(want[i].Strings(), ",") {
				t.Errorf("even_slots(%d)[%d] = %v, EvenSplit gives %v", n, i, got[i], want[i].Strings())
			}
		}
	}
	// The largest: one slot per master, single slots rendered "n".
	got, ferr := evenSlotsGo(t, cluster.SlotCount)
	if ferr != nil || len(got) != cluster.SlotCount || got[0][0] != "0" || got[cluster.SlotCount-1][0] != "16383" {
		t.Fatalf("even_slots(16384): %v, first %v", ferr, got[:1])
	}
}

func TestFunctionEvenSlots_outOfRange(t *testing.T) {
	t.Parallel()
	for _, n := range []int64{0, -1, cluster.SlotCount + 1, 1 << 40} {
		_, ferr := evenSlotsGo(t, n)
		if ferr == nil {
			t.Fatalf("even_slots(%d) succeeded", n)
		}
		if ferr.FunctionArgument == nil || *ferr.FunctionArgument != 0 {
			t.Errorf("even_slots(%d): error not tied to argument 0: %+v", n, ferr)
		}
		if !strings.Contains(ferr.Text, "n is") || !strings.Contains(ferr.Text, "from 1 to 16384") {
			t.Errorf("even_slots(%d): error %q does not name n and its range", n, ferr.Text)
		}
	}
}

func TestAccFunction_even_slots_terraform(t *testing.T) {
	t.Parallel()
	str := knownvalue.StringExact
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		Steps: []resource.TestStep{
			{
				Config: functionConfig(`
output "three" {
  value = provider::redis::even_slots(3)
}
`),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("three", knownvalue.ListExact([]knownvalue.Check{
						knownvalue.ListExact([]knownvalue.Check{str("0-5460")}),
						knownvalue.ListExact([]knownvalue.Check{str("5461-10922")}),
						knownvalue.ListExact([]knownvalue.Check{str("10923-16383")}),
					})),
				},
			},
			{
				Config:      functionConfig(`output "none" { value = provider::redis::even_slots(0) }`),
				ExpectError: regexp.MustCompile(`(?s)Invalid value for "n" parameter.*n is 0: the number of masters must be\s+from\s+1\s+to\s+16384`),
			},
			{
				Config:      functionConfig(`output "half" { value = provider::redis::even_slots(2.5) }`),
				ExpectError: regexp.MustCompile(`(?s)Invalid value for "n" parameter`),
			},
		},
	})
}

// TestAccFunction_even_slots_example plans the documentation's example
// (planning a redis_cluster dials no node).
func TestAccFunction_even_slots_example(t *testing.T) {
	t.Parallel()
	str := knownvalue.StringExact
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		Steps: []resource.TestStep{{
			Config:             functionConfig(example(t, "functions/even_slots/function.tf")),
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectKnownOutputValueAtPath("three_masters", tfjsonpath.New(1),
						knownvalue.ListExact([]knownvalue.Check{str("5461-10922")})),
					plancheck.ExpectKnownValue("redis_cluster.main", tfjsonpath.New("shards").AtSliceIndex(2),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"master": str("10.0.0.13:6379"), "replicas": knownvalue.ListSizeExact(0),
							"slots": knownvalue.ListExact([]knownvalue.Check{str("10923-16383")}),
						})),
				},
			},
		}},
	})
}
