// Package provider is the Terraform glue of terraform-provider-redis:
// schemas, models, conversions and diagnostics. It never sends a Redis
// command itself; internal/cluster does.
package provider

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/function"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-log/tflog"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

var (
	_ provider.Provider              = (*redisProvider)(nil)
	_ provider.ProviderWithFunctions = (*redisProvider)(nil)
)

// New returns the provider factory for the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider { return &redisProvider{version: version} }
}

type redisProvider struct {
	version string
}

type providerModel struct {
	Username    types.String `tfsdk:"username"`
	Password    types.String `tfsdk:"password"`
	TLS         *tlsModel    `tfsdk:"tls"`
	DialTimeout types.String `tfsdk:"dial_timeout"`
	AddressMap  types.Map    `tfsdk:"address_map"`
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
				MarkdownDescription: "ACL user to authenticate as on every node (Redis 6+). Defaults to the `REDIS_USERNAME` environment variable, else the default user.",
			},
			"password": schema.StringAttribute{
				Optional:            true,
				Sensitive:           true,
				MarkdownDescription: "Password sent with AUTH to every node (`requirepass`, or the ACL user's password). Defaults to the `REDIS_PASSWORD` environment variable. Never written to state or logs.",
			},
			"dial_timeout": schema.StringAttribute{
				Optional:            true,
				MarkdownDescription: "How long to wait for a node to accept a connection, as a Go duration (`\"2s\"`, `\"500ms\"`). Default `\"2s\"`. A dead node costs at most this once per operation.",
			},
			"address_map": schema.MapAttribute{
				Optional:            true,
				ElementType:         types.StringType,
				MarkdownDescription: "Maps an address a node announces in CLUSTER NODES to the address Terraform dials (NAT, containers, port forwards), both `host:port`.",
			},
			"tls": schema.SingleNestedAttribute{
				Optional:            true,
				MarkdownDescription: "Connect to the nodes with TLS.",
				Attributes: map[string]schema.Attribute{
					"ca_cert":              schema.StringAttribute{Optional: true, MarkdownDescription: "PEM CA certificate(s) that sign the nodes' certificates. Defaults to the system roots."},
					"cert":                 schema.StringAttribute{Optional: true, MarkdownDescription: "PEM client certificate, for `tls-auth-clients yes`."},
					"key":                  schema.StringAttribute{Optional: true, Sensitive: true, MarkdownDescription: "PEM private key of `cert`."},
					"server_name":          schema.StringAttribute{Optional: true, MarkdownDescription: "Name to verify the nodes' certificates against, when it differs from the dialed host."},
					"insecure_skip_verify": schema.BoolAttribute{Optional: true, MarkdownDescription: "Skip certificate verification. For tests only."},
				},
			},
		},
	}
}

func (p *redisProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var m providerModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	cfg := cluster.PoolConfig{DialTimeout: cluster.DefaultDialTimeout}
	cfg.Credentials.Username = stringOr(m.Username, os.Getenv("REDIS_USERNAME"))
	cfg.Credentials.Password = stringOr(m.Password, os.Getenv("REDIS_PASSWORD"))
	if s := m.DialTimeout.ValueString(); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			resp.Diagnostics.AddAttributeError(path.Root("dial_timeout"), "Invalid Dial Timeout",
				fmt.Sprintf("dial_timeout %q is not a positive Go duration; use for example \"2s\" or \"500ms\".", s))
			return
		}
		cfg.DialTimeout = d
	}
	if !m.AddressMap.IsNull() && !m.AddressMap.IsUnknown() {
		am := map[string]string{}
		resp.Diagnostics.Append(m.AddressMap.ElementsAs(ctx, &am, false)...)
		for k, v := range am {
			for _, a := range []string{k, v} {
				if err := cluster.ValidateAddress(a); err != nil {
					resp.Diagnostics.AddAttributeError(path.Root("address_map"), "Invalid Address Map", err.Error())
				}
			}
		}
		cfg.AddressMap = am
	}
	if m.TLS != nil {
		tc, err := tlsConfig(m.TLS)
		if err != nil {
			resp.Diagnostics.AddAttributeError(path.Root("tls"), "Invalid TLS Settings", err.Error())
		}
		cfg.TLS = tc
	}
	if resp.Diagnostics.HasError() {
		return
	}
	routeRedisLogs()
	data := &providerData{pool: cluster.NewPool(cfg), password: cfg.Credentials.Password}
	tflog.Debug(data.mask(ctx), "configured redis provider", map[string]any{
		"dial_timeout": cfg.DialTimeout.String(), "tls": cfg.TLS != nil, "acl_user": cfg.Credentials.Username != "",
	})
	resp.ResourceData = data
	resp.DataSourceData = data
}

func tlsConfig(m *tlsModel) (*tls.Config, error) {
	tc := &tls.Config{
		ServerName:         m.ServerName.ValueString(),
		InsecureSkipVerify: m.InsecureSkipVerify.ValueBool(), //nolint:gosec // an explicit, documented opt-in
		MinVersion:         tls.VersionTLS12,
	}
	if ca := m.CACert.ValueString(); ca != "" {
		if tc.InsecureSkipVerify {
			return nil, fmt.Errorf("set either ca_cert or insecure_skip_verify, not both")
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM([]byte(ca)) {
			return nil, fmt.Errorf("ca_cert holds no PEM certificate")
		}
		tc.RootCAs = pool
	}
	cert, key := m.Cert.ValueString(), m.Key.ValueString()
	if (cert == "") != (key == "") {
		return nil, fmt.Errorf("cert and key go together: set both or neither")
	}
	if cert != "" {
		kp, err := tls.X509KeyPair([]byte(cert), []byte(key))
		if err != nil {
			return nil, fmt.Errorf("cert and key are not a valid PEM key pair: %v", err)
		}
		tc.Certificates = []tls.Certificate{kp}
	}
	return tc, nil
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
	return []func() resource.Resource{NewClusterResource}
}

func (p *redisProvider) DataSources(context.Context) []func() datasource.DataSource {
	return nil
}

func (p *redisProvider) Functions(context.Context) []func() function.Function {
	return nil
}
