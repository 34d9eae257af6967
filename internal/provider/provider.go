// Package provider is the Terraform glue of terraform-provider-redis:
// schemas, models, conversions and diagnostics. It never sends a Redis
// command itself; internal/cluster does.
package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

var (
	_ provider.Provider                   = (*redisProvider)(nil)
	_ provider.ProviderWithFunctions      = (*redisProvider)(nil)
	_ provider.ProviderWithValidateConfig = (*redisProvider)(nil)
)

// New returns the provider factory for the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &redisProvider{version: version} }
}

type redisProvider struct {
	version string
}

type tlsModel struct {
	CACert             types.String `tfsdk:"ca_cert"`
	Cert               types.String `tfsdk:"cert"`
	Key                types.String `tfsdk:"key"`
	ServerName         types.String `tfsdk:"server_name"`
	InsecureSkipVerify types.Bool   `tfsdk:"insecure_skip_verify"`
}

// providerData is what resources and data sources receive: a pool that
// dials lazily, and the password only so logs can mask it.
type providerData struct {
	pool     *cluster.Pool
	password string
	// departures coordinates the node deletes of one Terraform run (each
	// run configures the provider afresh).
	departures *cluster.Departures
	// claims refuses a node declared by two resources (see claims).
	claims *claims
	// run tells this provider process (one Terraform run) from others: a
	// plan trusts a partition check that a refresh of the same run made.
	run string
}

func (p *redisProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "redis"
	resp.Version = p.version
}

func (p *redisProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Manages self-hosted Redis Cluster topologies: shards, replicas and slots. " +
			"The provider talks to each node directly; configuration is never written to state.",
		Attributes: map[string]schema.Attribute{
			"username": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "ACL user to authenticate as on every node (Redis 6+). Defaults to the `REDIS_USERNAME` environment variable, else the default user. See the ACL section for the commands it needs: the provider checks them on each node before changing anything, and a missing one is an error naming the node and the command.",
			},
			"password": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "Password sent with AUTH to every node (`requirepass`, or the ACL user's password). Defaults to the `REDIS_PASSWORD` environment variable. Sensitive: never written to state, logs or error messages. A node that refuses it is an error naming that node.",
			},
			"dial_timeout": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "How long to wait for a node to accept a connection, as a Go duration (`\"2s\"`, `\"500ms\"`). Default `\"2s\"`. A dead node costs at most this once per operation.",
			},
			"address_map": schema.MapAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Maps an address a node announces in CLUSTER NODES (key; what `shards` and `import` use) to the address Terraform dials instead (value), both `host:port`: for NAT, containers and port forwards, where the nodes reach each other at addresses Terraform cannot. Nodes are told apart by node ID (CLUSTER MYID through the dialed address), never by comparing addresses. Each node needs its own value.",
			},
			"tls": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Connect to the nodes with TLS (nodes started with `tls-port`, and usually `port 0`, `tls-cluster yes` and `tls-replication yes`). All values are PEM text, not file paths: use `file(\"ca.crt\")`. A node whose certificate, name or TLS setup does not match is an error naming the node, never an \"unreachable\" warning.",
				Attributes: map[string]schema.Attribute{
					"ca_cert":              schema.StringAttribute{Optional: true, MarkdownDescription: "PEM CA certificate(s) that sign the nodes' certificates (the nodes' `tls-ca-cert-file`, or the CA that signed their `tls-cert-file`). Defaults to the system roots. Conflicts with `insecure_skip_verify`."},
					"cert":                 schema.StringAttribute{Optional: true, MarkdownDescription: "PEM client certificate, for nodes with `tls-auth-clients yes` (the Redis default): signed by a CA in the nodes' `tls-ca-cert-file`. Set together with `key`."},
					"key":                  schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "PEM private key of `cert` (PKCS #8, PKCS #1 or SEC 1). Sensitive."},
					"server_name":          schema.StringAttribute{Optional: true, MarkdownDescription: "Name to verify every node's certificate against. Default: the host of the address dialed (after `address_map`), an IP address or a host name."},
					"insecure_skip_verify": schema.BoolAttribute{Optional: true, MarkdownDescription: "Do not verify the nodes' certificates (the connection is encrypted but not authenticated). For tests only; conflicts with `ca_cert`."},
				},
			},
		},
	}
}

// ValidateConfig checks the provider block at plan time, before anything
// dials a node: values that are known now get the same checks Configure
// makes (Configure repeats them for values known only later).
func (p *redisProvider) ValidateConfig(ctx context.Context, req provider.ValidateConfigRequest, resp *provider.ValidateConfigResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	_, diags := poolConfig(ctx, m)
	resp.Diagnostics.Append(diags...)
}

func (p *redisProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg, diags := poolConfig(ctx, m)
	resp.Diagnostics.Append(diags...)
	if resp.Diagnostics.HasError() {
		return
	}
	routeRedisLogs()
	data := &providerData{pool: cluster.NewPool(cfg), password: cfg.Credentials.Password, departures: cluster.NewDepartures(), claims: newClaims(), run: newRunID()}
	tflog.Debug(data.mask(ctx), "configured redis provider", map[string]any{
		"dial_timeout": cfg.DialTimeout.String(), "tls": cfg.TLS != nil, "acl_user": cfg.Credentials.Username != "",
		"address_map": len(cfg.AddressMap),
	})
	resp.ResourceData = data
	resp.DataSourceData = data
}

// providerModel is the provider block; tls is an object because it may be
// unknown while validating (then tlsModel).
type providerModel struct {
	Username    types.String `tfsdk:"username"`
	Password    types.String `tfsdk:"password"`
	TLS         types.Object `tfsdk:"tls"`
	DialTimeout types.String `tfsdk:"dial_timeout"`
	AddressMap  types.Map    `tfsdk:"address_map"`
}

// poolConfig checks the provider configuration and turns it into the
// pool's. Unknown values are skipped (treated as unset). Messages never
// quote a credential or key.
func poolConfig(ctx context.Context, m providerModel) (cluster.PoolConfig, diag.Diagnostics) {
	var diags diag.Diagnostics
	cfg := cluster.PoolConfig{DialTimeout: cluster.DefaultDialTimeout}
	cfg.Credentials.Username = stringOr(m.Username, os.Getenv("REDIS_USERNAME"))
	cfg.Credentials.Password = stringOr(m.Password, os.Getenv("REDIS_PASSWORD"))
	if !m.DialTimeout.IsUnknown() {
		if s := m.DialTimeout.ValueString(); s != "" {
			d, err := time.ParseDuration(s)
			if err != nil || d <= 0 {
				diags.AddAttributeError(path.Root("dial_timeout"), "Invalid Dial Timeout",
					fmt.Sprintf("dial_timeout %q is not a positive Go duration; use for example \"2s\" or \"500ms\".", s))
			} else {
				cfg.DialTimeout = d
			}
		}
	}
	if !m.AddressMap.IsNull() && !m.AddressMap.IsUnknown() {
		am := map[string]types.String{}
		diags.Append(m.AddressMap.ElementsAs(ctx, &am, false)...)
		cfg.AddressMap = map[string]string{}
		dialedBy := map[string]string{}
		for _, k := range sortedStrings(am) {
			at := path.Root("address_map").AtMapKey(k)
			if err := cluster.ValidateAddress(k); err != nil {
				diags.AddAttributeError(at, "Invalid Address Map",
					fmt.Sprintf("The key %q must be an address a node announces in CLUSTER NODES, as host:port: %v.", k, err))
				continue
			}
			v := am[k]
			if v.IsUnknown() || v.IsNull() {
				continue
			}
			if err := cluster.ValidateAddress(v.ValueString()); err != nil {
				diags.AddAttributeError(at, "Invalid Address Map",
					fmt.Sprintf("The value for %q must be the address Terraform dials, as host:port: %v.", k, err))
				continue
			}
			if prev, dup := dialedBy[v.ValueString()]; dup {
				diags.AddAttributeError(at, "Invalid Address Map",
					fmt.Sprintf("%q and %q both map to %q: each node needs its own address to dial.", prev, k, v.ValueString()))
				continue
			}
			dialedBy[v.ValueString()] = k
			cfg.AddressMap[k] = v.ValueString()
		}
	}
	if !m.TLS.IsNull() && !m.TLS.IsUnknown() {
		var tm tlsModel
		diags.Append(m.TLS.As(ctx, &tm, basetypes.ObjectAsOptions{})...)
		if !diags.HasError() {
			tc, d := tlsConfig(&tm)
			diags.Append(d...)
			cfg.TLS = tc
		}
	}
	return cfg, diags
}

func sortedStrings[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tlsConfig checks the tls block and builds the client configuration.
// Unknown values are skipped.
func tlsConfig(m *tlsModel) (*tls.Config, diag.Diagnostics) {
	var diags diag.Diagnostics
	at := func(attr string) path.Path { return path.Root("tls").AtName(attr) }
	tc := &tls.Config{
		ServerName:         m.ServerName.ValueString(),
		InsecureSkipVerify: m.InsecureSkipVerify.ValueBool(), //nolint:gosec // an explicit, documented opt-in
		MinVersion:         tls.VersionTLS12,
	}
	if ca := m.CACert.ValueString(); ca != "" && !m.CACert.IsUnknown() {
		if tc.InsecureSkipVerify {
			diags.AddAttributeError(at("insecure_skip_verify"), "Conflicting TLS Settings",
				"Set either tls.ca_cert (verify the nodes' certificates against this CA) or tls.insecure_skip_verify = true (do not verify them), not both.")
		}
		pool, err := parseCAs(ca)
		if err != nil {
			diags.AddAttributeError(at("ca_cert"), "Invalid TLS CA Certificate", "tls.ca_cert "+err.Error()+".")
		}
		tc.RootCAs = pool
	}
	if m.Cert.IsUnknown() || m.Key.IsUnknown() {
		return tc, diags
	}
	cert, key := m.Cert.ValueString(), m.Key.ValueString()
	switch {
	case cert != "" && key == "":
		diags.AddAttributeError(at("key"), "Incomplete TLS Client Certificate", "tls.cert is set but tls.key is not: set both (the client certificate and its private key) or neither.")
		return tc, diags
	case cert == "" && key != "":
		diags.AddAttributeError(at("cert"), "Incomplete TLS Client Certificate", "tls.key is set but tls.cert is not: set both (the client certificate and its private key) or neither.")
		return tc, diags
	case cert == "":
		return tc, diags
	}
	certOK, keyOK := true, true
	if err := pemHas(cert, func(t string) bool { return t == "CERTIFICATE" }, "a PEM certificate (-----BEGIN CERTIFICATE-----)"); err != nil {
		diags.AddAttributeError(at("cert"), "Invalid TLS Client Certificate", "tls.cert "+err.Error()+".")
		certOK = false
	}
	if err := pemHas(key, func(t string) bool { return strings.HasSuffix(t, "PRIVATE KEY") }, "a PEM private key (-----BEGIN PRIVATE KEY-----, or RSA/EC PRIVATE KEY)"); err != nil {
		diags.AddAttributeError(at("key"), "Invalid TLS Client Key", "tls.key "+err.Error()+".")
		keyOK = false
	}
	if certOK && keyOK {
		kp, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			// crypto/tls never quotes the key material in its errors.
			diags.AddAttributeError(at("key"), "Invalid TLS Client Certificate", "tls.cert and tls.key are not a key pair: "+err.Error()+".")
		} else {
			tc.Certificates = []tls.Certificate{kp}
		}
	}
	return tc, diags
}

// parseCAs reads every certificate of a PEM bundle.
func parseCAs(text string) (*x509.CertPool, error) {
	if err := pemHas(text, func(t string) bool { return t == "CERTIFICATE" }, "PEM certificates (-----BEGIN CERTIFICATE-----)"); err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	rest := []byte(text)
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			return pool, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("holds a PEM block %d that is not a valid certificate: %v", n, err)
		}
		pool.AddCert(c)
	}
}

// pemHas checks that text is PEM holding at least one block of the wanted
// type; the error describes what it holds instead, never its content.
func pemHas(text string, want func(string) bool, what string) error {
	rest := []byte(strings.TrimSpace(text))
	var found []string
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if want(b.Type) {
			return nil
		}
		found = append(found, b.Type)
	}
	if len(found) == 0 {
		return fmt.Errorf("is not PEM: want %s, as text (a file's content, e.g. file(\"ca.crt\"), not its path)", what)
	}
	return fmt.Errorf("holds PEM blocks of type %s, want %s", strings.Join(found, ", "), what)
}

func stringOr(v types.String, fallback string) string {
	if v.IsNull() || v.IsUnknown() {
		return fallback
	}
	return v.ValueString()
}

// mask returns ctx with the password masked in every log message and field.
func (d *providerData) mask(ctx context.Context) context.Context {
	if d == nil || d.password == "" {
		return ctx
	}
	ctx = tflog.MaskMessageStrings(ctx, d.password)
	return tflog.MaskAllFieldValuesStrings(ctx, d.password)
}

func (p *redisProvider) Resources(context.Context) []func() resource.Resource {
	return []func() resource.Resource{NewClusterResource, NewClusterNodeResource, NewACLUserResource}
}

func (p *redisProvider) DataSources(context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewClusterDataSource}
}

func (p *redisProvider) Functions(context.Context) []func() function.Function {
	return []func() function.Function{NewKeySlotFunction, NewEvenSlotsFunction, NewShardsFunction}
}

// configuredData is what Configure hands resources and data sources; nil
// before the provider is configured (validation, for instance).
func configuredData(pd any, diags *diag.Diagnostics) *providerData {
	if pd == nil {
		return nil
	}
	data, ok := pd.(*providerData)
	if !ok {
		diags.AddError("Unexpected Provider Data", fmt.Sprintf("expected *providerData, got %T: this is a bug in the provider", pd))
	}
	return data
}
