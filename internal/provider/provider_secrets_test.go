package provider

import (
	"bytes"
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

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/tfredis/terraform-provider-redis/internal/redistest"
)

// TestAccProvider_SecretsNeverLeak runs apply (create, then a slot move,
// whose MIGRATE carries the password to the target), plan, import, a
// failing apply and destroy (with a flush) with TF_LOG=trace, over TLS with
// a client key, and a distinctive password; neither the password nor the
// key appears in any log line, any error, or any state file. (The
// configuration files hold the password, as the user wrote it there, and
// so do the saved plans that snapshot them; those are not searched.)
//
// Not parallel: it sets TF_LOG and friends for this process.
func TestAccProvider_SecretsNeverLeak(t *testing.T) {
	var b [6]byte
	_, _ = rand.Read(b[:])
	secret := "Leak-Canary-" + hex.EncodeToString(b[:]) + "-Pw"
	pki := redistest.NewTLSFiles(t)
	keyLine := strings.Split(pki.ClientKey, "\n")[1] // a line of the key's base64
	nodes := redistest.Start(t, 3, redistest.Options{Password: secret, TLS: pki})
	stranger := redistest.Start(t, 1, redistest.Options{TLS: pki})[0] // another password
	a := redistest.Addrs(nodes)

	dir := t.TempDir()
	logPath := filepath.Join(dir, "terraform.log")
	work := filepath.Join(dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TF_LOG", "TRACE")
	t.Setenv("TF_ACC_LOG_PATH", logPath)
	t.Setenv("TF_ACC_PERSIST_WORKING_DIR", "1")

	leak := func(where, text string) error {
		for what, s := range map[string]string{"password": secret, "TLS key": keyLine} {
			if i := strings.Index(text, s); i >= 0 {
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
	cfg := func(slots [][]string, replicas [][]string) string {
		return tlsClusterConfig(secret, trusted(pki), shardsHCL(a, replicas, slots), "  force_destroy = true")
	}
	split := [][]string{{"0-5460"}, {"5461-10922"}, {"10923-16383"}}
	moved := [][]string{{"0-5000"}, {"5001-10922"}, {"10923-16383"}}
	var errs []string
	failing := regexp.MustCompile(`(?s)Nodes Cannot Join The Cluster.*` + regexp.QuoteMeta(stranger.Addr()) + `: authentication\s+failed`)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		WorkingDir:               work,
		CheckDestroy:             checkAllReset(t, nodes),
		// The failing step's error is checked here (ErrorCheck does not
		// see the errors of steps with ExpectError).
		ErrorCheck: func(err error) error {
			errs = append(errs, err.Error())
			if !failing.MatchString(err.Error()) {
				return err
			}
			return nil
		},
		Steps: []resource.TestStep{
			{
				Config: cfg(split, nil),
				Check: resource.ComposeAggregateTestCheckFunc(checkState, func(*terraform.State) error {
					redistest.Fill(t, nodes, 500, "canary")
					return nil
				}),
			},
			{Config: cfg(split, nil), PlanOnly: true},
			{
				ResourceName:            "redis_cluster.test",
				ImportState:             true,
				ImportStateId:           a[2],
				ImportStateVerify:       true,
				ImportStateVerifyIgnore: []string{"force_destroy"},
			},
			{
				Config: cfg(moved, nil),
				Check:  checkState,
			},
			{
				// A node that refuses the password: an error naming it (see ErrorCheck).
				Config: cfg(moved, [][]string{{stranger.Addr()}, nil, nil}),
			},
			{Config: cfg(moved, nil), Check: checkState},
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
		t.Errorf("want exactly the one error of the failing step, got %d: %q", len(errs), errs)
	}
	logs, err := os.ReadFile(logPath)
	if err != nil {
		t.Fatal(err)
	}
	// The log holds the provider's own trace (tflog), go-redis' and Terraform's.
	for _, want := range []string{"configured redis provider", "cluster ready", "moved slots", "[TRACE]"} {
		if !bytes.Contains(logs, []byte(want)) {
			t.Errorf("the log has no %q: is TF_LOG=trace in effect? (%d bytes)", want, len(logs))
		}
	}
	// The test harness logs each configuration it writes (the .tf file,
	// with the password as written there); a real run has no such entry.
	entries, skipped := 0, 0
	for _, e := range logEntries(string(logs)) {
		if strings.Contains(e, "test_terraform_configuration=") {
			skipped++
			continue
		}
		entries++
		if err := leak("the log "+logPath, e); err != nil {
			t.Error(err)
			break
		}
	}
	states := 0
	err = filepath.WalkDir(work, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		name := d.Name()
		if !strings.Contains(name, ".tfstate") {
			return nil
		}
		states++
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := leak("state file "+p, string(data)); err != nil {
			t.Error(err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if states == 0 {
		t.Errorf("no state file under %s", work)
	}
	t.Logf("searched %d log entries (%d bytes; %d configurations written by the test harness left out), %d errors and %d state files",
		entries, len(logs), skipped, len(errs), states)
}

var logEntryStart = regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`)

// logEntries splits a Terraform log into entries: a line with a timestamp
// and the indented lines that continue it.
func logEntries(log string) []string {
	idx := logEntryStart.FindAllStringIndex(log, -1)
	out := make([]string, 0, len(idx)+1)
	prev := 0
	for _, i := range idx {
		if i[0] > prev {
			out = append(out, log[prev:i[0]])
		}
		prev = i[0]
	}
	return append(out, log[prev:])
}
