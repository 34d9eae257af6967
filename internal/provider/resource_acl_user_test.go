package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/terraform"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// aclUserConfig is a redis_acl_user "app" with body (seeds, rules and
// passwords), managed as the default user.
func aclUserConfig(body string) string {
	return providerConfig(redistest.DefaultPassword) + `
resource "redis_acl_user" "app" {
  name = "app"
` + body + `
}
`
}

func aclWO(seed, password string, version int, rules ...string) string {
	return fmt.Sprintf(`  seeds               = [%q]
  rules               = %s
  password_wo         = %q
  password_wo_version = %d`, seed, hclList(rules), password, version)
}

var appRules = []string{"on", "~app:*", "+@read", "+@write"}

// canAuth tells whether user app logs in on n with password.
func canAuth(n *redistest.Node, password string) error {
	c := redistest.NewClient(n.Addr(), "")
	defer c.Close()
	return c.Do(context.Background(), "AUTH", "app", password).Err()
}

// checkAuthEverywhere: app logs in on every node with password, and not with others.
func checkAuthEverywhere(nodes []*redistest.Node, password string, refused ...string) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, n := range nodes {
			if err := canAuth(n, password); err != nil {
				return fmt.Errorf("%s: AUTH app: %v", n.Addr(), err)
			}
			for _, pw := range refused {
				if canAuth(n, pw) == nil {
					return fmt.Errorf("%s: AUTH app with an old password succeeded", n.Addr())
				}
			}
		}
		return nil
	}
}

func checkNoAppUser(nodes []*redistest.Node) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, n := range nodes {
			if !n.Running() {
				continue
			}
			v, err := n.Client().Do(context.Background(), "ACL", "LIST").StringSlice()
			if err != nil {
				return fmt.Errorf("%s: %v", n.Addr(), err)
			}
			for _, l := range v {
				if strings.HasPrefix(l, "user app ") || strings.Contains(l, "terraform-rules-check") {
					return fmt.Errorf("%s still has %s", n.Addr(), l)
				}
			}
		}
		return nil
	}
}

// nodesState checks the nodes attribute: exactly these statuses.
func nodesState(want map[string]string) knownvalue.Check {
	m := map[string]knownvalue.Check{}
	for a, s := range want {
		m[a] = knownvalue.StringExact(s)
	}
	return knownvalue.MapExact(m)
}

// inSync is every node of nodes in sync.
func inSync(nodes []*redistest.Node) map[string]string {
	out := map[string]string{}
	for _, n := range nodes {
		out[n.Addr()] = cluster.ACLInSync
	}
	return out
}

// TestAccACLUser_cluster: a user on every member of a 2x(1+1) cluster
// from one seed; drift of each kind on one node each, shown per node in
// the plan and repaired; a node that joins later gets it; after a failover
// the application logs in on the promoted replica; rotation by version;
// import; destroy removes it everywhere.
func TestAccACLUser_cluster(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 5, redistest.Options{})
	members, spare := nodes[:4], nodes[4]
	redistest.CreateCluster(t, members, 1) // masters 0, 1; replicas 2 (of 0), 3 (of 1)
	seed := members[0].Addr()
	cfg1 := aclUserConfig(aclWO(seed, "App-Pw-One", 1, appRules...))
	cfg2 := aclUserConfig(aclWO(seed, "App-Pw-Two", 2, appRules...))
	res := "redis_acl_user.app"
	drifted := inSync(members)
	drifted[members[1].Addr()] = cluster.ACLRulesDiffer
	drifted[members[2].Addr()] = cluster.ACLPasswordsDiffer
	drifted[members[3].Addr()] = cluster.ACLMissing
	withSpare := inSync(nodes)
	joined := inSync(nodes)
	joined[spare.Addr()] = cluster.ACLMissing
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoAppUser(nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg1,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("nodes"), nodesState(inSync(members))),
					statecheck.ExpectKnownValue(res, tfjsonpath.New("password_wo"), knownvalue.Null()),
				},
				Check: checkAuthEverywhere(members, "App-Pw-One"),
			},
			{Config: cfg1, PlanOnly: true},
			{
				// Drift: other rules on 1, another password on 2, user deleted on 3.
				PreConfig: func() {
					redistest.Do(t, members[1], "ACL", "SETUSER", "app", "+@admin")
					redistest.Do(t, members[2], "ACL", "SETUSER", "app", "resetpass", ">Intruder-Pw")
					redistest.Do(t, members[3], "ACL", "DELUSER", "app")
				},
				Config: cfg1,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					beforeOf{res, tfjsonpath.New("nodes"), nodesState(drifted)},
					plancheck.ExpectKnownValue(res, tfjsonpath.New("nodes"), nodesState(inSync(members))),
				}},
				Check: resource.ComposeAggregateTestCheckFunc(checkAuthEverywhere(members, "App-Pw-One", "Intruder-Pw"),
					refusedAsApp(members[1:2], "App-Pw-One", "CONFIG", "GET", "maxmemory")),
			},
			{Config: cfg1, PlanOnly: true},
			{
				// A node that joined later (a second replica of master 0) lacks the user.
				PreConfig: func() {
					redistest.Do(t, spare, "CLUSTER", "MEET", members[0].IP(), members[0].Port())
					id := redistest.MyID(t, members[0])
					redistest.WaitFor(t, defaultWait, func() bool {
						return strings.Contains(redistest.ClusterNodes(t, spare), id)
					}, "the spare node learns master 0")
					redistest.Do(t, spare, "CLUSTER", "REPLICATE", id)
					redistest.WaitFor(t, defaultWait, func() bool {
						return strings.Contains(redistest.ClusterNodes(t, members[0]), redistest.MyID(t, spare))
					}, "master 0 learns the spare node")
				},
				Config: cfg1,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
					beforeOf{res, tfjsonpath.New("nodes"), nodesState(joined)},
				}},
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue(res, tfjsonpath.New("nodes"), nodesState(withSpare)),
				},
				Check: checkAuthEverywhere(nodes, "App-Pw-One"),
			},
			{
				// A failover: the application logs in on the promoted replica; no drift.
				PreConfig: func() {
					waitSynced(t, members[3])
					redistest.Do(t, members[3], "CLUSTER", "FAILOVER", "TAKEOVER") // no vote needed: the same on every engine
					waitRole(t, members[3], "master")
					if err := canAuth(members[3], "App-Pw-One"); err != nil {
						t.Errorf("after the failover, AUTH app on the new master %s: %v", members[3].Addr(), err)
					}
				},
				Config:   cfg1,
				PlanOnly: true,
			},
			{
				// Rotation: a new version sets the new password everywhere.
				Config: cfg2,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectResourceAction(res, plancheck.ResourceActionUpdate),
				}},
				Check: checkAuthEverywhere(nodes, "App-Pw-Two", "App-Pw-One"),
			},
			{Config: cfg2, PlanOnly: true},
			{
				ResourceName:      res,
				ImportState:       true,
				ImportStateId:     members[1].Addr() + "/app",
				ImportStateVerify: true,
				// Import reads the rules as ACL LIST prints them, and
				// cannot know the version of a write-only password.
				ImportStateVerifyIgnore: []string{"rules", "seeds", "password_wo_version"},
				ImportStateCheck: func(s []*terraform.InstanceState) error {
					if len(s) != 1 || s[0].Attributes["rules.#"] == "" || !strings.Contains(fmt.Sprint(s[0].Attributes), "~app:*") ||
						s[0].Attributes["seeds.0"] != members[1].Addr() {
						return fmt.Errorf("imported: %v", s)
					}
					return nil
				},
			},
		},
	})
}

// defaultWait bounds the waits of these tests.
const defaultWait = 20 * time.Second

// refusedAsApp checks that user app (logged in with password) may not run args on nodes.
func refusedAsApp(nodes []*redistest.Node, password string, args ...any) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, n := range nodes {
			c := redistest.NewClient(n.Addr(), "")
			err := c.Do(context.Background(), "AUTH", "app", password).Err()
			if err == nil {
				err = c.Do(context.Background(), args...).Err()
			}
			_ = c.Close()
			if err == nil || !strings.HasPrefix(err.Error(), "NOPERM") {
				return fmt.Errorf("%s: app running %v: %v, want NOPERM", n.Addr(), args, err)
			}
		}
		return nil
	}
}

// beforeOf checks a value of res in the plan's prior (refreshed) state.
type beforeOf struct {
	res   string
	path  tfjsonpath.Path
	check knownvalue.Check
}

func (e beforeOf) CheckPlan(_ context.Context, req plancheck.CheckPlanRequest, resp *plancheck.CheckPlanResponse) {
	for _, rc := range req.Plan.ResourceChanges {
		if rc.Address != e.res {
			continue
		}
		v, err := tfjsonpath.Traverse(rc.Change.Before, e.path)
		if err != nil {
			resp.Error = fmt.Errorf("before %s: %w", e.path, err)
			return
		}
		resp.Error = e.check.CheckValue(v)
		return
	}
	resp.Error = fmt.Errorf("%s is not in the plan", e.res)
}

// TestAccACLUser_hashesAndRules: password_hashes (Terraform without
// write-only attributes), a rule change, and a rule the server refuses:
// an error naming it, before any node is changed. Persistence: nodes with
// an aclfile get ACL SAVE and keep the user across a restart.
func TestAccACLUser_hashesAndRules(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	nodes := redistest.Start(t, 3, redistest.Options{NodeArgs: func(_ string, port int) []string {
		f := filepath.Join(dir, fmt.Sprintf("users-%d.acl", port))
		if _, err := os.Stat(f); err != nil {
			_ = os.WriteFile(f, nil, 0o600)
		}
		return []string{"--aclfile", f}
	}})
	redistest.CreateCluster(t, nodes, 0)
	seeds := hclList(redistest.Addrs(nodes)[1:])
	hashes := func(pws ...string) string {
		h := make([]string, len(pws))
		for i, p := range pws {
			h[i] = cluster.HashPassword(p)
		}
		return hclList(h)
	}
	cfg := func(rules []string, pws ...string) string {
		return aclUserConfig(fmt.Sprintf("  seeds = %s\n  rules = %s\n  password_hashes = %s", seeds, hclList(rules), hashes(pws...)))
	}
	readOnly := []string{"on", "~app:*", "+@read"}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoAppUser(nodes),
		Steps: []resource.TestStep{
			{
				Config: cfg(appRules, "Hashed-1", "Hashed-2"),
				Check: resource.ComposeAggregateTestCheckFunc(checkAuthEverywhere(nodes, "Hashed-1"), checkAuthEverywhere(nodes, "Hashed-2"),
					func(*terraform.State) error {
						nodes[0].Restart(t)
						return canAuth(nodes[0], "Hashed-1") // persisted with ACL SAVE
					}),
			},
			{Config: cfg(appRules, "Hashed-1", "Hashed-2"), PlanOnly: true},
			{
				Config:      cfg([]string{"on", "~app:*", "+@nosuchcategory"}, "Hashed-1"),
				ExpectError: regexp.MustCompile(`(?s)ACL Rules Refused.*rules\[2\] "\+@nosuchcategory" is refused by node.*No node was changed`),
			},
			{
				// Nothing was changed by the refused apply: the old password still works.
				Config: cfg(readOnly, "Hashed-1"),
				Check: resource.ComposeAggregateTestCheckFunc(checkAuthEverywhere(nodes, "Hashed-1", "Hashed-2"),
					refusedAsApp(nodes, "Hashed-1", "SET", "app:x", "1")),
			},
			{Config: cfg(readOnly, "Hashed-1"), PlanOnly: true},
		},
	})
}

// TestAccACLUser_badInputs: refused at plan time, before any node is contacted or changed.
func TestAccACLUser_badInputs(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 1, redistest.Options{ClusterEnabled: redistest.Bool(false)})
	seed := nodes[0].Addr()
	body := func(rules string, extra string) string {
		return fmt.Sprintf("  seeds = [%q]\n  rules = %s\n%s", seed, rules, extra)
	}
	steps := []resource.TestStep{}
	for _, tc := range []struct{ cfg, want string }{
		{aclUserConfig(body(`["on", ">Plain-Secret-9"]`, "")), `rules\[1\] sets or removes a password in clear text`},
		{aclUserConfig(body(`["on", "~a:* +get"]`, "")), `rules\[1\] "~a:\* \+get" holds several words`},
		{aclUserConfig(body(`["on", "nopass"]`, `  password_wo = "x"
  password_wo_version = 1`)), `rules\[1\] "nopass" lets the user in without a password`},
		{aclUserConfig(body(`["on"]`, `  password_wo = "x"`)), `password_wo_version`},
		{aclUserConfig(body(`["on"]`, `  password_wo_version = 1`)), `Password Version Without Password`},
		{aclUserConfig(body(`["on"]`, `  password_hashes = ["abc"]`)), `not a SHA-256 hash`},
		{strings.Replace(aclUserConfig(body(`["on"]`, "")), `name = "app"`, `name = "default"`, 1), `(?s)ACL User Is The Provider's Own.*"default"`},
	} {
		steps = append(steps, resource.TestStep{Config: tc.cfg, PlanOnly: true, ExpectError: regexp.MustCompile(tc.want)})
	}
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
	if l := fmt.Sprint(redistest.Do(t, nodes[0], "ACL", "LIST")); strings.Contains(l, "user app") {
		t.Errorf("a refused configuration changed the node: %s", l)
	}
}

// TestAccACLUser_secretsNeverLeak: with TF_LOG=trace, create, drift repair,
// rotation, a refused rule and destroy; neither the passwords nor their
// SHA-256 hashes appear in any log entry, error or state file.
//
// Not parallel: it sets TF_LOG for this process.
func TestAccACLUser_secretsNeverLeak(t *testing.T) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	pw1 := "Acl-Canary-" + hex.EncodeToString(b[:]) + "-One"
	pw2 := "Acl-Canary-" + hex.EncodeToString(b[:]) + "-Two"
	nodes := redistest.Start(t, 3, redistest.Options{})
	redistest.CreateCluster(t, nodes, 0)
	dir := t.TempDir()
	logPath := filepath.Join(dir, "terraform.log")
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	t.Setenv("TF_ACC_PERSIST_WORKING_DIR", "1")
	secrets := map[string]string{
		"password 1": pw1, "password 2": pw2,
		"SHA-256 of password 1": cluster.HashPassword(pw1), "SHA-256 of password 2": cluster.HashPassword(pw2),
	}
	leak := func(where, text string) error {
		for what, s := range secrets {
			if i := strings.Index(strings.ToLower(text), strings.ToLower(s)); i >= 0 {
				lo, hi := max(0, i-200), min(len(text), i+len(s)+50)
				return fmt.Errorf("the %s appears in %s: ...%s...", what, where, text[lo:hi])
			}
		}
		return nil
	}
	checkState := func(s *terraform.State) error {
		j, err := json.Marshal(s)
		if err != nil {
			return err
		}
		return leak("the state", string(j))
	}
	seed := nodes[0].Addr()
	var errs []string
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		WorkingDir:               work,
		CheckDestroy:             checkNoAppUser(nodes),
		// The refused step's error is checked here (ErrorCheck does not
		// see the errors of steps with ExpectError).
		ErrorCheck: func(err error) error {
			errs = append(errs, err.Error())
			if !strings.Contains(err.Error(), "ACL Rules Refused") {
				return err
			}
			return nil
		},
		Steps: []resource.TestStep{
			{Config: aclUserConfig(aclWO(seed, pw1, 1, appRules...)), Check: resource.ComposeAggregateTestCheckFunc(checkState, checkAuthEverywhere(nodes, pw1))},
			{
				PreConfig: func() { redistest.Do(t, nodes[2], "ACL", "SETUSER", "app", "resetpass", ">other") },
				Config:    aclUserConfig(aclWO(seed, pw1, 1, appRules...)),
				Check:     resource.ComposeAggregateTestCheckFunc(checkState, checkAuthEverywhere(nodes, pw1)),
			},
			{Config: aclUserConfig(aclWO(seed, pw2, 2, "on", "+@no-such-category"))},
			{Config: aclUserConfig(aclWO(seed, pw2, 2, appRules...)), Check: resource.ComposeAggregateTestCheckFunc(checkState, checkAuthEverywhere(nodes, pw2, pw1))},
		},
	})
	if t.Failed() {
		return
	}
	for _, e := range errs {
		if err := leak("an error", e); err != nil {
			t.Error(err)
		}
	}
	if len(errs) != 1 {
		t.Errorf("want exactly the one error of the refused rule, got %d: %q", len(errs), errs)
	}
	logs, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"acl user set", "[TRACE]"} {
		if !strings.Contains(string(logs), want) {
			t.Errorf("the log has no %q: is TF_LOG=trace in effect? (%d bytes)", want, len(logs))
		}
	}
	entries, skipped := 0, 0
	for _, e := range logEntries(string(logs)) {
		if strings.Contains(e, "test_terraform_configuration=") {
			skipped++ // the harness logs the configuration it writes, with the password as written there
			continue
		}
		entries++
		if err := leak("the log", e); err != nil {
			t.Error(err)
			break
		}
	}
	states := 0
	err = filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(d.Name(), ".tfstate") {
			return err
		}
		states++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return leak("state file "+p, string(data))
	})
	if err != nil {
		t.Error(err)
	}
	if states == 0 {
		t.Errorf("no state file under %s", work)
	}
	t.Logf("searched %d log entries (%d bytes, %d harness configurations left out), %d errors, %d state files", entries, len(logs), skipped, len(errs), states)
}

// aclUserManage is what the provider's user needs beyond aclManage to
// manage ACL users (templates/resources/acl_user.md.tmpl; keep in sync).
const aclUserManage = "+acl|getuser +acl|setuser +acl|deluser +acl|list +acl|save +config|get +config|rewrite"

// TestAccACLUser_minimalProviderUser: the provider, logged in as a user
// with exactly the documented rules, creates, reads, imports and deletes
// a user; and refuses to manage itself.
func TestAccACLUser_minimalProviderUser(t *testing.T) {
	t.Parallel()
	nodes := redistest.Start(t, 3, redistest.Options{Users: aclUser(aclManage + " " + aclUserManage)})
	redistest.CreateCluster(t, nodes, 0)
	body := aclWO(nodes[0].Addr(), "Min-Pw", 1, appRules...)
	cfg := aclProviderConfig("terraform", aclUserPassword) + "resource \"redis_acl_user\" \"app\" {\n  name = \"app\"\n" + body + "\n}\n"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		CheckDestroy:             checkNoAppUser(nodes),
		Steps: []resource.TestStep{
			{Config: cfg, Check: checkAuthEverywhere(nodes, "Min-Pw")},
			{Config: cfg, PlanOnly: true},
			{
				ResourceName: "redis_acl_user.app", ImportState: true, ImportStateId: nodes[2].Addr() + "/app",
				ImportStateVerify: true, ImportStateVerifyIgnore: []string{"rules", "seeds", "password_wo_version"},
			},
			{
				Config:      strings.Replace(cfg, `name = "app"`, `name = "terraform"`, 1),
				ExpectError: regexp.MustCompile(`ACL User Is The Provider's Own`),
			},
		},
	})
}
