package cluster

// Dialing a node: TLS or plain, and errors before the first reply explained (wrong port, rejected certificate).

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"
)

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
