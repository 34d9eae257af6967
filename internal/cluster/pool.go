package cluster

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"sort"
	"strings"
	"sync"
	"syscall"
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

// Access names a set of commands the provider sends to a node.
type Access int

const (
	// AccessManage: build, read, repair and fail back a cluster, and reset
	// its nodes on destroy. Checked on every first connection to a node.
	AccessManage Access = iota
	// AccessMove: move slots with their keys (a slot change, a shard added
	// or removed without declared slots, an open slot settled). MIGRATE
	// authenticates on the target as the same user, where it runs
	// RESTORE-ASKING (and SELECT), so every master needs these.
	AccessMove
	// AccessFlush: FLUSHALL before destroy, with force_destroy.
	AccessFlush
)

// accessProbe is one command of an Access set, and a harmless way to ask a
// node whether the ACL user may run it: Redis checks ACL permissions after
// the arity and before the command runs, so a probe with the right number
// of arguments but an invalid one is refused with NOPERM when the command
// is not allowed, and by the command's own argument check (changing
// nothing) when it is. Read-only commands are simply run.
type accessProbe struct {
	acl  string // ACL name, e.g. "cluster|meet"
	args []any
}

var accessProbes = map[Access][]accessProbe{
	AccessManage: {
		// INFO, CLUSTER MYID/INFO/NODES and DBSIZE are read before anything
		// changes; a NOPERM there names the command too.
		{"role", []any{"ROLE"}},
		{"cluster|meet", []any{"CLUSTER", "MEET", "-", "-"}},
		{"cluster|addslots", []any{"CLUSTER", "ADDSLOTS", "-1"}},
		{"cluster|addslotsrange", []any{"CLUSTER", "ADDSLOTSRANGE", "-1", "-1"}},
		{"cluster|set-config-epoch", []any{"CLUSTER", "SET-CONFIG-EPOCH", "-"}},
		{"cluster|replicate", []any{"CLUSTER", "REPLICATE", "-"}},
		{"cluster|failover", []any{"CLUSTER", "FAILOVER", "-"}},
		{"cluster|forget", []any{"CLUSTER", "FORGET", "-"}},
		{"cluster|reset", []any{"CLUSTER", "RESET", "-"}},
	},
	AccessMove: {
		{"cluster|setslot", []any{"CLUSTER", "SETSLOT", "-1", "STABLE"}},
		{"cluster|getkeysinslot", []any{"CLUSTER", "GETKEYSINSLOT", "0", "0"}},
		{"asking", []any{"ASKING"}},
		// A key that does not exist: NOKEY without connecting anywhere (or
		// MOVED). It also asks for key access: MIGRATE moves every key.
		{"migrate", []any{"MIGRATE", "127.0.0.1", "1", "", "0", "1", "KEYS", "{terraform-acl-probe}"}},
		// An invalid payload: refused before the key is touched.
		{"restore-asking", []any{"RESTORE-ASKING", "{terraform-acl-probe}", "0", "-"}},
		{"select", []any{"SELECT", "0"}},
	},
	AccessFlush: {
		// Two arguments are a syntax error in every version that has ACLs.
		{"flushall", []any{"FLUSHALL", "-", "-"}},
	},
}

// AccessCommands lists the ACL command names of an Access set, for
// documentation and messages.
func AccessCommands(a Access) []string {
	var out []string
	for _, p := range accessProbes[a] {
		out = append(out, p.acl)
	}
	return out
}

// user is the ACL user the pool authenticates as.
func (p *Pool) user() string {
	if p.cfg.Credentials.Username != "" {
		return p.cfg.Credentials.Username
	}
	return "default"
}

// probeAccess sends a's probes in one round trip and returns a
// *PermissionError naming every refused command, nil when all are allowed,
// or the transport error when the node did not answer.
func (p *Pool) probeAccess(ctx context.Context, c interface {
	Pipelined(context.Context, func(redis.Pipeliner) error) ([]redis.Cmder, error)
}, a Access) error {
	probes := accessProbes[a]
	cmds := make([]*redis.Cmd, len(probes))
	_, err := c.Pipelined(ctx, func(pl redis.Pipeliner) error {
		for i, pr := range probes {
			cmds[i] = pl.Do(ctx, pr.args...)
		}
		return nil
	})
	var perm *PermissionError
	for i, cmd := range cmds {
		e := cmd.Err()
		if e == nil || errors.Is(e, redis.Nil) {
			continue
		}
		if !isRedisError(e) {
			return e // the connection failed
		}
		if !isPermission(e) {
			continue // refused by the command itself: allowed
		}
		if perm == nil {
			perm = &PermissionError{User: p.user(), Reply: e.Error()}
		}
		if isKeyPermission(e) {
			// The command is allowed, the probe's key is not: MIGRATE
			// and RESTORE-ASKING need every key (~*).
			perm.Keys = true
			continue
		}
		perm.Missing = append(perm.Missing, probes[i].acl)
	}
	if perm != nil {
		return perm
	}
	if err != nil && !isRedisError(err) {
		return err
	}
	return nil
}

func permissionNodeError(addr string, perm *PermissionError) *NodeError {
	ops := make([]string, 0, len(perm.Missing)+1)
	for _, c := range perm.Missing {
		ops = append(ops, strings.ToUpper(strings.ReplaceAll(c, "|", " ")))
	}
	if perm.Keys {
		ops = append(ops, "key access")
	}
	return &NodeError{Addr: addr, Kind: ErrPermission, Op: strings.Join(ops, ", "), Err: perm}
}

// onConnect checks AccessManage on the first connection to addr.
func (p *Pool) onConnect(ctx context.Context, addr string, cn *redis.Conn) error {
	p.mu.Lock()
	done := p.checked[addr]
	p.mu.Unlock()
	if done {
		return nil
	}
	err := p.probeAccess(ctx, cn, AccessManage)
	var perm *PermissionError
	switch {
	case errors.As(err, &perm):
		return &connError{permissionNodeError(addr, perm)}
	case err != nil:
		return err
	}
	p.mu.Lock()
	p.checked[addr] = true
	p.mu.Unlock()
	return nil
}

// CheckAccess asks every node in addrs, concurrently, whether the ACL user
// may run the commands of a, changing nothing. It returns one NodeError per
// node that refuses any (naming the commands) or did not answer. Callers
// run it before the first command of a that would change something: slot
// moves, FLUSHALL.
func (p *Pool) CheckAccess(ctx context.Context, addrs []string, a Access) error {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs Errors
	for _, addr := range addrs {
		wg.Add(1)
		go func(addr string) {
			defer wg.Done()
			err := p.probeAccess(ctx, p.Client(addr), a)
			if err == nil {
				return
			}
			var perm *PermissionError
			var ne error
			if errors.As(err, &perm) {
				ne = permissionNodeError(addr, perm)
			} else {
				ne = nodeErr(addr, "ACL check", err)
			}
			mu.Lock()
			errs = append(errs, ne)
			mu.Unlock()
		}(addr)
	}
	wg.Wait()
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return errs.Err()
}

// dialer connects to a node, with TLS when configured, and turns what
// crypto/tls and the kernel report into errors that say what went wrong:
//   - the handshake: any failure after the TCP connect is a TLS failure
//     (the node is there), except a timeout, which is checked for a node
//     that speaks plain RESP on the port (else it is unreachable: a
//     stopped node hangs the handshake too);
//   - after the handshake: a node that rejects the client certificate
//     under TLS 1.3 (missing, or from another CA) resets the connection at
//     the first command; that reset, before any reply, is a TLS failure;
//   - without TLS: a connection reset before any reply is checked for a
//     node that speaks TLS on the port.
func (p *Pool) dialer() func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		d := &net.Dialer{Timeout: p.cfg.DialTimeout, KeepAlive: 30 * time.Second}
		raw, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		if p.cfg.TLS == nil {
			return &firstReplyConn{Conn: raw, socket: raw, explainFirst: func(err error) error {
				if p.speaksTLS(addr) {
					return &TLSError{Cause: TLSNeeded, Hint: "the node speaks TLS on this port: connect with TLS", Err: err}
				}
				return nil
			}}, nil
		}
		cfg := p.cfg.TLS.Clone()
		if cfg.ServerName == "" {
			if host, _, err := net.SplitHostPort(addr); err == nil {
				cfg.ServerName = host
			}
		}
		certRequested := false
		if len(cfg.Certificates) == 0 && cfg.GetClientCertificate == nil {
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
				certRequested = true
				return &tls.Certificate{}, nil
			}
		}
		hctx, cancel := context.WithTimeout(ctx, p.cfg.DialTimeout)
		defer cancel()
		conn := tls.Client(raw, cfg)
		if err := conn.HandshakeContext(hctx); err != nil {
			_ = raw.Close()
			return nil, p.handshakeError(ctx, addr, err, certRequested)
		}
		return &firstReplyConn{Conn: conn, socket: raw, explainFirst: func(err error) error {
			if certRequested {
				return &TLSError{Cause: TLSCertMissingClosed, Hint: "the node closed the connection after the TLS handshake: it requires a client certificate (tls-auth-clients) and none is configured", Err: err}
			}
			return &TLSError{Cause: TLSCertRejected, Hint: "the node closed the connection after the TLS handshake: most likely it rejected the client certificate (check that its tls-ca-cert-file trusts it)", Err: err}
		}}, nil
	}
}

func (p *Pool) handshakeError(ctx context.Context, addr string, err error, certRequested bool) error {
	var netErr net.Error
	timeout := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &netErr) && netErr.Timeout())
	if timeout {
		if p.speaksPlainRESP(context.WithoutCancel(ctx), addr) {
			return &TLSError{Cause: TLSNotServed, Hint: "the node answers plain RESP on this port, not TLS: TLS is configured, but the node serves no tls-port here", Err: err}
		}
		return err // no answer: unreachable (a stopped node hangs the handshake too)
	}
	var certErr *tls.CertificateVerificationError
	if errors.As(err, &certErr) {
		return err // crypto/tls says it all, and classify knows it
	}
	if certRequested {
		return &TLSError{Cause: TLSCertMissing, Hint: "TLS handshake failed: the node asks for a client certificate and none is configured", Err: err}
	}
	return &TLSError{Hint: "TLS handshake failed", Err: err}
}

// probeBound bounds the probes that explain a failed connection: half the
// dial timeout, at most 500 ms (a node that speaks the other protocol
// answers at once).
func (p *Pool) probeBound() time.Duration {
	return min(p.cfg.DialTimeout/2, 500*time.Millisecond)
}

// speaksPlainRESP tells whether addr answers PING in plain RESP, within
// probeBound.
func (p *Pool) speaksPlainRESP(ctx context.Context, addr string) bool {
	bound := p.probeBound()
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return false
	}
	return strings.HasPrefix(line, "+") || strings.HasPrefix(line, "-")
}

// speaksTLS tells whether addr answers a TLS handshake (completed, or
// refused with a TLS alert), within probeBound.
func (p *Pool) speaksTLS(addr string) bool {
	bound := p.probeBound()
	ctx, cancel := context.WithTimeout(context.Background(), bound)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	defer raw.Close()
	c := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}) //nolint:gosec // only asks whether the port speaks TLS
	err = c.HandshakeContext(ctx)
	if err == nil {
		return true
	}
	var alert tls.AlertError
	return errors.As(err, &alert) || isTLSAlertText(err)
}

// firstReplyError explains err, a failure before the node's first reply,
// when it is a reset, an EOF or a TLS alert from the node; else it returns
// err as it is.
func firstReplyError(err error, explain func() error) error {
	if err == nil {
		return nil
	}
	closed := errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	if !closed && !isTLSAlertText(err) {
		return err
	}
	if e := explain(); e != nil {
		return &connError{e}
	}
	return err
}

// connError carries an error out of a connection's setup. go-redis
// unwraps one level of what fails there (to drop its own "failed to
// authenticate: " prefixes), which would drop our explanation; this layer
// is the one it drops, and it is transparent to errors.As otherwise.
type connError struct{ err error }

func (e *connError) Error() string { return e.err.Error() }
func (e *connError) Unwrap() error { return e.err }

// firstReplyConn explains an error that comes before the node's first
// reply (a reset right after connecting: a rejected client certificate
// under TLS 1.3, or TLS spoken on a plain port) with explainFirst, which
// returns nil when it knows no better; later errors pass as they are.
type firstReplyConn struct {
	net.Conn
	// socket is the TCP connection (under TLS, the raw one), exposed as a
	// syscall.Conn so go-redis can health-check idle connections and not
	// hand out one the node closed. With RESP2 and no push notifications
	// go-redis only peeks at it.
	socket       net.Conn
	explainFirst func(err error) error
	mu           sync.Mutex
	replied      bool
}

func (c *firstReplyConn) explain(err error) error {
	c.mu.Lock()
	replied := c.replied
	c.mu.Unlock()
	if replied {
		return err
	}
	return firstReplyError(err, func() error { return c.explainFirst(err) })
}

func (c *firstReplyConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.mu.Lock()
		c.replied = true
		c.mu.Unlock()
	}
	if err != nil {
		err = c.explain(err)
	}
	return n, err
}

func (c *firstReplyConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	if err != nil {
		err = c.explain(err)
	}
	return n, err
}

// SyscallConn exposes the TCP socket for go-redis' idle connection check.
func (c *firstReplyConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.socket.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errors.New("not a socket")
}

// CheckStepAccess checks, before steps run, that the ACL user may run what
// they need beyond AccessManage, which every connection checks already:
// with a slot move among them (StepMoveSlots, StepFixSlot), AccessMove on
// every master observed, as MIGRATE logs in on the target as the same user
// and SETSLOT NODE goes to every master. It changes nothing; a refusal names
// each node and command, before the first slot opens.
func (p *Pool) CheckStepAccess(ctx context.Context, steps []Step, obs *Observed) error {
	moves := false
	for _, s := range steps {
		if s.Kind == StepMoveSlots || s.Kind == StepFixSlot {
			moves = true
			break
		}
	}
	if !moves || obs == nil {
		return nil
	}
	var masters []string
	for _, a := range sortedKeys(obs.Nodes) {
		if self := obs.Node(a).Self(); self != nil && self.IsMaster() {
			masters = append(masters, a)
		}
	}
	return p.CheckAccess(ctx, masters, AccessMove)
}

// User is the ACL user the pool authenticates as ("default" when none is
// configured), for refusing changes that would lock the provider out.
func (p *Pool) User() string { return p.user() }
