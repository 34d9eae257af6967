package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestAccClusterNode_replaceHosts replaces hosts in a cluster composed of
// node resources, holding keys, in one apply: shard 1's master (its
// resource is replaced: the old node hands its slots to the masters that
// stay, the new one takes them back) and shard 2's replica. Every key is
// kept, the old nodes are reset and forgotten, and the next plan is empty.
func TestAccClusterNode_replaceHosts(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 8, redistest.Options{})
	a := redistest.Addrs(nodes)
	pw := nodes[0].Password()
	slots := []string{"0-5460", "5461-10922", "10923-16383"}
	initial := forceDestroy(nodeClusterConfig(pw, a[:3], [][]string{{a[3]}, {a[4]}, {a[5]}}, slots))
	masters, replicas := []string{a[6], a[1], a[2]}, [][]string{{a[3]}, {a[7]}, {a[5]}}
	replaced := forceDestroy(nodeClusterConfig(pw, masters, replicas, slots))
	stay := []*redistest.Node{nodes[1], nodes[2], nodes[3], nodes[5], nodes[6], nodes[7]}
	var written map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{Config: initial, Check: fill(t, nodes[:6], 3000, &written)},
			{
				Config: replaced,
				Check: resource.ComposeAggregateTestCheckFunc(
					checkNodeCluster(t, stay, masters, replicas),
					keysIntact(t, stay, &written),
					lone(t, []*redistest.Node{nodes[0], nodes[4]}, stay),
				),
			},
			{Config: replaced, PlanOnly: true},
		},
	})
}
