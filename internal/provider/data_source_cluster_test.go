package provider

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// deadAddr is an address nothing listens on: connections are refused at once.
const deadAddr = "127.0.0.1:1"

func dataSourceConfig(password string, seeds []string) string {
	return providerConfig(password) + fmt.Sprintf(`
data "redis_cluster" "test" {
  seeds = %s
}
`, hclList(seeds))
}

// createdRanges are the slots redistest.CreateCluster gives m masters.
func createdRanges(m int) []string {
	out := make([]string, m)
	for i := range m {
		out[i] = fmt.Sprintf("%d-%d", i*cluster.SlotCount/m, (i+1)*cluster.SlotCount/m-1)
	}
	return out
}

// waitEpochsSettled waits until the masters' config epoch collisions are
// resolved (each master has its own) and every node reports the same
// current epoch, and returns it: after that the epoch stays put.
func waitEpochsSettled(t *testing.T, nodes []*redistest.Node) int64 {
	t.Helper()
	var epoch string
	redistest.WaitFor(t, 20*time.Second, func() bool {
		seen := map[int64]bool{}
		view, err := cluster.ParseNodes(redistest.ClusterNodes(t, nodes[0]))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range view {
			if l.IsMaster() {
				if seen[l.ConfigEpoch] {
					return false
				}
				seen[l.ConfigEpoch] = true
			}
		}
		epoch = ""
		for _, n := range nodes {
			e := redistest.ClusterInfo(t, n)["cluster_current_epoch"]
			if epoch != "" && e != epoch {
				return false
			}
			epoch = e
		}
		return true
	}, "config epochs to settle")
	e, _ := strconv.ParseInt(epoch, 10, 64)
	return e
}

// TestAccDataSourceCluster_attributes reads a cluster built by hand (3
// masters, 3 replicas) and checks every attribute against the nodes.
func TestAccDataSourceCluster_attributes(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{})
	ids := redistest.CreateCluster(t, nodes, 1) // nodes[3+i] replicates nodes[i]
	epoch := waitEpochsSettled(t, nodes)
	a := redistest.Addrs(nodes)
	ranges := createdRanges(3)
	pw := nodes[0].Password()
	str := knownvalue.StringExact
	list := func(items ...string) knownvalue.Check {
		checks := make([]knownvalue.Check, len(items))
		for i, s := range items {
			checks[i] = str(s)
		}
		return knownvalue.ListExact(checks)
	}
	node := func(i int, linkState string) knownvalue.Check {
		if i < 3 {
			return knownvalue.ObjectExact(map[string]knownvalue.Check{
				"id": str(ids[i]), "role": str("master"), "master_id": str(""), "slots": list(ranges[i]),
				"link_state": str(linkState), "flags": list("master"),
			})
		}
		return knownvalue.ObjectExact(map[string]knownvalue.Check{
			"id": str(ids[i]), "role": str("replica"), "master_id": str(ids[i-3]), "slots": list(),
			"link_state": str(linkState), "flags": list("slave"),
		})
	}
	allNodes := map[string]knownvalue.Check{}
	for i := range nodes {
		allNodes[a[i]] = node(i, "connected")
	}
	var shards []knownvalue.Check
	for i := range 3 {
		shards = append(shards, knownvalue.ObjectExact(map[string]knownvalue.Check{
			"master": str(a[i]), "replicas": list(a[i+3]), "slots": list(ranges[i]),
		}))
	}
	ds := "data.redis_cluster.test"
	at := tfjsonpath.New[string]
	healthy := []statecheck.StateCheck{
		statecheck.ExpectKnownValue(ds, at("shards"), knownvalue.ListExact(shards)),
		statecheck.ExpectKnownValue(ds, at("state"), str("ok")),
		statecheck.ExpectKnownValue(ds, at("slots_assigned"), knownvalue.Int64Exact(16384)),
		statecheck.ExpectKnownValue(ds, at("slots_ok"), knownvalue.Int64Exact(16384)),
		statecheck.ExpectKnownValue(ds, at("slots_pfail"), knownvalue.Int64Exact(0)),
		statecheck.ExpectKnownValue(ds, at("slots_fail"), knownvalue.Int64Exact(0)),
		statecheck.ExpectKnownValue(ds, at("known_nodes"), knownvalue.Int64Exact(6)),
		statecheck.ExpectKnownValue(ds, at("size"), knownvalue.Int64Exact(3)),
		statecheck.ExpectKnownValue(ds, at("current_epoch"), knownvalue.Int64Exact(epoch)),
	}
	withDead := map[string]knownvalue.Check{deadAddr: knownvalue.ObjectExact(map[string]knownvalue.Check{
		"id": str(""), "role": str(""), "master_id": str(""), "slots": list(), "link_state": str("unreachable"), "flags": list(),
	})}
	for k, v := range allNodes {
		withDead[k] = v
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// A replica first: shards and the figures come from its view.
				Config: dataSourceConfig(pw, []string{a[3], a[1]}),
				ConfigStateChecks: append([]statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, at("seeds"), list(a[3], a[1])),
					statecheck.ExpectKnownValue(ds, at("nodes"), knownvalue.MapExact(allNodes)),
				}, healthy...),
			},
			{
				// A dead seed is a warning; the others tell the whole story.
				Config: dataSourceConfig(pw, []string{deadAddr, a[2]}),
				ConfigStateChecks: append([]statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, at("nodes"), knownvalue.MapExact(withDead)),
				}, healthy...),
			},
			{
				// A member that died: still listed, by what the others know
				// of it, and marked unreachable. A lost replica leaves the
				// cluster ok.
				PreConfig: func() { nodes[5].Kill(t) },
				Config:    dataSourceConfig(pw, []string{a[5], a[0]}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, at("nodes").AtMapKey(a[5]).AtMapKey("id"), str(ids[5])),
					statecheck.ExpectKnownValue(ds, at("nodes").AtMapKey(a[5]).AtMapKey("role"), str("replica")),
					statecheck.ExpectKnownValue(ds, at("nodes").AtMapKey(a[5]).AtMapKey("master_id"), str(ids[2])),
					statecheck.ExpectKnownValue(ds, at("nodes").AtMapKey(a[5]).AtMapKey("link_state"), str("unreachable")),
					statecheck.ExpectKnownValue(ds, at("nodes"), knownvalue.MapSizeExact(6)),
					statecheck.ExpectKnownValue(ds, at("state"), str("ok")),
				},
			},
		},
	})
}

// TestAccDataSourceCluster_loneAndErrors: a lone node reads as a failing
// cluster of one; bad credentials, a node without cluster mode, no
// reachable seed and bad addresses are errors naming the culprit.
func TestAccDataSourceCluster_loneAndErrors(t *testing.T) {
	t.Parallel()
	lone := redistest.Start(t, 1, redistest.Options{})[0]
	plain := redistest.Start(t, 1, redistest.Options{ClusterEnabled: redistest.Bool(false)})[0]
	pw := lone.Password()
	ds := "data.redis_cluster.test"
	at := tfjsonpath.New[string]
	q := regexp.QuoteMeta
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				// Wrong password: an error even though another seed is
				// merely unreachable and the cluster could be read.
				Config:      dataSourceConfig("not-the-password", []string{deadAddr, lone.Addr()}),
				ExpectError: regexp.MustCompile(`(?s)Cannot Read Cluster Seed.*` + q(lone.Addr()) + `.*authentication failed.*Remedy: check the provider's username and password`),
			},
			{
				Config:      dataSourceConfig(pw, []string{plain.Addr()}),
				ExpectError: regexp.MustCompile(`(?s)Cannot Read Cluster Seed.*` + q(plain.Addr()) + `.*cluster mode disabled`),
			},
			{
				Config:      dataSourceConfig(pw, []string{deadAddr, "127.0.0.1:2"}),
				ExpectError: regexp.MustCompile(`(?s)No Cluster Seed Reachable.*None of the 2 seeds answered.*` + q(deadAddr) + `.*127\.0\.0\.1:2`),
			},
			{
				Config:      dataSourceConfig(pw, []string{"10.0.0.11"}),
				ExpectError: regexp.MustCompile(`(?s)Invalid Seed.*seeds\[0\]: "10.0.0.11" is not a host:port address`),
			},
			{
				Config:      dataSourceConfig(pw, []string{}),
				ExpectError: regexp.MustCompile(`(?s)seeds.*at least 1`),
			},
			{
				// Last, so that the final destroy has a valid configuration.
				Config: dataSourceConfig(pw, []string{lone.Addr()}),
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(ds, at("state"), knownvalue.StringExact("fail")),
					statecheck.ExpectKnownValue(ds, at("shards"), knownvalue.ListSizeExact(0)),
					statecheck.ExpectKnownValue(ds, at("known_nodes"), knownvalue.Int64Exact(1)),
					statecheck.ExpectKnownValue(ds, at("slots_assigned"), knownvalue.Int64Exact(0)),
					statecheck.ExpectKnownValue(ds, at("nodes").AtMapKey(lone.Addr()).AtMapKey("role"), knownvalue.StringExact("master")),
				},
			},
		},
	})
}

// protoRead configures the provider with password and reads the data
// source with seeds over the protocol, returning the diagnostics and the
// state value of the attribute "state" ("" when not read).
func protoRead(t *testing.T, password string, seeds []string) ([]*tfprotov6.Diagnostic, string) {
	t.Helper()
	ctx := context.Background()
	srv, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	object := func(s *tfprotov6.Schema, set map[string]tftypes.Value) *tfprotov6.DynamicValue {
		typ, ok := s.ValueType().(tftypes.Object)
		if !ok {
			t.Fatalf("schema value type %T is not an object", s.ValueType())
		}
		vals := map[string]tftypes.Value{}
		for name, at := range typ.AttributeTypes {
			if v, ok := set[name]; ok {
				vals[name] = v
			} else {
				vals[name] = tftypes.NewValue(at, nil)
			}
		}
		dv, err := tfprotov6.NewDynamicValue(typ, tftypes.NewValue(typ, vals))
		if err != nil {
			t.Fatal(err)
		}
		return &dv
	}
	conf, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{
		TerraformVersion: "1.11.0",
		Config: object(schemas.Provider, map[string]tftypes.Value{
			"password":     tftypes.NewValue(tftypes.String, password),
			"dial_timeout": tftypes.NewValue(tftypes.String, "1s"),
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range conf.Diagnostics {
		t.Fatalf("configure: %s: %s", d.Summary, d.Detail)
	}
	seedVals := make([]tftypes.Value, len(seeds))
	for i, s := range seeds {
		seedVals[i] = tftypes.NewValue(tftypes.String, s)
	}
	var ackVals []tftypes.Value
	for _, k := range cluster.WarningKinds {
		ackVals = append(ackVals, tftypes.NewValue(tftypes.String, k))
	}
	dsSchema := schemas.DataSourceSchemas["redis_cluster"]
	resp, err := srv.ReadDataSource(ctx, &tfprotov6.ReadDataSourceRequest{
		TypeName: "redis_cluster",
		Config: object(dsSchema, map[string]tftypes.Value{
			"seeds": tftypes.NewValue(tftypes.List{ElementType: tftypes.String}, seedVals),
			// The safety warnings (a test cluster has no replicas and no
			// persistence) are acknowledged: these tests are about seeds.
			"acknowledge_warnings": tftypes.NewValue(tftypes.Set{ElementType: tftypes.String}, ackVals),
		}),
	})
	if err != nil {
		t.Fatal(err)
	}
	state := ""
	if resp.State != nil {
		v, err := resp.State.Unmarshal(dsSchema.ValueType())
		if err != nil {
			t.Fatal(err)
		}
		var attrs map[string]tftypes.Value
		if err := v.As(&attrs); err == nil {
			_ = attrs["state"].As(&state)
		}
	}
	return resp.Diagnostics, state
}

// TestDataSourceCluster_diagnostics checks severities and texts that the
// acceptance tests cannot see: a dead seed is one warning naming it, and
// no diagnostic ever holds the password.
func TestDataSourceCluster_diagnostics(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{Password: "ds-Secret-7q2"})
	redistest.CreateCluster(t, nodes, 0)
	a := redistest.Addrs(nodes)
	check := func(name, password string, seeds []string, wantState string, want ...*regexp.Regexp) {
		t.Helper()
		diags, state := protoRead(t, password, seeds)
		if state != wantState {
			t.Errorf("%s: state %q, want %q", name, state, wantState)
		}
		if len(diags) != len(want) {
			for _, d := range diags {
				t.Logf("%s: %v %s: %s", name, d.Severity, d.Summary, d.Detail)
			}
			t.Fatalf("%s: %d diagnostics, want %d", name, len(diags), len(want))
		}
		for i, d := range diags {
			text := d.Severity.String() + " " + d.Summary + ": " + d.Detail
			if !want[i].MatchString(text) {
				t.Errorf("%s: diagnostic %q does not match %s", name, text, want[i])
			}
			for _, secret := range []string{"ds-Secret-7q2", password} {
				if strings.Contains(text, secret) {
					t.Errorf("%s: diagnostic holds a password: %q", name, text)
				}
			}
		}
	}
	q := regexp.QuoteMeta
	check("healthy", "ds-Secret-7q2", a, "ok")
	check("dead seed", "ds-Secret-7q2", []string{a[0], deadAddr, a[1]}, "ok",
		regexp.MustCompile(`(?s)^WARNING Cluster Seed Unreachable: node `+q(deadAddr)+`: unreachable`))
	check("duplicates", "ds-Secret-7q2", []string{a[0], a[0]}, "ok")
	check("wrong password", "wrong-pw-3k", []string{a[0]}, "",
		regexp.MustCompile(`(?s)^ERROR Cannot Read Cluster Seed: node `+q(a[0])+`: (.*: )?authentication failed`))
	check("all dead", "ds-Secret-7q2", []string{deadAddr}, "",
		regexp.MustCompile(`(?s)^ERROR No Cluster Seed Reachable: None of the 1 seeds answered:\n- node `+q(deadAddr)))

	// A node from another cluster (here a lone one) among the seeds.
	other := redistest.Start(t, 1, redistest.Options{Password: "ds-Secret-7q2"})[0]
	check("foreign seed", "ds-Secret-7q2", []string{a[0], other.Addr()}, "fail",
		regexp.MustCompile(`(?s)^WARNING Cluster Seeds Disagree: Seed `+q(other.Addr())+` \(node ID [0-9a-f]{40}\) is unknown to seed `+q(a[0])))
}

// checkStatus asserts the status of a check block in a plan or state.
type checkStatus struct {
	name string
	want tfjson.CheckStatus
}

func (c checkStatus) find(results []tfjson.CheckResultStatic) error {
	for _, r := range results {
		if r.Address.Kind == tfjson.CheckKindCheckBlock && r.Address.Name == c.name {
			if r.Status != c.want {
				return fmt.Errorf("check %q is %q, want %q (%+v)", c.name, r.Status, c.want, r.Instances)
			}
			return nil
		}
	}
	return fmt.Errorf("check %q not found in the check results %+v", c.name, results)
}

func (c checkStatus) CheckState(_ context.Context, req statecheck.CheckStateRequest, resp *statecheck.CheckStateResponse) {
	if req.State == nil {
		resp.Error = fmt.Errorf("no state")
		return
	}
	resp.Error = c.find(req.State.Checks)
}

func (c checkStatus) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	resp.Error = c.find(req.Plan.Checks)
}

// onlyCheckRead asserts that a plan's only change is the read of the data
// source nested in a check block, which Terraform always plans.
type onlyCheckRead struct{ address string }

func (c onlyCheckRead) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	found := false
	for _, rc := range req.Plan.ResourceChanges {
		switch {
		case rc.Change.Actions.NoOp():
		case rc.Address == c.address && rc.Change.Actions.Read():
			found = true
		default:
			resp.Error = fmt.Errorf("unexpected change %s %v", rc.Address, rc.Change.Actions)
			return
		}
	}
	if !found {
		resp.Error = fmt.Errorf("%s is not planned to be read", c.address)
	}
}

// TestAccDataSourceCluster_checkBlock runs the documentation's example on
// three masters without replicas (10.0.0.11-13 replaced by their
// addresses). Its check block passes on the healthy cluster; after a master
// is killed the check fails, which Terraform reports as a warning: apply
// still succeeds, and the check's status in the plan (no depends_on: read
// at plan) and in the state says fail.
func TestAccDataSourceCluster_checkBlock(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{})
	redistest.CreateCluster(t, nodes, 0)
	a := redistest.Addrs(nodes)
	lost, err := cluster.ParseSlotRange(createdRanges(3)[2])
	if err != nil {
		t.Fatal(err)
	}
	cfg := example(t, "data-sources/redis_cluster/data-source.tf")
	for i, addr := range a {
		cfg = strings.ReplaceAll(cfg, fmt.Sprintf("10.0.0.%d:6379", 11+i), addr)
	}
	if strings.Contains(cfg, "10.0.0.") {
		t.Fatalf("the example uses other addresses than 10.0.0.11-13:6379:\n%s", cfg)
	}
	cfg = providerConfig(nodes[0].Password()) + cfg
	const main, health = "data.redis_cluster.main", "data.redis_cluster.health"
	at := tfjsonpath.New[string]
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: cfg,
				// A data source in a check block is read at plan and read
				// again at apply, so every plan shows that read.
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{checkStatus{"redis_cluster_health", tfjson.CheckStatusPass}},
					PostApplyPostRefresh: []plancheck.PlanCheck{onlyCheckRead{health}},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					checkStatus{"redis_cluster_health", tfjson.CheckStatusPass},
					statecheck.ExpectKnownOutputValue("cluster_state", knownvalue.StringExact("ok")),
					statecheck.ExpectKnownOutputValue("masters", knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact(a[0]), knownvalue.StringExact(a[1]), knownvalue.StringExact(a[2]),
					})),
					statecheck.ExpectKnownValue(main, at("slots_fail"), knownvalue.Int64Exact(0)),
				},
			},
			{
				PreConfig: func() {
					nodes[2].Kill(t)
					redistest.WaitFor(t, 20*time.Second, func() bool {
						for _, n := range nodes[:2] {
							if redistest.ClusterInfo(t, n)["cluster_state"] != "fail" {
								return false
							}
						}
						return true
					}, "the surviving masters to report cluster_state:fail")
				},
				Config:             cfg,
				ExpectNonEmptyPlan: true,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply:             []plancheck.PlanCheck{checkStatus{"redis_cluster_health", tfjson.CheckStatusFail}},
					PostApplyPostRefresh: []plancheck.PlanCheck{onlyCheckRead{health}},
				},
				ConfigStateChecks: []statecheck.StateCheck{
					checkStatus{"redis_cluster_health", tfjson.CheckStatusFail},
					statecheck.ExpectKnownOutputValue("cluster_state", knownvalue.StringExact("fail")),
					statecheck.ExpectKnownValue(main, at("slots_fail"), knownvalue.Int64Exact(int64(lost.Len()))),
					statecheck.ExpectKnownValue(main, at("slots_ok"), knownvalue.Int64Exact(int64(cluster.SlotCount-lost.Len()))),
					// The dead master still heads the shard of its slots.
					statecheck.ExpectKnownOutputValue("masters", knownvalue.ListExact([]knownvalue.Check{
						knownvalue.StringExact(a[0]), knownvalue.StringExact(a[1]), knownvalue.StringExact(a[2]),
					})),
					statecheck.ExpectKnownValue(main, at("nodes").AtMapKey(a[2]).AtMapKey("flags"),
						knownvalue.ListExact([]knownvalue.Check{knownvalue.StringExact("master"), knownvalue.StringExact("fail")})),
				},
			},
		},
	})
}
