// Package tfcli drives the real Terraform CLI against the provider built from
// this tree, for the tests, benchmarks and demos that run terraform the way a
// user does.
//
// The provider is built once per process (go build into a temporary
// directory) and reached through a CLI configuration whose dev_overrides
// point registry.terraform.io/tfredis/redis at it, so no `terraform init` is
// needed (init would try the registry, which is unreachable offline); a
// configuration that calls local modules installs them with Get. Every
// command runs with TF_CLI_CONFIG_FILE, TF_IN_AUTOMATION, TF_INPUT=0,
// CHECKPOINT_DISABLE and -no-color where the command takes it; plans are
// saved and read back with `terraform show -json` into terraform-json types,
// and their diagnostics come from the machine-readable `plan -json` stream.
//
// The package knows nothing of Redis: it runs terraform and reads what it
// says.
package tfcli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"
)

// ProviderSource is the provider address the dev_overrides replace (main.go
// serves the provider under this address).
const ProviderSource = "registry.terraform.io/tfredis/redis"

// DefaultTimeout bounds every terraform command unless Workspace.Timeout says
// otherwise.
const DefaultTimeout = 10 * time.Minute

// TB is the part of testing.TB a Workspace uses: a test, a benchmark, or a
// program's own reporter.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

var (
	buildOnce sync.Once
	buildDir  string // holds terraform-provider-redis and terraformrc
	buildErr  error
)

// ModuleRoot is the directory of this repository's go.mod, found from this
// file's path at build time.
func ModuleRoot() (string, error) {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return "", errors.New("tfcli: cannot tell where its source file is")
	}
	root := filepath.Join(filepath.Dir(file), "..", "..")
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		return "", fmt.Errorf("tfcli: no go.mod at %s (built with -trimpath?): %w", root, err)
	}
	return filepath.Abs(root)
}

// CLIConfig builds the provider from the module root the first time it is
// called in this process (go build -o DIR/terraform-provider-redis .) and
// returns the path of a CLI configuration file whose dev_overrides point
// ProviderSource at DIR. Later calls return the same file, or the same error.
func CLIConfig() (string, error) {
	buildOnce.Do(func() { buildDir, buildErr = build() })
	if buildErr != nil {
		return "", buildErr
	}
	return filepath.Join(buildDir, "terraformrc"), nil
}

// ProviderBinary is the path of the provider CLIConfig built.
func ProviderBinary() (string, error) {
	if _, err := CLIConfig(); err != nil {
		return "", err
	}
	return filepath.Join(buildDir, "terraform-provider-redis"), nil
}

func build() (string, error) {
	if _, err := exec.LookPath("terraform"); err != nil {
		return "", fmt.Errorf("tfcli: terraform not found on PATH: %w", err)
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp("", "tfcli-provider-")
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "terraform-provider-redis"), ".")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		return "", fmt.Errorf("tfcli: go build of the provider in %s: %v\n%s", root, err, out)
	}
	rc := fmt.Sprintf(`# Written by internal/tfcli: use the provider built from this tree.
provider_installation {
  dev_overrides {
    %q = %q
  }
  direct {}
}
`, ProviderSource, dir)
	if err := os.WriteFile(filepath.Join(dir, "terraformrc"), []byte(rc), 0o600); err != nil {
		_ = os.RemoveAll(dir)
		return "", err
	}
	return dir, nil
}

// Cleanup removes the provider build, if there is one. Call it once, from
// TestMain or at the end of a program, after the last terraform command.
func Cleanup() {
	if buildDir != "" {
		_ = os.RemoveAll(buildDir)
	}
}

// Workspace is one Terraform working directory and the environment its
// commands run in.
type Workspace struct {
	// Dir is the working directory (terraform -chdir=Dir).
	Dir string
	// Timeout bounds each command; zero means DefaultTimeout.
	Timeout time.Duration
	// Stream, when set, receives each command's output as it runs (a demo
	// shows it); the Result keeps it either way.
	Stream io.Writer

	tb  TB
	env []string
}

// New returns a workspace in dir (created if missing) that runs terraform
// with the provider built from this tree. env adds or replaces variables
// ("NAME=value", e.g. REDIS_PASSWORD); every TF_* variable of this process
// is left out, so a developer's TF_LOG or TF_CLI_CONFIG_FILE does not leak
// in. Failures to build or to run terraform at all go to tb.Fatalf.
func New(tb TB, dir string, env ...string) *Workspace {
	tb.Helper()
	rc, err := CLIConfig()
	if err != nil {
		tb.Fatalf("%v", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		tb.Fatalf("tfcli: %v", err)
	}
	set := map[string]bool{}
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		set[name] = true
	}
	w := &Workspace{Dir: dir, tb: tb}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(name, "TF_") || set[name] {
			continue
		}
		w.env = append(w.env, kv)
	}
	w.env = append(w.env,
		"TF_CLI_CONFIG_FILE="+rc,
		"TF_IN_AUTOMATION=1",
		"TF_INPUT=0",
		"CHECKPOINT_DISABLE=1",
	)
	w.env = append(w.env, env...)
	return w
}

// WriteFile writes a file (a configuration, a tfvars) into the workspace.
func (w *Workspace) WriteFile(name, body string) {
	w.tb.Helper()
	if err := os.WriteFile(filepath.Join(w.Dir, name), []byte(body), 0o600); err != nil {
		w.tb.Fatalf("tfcli: %v", err)
	}
}

// CopyFiles copies the named files of dir (e.g. an example's *.tf) into the
// workspace.
func (w *Workspace) CopyFiles(dir string, names ...string) {
	w.tb.Helper()
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			w.tb.Fatalf("tfcli: %v", err)
		}
		w.WriteFile(n, string(b))
	}
}

// Result is what one terraform command did.
type Result struct {
	Args    []string
	Code    int    // exit code
	Output  string // stdout and stderr, interleaved
	Started time.Time
	Took    time.Duration
}

// Err is nil when the command exited with one of the codes in ok (0 when
// none is given), else an error with the command and the tail of its output.
func (r Result) Err(ok ...int) error {
	if len(ok) == 0 {
		ok = []int{0}
	}
	for _, c := range ok {
		if r.Code == c {
			return nil
		}
	}
	return fmt.Errorf("terraform %s: exit %d (want %v) after %s:\n%s",
		strings.Join(r.Args, " "), r.Code, ok, r.Took.Round(time.Millisecond), Tail(r.Output, 40))
}

// Run runs terraform -chdir=Dir args... and returns what it did, whatever
// its exit code; only a terraform that could not run (or ran past the
// timeout) fails through the TB.
func (w *Workspace) Run(args ...string) Result {
	w.tb.Helper()
	return w.run(w.Stream, args)
}

// run runs terraform, its output also going to stream when that is not nil.
func (w *Workspace) run(stream io.Writer, args []string) Result {
	w.tb.Helper()
	r, err := w.exec(stream, args)
	if err != nil {
		w.tb.Fatalf("%v", err)
	}
	return r
}

// Exec runs terraform like Run but reports a terraform that could not run
// (or ran past the timeout) as an error instead of through the TB: for
// goroutines, which must not call Fatalf.
func (w *Workspace) Exec(args ...string) (Result, error) {
	return w.exec(w.Stream, args)
}

func (w *Workspace) exec(stream io.Writer, args []string) (Result, error) {
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := w.Command(ctx, args...)
	var buf bytes.Buffer
	var out io.Writer = &buf
	if stream != nil {
		out = io.MultiWriter(&buf, stream)
	}
	cmd.Stdout, cmd.Stderr = out, out
	r := Result{Args: args, Started: time.Now()}
	err := cmd.Run()
	r.Took, r.Output = time.Since(r.Started), buf.String()
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		return r, fmt.Errorf("terraform %s: no answer within %s:\n%s", strings.Join(args, " "), timeout, Tail(r.Output, 40))
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
	case err != nil:
		return r, fmt.Errorf("terraform %s: %w", strings.Join(args, " "), err)
	}
	return r, nil
}

// Command returns terraform -chdir=Dir args... in the workspace's
// environment, not started, for a caller that watches the process itself.
func (w *Workspace) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "terraform", append([]string{"-chdir=" + w.Dir}, args...)...)
	cmd.Env = w.env
	return cmd
}

// Must runs terraform and fails through the TB unless it exits with one of
// the codes in ok (0 when none is given).
func (w *Workspace) Must(args []string, ok ...int) Result {
	w.tb.Helper()
	return w.must(w.Stream, args, ok...)
}

func (w *Workspace) must(stream io.Writer, args []string, ok ...int) Result {
	w.tb.Helper()
	r := w.run(stream, args)
	if err := r.Err(ok...); err != nil {
		w.tb.Fatalf("%v", err)
	}
	return r
}

// Get installs the modules the configuration calls (terraform get), the
// part of init that works offline.
func (w *Workspace) Get() Result {
	w.tb.Helper()
	return w.Must([]string{"get", "-no-color"})
}

// Apply runs terraform apply -auto-approve with args (variables, or a saved
// plan's file name) and fails through the TB unless it succeeds.
func (w *Workspace) Apply(args ...string) Result {
	w.tb.Helper()
	return w.Must(ApplyArgs(args...))
}

// ApplyArgs are the arguments Apply passes: for a Run that may fail.
func ApplyArgs(args ...string) []string {
	return append([]string{"apply", "-auto-approve", "-input=false", "-no-color"}, args...)
}

// Destroy runs terraform destroy -auto-approve with args and fails through
// the TB unless it succeeds.
func (w *Workspace) Destroy(args ...string) Result {
	w.tb.Helper()
	return w.Must(DestroyArgs(args...))
}

// DestroyArgs are the arguments Destroy passes: for a clean-up that must not
// fail the test again.
func DestroyArgs(args ...string) []string {
	return append([]string{"destroy", "-auto-approve", "-input=false", "-no-color"}, args...)
}

// Tail returns the last lines of s.
func Tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}
