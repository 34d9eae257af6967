package provider

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// testAccProtoV6ProviderFactories runs the provider in-process for the
// terraform binary on PATH.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"redis": providerserver.NewProtocol6WithError(New("test")()),
}

// providerConfig is the provider block for nodes started by redistest.
func providerConfig(password string) string {
	return fmt.Sprintf(`
provider "redis" {
  password     = %q
  dial_timeout = "1s"
}
`, password)
}

// shardsHCL renders shards as HCL: masters[i] with replicas[i].
func shardsHCL(masters []string, replicas [][]string, slots [][]string) string {
	var b strings.Builder
	b.WriteString("[\n")
	for i, m := range masters {
		fmt.Fprintf(&b, "    { master = %q", m)
		if replicas != nil && len(replicas[i]) > 0 {
			fmt.Fprintf(&b, ", replicas = %s", hclList(replicas[i]))
		}
		if slots != nil {
			fmt.Fprintf(&b, ", slots = %s", hclList(slots[i]))
		}
		b.WriteString(" },\n")
	}
	b.WriteString("  ]")
	return b.String()
}

func hclList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// threeByTwo is the walkthrough's layout over six started nodes: masters
// 0..2, replica of 0 is 4, of 1 is 5, of 2 is 3 (as redis-cli pairs six hosts).
func threeByTwo(nodes []*redistest.Node) ([]string, [][]string) {
	a := redistest.Addrs(nodes)
	return []string{a[0], a[1], a[2]}, [][]string{{a[4]}, {a[5]}, {a[3]}}
}

func TestProviderSchemaValid(t *testing.T) {
	srv, err := testAccProtoV6ProviderFactories["redis"]()
	if err != nil {
		t.Fatal(err)
	}
	resp, err := srv.GetProviderSchema(t.Context(), &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range resp.Diagnostics {
		t.Errorf("schema diagnostic: %s: %s", d.Summary, d.Detail)
	}
	if _, ok := resp.ResourceSchemas["redis_cluster"]; !ok {
		t.Fatalf("redis_cluster missing from the schema; have %v", resp.ResourceSchemas)
	}
}
