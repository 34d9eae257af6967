package tfcli

import (
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	tfjson "github.com/hashicorp/terraform-json"
)

func TestMain(m *testing.M) {
	code := m.Run()
	Cleanup()
	os.Exit(code)
}

// requireTerraform skips unless TF_ACC is set (the tests build the provider
// and run terraform) and terraform is on PATH.
func requireTerraform(t *testing.T) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("runs the terraform CLI: set TF_ACC=1")
	}
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("terraform not found on PATH")
	}
}

func TestParseDiagnostics(t *testing.T) {
	stream := `{"@level":"info","@message":"Terraform 1.11.4","type":"version","terraform":"1.11.4","ui":"1.2"}
{"@level":"warn","@message":"Warning: Cluster Drifted","type":"diagnostic","diagnostic":{"severity":"warning","summary":"Cluster Drifted","detail":"127.0.0.11:6379: replica of 127.0.0.15:6379\n127.0.0.15:6379: master","address":"redis_cluster.main"}}
not json at all
{"@level":"info","@message":"Plan: 0 to add, 1 to change, 0 to destroy.","type":"change_summary","changes":{"add":0,"change":1,"remove":0,"operation":"plan"}}
{"@level":"error","@message":"Error: Invalid value","type":"diagnostic","diagnostic":{"severity":"error","summary":"Invalid value","detail":""}}
`
	got, err := ParseDiagnostics(stream)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("got %d diagnostics, want 2: %+v", len(got), got)
	}
	d := got[0]
	if d.Severity != tfjson.DiagnosticSeverityWarning || d.Summary != "Cluster Drifted" || d.Address != "redis_cluster.main" ||
		!strings.Contains(d.Detail, "127.0.0.15:6379: master") {
		t.Errorf("first diagnostic: %+v", d)
	}
	want := "Warning: Cluster Drifted (redis_cluster.main)\n  127.0.0.11:6379: replica of 127.0.0.15:6379\n  127.0.0.15:6379: master"
	if s := d.String(); s != want {
		t.Errorf("String():\n%s\nwant:\n%s", s, want)
	}
	if got[1].Severity != tfjson.DiagnosticSeverityError || got[1].String() != "Error: Invalid value" {
		t.Errorf("second diagnostic: %+v, %q", got[1], got[1].String())
	}
	p := &Plan{Diagnostics: got}
	if s := p.Summaries(); !slices.Equal(s, []string{"Cluster Drifted", "Invalid value"}) {
		t.Errorf("Summaries() = %v", s)
	}
	if f := p.Find("Cluster Drifted"); len(f) != 1 || f[0].Address != "redis_cluster.main" {
		t.Errorf("Find: %+v", f)
	}

	if _, err := ParseDiagnostics("{\"type\": \"diagnostic\", \"diagnostic\": 3}\n"); err == nil {
		t.Error("a diagnostic that does not decode: no error")
	}
}

func TestResultErr(t *testing.T) {
	r := Result{Args: []string{"plan"}, Code: 2, Output: "a\nb\n"}
	if err := r.Err(0, 2); err != nil {
		t.Errorf("exit 2 with 0 and 2 allowed: %v", err)
	}
	err := r.Err()
	if err == nil || !strings.Contains(err.Error(), "terraform plan: exit 2 (want [0])") || !strings.Contains(err.Error(), "a\nb") {
		t.Errorf("exit 2 with 0 wanted: %v", err)
	}
	if got := Tail("1\n2\n3\n", 2); got != "2\n3" {
		t.Errorf("Tail = %q", got)
	}
}

// The workspace runs the provider built from this tree (its key_slot
// function answers), plans to JSON with core's diagnostics (a failed check
// is a warning), applies, reads outputs, plans empty, and destroys.
const lifecycleConfig = `
terraform {
  required_providers {
    redis = { source = "tfredis/redis" }
  }
}

variable "word" {
  type = string
}

resource "terraform_data" "w" {
  input = var.word
}

check "short" {
  assert {
    condition     = length(var.word) < 4
    error_message = "word ${var.word} is long"
  }
}

output "slot" {
  value = provider::redis::key_slot(terraform_data.w.output)
}
`

func TestWorkspace_lifecycle(t *testing.T) {
	requireTerraform(t)
	w := New(t, t.TempDir(), "TF_VAR_word=somewhat")
	if w.Timeout != 0 || w.Stream != nil {
		t.Fatalf("a new workspace has Timeout %v, Stream %v", w.Timeout, w.Stream)
	}
	w.WriteFile("main.tf", lifecycleConfig)

	p := w.Plan()
	if !p.Changes || p.Result.Code != 2 {
		t.Fatalf("first plan: Changes %v, exit %d", p.Changes, p.Result.Code)
	}
	rc := p.ResourceChange("terraform_data.w")
	if rc == nil || !rc.Change.Actions.Create() {
		t.Fatalf("terraform_data.w: %+v", rc)
	}
	if got := p.PlannedResource("terraform_data.w"); got == nil || got.AttributeValues["input"] != "somewhat" {
		t.Fatalf("planned terraform_data.w: %+v", got)
	}
	if p.ResourceChange("terraform_data.none") != nil || p.PlannedResource("terraform_data.none") != nil {
		t.Error("a resource the plan does not have is found")
	}
	if d := p.Find(devOverridesWarning); len(d) != 0 {
		t.Errorf("the dev_overrides warning is in Diagnostics: %v", d)
	}
	if d := p.Find("Check block assertion failed"); len(d) != 1 || d[0].Severity != tfjson.DiagnosticSeverityWarning ||
		!strings.Contains(d[0].Detail, "word somewhat is long") {
		t.Errorf("the failed check: %+v (all: %v)", d, p.Diagnostics)
	}
	if text := w.Show(p); !strings.Contains(text, "# terraform_data.w will be created") {
		t.Errorf("terraform show of the plan:\n%s", text)
	}

	var streamed strings.Builder
	w.Stream = &streamed
	r := w.Apply(p.File)
	if !strings.Contains(r.Output, "Apply complete! Resources: 1 added") || streamed.String() != r.Output {
		t.Errorf("apply output %q, streamed %q", r.Output, streamed.String())
	}
	w.Stream = nil
	// key_slot("somewhat") as the provider computes it: CRC16 mod 16384.
	outs := w.Outputs()
	if got := fmt.Sprint(outs["slot"].Value); got != fmt.Sprint(keySlot("somewhat")) {
		t.Errorf("output slot = %s, want %d", got, keySlot("somewhat"))
	}

	w2 := New(t, w.Dir, "TF_VAR_word=abc")
	if p := w2.Plan(); !p.Changes || !p.ResourceChange("terraform_data.w").Change.Actions.Update() || len(p.Find("Check block assertion failed")) != 0 {
		t.Errorf("plan with a new word: Changes %v, %v", p.Changes, p.Diagnostics)
	}
	if p := w.Plan(); p.Changes {
		t.Errorf("plan after apply has changes: %+v", p.ResourceChanges)
	}
	w.Destroy()
	if r := w.Run("state", "list"); r.Code != 0 || strings.TrimSpace(r.Output) != "" {
		t.Errorf("state list after destroy: exit %d, %q", r.Code, r.Output)
	}
}

// keySlot is CRC16-XMODEM of key mod 16384 (no hash tag in the keys used here).
func keySlot(key string) int {
	var crc uint16
	for _, b := range []byte(key) {
		crc ^= uint16(b) << 8
		for range 8 {
			if crc&0x8000 != 0 {
				crc = crc<<1 ^ 0x1021
			} else {
				crc <<= 1
			}
		}
	}
	return int(crc) % 16384
}

// fakeTB records Fatalf and stops the caller with a panic, as testing's
// Goexit would.
type fakeTB struct{ msg string }

type fatal struct{}

func (*fakeTB) Helper() {}
func (f *fakeTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	panic(fatal{})
}

func catch(f func()) (stopped bool) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); !ok {
				panic(r)
			}
			stopped = true
		}
	}()
	f()
	return false
}

func TestWorkspace_failures(t *testing.T) {
	requireTerraform(t)
	tb := &fakeTB{}
	w := New(tb, t.TempDir())
	w.WriteFile("main.tf", `
variable "n" {
  type = number
  validation {
    condition     = var.n > 0
    error_message = "n must be positive."
  }
}
`)
	if !catch(func() { w.Plan("-var", "n=-1") }) || !strings.Contains(tb.msg, "exit 1") || !strings.Contains(tb.msg, "n must be positive.") {
		t.Errorf("a failing plan: %q", tb.msg)
	}
	// Run reports a failure without stopping; Must stops.
	if r := w.Run("plan", "-no-color", "-var", "n=-1"); r.Code != 1 || !strings.Contains(r.Output, "n must be positive.") {
		t.Errorf("Run of a failing plan: exit %d\n%s", r.Code, r.Output)
	}
	if !catch(func() { w.Must([]string{"plan", "-no-color", "-var", "n=-1"}) }) || !strings.Contains(tb.msg, "exit 1 (want [0])") {
		t.Errorf("Must of a failing plan: %q", tb.msg)
	}
	if catch(func() { w.Must([]string{"plan", "-no-color", "-detailed-exitcode", "-var", "n=1"}, 0, 2) }) {
		t.Errorf("Must with exit 0 allowed: %q", tb.msg)
	}
	// A developer's TF_* settings stay out of the workspace.
	t.Setenv("TF_CLI_ARGS_plan", "-var=n=-1")
	if w := New(tb, t.TempDir()); slices.Contains(w.env, "TF_CLI_ARGS_plan=-var=n=-1") {
		t.Error("TF_CLI_ARGS_plan leaked into the workspace")
	}
}
