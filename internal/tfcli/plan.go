package tfcli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"

	tfjson "github.com/hashicorp/terraform-json"
)

// Diagnostic is one warning or error of a plan, as the machine-readable
// `terraform plan -json` stream gives it: terraform-json's Diagnostic and the
// address of the resource or data source that raised it ("" for the
// configuration's own).
type Diagnostic struct {
	tfjson.Diagnostic
	Address string `json:"address,omitempty"`
}

// String is the diagnostic as one paragraph: "Warning: Summary (address)"
// and its detail, indented.
func (d Diagnostic) String() string {
	var sb strings.Builder
	sev := string(d.Severity)
	if sev != "" {
		sev = strings.ToUpper(sev[:1]) + sev[1:] + ": "
	}
	fmt.Fprintf(&sb, "%s%s", sev, d.Summary)
	if d.Address != "" {
		fmt.Fprintf(&sb, " (%s)", d.Address)
	}
	for _, l := range strings.Split(strings.TrimRight(d.Detail, "\n"), "\n") {
		if l != "" {
			sb.WriteString("\n  " + l)
		}
	}
	return sb.String()
}

// Plan is a saved plan: its file in the workspace, its exit code, its
// diagnostics, and the plan itself as `terraform show -json` reads it.
type Plan struct {
	*tfjson.Plan
	// File is the saved plan's name in the workspace, for Apply(File).
	File string
	// Changes is true when plan -detailed-exitcode exited 2.
	Changes     bool
	Diagnostics []Diagnostic
	// Result is the plan command's own run (its output is the JSON stream,
	// never copied to Workspace.Stream).
	Result Result
}

var planSeq atomic.Int64

// devOverridesWarning is the warning every command gives under dev_overrides;
// Plan leaves it out of Diagnostics.
const devOverridesWarning = "Provider development overrides are in effect"

// Plan runs terraform plan -detailed-exitcode -json -out=FILE with args
// (variables, -refresh-only, ...), collects its diagnostics (but the
// dev_overrides warning every plan here has), and reads the
// saved plan back with terraform show -json. A plan that fails (exit 1) fails
// through the TB, naming its error diagnostics.
func (w *Workspace) Plan(args ...string) *Plan {
	w.tb.Helper()
	p := &Plan{File: "tfcli-" + strconv.FormatInt(planSeq.Add(1), 10) + ".tfplan"}
	p.Result = w.run(nil, append([]string{"plan", "-input=false", "-no-color", "-json", "-detailed-exitcode", "-out=" + p.File}, args...))
	diags, err := ParseDiagnostics(p.Result.Output)
	if err != nil {
		w.tb.Fatalf("terraform plan: %v", err)
	}
	for _, d := range diags {
		if d.Summary != devOverridesWarning {
			p.Diagnostics = append(p.Diagnostics, d)
		}
	}
	switch p.Result.Code {
	case 0:
	case 2:
		p.Changes = true
	default:
		var errs []string
		for _, d := range diags {
			if d.Severity == tfjson.DiagnosticSeverityError {
				errs = append(errs, d.String())
			}
		}
		w.tb.Fatalf("terraform plan %s: exit %d:\n%s", strings.Join(args, " "), p.Result.Code, strings.Join(errs, "\n"))
	}
	show := w.must(nil, []string{"show", "-json", p.File})
	p.Plan = &tfjson.Plan{}
	if err := json.Unmarshal([]byte(show.Output), p.Plan); err != nil {
		w.tb.Fatalf("terraform show -json %s: %v", p.File, err)
	}
	return p
}

// Show returns the saved plan as a reviewer reads it: terraform show -no-color FILE.
func (w *Workspace) Show(p *Plan) string {
	w.tb.Helper()
	return w.must(nil, []string{"show", "-no-color", p.File}).Output
}

// ParseDiagnostics returns the diagnostics of a machine-readable UI stream
// (`terraform plan -json`), in order. Lines that are not JSON objects are
// skipped; a JSON line that does not decode is an error.
func ParseDiagnostics(stream string) ([]Diagnostic, error) {
	var out []Diagnostic
	sc := bufio.NewScanner(strings.NewReader(stream))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var msg struct {
			Type       tfjson.LogMessageType `json:"type"`
			Diagnostic Diagnostic            `json:"diagnostic"`
		}
		if err := json.Unmarshal([]byte(line), &msg); err != nil {
			return nil, fmt.Errorf("a line of the JSON stream: %w: %s", err, line)
		}
		if msg.Type == tfjson.MessageTypeDiagnostic {
			out = append(out, msg.Diagnostic)
		}
	}
	return out, sc.Err()
}

// Find returns the diagnostics whose summary is summary.
func (p *Plan) Find(summary string) []Diagnostic {
	var out []Diagnostic
	for _, d := range p.Diagnostics {
		if d.Summary == summary {
			out = append(out, d)
		}
	}
	return out
}

// Summaries returns the summaries of the plan's diagnostics, sorted, each once.
func (p *Plan) Summaries() []string {
	var out []string
	for _, d := range p.Diagnostics {
		if !slices.Contains(out, d.Summary) {
			out = append(out, d.Summary)
		}
	}
	slices.Sort(out)
	return out
}

// ResourceChange returns the planned change of the resource at address, nil
// when the plan has none.
func (p *Plan) ResourceChange(address string) *tfjson.ResourceChange {
	if p.Plan == nil {
		return nil
	}
	for _, rc := range p.ResourceChanges {
		if rc.Address == address {
			return rc
		}
	}
	return nil
}

// PlannedResource returns the planned values of the root module's resource at
// address, nil when there is none.
func (p *Plan) PlannedResource(address string) *tfjson.StateResource {
	if p.Plan == nil || p.PlannedValues == nil || p.PlannedValues.RootModule == nil {
		return nil
	}
	for _, r := range p.PlannedValues.RootModule.Resources {
		if r.Address == address {
			return r
		}
	}
	return nil
}

// Outputs runs terraform output -json and returns the root module's outputs.
func (w *Workspace) Outputs() map[string]*tfjson.StateOutput {
	w.tb.Helper()
	r := w.must(nil, []string{"output", "-json"})
	out := map[string]*tfjson.StateOutput{}
	if err := json.Unmarshal([]byte(r.Output), &out); err != nil {
		w.tb.Fatalf("terraform output -json: %v\n%s", err, Tail(r.Output, 20))
	}
	return out
}
