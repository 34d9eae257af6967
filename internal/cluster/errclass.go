package cluster

// Error classification, in one place. Every decision the package takes on
// what an error says is made here, by a named predicate:
//
//   - go-redis's own helpers where it has one (redis.IsLoadingError,
//     IsAuthError, IsPermissionError, IsClusterDownError,
//     IsNoReplicasError): they see through wrapping (NodeError, the pool's
//     redaction) because go-redis types those replies when it reads them;
//   - for the replies go-redis does not type, one predicate each that looks
//     at the reply itself (a redis.Error anywhere in the chain), after the
//     generic "ERR " code, never at the text of a wrapping error;
//   - for failures that are not replies (TLS, dialing), the text Go's
//     libraries write when they give no type.
//
// The comment of each predicate quotes the reply and names the engines that
// send it (Redis 3.0 through 8.x and Valkey 7.2 through 9.x, unless it says
// otherwise).

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/redis/go-redis/v9"
)

// classify tells why a command failed. TLS failures come first and are
// never "unreachable": a node that answered the TCP connect but refused
// the handshake or the certificate is misconfigured, not down, and a plan
// must not proceed on stale state because of it.
func classify(err error) ErrorKind {
	var tlsErr *TLSError
	var certErr *tls.CertificateVerificationError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recErr tls.RecordHeaderError
	var alert tls.AlertError
	var permErr *PermissionError
	switch {
	case errors.As(err, &tlsErr), errors.As(err, &certErr), errors.As(err, &unknownAuth),
		errors.As(err, &hostErr), errors.As(err, &invalidCert), errors.As(err, &recErr),
		errors.As(err, &alert), isTLSText(err):
		return ErrTLS
	case errors.As(err, &permErr), isPermission(err):
		return ErrPermission
	case isAuth(err):
		return ErrAuth
	case isClusterDisabled(err):
		return ErrNotCluster
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, context.DeadlineExceeded) || isDialFailureText(err) {
		return ErrUnreachable
	}
	return ErrOther
}

// replyText returns the text of the Redis error reply in err's chain
// without the generic "ERR " code, and whether there is one.
func replyText(err error) (string, bool) {
	var rerr redis.Error
	if err == nil || !errors.As(err, &rerr) {
		return "", false
	}
	return strings.TrimPrefix(rerr.Error(), "ERR "), true
}

// replyHasPrefix tells whether err holds a Redis reply that starts with
// prefix (after "ERR ").
func replyHasPrefix(err error, prefix string) bool {
	msg, ok := replyText(err)
	return ok && strings.HasPrefix(msg, prefix)
}

// isRedisError tells whether err holds a reply of the node (as opposed to
// a failure to reach it).
func isRedisError(err error) bool {
	_, ok := replyText(err)
	return ok
}

// isLoading: "LOADING Redis is loading the dataset in memory" (Valkey:
// "LOADING Valkey is loading ..."), to any command while the node reads
// its RDB or AOF at start.
func isLoading(err error) bool { return redis.IsLoadingError(err) }

// IsLoading tells whether err is a node's LOADING reply: it is reading
// its dataset (after a restart, or a replica's full sync) and answers
// again once loaded.
func IsLoading(err error) bool { return isLoading(err) }

// isPermission: "NOPERM this user has no permissions to run the
// 'cluster|meet' command" (Redis 6.0-7.0), "NOPERM User u has no
// permissions to run the 'cluster|meet' command" (Redis 7.2+, Valkey),
// and the key forms of isKeyPermission; also relayed by MIGRATE from its
// target (see relayedHasPrefix).
func isPermission(err error) bool {
	return redis.IsPermissionError(err) || relayedHasPrefix(err, "NOPERM ")
}

// isKeyPermission: a NOPERM about keys rather than the command: "NOPERM
// this user has no permissions to access one of the keys used as
// arguments" (Redis 6.0-7.0), "NOPERM No permissions to access a key"
// (Redis 7.2+, Valkey).
func isKeyPermission(err error) bool {
	msg, ok := replyText(err)
	return ok && isPermission(err) && strings.Contains(strings.ToLower(msg), "key")
}

// isAuth: the node refused the credentials. "WRONGPASS invalid
// username-password pair or user is disabled." and "NOAUTH Authentication
// required." (Redis 6+, Valkey; go-redis types both), and "ERR invalid
// password" (AUTH on Redis before 6.0); also relayed by MIGRATE from its
// target.
func isAuth(err error) bool {
	return redis.IsAuthError(err) || replyHasPrefix(err, "invalid password") ||
		relayedHasPrefix(err, "WRONGPASS ") || relayedHasPrefix(err, "NOAUTH ") || relayedHasPrefix(err, "invalid password")
}

// isClusterDisabled: "ERR This instance has cluster support disabled", to
// any CLUSTER command on a node started without cluster-enabled yes.
func isClusterDisabled(err error) bool {
	return replyHasPrefix(err, "This instance has cluster support disabled")
}

// isSlotBusy: "ERR Slot 42 is already busy", CLUSTER ADDSLOTS (and
// ADDSLOTSRANGE) of a slot the node already knows an owner for.
func isSlotBusy(err error) bool {
	msg, ok := replyText(err)
	return ok && strings.HasPrefix(msg, "Slot ") && strings.HasSuffix(msg, " is already busy")
}

// isUnknownNode: "ERR Unknown node 0123abcd...", CLUSTER FORGET, CLUSTER
// REPLICATE, CLUSTER SETSLOT ... NODE and COUNT-FAILURE-REPORTS of a node
// ID the node does not know (already forgotten, or not heard of yet).
// Matched without case, as it always was.
func isUnknownNode(err error) bool {
	msg, ok := replyText(err)
	return ok && strings.HasPrefix(strings.ToLower(msg), "unknown node")
}

// isReplicateNotMaster: "ERR I can only replicate a master, not a
// replica." (Redis 5+, Valkey; "not a slave" before 5.0), CLUSTER
// REPLICATE naming a node the receiver knows as a replica (gossip of its
// promotion not arrived yet).
func isReplicateNotMaster(err error) bool {
	return replyHasPrefix(err, "I can only replicate a master")
}

// isReplicateNotEmpty: "ERR To set a master the node must be empty and
// without assigned slots.", CLUSTER REPLICATE on a master with keys or
// slots.
func isReplicateNotEmpty(err error) bool {
	msg, ok := replyText(err)
	return ok && strings.HasPrefix(msg, "To set a ") && strings.Contains(msg, " must be empty")
}

// isFailoverMasterDown: "ERR Master is down or failed, please use CLUSTER
// FAILOVER FORCE", a plain CLUSTER FAILOVER while the replica counts its
// master as failing.
func isFailoverMasterDown(err error) bool {
	return replyHasPrefix(err, "Master is down or failed")
}

// isStillHoldsKeys: "ERR Can't assign hashslot 42 to a different node
// while I still hold keys for this hash slot.", CLUSTER SETSLOT ... NODE
// on the source of a slot before all its keys moved.
func isStillHoldsKeys(err error) bool {
	msg, ok := replyText(err)
	return ok && strings.HasPrefix(msg, "Can't assign hashslot") && strings.Contains(msg, "still hold keys")
}

// isSetSlotNotMaster: "ERR Please use SETSLOT only with masters." (Redis,
// Valkey before 8.0), "... only with primaries." (Valkey 8.0+), CLUSTER
// SETSLOT sent to a node that turned replica.
func isSetSlotNotMaster(err error) bool {
	return replyHasPrefix(err, "Please use SETSLOT only with masters") ||
		replyHasPrefix(err, "Please use SETSLOT only with primaries")
}

// isTargetNotMaster: "ERR Target node is not a master" (Valkey: "...not a
// primary"), CLUSTER SETSLOT MIGRATING on a source whose view still shows
// the target as a replica: it just turned master, and gossip has not told
// the source yet.
func isTargetNotMaster(err error) bool {
	return replyHasPrefix(err, "Target node is not a master") ||
		replyHasPrefix(err, "Target node is not a primary")
}

// isUnblocked: "UNBLOCKED force unblock from blocking operation, instance
// state changed (master -> replica?)", a blocked command (Valkey 8.0+'s
// replicated CLUSTER SETSLOT) whose node turned replica meanwhile. Redis
// sends it to blocked list and stream commands only.
func isUnblocked(err error) bool { return replyHasPrefix(err, "UNBLOCKED ") }

// isNoReplicas: "NOREPLICAS Not enough good replicas to write.", Valkey
// 8.0+'s replicated CLUSTER SETSLOT when the replicas did not acknowledge
// in time (and WAIT-style writes with min-replicas on any engine).
func isNoReplicas(err error) bool { return redis.IsNoReplicasError(err) }

// isClusterDown: "CLUSTERDOWN The cluster is down" (or "CLUSTERDOWN Hash
// slot not served"), from the node itself, or relayed by MIGRATE from its
// target: "ERR Target instance replied with error: CLUSTERDOWN The cluster
// is down" (a master that just joined, or briefly counts a peer failing).
func isClusterDown(err error) bool {
	return redis.IsClusterDownError(err) || relayedHasPrefix(err, "CLUSTERDOWN ")
}

// isMigrateBusyKey: MIGRATE without REPLACE of a key the target already
// has, relayed by the source: "ERR Target instance replied with error:
// BUSYKEY Target key name already exists.".
func isMigrateBusyKey(err error) bool { return relayedHasPrefix(err, "BUSYKEY ") }

// relayedHasPrefix tells whether err is a MIGRATE that failed because its
// target answered a reply starting with prefix (after "ERR "): the source
// relays it as "ERR Target instance replied with error: <reply>" (Redis,
// Valkey).
func relayedHasPrefix(err error, prefix string) bool {
	const relay = "Target instance replied with error: "
	msg, ok := replyText(err)
	if !ok || !strings.HasPrefix(msg, relay) {
		return false
	}
	return strings.HasPrefix(strings.TrimPrefix(msg[len(relay):], "ERR "), prefix)
}

// isResetWithKeys: "ERR CLUSTER RESET can't be called with master nodes
// containing keys", CLUSTER RESET of a master that holds keys.
func isResetWithKeys(err error) bool {
	msg, ok := replyText(err)
	return ok && strings.HasPrefix(msg, "CLUSTER RESET can't be called") && strings.Contains(msg, "containing keys")
}

// isAlreadySlotOwner: "ERR I'm already the owner of hash slot 42", CLUSTER
// SETSLOT ... IMPORTING on the slot's owner.
func isAlreadySlotOwner(err error) bool {
	return replyHasPrefix(err, "I'm already the owner of hash slot")
}

// isTLSText: a TLS failure crypto/tls or crypto/x509 reported without a
// type the pool can match ("tls: ...", "x509: ...", "remote error: tls:
// ..." after wrapping in net.OpError).
func isTLSText(err error) bool {
	msg := errText(err)
	return strings.Contains(msg, "tls:") || strings.Contains(msg, "x509:")
}

// isTLSAlertText: the node sent a TLS alert ("remote error: tls: bad
// certificate"), in an error that lost the tls.AlertError type.
func isTLSAlertText(err error) bool { return strings.Contains(errText(err), "remote error: tls:") }

// isDialFailureText: the address did not take the connection, in an error
// that lost the syscall or net type ("connect: connection refused", "dial
// tcp: lookup x: no such host").
func isDialFailureText(err error) bool {
	msg := errText(err)
	return strings.Contains(msg, "connection refused") || strings.Contains(msg, "no such host")
}

func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
