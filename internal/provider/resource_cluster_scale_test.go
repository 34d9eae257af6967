package provider

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// BenchmarkClusterRefreshPlan runs, in process, what a no-change
// `terraform plan` asks of redis_cluster: Read (refresh) and ModifyPlan, on
// a cluster of BENCH_NODES nodes (default 30) as BENCH_NODES/2 shards of a
// master and one replica. The cluster is built once (untimed). Profile it
// with -cpuprofile / -memprofile:
//
//	BENCH_NODES=200 go test ./internal/provider -run '^$' -bench ClusterRefreshPlan -benchtime 5x -cpuprofile cpu.out
func BenchmarkClusterRefreshPlan(b *testing.B) {
	n := 30
	if v, err := strconv.Atoi(os.Getenv("BENCH_NODES")); err == nil && v >= 2 {
		n = v
	}
	masters := n / 2
	nodes := redistest.Start(b, 2*masters, redistest.Options{DistinctHosts: true, NodeTimeout: 15 * time.Second})
	addrs := redistest.Addrs(nodes)
	d := cluster.Desired{Failback: true}
	for i, set := range cluster.EvenSplit(masters) {
		d.Shards = append(d.Shards, cluster.Shard{Master: addrs[i], Replicas: []string{addrs[masters+i]}, Slots: set})
	}
	data := &providerData{
		pool:       cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Password: redistest.DefaultPassword}, DialTimeout: 2 * time.Second}),
		password:   redistest.DefaultPassword,
		departures: cluster.NewDepartures(),
	}
	b.Cleanup(func() { _ = data.pool.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	checked := time.Now()
	obs, err := cluster.Precheck(ctx, data.pool, d)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if os.Getenv("BENCH_VERBOSE") != "" {
		fmt.Fprintf(os.Stderr, "precheck of %d nodes took %.3fs\n", len(d.Addrs()), start.Sub(checked).Seconds())
	}
	ex := data.executor()
	if os.Getenv("BENCH_VERBOSE") != "" {
		// The apply's progress, as the timeline of a terraform apply shows it.
		logf := func(_ context.Context, msg string, f map[string]any) {
			if strings.HasPrefix(msg, "stage done") || strings.HasPrefix(msg, "waiting") || strings.HasPrefix(msg, "converged") || strings.HasPrefix(msg, "applying") || strings.HasPrefix(msg, "meeting") {
				fmt.Fprintf(os.Stderr, "%7.3fs %s %v\n", time.Since(start).Seconds(), msg, f)
			}
		}
		ex.Info, ex.Debug = logf, logf
	}
	if _, err := ex.Apply(ctx, d, obs); err != nil {
		b.Fatal(err)
	}
	b.Logf("created %d nodes in %s", len(addrs), time.Since(start))

	srv, err := providerserver.NewProtocol6WithError(New("bench")())()
	if err != nil {
		b.Fatal(err)
	}
	schemas, err := srv.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		b.Fatal(err)
	}
	ptyp, ok := schemas.Provider.ValueType().(tftypes.Object)
	if !ok {
		b.Fatalf("provider schema value type %T is not an object", schemas.Provider.ValueType())
	}
	pvals := map[string]tftypes.Value{}
	for name, at := range ptyp.AttributeTypes {
		pvals[name] = tftypes.NewValue(at, nil)
	}
	pvals["password"] = tftypes.NewValue(tftypes.String, redistest.DefaultPassword)
	pvals["dial_timeout"] = tftypes.NewValue(tftypes.String, "1s")
	pconf, err := tfprotov6.NewDynamicValue(ptyp, tftypes.NewValue(ptyp, pvals))
	if err != nil {
		b.Fatal(err)
	}
	// Each terraform run configures a fresh provider process: new claims,
	// new connections.
	configure := func() {
		conf, err := srv.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{TerraformVersion: "1.11.0", Config: &pconf})
		if err != nil {
			b.Fatal(err)
		}
		for _, d := range conf.Diagnostics {
			b.Fatalf("configure: %s: %s", d.Summary, d.Detail)
		}
	}
	configure()
	typ := schemas.ResourceSchemas["redis_cluster"].ValueType()

	r := &clusterResource{}
	var sresp resource.SchemaResponse
	r.Schema(ctx, resource.SchemaRequest{}, &sresp)
	sch := sresp.Schema
	dyn := func(m clusterModel) *tfprotov6.DynamicValue {
		st := tfsdk.State{Schema: sch, Raw: tftypes.NewValue(sch.Type().TerraformType(ctx), nil)}
		if d := st.Set(ctx, m); d.HasError() {
			b.Fatal(d)
		}
		dv, err := tfprotov6.NewDynamicValue(typ, st.Raw)
		if err != nil {
			b.Fatal(err)
		}
		return &dv
	}
	fail := func(what string, diags []*tfprotov6.Diagnostic) {
		for _, d := range diags {
			if d.Severity == tfprotov6.DiagnosticSeverityError {
				b.Fatalf("%s: %s: %s", what, d.Summary, d.Detail)
			}
		}
	}

	list, diags := shardsToList(ctx, d.Shards)
	if diags.HasError() {
		b.Fatal(diags)
	}
	m := adoptedModel("x", list)
	// One read fills nodes and state, as after the create's apply.
	first, err := srv.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: "redis_cluster", CurrentState: dyn(m)})
	if err != nil {
		b.Fatal(err)
	}
	fail("read", first.Diagnostics)
	// The configuration: the shards without slots, nothing computed.
	cm := m
	cm.ID = types.StringNull()
	cm.Shards = shardsNoSlots(b, d.Shards)
	cm.Failback, cm.ForceDestroy = types.BoolNull(), types.BoolNull()
	config := dyn(cm)

	var readTook, planTook, validateTook time.Duration
	for b.Loop() {
		configure()
		// Terraform validates the configuration before the refresh (and
		// again in the plan walk).
		tv := time.Now()
		valid, err := srv.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: "redis_cluster", Config: config})
		if err != nil {
			b.Fatal(err)
		}
		fail("validate", valid.Diagnostics)
		validateTook += time.Since(tv)
		t0 := time.Now()
		read, err := srv.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: "redis_cluster", CurrentState: first.NewState, Private: first.Private})
		if err != nil {
			b.Fatal(err)
		}
		fail("read", read.Diagnostics)
		t1 := time.Now()
		readTook += t1.Sub(t0)
		// No change: Terraform proposes the refreshed state.
		plan, err := srv.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
			TypeName: "redis_cluster", PriorState: read.NewState, ProposedNewState: read.NewState, Config: config, PriorPrivate: read.Private,
		})
		if err != nil {
			b.Fatal(err)
		}
		fail("plan", plan.Diagnostics)
		planTook += time.Since(t1)
		was, _ := read.NewState.Unmarshal(typ)
		now, _ := plan.PlannedState.Unmarshal(typ)
		if !was.Equal(now) {
			b.Fatal("a no-change plan changed the planned value")
		}
	}
	b.ReportMetric(float64(readTook.Milliseconds())/float64(b.N), "read-ms/op")
	b.ReportMetric(float64(planTook.Milliseconds())/float64(b.N), "plan-ms/op")
	b.ReportMetric(float64(validateTook.Microseconds())/1000/float64(b.N), "validate-ms/op")
}

func shardsNoSlots(b *testing.B, shards []cluster.Shard) types.List {
	b.Helper()
	vals := make([]attr.Value, len(shards))
	for i, s := range shards {
		obj, d := types.ObjectValue(shardAttrTypes, map[string]attr.Value{
			"master":   types.StringValue(s.Master),
			"replicas": stringList(s.Replicas),
			"slots":    types.ListNull(types.StringType),
		})
		if d.HasError() {
			b.Fatal(d)
		}
		vals[i] = obj
	}
	l, d := types.ListValue(shardObjectType, vals)
	if d.HasError() {
		b.Fatal(d)
	}
	return l
}
