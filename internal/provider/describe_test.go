package provider

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// TestDescribe: the errors of internal/cluster reach diagnostics with the
// attribute names, exactly as they read before their texts moved here,
// alone, in a list, or wrapped; other errors as they are.
func TestDescribe(t *testing.T) {
	slots := cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: 99})
	held := &cluster.KeysHeldError{Addr: "127.0.0.1:7000", Keys: 3, Slots: slots}
	heldText := "node 127.0.0.1:7000 holds 3 keys in slots 0-99, and no master stays in the cluster to take them " +
		"(the other masters are leaving in this run too, or none is left). It was left as it is, keys and membership kept. " +
		"To keep the keys, keep a master that stays and declare these slots on it; " +
		"to discard them, set force_destroy = true on its resource, apply, then destroy"
	foreign := &cluster.ForeignSlotsError{ID: "abc", Slots: slots}
	foreignText := "slots 0-99 are served by node abc, which no shard declares: declare it in shards, or move its slots away first"
	down := errors.New("node 127.0.0.1:7001: unreachable: EOF")
	for _, c := range []struct {
		err  error
		want string
	}{
		{held, heldText},
		{fmt.Errorf("leaving: %w", held), "leaving: " + heldText},
		{cluster.Errors{foreign, down}, "- " + foreignText + "\n- " + down.Error()},
		{&cluster.UnreadableError{Errs: cluster.Errors{down}}, "cannot reset the cluster while some nodes cannot be read; bring them back, or remove them from shards first:\n- " + down.Error()},
		{down, down.Error()},
	} {
		if got := describe(c.err); got != c.want {
			t.Errorf("describe(%T):\n got %q\nwant %q", c.err, got, c.want)
		}
	}
}

// TestDescribeProblems: a precheck's problems name the provider's
// settings in the remedy of a node that could not be read, as before.
func TestDescribeProblems(t *testing.T) {
	d := cluster.Desired{Shards: []cluster.Shard{{Master: "127.0.0.1:7000"}, {Master: "127.0.0.1:7001"}}}
	obs := &cluster.Observed{Nodes: map[string]*cluster.NodeState{
		"127.0.0.1:7000": {Addr: "127.0.0.1:7000", Err: &cluster.NodeError{Addr: "127.0.0.1:7000", Kind: cluster.ErrUnreachable, Op: "CLUSTER NODES", Err: errors.New("EOF")}},
		"127.0.0.1:7001": {Addr: "127.0.0.1:7001", Err: &cluster.NodeError{Addr: "127.0.0.1:7001", Kind: cluster.ErrNotCluster, Err: errors.New("ERR This instance has cluster support disabled")}},
	}}
	err := cluster.CheckJoinable(d, obs, nil)
	want := "- 127.0.0.1:7000: unreachable (CLUSTER NODES): EOF. Check that redis-server runs at this address and that it is reachable from where Terraform runs (dial_timeout bounds each attempt).\n" +
		"- 127.0.0.1:7001: cluster mode disabled: ERR This instance has cluster support disabled. Start the node with cluster-enabled yes (and a cluster-config-file) before adding it to a cluster."
	if got := describe(err); got != want {
		t.Fatalf("describe:\n got %q\nwant %q", got, want)
	}
	for kind, want := range map[cluster.ErrorKind]string{
		cluster.ErrAuth:       "check the provider's username and password (or REDIS_USERNAME / REDIS_PASSWORD) against the node's requirepass or ACL user",
		cluster.ErrOther:      "see the node's log for details",
		cluster.ErrPermission: "grant the provider's ACL user the commands it needs (see the ACL section of the provider documentation) with ACL SETUSER, or use a user that has them",
	} {
		if got := remedy(&cluster.NodeError{Kind: kind}); got != want {
			t.Errorf("remedy(%v) = %q, want %q", kind, got, want)
		}
	}
}

// TestDescribeSettings: the problems of declared settings name the config
// attribute and the provider's credentials, as before.
func TestDescribeSettings(t *testing.T) {
	names := cluster.CheckSettingNames(map[string]string{"requirepass": "x", "masterauth": "y", "Bad*": "z"})
	_, unknown := cluster.SettingsDrift("n:1", map[string]string{"b": "1"}, nil)
	stored := &cluster.NodeError{Addr: "n:1", Op: "CONFIG SET save", Err: &cluster.SettingError{Setting: "save", Problem: cluster.SettingStoredAs, Node: "n:1", Value: "60 1", Stored: "60 1 300 10"}}
	runtime := &cluster.SettingError{Setting: "daemonize", Problem: cluster.SettingNotRuntime, Node: "n:1", Err: errors.New("ERR CONFIG SET failed")}
	for _, c := range []struct {
		err  error
		want string
	}{
		{names, "- setting \"Bad*\" is not a setting name: use the lower-case name CONFIG GET knows (letters, digits and dashes, no patterns), e.g. \"cluster-node-timeout\"\n" +
			"- setting \"masterauth\" holds a credential: config values are stored in the Terraform state in plain text; set it through the nodes' own configuration files instead\n" +
			"- setting \"requirepass\" holds a credential: config values are stored in the Terraform state in plain text; set it through the provider's password and ACL users instead"},
		{unknown, "- node n:1 does not know setting \"b\" (CONFIG GET returns nothing): remove it from config, or upgrade the node"},
		{stored, "node n:1: CONFIG SET save: command failed: the node stores \"60 1\" as \"60 1 300 10\": declare save = \"60 1 300 10\" in config (values are compared in the form CONFIG GET returns)"},
		{runtime, "setting \"daemonize\" cannot be changed at runtime on n:1 (ERR CONFIG SET failed): set it in the nodes' configuration files and restart them, or remove it from config"},
	} {
		if got := describe(c.err); got != c.want {
			t.Errorf("describe:\n got %q\nwant %q", got, c.want)
		}
	}
}

// TestDescribeRulesAndPartition: refused ACL rules name rules[i] and the
// password attributes; a partition names failback; as before.
func TestDescribeRulesAndPartition(t *testing.T) {
	rules := cluster.ValidateACLRules([]string{">Secret-1", "#" + strings.Repeat("ab", 32), "nopass", ""}, true)
	want := "- rules[0] sets or removes a password in clear text (it starts with '>' or '<'); the value is not shown. " +
		"Rules are stored in state: set the password with password_wo (and password_wo_version), or its SHA-256 with password_hashes\n" +
		"- rules[1] sets or removes a password hash (it starts with '#' or '!'); the value is not shown. Put SHA-256 hashes in password_hashes instead\n" +
		"- rules[2] \"nopass\" lets the user in without a password, and a password is set too (password_wo or password_hashes): keep one of them\n" +
		"- rules[3] is empty"
	if got := describe(rules); got != want {
		t.Errorf("rules:\n got %q\nwant %q", got, want)
	}
	refused := &cluster.RuleError{Index: 2, Rule: "+@bogus", Node: "n:1 (redis 7.0.15)", Why: "Unknown command or category name in ACL"}
	if got := describe(refused); got != `rules[2] "+@bogus" is refused by node n:1 (redis 7.0.15): Unknown command or category name in ACL` {
		t.Errorf("refused: %q", got)
	}
	pe := &cluster.PartitionError{Split: &cluster.Split{CutOff: []string{"n:1"}}, Waited: time.Second}
	if got := describe(pe); !strings.Contains(got, "node n:1 is cut off from the majority of the cluster (still so after 1s)") ||
		!strings.HasSuffix(got, "apply then converges, failing back if failback is set).") {
		t.Errorf("partition: %q", got)
	}
}

// TestDescribeTLS: TLS misconfigurations name the provider's tls block.
func TestDescribeTLS(t *testing.T) {
	ne := &cluster.NodeError{Addr: "n:1", Kind: cluster.ErrTLS, Err: &cluster.TLSError{Cause: cluster.TLSNeeded, Hint: "the node speaks TLS on this port: connect with TLS", Err: errors.New("EOF")}}
	if got, want := describe(ne), "node n:1: TLS failure: the node speaks TLS on this port: set the provider's tls block (EOF)"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	other := &cluster.TLSError{Hint: "TLS handshake failed", Err: errors.New("x")}
	if got := describe(other); got != "TLS handshake failed (x)" {
		t.Errorf("got %q", got)
	}
}
