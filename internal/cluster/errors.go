package cluster

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"
)

// ErrorKind classifies why a node could not be used.
type ErrorKind int

const (
	// ErrOther is any other failure of a command on the node.
	ErrOther ErrorKind = iota
	// ErrUnreachable: the node did not answer (refused, timed out, reset).
	ErrUnreachable
	// ErrAuth: the node rejected the credentials (WRONGPASS, NOAUTH, NOPERM).
	ErrAuth
	// ErrTLS: the TLS handshake or certificate verification failed.
	ErrTLS
	// ErrNotCluster: the node runs without cluster-enabled.
	ErrNotCluster
)

func (k ErrorKind) String() string {
	switch k {
	case ErrUnreachable:
		return "unreachable"
	case ErrAuth:
		return "authentication failed"
	case ErrTLS:
		return "TLS failure"
	case ErrNotCluster:
		return "cluster mode disabled"
	}
	return "command failed"
}

// NodeError is a failure tied to one node address. Its message never
// contains credentials: go-redis errors do not echo AUTH arguments, and
// Redact is applied to server replies as a second guard.
type NodeError struct {
	Addr string
	Kind ErrorKind
	Op   string // the command or phase, e.g. "CLUSTER MEET"
	Err  error
}

func (e *NodeError) Error() string {
	op := ""
	if e.Op != "" {
		op = e.Op + ": "
	}
	return fmt.Sprintf("node %s: %s%s: %v", e.Addr, op, e.Kind, e.Err)
}

func (e *NodeError) Unwrap() error { return e.Err }

// Remedy is a one-line hint on what the user can do about the error.
func (e *NodeError) Remedy() string {
	switch e.Kind {
	case ErrUnreachable:
		return "check that redis-server runs at this address and that it is reachable from where Terraform runs (dial_timeout bounds each attempt)"
	case ErrAuth:
		return "check the provider's username and password (or REDIS_USERNAME / REDIS_PASSWORD) against the node's requirepass or ACL user"
	case ErrTLS:
		return "check the provider's tls settings (ca_cert, cert, key, server_name) against the node's certificate"
	case ErrNotCluster:
		return "start the node with cluster-enabled yes (and a cluster-config-file) before adding it to a cluster"
	}
	return "see the node's log for details"
}

// nodeErr wraps err for addr, classifying it. A nil err gives nil.
func nodeErr(addr, op string, err error) error {
	if err == nil {
		return nil
	}
	var ne *NodeError
	if errors.As(err, &ne) {
		return err
	}
	return &NodeError{Addr: addr, Kind: classify(err), Op: op, Err: err}
}

func classify(err error) ErrorKind {
	msg := err.Error()
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	switch {
	case errors.As(err, &certErr), errors.As(err, &unknownAuth), errors.As(err, &hostErr),
		errors.As(err, &recErr), errors.As(err, &alert),
		strings.Contains(msg, "tls:"), strings.Contains(msg, "x509:"):
		return ErrTLS
	case strings.HasPrefix(msg, "WRONGPASS"), strings.HasPrefix(msg, "NOAUTH"),
		strings.HasPrefix(msg, "NOPERM"), strings.Contains(msg, "invalid password"),
		strings.Contains(msg, "invalid username-password"):
		return ErrAuth
	case strings.Contains(msg, "cluster support disabled"):
		return ErrNotCluster
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || strings.Contains(msg, "connection refused") ||
		strings.Contains(msg, "no such host") {
		return ErrUnreachable
	}
	return ErrOther
}

// IsUnreachable tells whether err says a node did not answer.
func IsUnreachable(err error) bool {
	var ne *NodeError
	return errors.As(err, &ne) && ne.Kind == ErrUnreachable
}

// Errors collects failures of several nodes into one error, one line each.
type Errors []error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = "- " + e.Error()
	}
	return strings.Join(lines, "\n")
}

// Unwrap lets errors.Is and errors.As look at each error.
func (es Errors) Unwrap() []error { return es }

// Err returns nil for an empty list, else the list itself.
func (es Errors) Err() error {
	if len(es) == 0 {
		return nil
	}
	return es
}
