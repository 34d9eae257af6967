package cluster_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

func TestValidateACLRules(t *testing.T) {
	for _, tc := range []struct {
		rules  []string
		pw     bool
		want   string // "" = valid
		hidden string // must not appear in the error
	}{
		{rules: []string{"on", "~app:*", "+@read", "(~x +get)", "%R~y"}},
		{rules: []string{"nopass", "on"}},
		{rules: []string{"on", "nopass"}, pw: true, want: `rule 1 "nopass" lets the user in without a password`},
		{rules: []string{"on", ">Secret-1"}, want: "rule 1 sets or removes a password in clear text", hidden: "Secret-1"},
		{rules: []string{"<Secret-2"}, want: "rule 0 sets or removes a password", hidden: "Secret-2"},
		{rules: []string{"#" + strings.Repeat("ab", 32)}, want: "rule 0 sets or removes a password hash", hidden: "abab"},
		{rules: []string{"on", "~app:* +get"}, want: `rule 1 "~app:* +get" holds several words`},
		{rules: []string{""}, want: "rule 0 is empty"},
		{rules: []string{" on"}, want: "leading or trailing spaces"},
	} {
		err := cluster.ValidateACLRules(tc.rules, tc.pw)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%q: %v", tc.rules, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%q: got %v, want %q", tc.rules, err, tc.want)
		case tc.hidden != "" && strings.Contains(err.Error(), tc.hidden):
			t.Errorf("%q: the error shows the secret: %v", tc.rules, err)
		}
	}
	if err := cluster.ValidateACLName("a b"); err == nil {
		t.Error("a name with a space was accepted")
	}
	if err := cluster.ValidateACLHash(strings.Repeat("g", 64)); err == nil {
		t.Error("a non-hex hash was accepted")
	}
	if err := cluster.ValidateACLHash(cluster.HashPassword("x")); err != nil {
		t.Error(err)
	}
}

// ACL GETUSER replies as go-redis returns them (RESP2), from Redis 6.0.16 and 7.0.15.
var (
	getUser60 = []any{"flags", []any{"on"}, "passwords", []any{cluster.HashPassword("pw")},
		"commands", "-@all +@read", "keys", []any{"app:*"}}
	getUser70 = []any{"flags", []any{"on", "sanitize-payload"}, "passwords", []any{strings.ToUpper(cluster.HashPassword("pw"))},
		"commands", "-@all +@write +@read", "keys", "~app:*", "channels", "",
		"selectors", []any{[]any{"commands", "-@all +get", "keys", "~x", "channels", ""}}}
)

func TestParseACLUser(t *testing.T) {
	form6, h6, err := cluster.ParseACLUser(getUser60)
	if err != nil {
		t.Fatal(err)
	}
	form7, h7, err := cluster.ParseACLUser(getUser70)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{cluster.HashPassword("pw")}
	if !slices.Equal(h6, want) || !slices.Equal(h7, want) {
		t.Errorf("hashes: %v %v, want %v (lower case)", h6, h7, want)
	}
	if strings.Contains(form6, h6[0]) || strings.Contains(form7, h6[0]) {
		t.Error("the form holds a password hash")
	}
	if form6 == form7 || !strings.Contains(form7, `selectors=[["commands" "-@all +get"`) || !strings.Contains(form6, `keys=["app:*"]`) {
		t.Errorf("forms:\n%s\n%s", form6, form7)
	}
	// Deterministic: field order does not matter.
	swapped := append([]any{}, getUser60[4:]...)
	swapped = append(swapped, getUser60[:4]...)
	if f, _, _ := cluster.ParseACLUser(swapped); f != form6 {
		t.Errorf("reordered fields give %s, want %s", f, form6)
	}
	if _, _, err := cluster.ParseACLUser([]any{"flags"}); err == nil {
		t.Error("an odd reply was accepted")
	}
}

func TestACLStatus(t *testing.T) {
	form, hashes, _ := cluster.ParseACLUser(getUser70)
	want := cluster.ACLExpect{Forms: map[string]string{"7.0.15": form},
		Fingerprints: cluster.ACLUser{Password: "pw"}.Fingerprints()}
	node := func(version, form string, hashes ...string) *cluster.ACLNode {
		return &cluster.ACLNode{Version: version, Exists: true, Form: form, Hashes: hashes}
	}
	for _, tc := range []struct {
		n    *cluster.ACLNode
		want string
	}{
		{node("7.0.15", form, hashes...), cluster.ACLInSync},
		{node("7.0.16", form, hashes...), cluster.ACLInSync}, // no form for 7.0.16: any recorded one matches
		{node("7.0.15", form+"x", hashes...), cluster.ACLRulesDiffer},
		{node("7.0.15", form, cluster.HashPassword("other")), cluster.ACLPasswordsDiffer},
		{node("7.0.15", form, append(hashes, cluster.HashPassword("other"))...), cluster.ACLPasswordsDiffer},
		{node("7.0.15", form), cluster.ACLPasswordsDiffer},
		{node("7.0.15", "x"), cluster.ACLBothDiffer},
		{&cluster.ACLNode{Version: "7.0.15"}, cluster.ACLMissing},
		{&cluster.ACLNode{Err: errors.New("down")}, cluster.ACLUnreachable},
	} {
		if got := cluster.ACLStatus(want, tc.n); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.n, got, tc.want)
		}
	}
	fp := cluster.PasswordFingerprint(cluster.HashPassword("pw"))
	if fp == cluster.HashPassword("pw") || len(fp) != 64 {
		t.Error("the fingerprint is the hash Redis keeps")
	}
	drift := cluster.ACLDrift("app", map[string]string{"b:1": cluster.ACLMissing, "a:1": cluster.ACLInSync, "c:1": cluster.ACLRulesDiffer})
	if len(drift) != 2 || !strings.HasPrefix(drift[0], `b:1: user "app" is missing`) || !strings.HasPrefix(drift[1], "c:1:") {
		t.Errorf("drift: %q", drift)
	}
}

func aclPool(t *testing.T) *cluster.Pool {
	t.Helper()
	pool := cluster.NewPool(cluster.PoolConfig{Credentials: cluster.Credentials{Password: redistest.DefaultPassword}, DialTimeout: time.Second})
	t.Cleanup(func() { _ = pool.Close() })
	return pool
}

func aclList(t *testing.T, n *redistest.Node) string {
	t.Helper()
	return fmt.Sprint(redistest.Do(t, n, "ACL", "LIST"))
}

// TestACLUserOnCluster runs the whole cycle on a real cluster of 3 masters
// and 3 replicas: members found from one seed, rules checked with a
// throw-away user that is gone afterwards, the user set on every member,
// drift per node, and delete.
func TestACLUserOnCluster(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 6, redistest.Options{})
	redistest.CreateCluster(t, nodes, 1)
	pool := aclPool(t)
	ctx := t.Context()

	members, err := cluster.ClusterMembers(ctx, pool, []string{nodes[4].Addr()})
	if err != nil {
		t.Fatal(err)
	}
	all := redistest.Addrs(nodes)
	slices.Sort(all)
	if !slices.Equal(members, all) {
		t.Fatalf("members from one replica: %v, want %v", members, all)
	}
	read := cluster.ReadACLUser(ctx, pool, members, "app")

	// A rule the server refuses: named, and nothing is left behind.
	err = cluster.CheckACLRules(ctx, pool, read, []string{"on", "~app:*", "+@bogus"})
	var re *cluster.RuleError
	if !errors.As(err, &re) || re.Index != 2 || !strings.Contains(err.Error(), `rule 2 "+@bogus" is refused by node`) ||
		!strings.Contains(err.Error(), "Unknown command or category") {
		t.Fatalf("a bogus rule: %v", err)
	}
	for _, n := range nodes {
		if l := aclList(t, n); strings.Contains(l, "terraform-rules-check") || strings.Contains(l, "user app") {
			t.Fatalf("%s after checking rules: %s", n.Addr(), l)
		}
	}
	rules := []string{"on", "~app:*", "+@read", "+@write"}
	if err := cluster.CheckACLRules(ctx, pool, read, rules); err != nil {
		t.Fatal(err)
	}

	u := cluster.ACLUser{Name: "app", Rules: rules, Password: "App-Pw-1"}
	volatile, err := cluster.SetACLUser(ctx, pool, read, u)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(volatile, members) {
		t.Errorf("nodes without aclfile or config file: %v, want all", volatile)
	}
	read = cluster.ReadACLUser(ctx, pool, members, "app")
	want := cluster.ACLExpect{Forms: map[string]string{}, Fingerprints: u.Fingerprints()}
	for _, a := range members {
		want.Forms[read[a].Version] = read[a].Form
	}
	status := func() map[string]string {
		out := map[string]string{}
		for a, n := range cluster.ReadACLUser(ctx, pool, members, "app") {
			out[a] = cluster.ACLStatus(want, n)
		}
		return out
	}
	for a, s := range status() {
		if s != cluster.ACLInSync {
			t.Errorf("%s: %s after set", a, s)
		}
	}
	// The application logs in on every member, replicas included.
	for _, n := range nodes {
		c := redistest.NewClient(n.Addr(), "")
		if err := c.Do(ctx, "AUTH", "app", "App-Pw-1").Err(); err != nil {
			t.Errorf("%s: AUTH app: %v", n.Addr(), err)
		}
		_ = c.Close()
	}

	// Drift, one kind per node.
	redistest.Do(t, nodes[1], "ACL", "DELUSER", "app")
	redistest.Do(t, nodes[2], "ACL", "SETUSER", "app", "+@admin")
	redistest.Do(t, nodes[3], "ACL", "SETUSER", "app", ">Other-Pw")
	redistest.Do(t, nodes[5], "ACL", "SETUSER", "app", "resetpass", ">Other-Pw", "-@write")
	got := status()
	wantStatus := map[string]string{
		nodes[0].Addr(): cluster.ACLInSync, nodes[1].Addr(): cluster.ACLMissing, nodes[2].Addr(): cluster.ACLRulesDiffer,
		nodes[3].Addr(): cluster.ACLPasswordsDiffer, nodes[4].Addr(): cluster.ACLInSync, nodes[5].Addr(): cluster.ACLBothDiffer,
	}
	for a, s := range wantStatus {
		if got[a] != s {
			t.Errorf("%s: %s, want %s", a, got[a], s)
		}
	}
	// Set again: in sync everywhere.
	if _, err := cluster.SetACLUser(ctx, pool, cluster.ReadACLUser(ctx, pool, members, "app"), u); err != nil {
		t.Fatal(err)
	}
	for a, s := range status() {
		if s != cluster.ACLInSync {
			t.Errorf("%s: %s after the second set", a, s)
		}
	}
	// Import reads rules as ACL LIST prints them.
	listed, hashes, ok, err := cluster.ACLListRules(ctx, pool, nodes[0].Addr(), "app")
	if err != nil || !ok || !slices.Contains(listed, "~app:*") || !slices.Equal(hashes, []string{cluster.HashPassword("App-Pw-1")}) {
		t.Fatalf("ACL LIST: %v %v %v %v", listed, hashes, ok, err)
	}

	if _, err := cluster.DeleteACLUser(ctx, pool, cluster.ReadACLUser(ctx, pool, members, "app"), "app"); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if l := aclList(t, n); strings.Contains(l, "user app") {
			t.Errorf("%s after delete: %s", n.Addr(), l)
		}
	}
}

// TestACLUserPersistence: ACL SAVE on nodes with an aclfile, CONFIG
// REWRITE on nodes with a config file, and the others reported; a restart
// keeps the user where it was persisted.
func TestACLUserPersistence(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	aclNodes := redistest.Start(t, 2, redistest.Options{NodeArgs: func(_ string, port int) []string {
		f := filepath.Join(dir, fmt.Sprintf("users-%d.acl", port))
		if _, err := os.Stat(f); err != nil {
			_ = os.WriteFile(f, nil, 0o600)
		}
		return []string{"--aclfile", f}
	}})
	confNodes := redistest.Start(t, 2, redistest.Options{ConfigFile: true})
	plain := redistest.Start(t, 2, redistest.Options{})
	all := slices.Concat(aclNodes, confNodes, plain)
	redistest.CreateCluster(t, all, 1)
	pool := aclPool(t)
	ctx := t.Context()
	members, err := cluster.ClusterMembers(ctx, pool, []string{all[0].Addr()})
	if err != nil || len(members) != 6 {
		t.Fatalf("members: %v %v", members, err)
	}
	read := cluster.ReadACLUser(ctx, pool, members, "app")
	for _, n := range all {
		want := ""
		switch {
		case slices.Contains(aclNodes, n):
			want = "aclfile"
		case slices.Contains(confNodes, n):
			want = "config"
		}
		if got := read[n.Addr()].Persistence(); got != want {
			t.Errorf("%s: persistence %q, want %q", n.Addr(), got, want)
		}
	}
	volatile, err := cluster.SetACLUser(ctx, pool, read, cluster.ACLUser{Name: "app", Rules: []string{"on", "+get", "~k"}, Password: "P-1"})
	if err != nil {
		t.Fatal(err)
	}
	wantVolatile := redistest.Addrs(plain)
	slices.Sort(wantVolatile)
	if !slices.Equal(volatile, wantVolatile) {
		t.Errorf("volatile: %v, want %v", volatile, wantVolatile)
	}
	for _, n := range slices.Concat(aclNodes, confNodes) {
		n.Restart(t)
		if l := aclList(t, n); !strings.Contains(l, "user app on") {
			t.Errorf("%s lost the user in a restart: %s", n.Addr(), l)
		}
	}
	plain[0].Restart(t)
	if l := aclList(t, plain[0]); strings.Contains(l, "user app") {
		t.Errorf("%s kept a user it was never told to persist: %s", plain[0].Addr(), l)
	}
	// Delete is persisted too.
	pool2 := aclPool(t)
	if _, err := cluster.DeleteACLUser(ctx, pool2, cluster.ReadACLUser(ctx, pool2, members, "app"), "app"); err != nil {
		t.Fatal(err)
	}
	for _, n := range slices.Concat(aclNodes, confNodes) {
		n.Restart(t)
		if l := aclList(t, n); strings.Contains(l, "user app") {
			t.Errorf("%s has the deleted user back after a restart: %s", n.Addr(), l)
		}
	}
}
