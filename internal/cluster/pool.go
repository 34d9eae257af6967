package cluster

import (
	"context"
	"crypto/tls"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// Credentials authenticate the provider on every node.
type Credentials struct {
	Username string // ACL user (Redis 6+); "" means the default user
	Password string
}

// PoolConfig is what the pool needs to dial nodes. It holds secrets: never log it.
type PoolConfig struct {
	Credentials Credentials
	TLS         *tls.Config
	// DialTimeout bounds each connection attempt; a dead node costs at most
	// this once per operation.
	DialTimeout time.Duration
	// AddressMap maps an address a node announces to the address to dial.
	AddressMap map[string]string
}

// DefaultDialTimeout is used when PoolConfig.DialTimeout is zero.
const DefaultDialTimeout = 2 * time.Second

// Pool hands out one go-redis client per node address. Clients are created
// on first use (no I/O happens before a command is sent) and shared by every
// caller, so resources configured from one provider reuse connections.
//
// Every first connection to an address checks, before the caller's
// command, that the ACL user may run the commands the provider needs to
// manage a cluster (see AccessManage), so a missing permission fails the
// first read of the node, naming it and the commands, before anything was
// changed.
type Pool struct {
	cfg PoolConfig
	// secrets are redacted from every error the pool's clients return.
	secrets *Secrets
	mu      sync.Mutex
	clients map[string]*redis.Client
	checked map[string]bool // address -> AccessManage passed
}

// NewPool returns a pool that has not dialed anything yet.
func NewPool(cfg PoolConfig) *Pool {
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = DefaultDialTimeout
	}
	secrets := NewSecrets()
	secrets.Add(cfg.Credentials.Password)
	return &Pool{cfg: cfg, secrets: secrets, clients: map[string]*redis.Client{}, checked: map[string]bool{}}
}

// DialAddress is the address the pool dials for a node address, after address_map.
func (p *Pool) DialAddress(addr string) string {
	if m, ok := p.cfg.AddressMap[addr]; ok {
		return m
	}
	return addr
}

// AnnouncedAddress maps a dialed address back to the one nodes announce
// (the inverse of address_map), so addresses read from CLUSTER NODES and
// addresses the user declared can be compared.
func (p *Pool) AnnouncedAddress(dialed string) string {
	for k, v := range p.cfg.AddressMap {
		if v == dialed {
			return k
		}
	}
	return dialed
}

// DialTimeout is the configured per-connection dial bound.
func (p *Pool) DialTimeout() time.Duration { return p.cfg.DialTimeout }

// Client returns the cached client for a node address, creating it lazily.
func (p *Pool) Client(addr string) *redis.Client {
	p.mu.Lock()
	defer p.mu.Unlock()
	if c, ok := p.clients[addr]; ok {
		return c
	}
	c := redis.NewClient(&redis.Options{
		Addr:     p.DialAddress(addr),
		Username: p.cfg.Credentials.Username,
		Password: p.cfg.Credentials.Password,
		// RESP2 (go-redis sends HELLO 2 with the credentials and falls back
		// to AUTH on servers without HELLO), so pre-6 servers work too.
		Protocol:        2,
		DisableIdentity: true,
		MaintNotificationsConfig: &maintnotifications.Config{
			Mode: maintnotifications.ModeDisabled,
		},
		// The pool dials (and does TLS) itself, to tell TLS failures from
		// unreachable nodes; see dial.
		Dialer:      p.dialer(),
		OnConnect:   func(ctx context.Context, cn *redis.Conn) error { return p.onConnect(ctx, addr, cn) },
		DialTimeout: p.cfg.DialTimeout,
		// One dial attempt: a dead node costs dial_timeout once, not five times.
		DialerRetries: 1,
		// Topology commands are not idempotent (MEET, FAILOVER): never resend.
		MaxRetries: -1,
		// Commands are bounded by the caller's context; MIGRATE of a big key
		// and FLUSHALL may legitimately take long.
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          10 * time.Second,
		ContextTimeoutEnabled: true,
		PoolSize:              8,
		MinIdleConns:          0,
	})
	c.AddHook(p.secrets.hook())
	p.clients[addr] = c
	return c
}

// Close closes every client.
func (p *Pool) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	for a, c := range p.clients {
		_ = c.Close()
		delete(p.clients, a)
	}
	return nil
}

// user is the ACL user the pool authenticates as.
func (p *Pool) user() string {
	if p.cfg.Credentials.Username != "" {
		return p.cfg.Credentials.Username
	}
	return "default"
}

// User is the ACL user the pool authenticates as ("default" when none is
// configured), for refusing changes that would lock the provider out.
func (p *Pool) User() string { return p.user() }
