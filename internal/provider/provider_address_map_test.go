package provider

import (
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// forwarder is a TCP port forward on 127.0.0.1 to one target, as a NAT or a
// container port mapping would be: it counts the connections it carries.
// Closed (listener and every connection) when the test ends.
type forwarder struct {
	ln     net.Listener
	target string
	conns  atomic.Int64
	wg     sync.WaitGroup
	mu     sync.Mutex
	open   map[net.Conn]bool
	closed bool
}

func startForwarder(t *testing.T, target string) *forwarder {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := &forwarder{ln: ln, target: target, open: map[net.Conn]bool{}}
	f.wg.Add(1)
	go f.serve()
	t.Cleanup(f.close)
	return f
}

func (f *forwarder) Addr() string { return f.ln.Addr().String() }

func (f *forwarder) serve() {
	defer f.wg.Done()
	for {
		in, err := f.ln.Accept()
		if err != nil {
			return // closed
		}
		out, err := net.Dial("tcp", f.target)
		if err != nil {
			_ = in.Close()
			continue
		}
		if !f.track(in, out) {
			return
		}
		f.conns.Add(1)
		f.wg.Add(2)
		pipe := func(dst, src net.Conn) {
			defer f.wg.Done()
			_, _ = io.Copy(dst, src)
			_ = dst.Close()
			_ = src.Close()
			f.untrack(dst, src)
		}
		go pipe(out, in)
		go pipe(in, out)
	}
}

func (f *forwarder) track(cs ...net.Conn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		for _, c := range cs {
			_ = c.Close()
		}
		return false
	}
	for _, c := range cs {
		f.open[c] = true
	}
	return true
}

func (f *forwarder) untrack(cs ...net.Conn) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, c := range cs {
		delete(f.open, c)
	}
}

func (f *forwarder) close() {
	_ = f.ln.Close()
	f.mu.Lock()
	f.closed = true
	for c := range f.open {
		_ = c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
}

// announceOwnIP makes each node announce its own address explicitly
// (cluster-announce-ip), as nodes behind NAT or in containers are set up.
func announceOwnIP(ip string, _ int) []string { return []string{"--cluster-announce-ip", ip} }

func addressMapHCL(m map[string]string) string {
	var b strings.Builder
	b.WriteString("  address_map = {\n")
	for k, v := range m {
		fmt.Fprintf(&b, "    %q = %q\n", k, v)
	}
	b.WriteString("  }\n")
	return b.String()
}

// TestAccCluster_AddressMap: Terraform reaches every node only through a
// port forward of its own, while the nodes announce (and reach each other
// at) their real addresses. shards and import use the announced addresses;
// address_map says where to dial them. Every forward carries the
// provider's connections.
func TestAccCluster_AddressMap(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 4, redistest.Options{DistinctHosts: true, NodeArgs: announceOwnIP})
	a := redistest.Addrs(nodes)
	am := map[string]string{}
	fwds := make([]*forwarder, len(nodes))
	for i, n := range nodes {
		fwds[i] = startForwarder(t, n.Addr())
		am[n.Addr()] = fwds[i].Addr()
	}
	masters, replicas := a[:2], [][]string{{a[2]}, {a[3]}}
	cfg := fmt.Sprintf(`
provider "redis" {
  password     = %q
  dial_timeout = "1s"
%s}

resource "redis_cluster" "test" {
  shards = %s
}
`, nodes[0].Password(), addressMapHCL(am), shardsHCL(masters, replicas, nil))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes").AtMapKey(a[2]).AtMapKey("id"),
						knownvalue.StringExact(redistest.MyID(t, nodes[2]))),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes"), knownvalue.MapSizeExact(4)),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("state"), knownvalue.StringExact("ok")),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkLive(t, nodes, masters, replicas, nil),
					func(*terraform.State) error {
						for i, f := range fwds {
							if f.conns.Load() == 0 {
								return fmt.Errorf("the provider never dialed %s through its address_map entry %s", a[i], f.Addr())
							}
						}
						return nil
					},
				),
			},
			{Config: cfg, PlanOnly: true},
			{
				Config:            cfg,
				ResourceName:      "redis_cluster.test",
				ImportState:       true,
				ImportStateId:     a[3],
				ImportStateVerify: true,
			},
		},
	})
}

// TestAccCluster_Hostname: shards name the nodes localhost:port while they
// announce 127.0.0.1:port and a hostname of their own; the provider tells
// them apart by node ID, MEETs them by IP, and plans empty.
func TestAccCluster_Hostname(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 4, redistest.Options{NodeArgs: func(_ string, port int) []string {
		return []string{"--cluster-announce-hostname", "node-" + strconv.Itoa(port) + ".redis.test"}
	}})
	addrs := redistest.Addrs(nodes)
	local := make([]string, len(nodes))
	for i, n := range nodes {
		local[i] = net.JoinHostPort("localhost", strconv.Itoa(n.Port()))
	}
	cfg := clusterConfig(nodes[0].Password(), shardsHCL(local[:2], [][]string{{local[2]}, {local[3]}}, nil))
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes").AtMapKey(local[3]).AtMapKey("id"),
						knownvalue.StringExact(redistest.MyID(t, nodes[3]))),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes").AtMapKey(local[3]).AtMapKey("role"),
						knownvalue.StringExact("replica")),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes"), knownvalue.MapSizeExact(4)),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkLive(t, nodes, addrs[:2], [][]string{{addrs[2]}, {addrs[3]}}, []string{"0-8191", "8192-16383"}),
					func(*terraform.State) error {
						// The nodes announce their hostnames to each other.
						if v := redistest.ClusterNodes(t, nodes[0]); !strings.Contains(v, ".redis.test") {
							return fmt.Errorf("no announced hostname in CLUSTER NODES:\n%s", v)
						}
						return nil
					},
				),
			},
			{Config: cfg, PlanOnly: true},
		},
	})
}

// TestAccProvider_AddressMapBadInput: address_map entries that are not
// host:port, and two announced addresses dialed at one place, are errors at
// plan time naming the entry.
func TestAccProvider_AddressMapBadInput(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		m    map[string]string
		want string
	}{
		{"key_without_port", map[string]string{"10.0.0.1": "127.0.0.1:7001"}, `14:\s+"10.0.0.1" = .*The key "10.0.0.1" must be an address a node announces`},
		{"value_without_port", map[string]string{"10.0.0.1:6379": "localhost"}, `The value for "10.0.0.1:6379" must be the address Terraform dials, as host:port: "localhost" is not a host:port`},
		{"url", map[string]string{"redis://10.0.0.1:6379": "127.0.0.1:7001"}, `The key "redis://10.0.0.1:6379"`},
		{"two_nodes_one_address", map[string]string{"10.0.0.1:6379": "127.0.0.1:7001", "10.0.0.2:6379": "127.0.0.1:7001"},
			`"10.0.0.1:6379" and "10.0.0.2:6379" both map to "127.0.0.1:7001"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				Steps: []resource.TestStep{{
					Config: fmt.Sprintf(`
provider "redis" {
%s}

resource "redis_cluster" "test" {
  shards = [{ master = "10.0.0.1:6379" }]
}
`, addressMapHCL(c.m)),
					PlanOnly:    true,
					ExpectError: regexp.MustCompile(`(?s)Invalid Address Map.*` + strings.ReplaceAll(c.want, " ", `\s+`)),
				}},
			})
		})
	}
}
