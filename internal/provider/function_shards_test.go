package provider

import (
	"context"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// walkthroughNodes are the six hosts of the walkthrough, 10.0.0.11-16.
var walkthroughNodes = []string{
	"10.0.0.11:6379", "10.0.0.12:6379", "10.0.0.13:6379",
	"10.0.0.14:6379", "10.0.0.15:6379", "10.0.0.16:6379",
}

type shardGo struct {
	Master   string   `tfsdk:"master"`
	Replicas []string `tfsdk:"replicas"`
	Slots    []string `tfsdk:"slots"`
}

// shardsGo runs shards(nodes, replicas) and converts the result to Go.
func shardsGo(t *testing.T, nodes []string, replicas int64) ([]shardGo, *function.FuncError) {
	t.Helper()
	vals := make([]attr.Value, len(nodes))
	for i, n := range nodes {
		vals[i] = types.StringValue(n)
	}
	v, ferr := runFunction(t, NewShardsFunction(), types.ListValueMust(types.StringType, vals), types.Int64Value(replicas))
	if ferr != nil {
		return nil, ferr
	}
	var out []shardGo
	list, ok := v.(types.List)
	if !ok {
		t.Fatalf("shards returned %T, want a list", v)
	}
	if d := list.ElementsAs(context.Background(), &out, false); d.HasError() {
		t.Fatalf("shards result: %v", d)
	}
	return out, nil
}

func TestFunctionShards_walkthrough(t *testing.T) {
	t.Parallel()
	got, ferr := shardsGo(t, walkthroughNodes, 1)
	if ferr != nil {
		t.Fatal(ferr)
	}
	want := []shardGo{
		{Master: "10.0.0.11:6379", Replicas: []string{"10.0.0.15:6379"}, Slots: []string{"0-5460"}},
		{Master: "10.0.0.12:6379", Replicas: []string{"10.0.0.16:6379"}, Slots: []string{"5461-10922"}},
		{Master: "10.0.0.13:6379", Replicas: []string{"10.0.0.14:6379"}, Slots: []string{"10923-16383"}},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("shards(walkthrough, 1) =\n%+v\nwant\n%+v", got, want)
	}
}

func TestFunctionShards_noReplicas(t *testing.T) {
	t.Parallel()
	got, ferr := shardsGo(t, walkthroughNodes[:4], 0)
	if ferr != nil {
		t.Fatal(ferr)
	}
	if len(got) != 4 {
		t.Fatalf("4 nodes, 0 replicas: %d shards", len(got))
	}
	split := cluster.EvenSplit(4)
	for i, s := range got {
		if s.Master != walkthroughNodes[i] || s.Replicas == nil || len(s.Replicas) != 0 || strings.Join(s.Slots, ",") != split[i].String() {
			// Replicas must be an empty list, not null, like the resource's default.
			t.Errorf("shard %d = %+v", i, s)
		}
	}
}

// TestFunctionShards_matchesPlacement compares with cluster.Placement on
// shared hosts, extra nodes and more replicas, and checks the result is
// the same on every call.
func TestFunctionShards_matchesPlacement(t *testing.T) {
	t.Parallel()
	var twoHosts, nineNodes []string
	for i := range 8 {
		twoHosts = append(twoHosts, fmt.Sprintf("10.0.%d.1:%d", i%2, 6379+i))
	}
	for i := range 9 {
		nineNodes = append(nineNodes, fmt.Sprintf("10.0.0.%d:6379", 21+i))
	}
	for _, c := range []struct {
		nodes    []string
		replicas int64
	}{{twoHosts, 1}, {nineNodes, 2}, {nineNodes, 1}, {walkthroughNodes, 0}} {
		first, ferr := shardsGo(t, c.nodes, c.replicas)
		if ferr != nil {
			t.Fatal(ferr)
		}
		again, _ := shardsGo(t, c.nodes, c.replicas)
		if !reflect.DeepEqual(first, again) {
			t.Fatalf("two calls differ:\n%+v\n%+v", first, again)
		}
		layout, err := cluster.Placement(c.nodes, int(c.replicas))
		if err != nil {
			t.Fatal(err)
		}
		split := cluster.EvenSplit(len(layout))
		if len(first) != len(layout) {
			t.Fatalf("%d shards, Placement has %d", len(first), len(layout))
		}
		for i, l := range layout {
			if first[i].Master != l.Master || strings.Join(first[i].Replicas, ",") != strings.Join(l.Replicas, ",") ||
				strings.Join(first[i].Slots, ",") != split[i].String() {
				t.Errorf("%v/%d shard %d = %+v, Placement %+v slots %s", c.nodes, c.replicas, i, first[i], l, split[i])
			}
		}
	}
}

func TestFunctionShards_errors(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		nodes    []string
		replicas int64
		arg      int64
		text     string
	}{
		{walkthroughNodes[:5], 1, 0, "at least 3 master nodes: 5 nodes with 1 replicas per master make 2 masters; at least 6 nodes are required"},
		{walkthroughNodes, -1, 1, "replicas is -1: it must be 0 or more"},
		{walkthroughNodes, 6, 1, "replicas is 6 with 6 nodes"},
		{walkthroughNodes, 1 << 62, 1, "replicas is 4611686018427387904 with 6 nodes"},
		{nil, 0, 1, "replicas is 0 with 0 nodes"},
		{append([]string{"10.0.0.11"}, walkthroughNodes[1:]...), 1, 0, `nodes[0]: "10.0.0.11" is not a host:port address`},
		{append(append([]string(nil), walkthroughNodes...), "10.0.0.12:6379"), 0, 0, `nodes[6]: address "10.0.0.12:6379" is already nodes[1]`},
	} {
		_, ferr := shardsGo(t, c.nodes, c.replicas)
		if ferr == nil {
			t.Errorf("shards(%v, %d) succeeded", c.nodes, c.replicas)
			continue
		}
		if ferr.FunctionArgument == nil || *ferr.FunctionArgument != c.arg {
			t.Errorf("shards(%v, %d): error %q not tied to argument %d", c.nodes, c.replicas, ferr.Text, c.arg)
		}
		if !strings.Contains(ferr.Text, c.text) {
			t.Errorf("shards(%v, %d): error %q, want it to contain %q", c.nodes, c.replicas, ferr.Text, c.text)
		}
	}
	// A null element.
	_, ferr := runFunction(t, NewShardsFunction(),
		types.ListValueMust(types.StringType, []attr.Value{types.StringValue("10.0.0.11:6379"), types.StringNull()}), types.Int64Value(0))
	if ferr == nil || ferr.FunctionArgument == nil || *ferr.FunctionArgument != 0 || !strings.Contains(ferr.Text, "nodes[1] is null") {
		t.Errorf("null node: %+v", ferr)
	}
}

func TestAccFunction_shards_terraform(t *testing.T) {
	t.Parallel()
	str := knownvalue.StringExact
	shard := func(master, replica, slots string) knownvalue.Check {
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"master":   str(master),
			"replicas": knownvalue.ListExact([]knownvalue.Check{str(replica)}),
			"slots":    knownvalue.ListExact([]knownvalue.Check{str(slots)}),
		})
	}
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		Steps: []resource.TestStep{
			{
				Config: functionConfig(fmt.Sprintf(`
output "layout" {
  value = provider::redis::shards(%s, 1)
}
`, hclList(walkthroughNodes))),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownOutputValue("layout", knownvalue.ListExact([]knownvalue.Check{
						shard("10.0.0.11:6379", "10.0.0.15:6379", "0-5460"),
						shard("10.0.0.12:6379", "10.0.0.16:6379", "5461-10922"),
						shard("10.0.0.13:6379", "10.0.0.14:6379", "10923-16383"),
					})),
				},
			},
			{
				Config:      functionConfig(fmt.Sprintf(`output "few" { value = provider::redis::shards(%s, 1) }`, hclList(walkthroughNodes[:4]))),
				ExpectError: regexp.MustCompile(`(?s)Invalid value for "nodes" parameter.*at\s+least\s+3\s+master\s+nodes`),
			},
		},
	})
}

// TestAccFunction_shards_cluster builds a redis_cluster on six real nodes
// from the function's output, and checks the live layout is redis-cli's.
func TestAccFunction_shards_cluster(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{DistinctHosts: true})
	masters, replicas := threeByTwo(nodes)
	cfg := providerConfig(nodes[0].Password()) + fmt.Sprintf(`
resource "redis_cluster" "test" {
  shards = provider::redis::shards(%s, 1)
}
`, hclList(redistest.Addrs(nodes)))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("redis_cluster.test", plancheck.ResourceActionCreate),
						plancheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("shards").AtSliceIndex(2).AtMapKey("replicas"),
							knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact(replicas[2][0])})),
					},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("state"), knownvalue.StringExact("ok")),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes"), knownvalue.MapSizeExact(6)),
				},
				Check: checkLive(t, nodes, masters, replicas, []string{"0-5460", "5461-10922", "10923-16383"}),
			},
			{Config: cfg, PlanOnly: true},
		},
	})
}

// TestAccFunction_shards_example plans the documentation's example: the
// function's layout, and the same without slots (the even split, planned by
// redis_cluster itself).
func TestAccFunction_shards_example(t *testing.T) {
	t.Parallel()
	str := knownvalue.StringExact
	resource.UnitTest(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		TerraformVersionChecks:   []tfversion.TerraformVersionCheck{tfversion.SkipBelow(tfversion.Version1_8_0)},
		Steps: []resource.TestStep{{
			Config:             functionConfig(example(t, "functions/shards/function.tf")),
			PlanOnly:           true,
			ExpectNonEmptyPlan: true,
			ConfigPlanChecks: resource.ConfigPlanChecks{
				PostApplyPostRefresh: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue("redis_cluster.main", tfjsonpath.New("shards").AtSliceIndex(2),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"master":   str("10.0.0.13:6379"),
							"replicas": knownvalue.ListExact([]knownvalue.Check{str("10.0.0.14:6379")}),
							"slots":    knownvalue.ListExact([]knownvalue.Check{str("10923-16383")}),
						})),
					plancheck.ExpectKnownValue("redis_cluster.floating_slots", tfjsonpath.New("shards").AtSliceIndex(0),
						knownvalue.ObjectExact(map[string]knownvalue.Check{
							"master":   str("10.0.1.11:6379"),
							"replicas": knownvalue.ListExact([]knownvalue.Check{str("10.0.1.15:6379")}),
							"slots":    knownvalue.ListExact([]knownvalue.Check{str("0-5460")}),
						})),
				},
			},
		}},
	})
}
