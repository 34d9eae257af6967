package cluster

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorKind classifies why a node could not be used.
type ErrorKind int

const (
	// ErrOther is any other failure of a command on the node.
	ErrOther ErrorKind = iota
	// ErrUnreachable: the node did not answer (refused, timed out, reset).
	ErrUnreachable
	// ErrAuth: the node rejected the credentials (WRONGPASS, NOAUTH).
	ErrAuth
	// ErrTLS: the TLS handshake or certificate verification failed, or one
	// side speaks TLS and the other does not.
	ErrTLS
	// ErrNotCluster: the node runs without cluster-enabled.
	ErrNotCluster
	// ErrPermission: the ACL user may not run a command the provider needs (NOPERM).
	ErrPermission
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
	case ErrPermission:
		return "permission denied"
	}
	return "command failed"
}

// NodeError is a failure tied to one node address. Its message never
// contains credentials: go-redis errors do not echo AUTH arguments, and
// every error a Pool's client returns has the pool's Secrets redacted
// (Redis echoes the arguments of some commands it refuses, for example
// "unknown command ..., with args beginning with: ...").
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

// Remedy is a one-line hint on what the user can do about the error, in
// Redis's terms (the provider words it in its settings').
func (e *NodeError) Remedy() string {
	switch e.Kind {
	case ErrUnreachable:
		return "check that redis-server runs at this address and that it is reachable from here (the dial timeout bounds each attempt)"
	case ErrAuth:
		return "check the username and password against the node's requirepass or ACL user"
	case ErrTLS:
		return "check the TLS settings (CA certificate, client certificate and key, server name) against the node's tls-port, tls-cert-file, tls-ca-cert-file and tls-auth-clients"
	case ErrPermission:
		return "grant the ACL user the commands it needs with ACL SETUSER, or use a user that has them"
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

// TLSError is a TLS failure the pool recognized beyond what crypto/tls
// reports: a connection closed during or right after the handshake (a node
// rejecting the client certificate under TLS 1.3 resets the connection at
// the first command), or TLS on one side only. Hint says what it means.
type TLSError struct {
	Cause TLSCause
	Hint  string
	Err   error
}

// TLSCause tells which TLS misconfiguration a TLSError found.
type TLSCause int

const (
	// TLSFailed: the handshake failed otherwise.
	TLSFailed TLSCause = iota
	// TLSNeeded: the node speaks TLS, and TLS is not configured.
	TLSNeeded
	// TLSNotServed: TLS is configured, and the node answers plain RESP.
	TLSNotServed
	// TLSCertMissing: the node asks for a client certificate in the
	// handshake, and none is configured.
	TLSCertMissing
	// TLSCertMissingClosed: the same, found when the node closed the
	// connection after the handshake (TLS 1.3).
	TLSCertMissingClosed
	// TLSCertRejected: the node closed the connection after the
	// handshake, most likely rejecting the client certificate.
	TLSCertRejected
)

func (e *TLSError) Error() string {
	if e.Err == nil {
		return e.Hint
	}
	return e.Hint + " (" + e.Err.Error() + ")"
}

func (e *TLSError) Unwrap() error { return e.Err }

// PermissionError says which commands the ACL user may not run on a node.
type PermissionError struct {
	User    string   // the ACL user, "default" when none was configured
	Missing []string // ACL command names, e.g. "cluster|meet"
	// Keys: the user may not access every key (slot moves need ~*).
	Keys  bool
	Reply string // the first NOPERM reply, as Redis wrote it
}

func (e *PermissionError) Error() string {
	var what, grant []string
	if len(e.Missing) > 0 {
		what = append(what, "run "+strings.Join(e.Missing, ", "))
	}
	if e.Keys {
		what = append(what, "access every key")
		grant = append(grant, "~*")
	}
	for _, c := range e.Missing {
		grant = append(grant, "+"+c)
	}
	return fmt.Sprintf("ACL user %q may not %s (%s); grant it with: ACL SETUSER %s %s",
		e.User, strings.Join(what, " or "), e.Reply, e.User, strings.Join(grant, " "))
}

// KeysHeldError: a leaving master holds keys that no master staying in the
// cluster can take, and discarding them was not allowed (NodeSpec's
// ForceDestroy). Nothing was changed on the node. To keep the keys, keep a
// master that stays and give it these slots; to discard them, allow it.
type KeysHeldError struct {
	Addr  string
	Keys  int64
	Slots SlotSet
}

func (e *KeysHeldError) Error() string {
	return fmt.Sprintf("node %s holds %d keys in slots %s, and no master stays in the cluster to take them "+
		"(the other masters are leaving in this run too, or none is left). It was left as it is, keys and membership kept", e.Addr, e.Keys, e.Slots)
}

// NoSeedError: none of the seeds of a lookup answered; Errs says why, one
// line per seed.
type NoSeedError struct {
	Seeds int
	Errs  Errors
}

func (e *NoSeedError) Error() string {
	return fmt.Sprintf("none of the %d seeds answered:\n%v", e.Seeds, e.Errs)
}

func (e *NoSeedError) Unwrap() error { return e.Errs }

// IsNoSeed tells whether err says that none of the seeds answered.
func IsNoSeed(err error) bool {
	var ns *NoSeedError
	return errors.As(err, &ns)
}

// ForeignSlotsError: a node no shard declares serves slots; declare it, or
// move its slots away first.
type ForeignSlotsError struct {
	ID    string
	Slots SlotSet
}

func (e *ForeignSlotsError) Error() string {
	return fmt.Sprintf("slots %s are served by node %s, which no shard declares: declare it, or move its slots away first", e.Slots, e.ID)
}

// UnreadableError: the cluster cannot be reset while some of its nodes
// cannot be read; Errs says why, one line per node.
type UnreadableError struct{ Errs Errors }

func (e *UnreadableError) Error() string {
	return "cannot reset the cluster while some nodes cannot be read; bring them back, or stop managing them, first:\n" + e.Errs.Error()
}

func (e *UnreadableError) Unwrap() error { return e.Errs }
