package provider

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// tlsBlock renders the provider's tls object. Fields left empty are left out.
type tlsBlock struct {
	ca, cert, key, serverName string
	insecure                  bool
}

func (b tlsBlock) hcl() string {
	var lines []string
	add := func(k, v string) {
		if v != "" {
			lines = append(lines, fmt.Sprintf("    %s = %q", k, v))
		}
	}
	add("ca_cert", b.ca)
	add("cert", b.cert)
	add("key", b.key)
	add("server_name", b.serverName)
	if b.insecure {
		lines = append(lines, "    insecure_skip_verify = true")
	}
	return "  tls = {\n" + strings.Join(lines, "\n") + "\n  }\n"
}

// trusted is the tls block for nodes using f: its CA and client certificate.
func trusted(f *redistest.TLSFiles) tlsBlock {
	return tlsBlock{ca: f.CA, cert: f.ClientCert, key: f.ClientKey}
}

// tlsProviderConfig is the provider block for TLS nodes.
func tlsProviderConfig(password string, b tlsBlock) string {
	return fmt.Sprintf(`
provider "redis" {
  password     = %q
  dial_timeout = "1s"
%s}
`, password, b.hcl())
}

func tlsClusterConfig(password string, b tlsBlock, shards string, extra ...string) string {
	return tlsProviderConfig(password, b) + fmt.Sprintf(`
resource "redis_cluster" "test" {
  shards = %s
%s
}
`, shards, strings.Join(extra, "\n"))
}

// TestAccCluster_TLS: nodes serving TLS only (client port 0, cluster bus
// and replication over TLS, client certificates required). Create, read,
// import, failback with keys and destroy all work over TLS.
func TestAccCluster_TLS(t *testing.T) {
	t.Parallel()
	pki := redistest.NewTLSFiles(t)
	nodes := redistest.Start(t, 6, redistest.Options{TLS: pki, DistinctHosts: true, ExtraArgs: fastSync})
	pw := nodes[0].Password()
	masters, replicas := threeByTwo(nodes)
	cfg := tlsClusterConfig(pw, trusted(pki), shardsHCL(masters, replicas, nil), "  force_destroy = true", `  timeouts { update = "60s" }`)
	var written map[string]string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("state"), knownvalue.StringExact("ok")),
					statecheck.ExpectKnownValue("redis_cluster.test", tfjsonpath.New("nodes").AtMapKey(masters[1]).AtMapKey("id"),
						knownvalue.StringExact(redistest.MyID(t, nodes[1]))),
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkLive(t, nodes, masters, replicas, []string{"0-5460", "5461-10922", "10923-16383"}),
					func(*terraform.State) error {
						written = redistest.Fill(t, nodes, 300, "tls")
						for _, r := range replicas {
							waitSynced(t, byAddr(nodes, r[0]))
						}
						return nil
					},
				),
			},
			{Config: cfg, PlanOnly: true},
			{
				ResourceName:            "redis_cluster.test",
				ImportState:             true,
				ImportStateId:           replicas[2][0],
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"force_destroy", "timeouts"},
			},
			{
				// The walkthrough's failover, over TLS: plan shows it, apply fails back.
				PreConfig: func() {
					nodes[0].Kill(t)
					waitRole(t, nodes[4], "master")
					nodes[0].Restart(t)
					waitRole(t, nodes[0], "slave")
				},
				Config: cfg,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("redis_cluster.test", plancheck.ResourceActionUpdate),
						// the promoted replica, as read; the declared master, as planned
						before(nodePath(replicas[0][0], "role"), knownvalue.StringExact("master")),
						planned(masters[0], "role", knownvalue.StringExact("master")),
					},
				},
				Check: resource.ComposeAggregateTestCheckFunc(
					checkLive(t, nodes, masters, replicas, nil),
					func(*terraform.State) error {
						redistest.CheckKeys(t, nodes, written)
						return nil
					},
				),
			},
			{Config: cfg, PlanOnly: true},
		},
	})
}

// TestAccProvider_TLSErrors: each TLS mismatch fails the create before any
// change with an error naming the node and saying what is wrong (never
// "unreachable"); then insecure_skip_verify builds the cluster.
func TestAccProvider_TLSErrors(t *testing.T) {
	t.Parallel()
	pki := redistest.NewTLSFiles(t)
	other := redistest.NewTLSFiles(t)
	nodes := redistest.Start(t, 3, redistest.Options{TLS: pki})
	pw := nodes[0].Password()
	shards := shardsHCL(redistest.Addrs(nodes), nil, nil)
	node := regexp.QuoteMeta(nodes[1].Addr())
	fails := func(b tlsBlock, want string) resource.TestStep {
		return resource.TestStep{
			PreConfig:   func() { untouched(t, nodes) },
			Config:      tlsClusterConfig(pw, b, shards),
			ExpectError: regexp.MustCompile(`(?s)Nodes Cannot Form The Cluster.*` + node + `: TLS failure.*` + strings.ReplaceAll(want, " ", `\s+`)),
		}
	}
	wrongCA := trusted(pki)
	wrongCA.ca = other.CA
	noCert := tlsBlock{ca: pki.CA}
	otherCert := trusted(pki)
	otherCert.cert, otherCert.key = other.ClientCert, other.ClientKey
	badName := trusted(pki)
	badName.serverName = "redis.example"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkAllReset(t, nodes),
		Steps: []resource.TestStep{
			fails(wrongCA, "certificate signed by unknown authority"),
			fails(noCert, "certificate"),
			fails(otherCert, "certificate"),
			fails(badName, "certificate is valid for localhost.*not redis.example"),
			{
				PreConfig:   func() { untouched(t, nodes) },
				Config:      clusterConfig(pw, shards), // no tls block at all
				ExpectError: regexp.MustCompile(`(?s)` + node + `: TLS failure.*speaks TLS on this port`),
			},
			{
				PreConfig: func() { untouched(t, nodes) },
				Config:    tlsClusterConfig(pw, tlsBlock{cert: pki.ClientCert, key: pki.ClientKey, insecure: true}, shards),
				Check:     checkLive(t, nodes, redistest.Addrs(nodes), [][]string{nil, nil, nil}, nil),
			},
		},
	})
}

// TestAccProvider_TLSPlainNode: a tls block against a node that serves
// plain TCP is a TLS error naming it, within the dial timeout's bound.
func TestAccProvider_TLSPlainNode(t *testing.T) {
	t.Parallel()
	pki := redistest.NewTLSFiles(t)
	nodes := redistest.Start(t, 2, redistest.Options{})
	start := time.Now()
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: tlsClusterConfig(nodes[0].Password(), trusted(pki), shardsHCL(redistest.Addrs(nodes), nil, nil)),
			ExpectError: regexp.MustCompile(`(?s)` + regexp.QuoteMeta(nodes[0].Addr()) +
				`: TLS failure.*answers plain RESP on this port`),
		}},
	})
	untouched(t, nodes)
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %s", d)
	}
}

// TestAccProvider_TLSBadInput: TLS settings that cannot work are errors at
// plan time, before any node is dialed (the addresses here do not exist),
// naming the attribute, and never quoting the key.
func TestAccProvider_TLSBadInput(t *testing.T) {
	t.Parallel()
	pki := redistest.NewTLSFiles(t)
	other := redistest.NewTLSFiles(t)
	shards := `[{ master = "127.0.0.1:1" }]`
	cases := []struct {
		name string
		tls  tlsBlock
		want string
	}{
		{"ca_not_pem", tlsBlock{ca: "/etc/redis/ca.crt"}, `tls.ca_cert is not PEM.*not its path`},
		{"ca_is_a_key", tlsBlock{ca: pki.ClientKey}, `tls.ca_cert holds PEM blocks of type PRIVATE KEY`},
		{"cert_not_pem", tlsBlock{cert: "client.crt", key: pki.ClientKey}, `tls.cert is not PEM`},
		{"key_not_pem", tlsBlock{cert: pki.ClientCert, key: "client.key"}, `tls.key is not PEM`},
		{"key_and_cert_swapped", tlsBlock{cert: pki.ClientKey, key: pki.ClientCert}, `tls.cert holds PEM blocks of type PRIVATE KEY`},
		{"key_of_another_cert", tlsBlock{cert: pki.ClientCert, key: other.ClientKey}, `not a key pair`},
		{"cert_without_key", tlsBlock{cert: pki.ClientCert}, `tls.cert is set but tls.key is not`},
		{"key_without_cert", tlsBlock{key: pki.ClientKey}, `tls.key is set but tls.cert is not`},
		{"ca_and_insecure", tlsBlock{ca: pki.CA, insecure: true}, `Conflicting TLS Settings.*either tls.ca_cert.*not both`},
	}
	keyBody := strings.Split(pki.ClientKey, "\n")[1]
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			want := regexp.MustCompile(`(?s)` + strings.ReplaceAll(c.want, " ", `\s+`))
			seen := false
			resource.UnitTest(t, resource.TestCase{
				ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
				// Instead of ExpectError, to see the whole error.
				ErrorCheck: func(err error) error {
					seen = true
					if strings.Contains(err.Error(), keyBody) || strings.Contains(err.Error(), "unused-pw") {
						return fmt.Errorf("the error quotes a secret: %v", err)
					}
					if !want.MatchString(err.Error()) {
						return fmt.Errorf("want an error matching %s, got: %v", want, err)
					}
					return nil
				},
				Steps: []resource.TestStep{{
					Config:   tlsClusterConfig("unused-pw", c.tls, shards),
					PlanOnly: true,
				}},
			})
			if !seen {
				t.Fatalf("no error; want one matching %s", want)
			}
		})
	}
}
