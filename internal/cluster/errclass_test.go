package cluster

import (
	"errors"
	"fmt"
	"testing"

	"github.com/redis/go-redis/v9"
)

// reply is an error reply as a node sends it, for the pure tests (the live
// test below checks the same predicates on replies go-redis read).
type reply string

func (r reply) Error() string { return string(r) }
func (reply) RedisError()     {}

var _ redis.Error = reply("")

// predicates names every reply predicate, with replies each engine sends
// that it must match, and near misses it must not.
var predicates = []struct {
	name string
	is   func(error) bool
	// typed: go-redis types these replies when it reads them, and its
	// helper finds them through wrapping only then; the pure test checks
	// the bare reply.
	typed    bool
	yes, not []string
}{
	{"isLoading", isLoading, true, []string{"LOADING Redis is loading the dataset in memory", "LOADING Valkey is loading the dataset in memory"}, []string{"ERR LOADING", "BUSY Redis is busy"}},
	{"isPermission", isPermission, true, []string{"NOPERM this user has no permissions to run the 'cluster|meet' command", "NOPERM User u has no permissions to run the 'cluster|meet' command", "NOPERM No permissions to access a key", "ERR Target instance replied with error: NOPERM User u has no permissions to run the 'restore-asking' command"}, []string{"ERR NOPERM", "WRONGPASS invalid username-password pair or user is disabled."}},
	{"isKeyPermission", isKeyPermission, true, []string{"NOPERM No permissions to access a key", "NOPERM this user has no permissions to access one of the keys used as arguments"}, []string{"NOPERM User u has no permissions to run the 'get' command", "ERR no such key"}},
	{"isAuth", isAuth, true, []string{"WRONGPASS invalid username-password pair or user is disabled.", "NOAUTH Authentication required.", "ERR invalid password", "ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.", "ERR Target instance replied with error: ERR invalid password"}, []string{"NOPERM No permissions to access a key", "ERR AUTH <password> called without any password configured for the default user"}},
	{"isNoReplicas", isNoReplicas, true, []string{"NOREPLICAS Not enough good replicas to write."}, []string{"ERR NOREPLICAS"}},
	{"isClusterDown", isClusterDown, true, []string{"CLUSTERDOWN The cluster is down", "CLUSTERDOWN Hash slot not served", "ERR Target instance replied with error: CLUSTERDOWN The cluster is down"}, []string{"ERR Target instance replied with error: BUSYKEY Target key name already exists.", "ERR CLUSTERDOWN"}},
	{"isClusterDisabled", isClusterDisabled, false, []string{"ERR This instance has cluster support disabled"}, []string{"ERR unknown command 'cluster'"}},
	{"isSlotBusy", isSlotBusy, false, []string{"ERR Slot 0 is already busy", "ERR Slot 16383 is already busy"}, []string{"ERR Slot 0 specified multiple times", "BUSY Slot 0 is already busy?"}},
	{"isUnknownNode", isUnknownNode, false, []string{"ERR Unknown node 07c37dfeb235213a872192d90877d0cd55635b91", "ERR unknown node abc"}, []string{"ERR I don't know about node abc", "ERR Invalid node address specified: x"}},
	{"isReplicateNotMaster", isReplicateNotMaster, false, []string{"ERR I can only replicate a master, not a replica."}, []string{"ERR Can't replicate myself"}},
	{"isReplicateNotEmpty", isReplicateNotEmpty, false, []string{"ERR To set a master the node must be empty and without assigned slots."}, []string{"ERR DB must be empty to perform CLUSTER FLUSHSLOTS."}},
	{"isFailoverMasterDown", isFailoverMasterDown, false, []string{"ERR Master is down or failed, please use CLUSTER FAILOVER FORCE"}, []string{"ERR You should send CLUSTER FAILOVER to a replica"}},
	{"isStillHoldsKeys", isStillHoldsKeys, false, []string{"ERR Can't assign hashslot 42 to a different node while I still hold keys for this hash slot."}, []string{"ERR I'm already the owner of hash slot 42"}},
	{"isSetSlotNotMaster", isSetSlotNotMaster, false, []string{"ERR Please use SETSLOT only with masters.", "ERR Please use SETSLOT only with primaries."}, []string{"ERR Invalid slot"}},
	{"isTargetNotMaster", isTargetNotMaster, false, []string{"ERR Target node is not a master", "ERR Target node is not a primary"}, []string{"ERR Please use SETSLOT only with masters."}},
	{"isUnblocked", isUnblocked, false, []string{"UNBLOCKED force unblock from blocking operation, instance state changed (master -> replica?)"}, []string{"ERR UNBLOCKED"}},
	{"isMigrateBusyKey", isMigrateBusyKey, false, []string{"ERR Target instance replied with error: BUSYKEY Target key name already exists."}, []string{"BUSYKEY Target key name already exists.", "IOERR error or timeout reading to target instance"}},
	{"isResetWithKeys", isResetWithKeys, false, []string{"ERR CLUSTER RESET can't be called with master nodes containing keys"}, []string{"ERR CLUSTER RESET HARD"}},
	{"isAlreadySlotOwner", isAlreadySlotOwner, false, []string{"ERR I'm already the owner of hash slot 42"}, []string{"ERR I'm not the owner of hash slot 42"}},
}

// TestErrClassReplies: each predicate matches the replies it names and no
// near miss; the untyped replies also through every wrapping the package
// adds (NodeError, the pool's redaction, fmt.Errorf %w), and never as the
// text of an error that is not a reply.
func TestErrClassReplies(t *testing.T) {
	for _, p := range predicates {
		for _, msg := range p.yes {
			if !p.is(reply(msg)) {
				t.Errorf("%s(%q) = false, want true", p.name, msg)
			}
			if p.typed {
				continue
			}
			for _, w := range wrappings(reply(msg)) {
				if !p.is(w) {
					t.Errorf("%s(%q) = false, want true", p.name, w)
				}
			}
			if p.is(errors.New(msg)) {
				t.Errorf("%s(errors.New(%q)) = true: a text that is not a reply matched", p.name, msg)
			}
		}
		for _, msg := range p.not {
			if p.is(reply(msg)) {
				t.Errorf("%s(%q) = true, want false", p.name, msg)
			}
		}
		if p.is(nil) {
			t.Errorf("%s(nil) = true", p.name)
		}
	}
}

func wrappings(err error) []error {
	return []error{
		nodeErr("127.0.0.1:7000", "CLUSTER X", err),
		&redactedError{msg: "***", err: err},
		fmt.Errorf("moving: %w", err),
	}
}

// TestErrClassNotReplies: the predicates on failures that are not replies.
func TestErrClassNotReplies(t *testing.T) {
	for _, c := range []struct {
		name string
		is   func(error) bool
		yes  []error
		not  []error
	}{
		{"isTLSText", isTLSText, []error{errors.New("remote error: tls: bad certificate"), errors.New("x509: certificate signed by unknown authority")}, []error{errors.New("EOF")}},
		{"isTLSAlertText", isTLSAlertText, []error{errors.New("read tcp 127.0.0.1:1->127.0.0.1:2: remote error: tls: unknown certificate authority")}, []error{errors.New("tls: first record does not look like a TLS handshake")}},
		{"isDialFailureText", isDialFailureText, []error{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), errors.New("dial tcp: lookup x: no such host")}, []error{errors.New("i/o timeout")}},
		{"isRedisError", isRedisError, []error{reply("ERR x"), nodeErr("a:1", "", reply("ERR x"))}, []error{errors.New("ERR x")}},
	} {
		for _, err := range c.yes {
			if !c.is(err) {
				t.Errorf("%s(%v) = false, want true", c.name, err)
			}
		}
		for _, err := range append(c.not, nil) {
			if c.is(err) {
				t.Errorf("%s(%v) = true, want false", c.name, err)
			}
		}
	}
}
