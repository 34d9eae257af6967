package provider

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// liveID checks a value against a node's ID read when the check runs (the
// nodes do not exist yet when the test steps are built).
type liveID struct {
	t *testing.T
	n *redistest.Node
}

func (c liveID) CheckValue(v any) error {
	want := redistest.MyID(c.t, c.n)
	if s, ok := v.(string); !ok || s != want {
		return fmt.Errorf("got %v, want node ID %s of %s", v, want, c.n.Addr())
	}
	return nil
}

func (c liveID) String() string { return "ID of " + c.n.Addr() }

func nodePath(addr, attr string) tfjsonpath.Path {
	return tfjsonpath.New("nodes").AtMapKey(addr).AtMapKey(attr)
}

// planned checks one predicted value of redis_cluster.test's nodes.
func planned(addr, attr string, check knownvalue.Check) plancheck.PlanCheck {
	return plancheck.ExpectKnownValue("redis_cluster.test", nodePath(addr, attr), check)
}

// plannedMaster: the node is planned master of exactly these slots.
func plannedMaster(addr, slots string) []plancheck.PlanCheck {
	return []plancheck.PlanCheck{
		planned(addr, "role", knownvalue.StringExact("master")),
		planned(addr, "master_id", knownvalue.StringExact("")),
		planned(addr, "slots", knownvalue.StringExact(slots)),
	}
}

// plannedReplica: the node is planned replica of master (by its live ID).
func plannedReplica(t *testing.T, addr string, master *redistest.Node) []plancheck.PlanCheck {
	return []plancheck.PlanCheck{
		planned(addr, "role", knownvalue.StringExact("replica")),
		planned(addr, "master_id", liveID{t, master}),
		planned(addr, "slots", knownvalue.StringExact("")),
	}
}

// nodeIDsOutput is an output built from the resource's nodes, as users
// write them: it must stay known in a plan that changes no node ID.
const nodeIDsOutput = `
output "node_ids" {
  value = { for addr, n in redis_cluster.test.nodes : addr => n.id }
}
`

// TestClusterUpgradeStateV0: a state written by schema version 0 (nodes
// with flags and link_state) reads as version 1, every other value kept.
func TestClusterUpgradeStateV0(t *testing.T) {
	ctx := context.Background()
	v0 := `{
  "id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
  "shards": [{"master": "127.0.0.1:7000", "replicas": ["127.0.0.1:7001"], "slots": ["0-16383"]}],
  "failback": true, "force_destroy": false, "state": "ok", "timeouts": null,
  "nodes": {
    "127.0.0.1:7000": {"id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "role": "master", "master_id": "", "slots": ["0-16383"], "link_state": "connected", "flags": ["master"]},
    "127.0.0.1:7001": {"id": "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", "role": "replica", "master_id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "slots": [], "link_state": "connected", "flags": ["slave"]}
  }
}`
	r := &clusterResource{}
	up, ok := r.UpgradeState(ctx)[0]
	if !ok {
		t.Fatal("no upgrader from version 0")
	}
	var resp resource.UpgradeStateResponse
	up.StateUpgrader(ctx, resource.UpgradeStateRequest{RawState: &tfprotov6.RawState{JSON: []byte(v0)}}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("upgrade: %v", resp.Diagnostics)
	}
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	if sr.Schema.Version != 1 {
		t.Fatalf("schema version %d, want 1", sr.Schema.Version)
	}
	typ := sr.Schema.Type().TerraformType(ctx)
	val, err := resp.DynamicValue.Unmarshal(typ)
	if err != nil {
		t.Fatal(err)
	}
	got := toGo(t, val)
	want := `{"failback":true,"force_destroy":false,"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",` +
		`"nodes":{"127.0.0.1:7000":{"engine":null,"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","master_id":"","role":"master","slots":"0-16383","version":null},` +
		`"127.0.0.1:7001":{"engine":null,"id":"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb","master_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","role":"replica","slots":"","version":null}},` +
		`"shards":[{"master":"127.0.0.1:7000","replicas":["127.0.0.1:7001"],"slots":["0-16383"]}],"state":"ok","timeouts":null}`
	if got != want {
		t.Errorf("upgraded state:\n%s\nwant:\n%s", got, want)
	}
}

// TestClusterNodeUpgradeStateV0: the node resource's version 0 state
// loses flags and link_state and gains engine, version and drift.
func TestClusterNodeUpgradeStateV0(t *testing.T) {
	ctx := context.Background()
	v0 := `{"id": "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "address": "127.0.0.1:7000", "seeds": ["127.0.0.1:7001"],
  "role": "master", "master": null, "slots": ["0-16383"], "failback": true, "force_destroy": false,
  "link_state": "connected", "flags": ["master"], "timeouts": null}`
	r := &clusterNodeResource{}
	var resp resource.UpgradeStateResponse
	r.UpgradeState(ctx)[0].StateUpgrader(ctx, resource.UpgradeStateRequest{RawState: &tfprotov6.RawState{JSON: []byte(v0)}}, &resp)
	if resp.Diagnostics.HasError() {
		t.Fatalf("upgrade: %v", resp.Diagnostics)
	}
	var sr resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sr)
	val, err := resp.DynamicValue.Unmarshal(sr.Schema.Type().TerraformType(ctx))
	if err != nil {
		t.Fatal(err)
	}
	got := toGo(t, val)
	want := `{"address":"127.0.0.1:7000","drift":null,"engine":null,"failback":true,"force_destroy":false,` +
		`"id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","master":null,"role":"master","seeds":["127.0.0.1:7001"],"slots":["0-16383"],"timeouts":null,"version":null}`
	if got != want {
		t.Errorf("upgraded state:\n%s\nwant:\n%s", got, want)
	}
}

// toGo renders a tftypes value as JSON with sorted keys, for comparing.
func toGo(t *testing.T, v tftypes.Value) string {
	t.Helper()
	var conv func(v tftypes.Value) any
	conv = func(v tftypes.Value) any {
		if v.IsNull() {
			return nil
		}
		switch {
		case v.Type().Is(tftypes.String):
			var s string
			_ = v.As(&s)
			return s
		case v.Type().Is(tftypes.Bool):
			var b bool
			_ = v.As(&b)
			return b
		case v.Type().Is(tftypes.List{}):
			var l []tftypes.Value
			_ = v.As(&l)
			out := []any{}
			for _, x := range l {
				out = append(out, conv(x))
			}
			return out
		default: // objects and maps
			var m map[string]tftypes.Value
			if err := v.As(&m); err != nil {
				t.Fatalf("convert %s: %v", v.Type(), err)
			}
			out := map[string]any{}
			for k, x := range m {
				out[k] = conv(x)
			}
			return out
		}
	}
	b, err := json.Marshal(conv(v))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
