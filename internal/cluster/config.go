package cluster

import (
	"context"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Settings declared with the config attribute: applied with CONFIG SET on
// every declared node, compared in the form CONFIG GET returns, persisted
// with CONFIG REWRITE where the node was started from a config file.
// Settings nobody declared are never changed.

// secretSettings hold credentials: their values would sit in the state in
// plain text, and CONFIG GET would read the live secret into it.
var secretSettings = map[string]string{
	"requirepass":              "",
	"masterauth":               "the nodes' own configuration files",
	"masteruser":               "the nodes' own configuration files",
	"tls-key-file-pass":        "the nodes' own configuration files",
	"tls-client-key-file-pass": "the nodes' own configuration files",
}

// SettingProblem says why a declared setting cannot be applied.
type SettingProblem int

const (
	// SettingCredential: the setting holds a credential (Where says how to
	// set it instead: "" for the password the cluster is managed with and
	// its ACL users).
	SettingCredential SettingProblem = iota
	// SettingBadName: not a setting name CONFIG GET knows the form of.
	SettingBadName
	// SettingNotRuntime: the node refuses CONFIG SET of it (Err).
	SettingNotRuntime
	// SettingUnknown: the node does not know it.
	SettingUnknown
	// SettingStoredAs: the node stores the value in another form (Stored).
	SettingStoredAs
)

// SettingError is a declared setting that cannot be applied as declared.
type SettingError struct {
	Setting string
	Problem SettingProblem
	Node    string // the node that refused it; "" when none was asked
	Where   string // SettingCredential: where to set it instead
	Value   string // SettingStoredAs: the value declared
	Stored  string // SettingStoredAs: the form the node stores it in
	Err     error  // SettingNotRuntime: the node's refusal
}

func (e *SettingError) Error() string {
	return e.Text("the declared settings")
}

// Text says what is wrong, calling the declared settings declared (the
// provider names its attribute).
func (e *SettingError) Text(declared string) string {
	switch e.Problem {
	case SettingCredential:
		if e.Where == "" {
			return fmt.Sprintf("setting %q holds a credential: declared settings are stored in plain text; set it through the password the cluster is managed with and its ACL users instead", e.Setting)
		}
		return fmt.Sprintf("setting %q holds a credential: declared settings are stored in plain text; set it through %s instead", e.Setting, e.Where)
	case SettingBadName:
		return fmt.Sprintf("setting %q is not a setting name: use the lower-case name CONFIG GET knows (letters, digits and dashes, no patterns), e.g. \"cluster-node-timeout\"", e.Setting)
	case SettingNotRuntime:
		return fmt.Sprintf("setting %q cannot be changed at runtime on %s (%v): set it in the nodes' configuration files and restart them, or remove it from %s", e.Setting, e.Node, e.Err, declared)
	case SettingUnknown:
		return fmt.Sprintf("node %s does not know setting %q (CONFIG GET returns nothing): remove it from %s, or upgrade the node", e.Node, e.Setting, declared)
	}
	return fmt.Sprintf("the node stores %q as %q: declare %s = %q in %s (values are compared in the form CONFIG GET returns)", e.Value, e.Stored, e.Setting, e.Stored, declared)
}

func (e *SettingError) Unwrap() error { return e.Err }

var settingName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// CheckSettingNames checks declared setting names without asking a node:
// lower case letters, digits and dashes (CONFIG GET takes glob patterns,
// so "*" or "?" would read many settings), and no credential. Pure.
func CheckSettingNames(cfg map[string]string) error {
	var errs Errors
	for _, k := range sortedKeys(cfg) {
		if where, ok := secretSettings[k]; ok {
			errs = append(errs, &SettingError{Setting: k, Problem: SettingCredential, Where: where})
			continue
		}
		if !settingName.MatchString(k) {
			errs = append(errs, &SettingError{Setting: k, Problem: SettingBadName})
		}
	}
	return errs.Err()
}

// ValidateSettings refuses, before any change, settings the nodes do not
// know or cannot change at runtime. It asks the first of addrs that
// answers: CONFIG GET of each name (an unknown name returns nothing), then
// CONFIG SET of each known setting to the value the node already has. That
// changes nothing (Redis 7 skips applying a value that did not change), but
// an immutable or protected setting answers with an error, which is the
// only way a server tells. When no node answers it returns nil: apply
// reports the unreachable nodes.
func ValidateSettings(ctx context.Context, pool *Pool, addrs []string, cfg map[string]string) error {
	if err := CheckSettingNames(cfg); err != nil {
		return err
	}
	keys := sortedKeys(cfg)
	if len(keys) == 0 {
		return nil
	}
	for _, addr := range addrs {
		cur, err := readSettings(ctx, pool, addr, keys)
		if err != nil {
			if IsUnreachable(err) {
				continue
			}
			return err
		}
		var errs Errors
		var known []string
		for _, k := range keys {
			if _, ok := cur[k]; !ok {
				errs = append(errs, fmt.Errorf("setting %q is unknown to %s (CONFIG GET returns nothing for it): check its spelling and that this server version has it", k, addr))
				continue
			}
			known = append(known, k)
		}
		c := pool.Client(addr)
		sets := make([]*redis.StatusCmd, len(known))
		sctx, cancel := context.WithTimeout(ctx, 2*pool.DialTimeout())
		defer cancel()
		_, _ = c.Pipelined(sctx, func(p redis.Pipeliner) error {
			for i, k := range known {
				sets[i] = p.ConfigSet(ctx, k, cur[k])
			}
			return nil
		})
		for i, k := range known {
			if e := sets[i].Err(); e != nil {
				if classify(e) != ErrOther {
					// Unreachable, refused by ACL or TLS: not the setting's fault.
					return nodeErr(addr, "CONFIG SET "+k, e)
				}
				errs = append(errs, &SettingError{Setting: k, Problem: SettingNotRuntime, Node: addr, Err: e})
			}
		}
		return errs.Err()
	}
	return nil
}

// readSettings reads keys on one node with CONFIG GET, one round trip.
func readSettings(ctx context.Context, pool *Pool, addr string, keys []string) (map[string]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*pool.DialTimeout())
	defer cancel()
	gets := make([]*redis.MapStringStringCmd, len(keys))
	_, _ = pool.Client(addr).Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			gets[i] = p.ConfigGet(ctx, k)
		}
		return nil
	})
	out := map[string]string{}
	for i, k := range keys {
		if err := gets[i].Err(); err != nil {
			return nil, nodeErr(addr, "CONFIG GET "+k, err)
		}
		if v, ok := gets[i].Val()[k]; ok {
			out[k] = v
		}
	}
	return out, nil
}

// ReadSettings reads keys on one node with CONFIG GET; a key the node does
// not know is absent from the result.
func ReadSettings(ctx context.Context, pool *Pool, addr string, keys []string) (map[string]string, error) {
	return readSettings(ctx, pool, addr, keys)
}

// SettingsDrift compares a node's settings (as read) with the declared
// ones and returns the declared values that differ, by name. A declared
// setting the node does not know is an error naming the node. Pure.
func SettingsDrift(addr string, cfg, read map[string]string) (map[string]string, error) {
	diff := map[string]string{}
	var errs Errors
	for _, k := range sortedKeys(cfg) {
		v, ok := read[k]
		switch {
		case !ok:
			errs = append(errs, &SettingError{Setting: k, Problem: SettingUnknown, Node: addr})
		case v != cfg[k]:
			diff[k] = cfg[k]
		}
	}
	return diff, errs.Err()
}

// settingsWhy says in words how a node's settings differ from the
// declaration, naming the node and each setting.
func settingsWhy(addr string, diff, read map[string]string) string {
	parts := make([]string, 0, len(diff))
	for _, k := range sortedKeys(diff) {
		parts = append(parts, fmt.Sprintf("%s is %q, declared %q", k, read[k], diff[k]))
	}
	return fmt.Sprintf("%s: setting %s; apply sets it with CONFIG SET", addr, strings.Join(parts, ", "))
}

// configSteps plans CONFIG SET for every declared node whose settings,
// as observed, differ from d.Config. A node observed without its
// settings (the observation did not ask for them) gets no step.
func configSteps(d Desired, obs *Observed) ([]Step, error) {
	if len(d.Config) == 0 {
		return nil, nil
	}
	var steps []Step
	var errs Errors
	for _, a := range d.Addrs() {
		n := obs.Node(a)
		if !n.OK() {
			continue
		}
		if n.Config == nil {
			if n.ConfigErr != nil {
				errs = append(errs, fmt.Errorf("cannot read the settings of %s: %v (the provider's ACL user needs +config|get and +config|set)", a, n.ConfigErr))
			}
			continue
		}
		diff, err := SettingsDrift(a, d.Config, n.Config)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(diff) > 0 {
			steps = append(steps, Step{Kind: StepConfigSet, Addr: a, Settings: diff, Why: settingsWhy(a, diff, n.Config)})
		}
	}
	return steps, errs.Err()
}

// readSettings tells whether every node read holds the settings keys (or
// the reason they could not be read).
func (o *Observed) readSettings(keys []string) bool {
	if len(keys) == 0 {
		return true
	}
	for _, n := range o.Nodes {
		if n.OK() && n.Config == nil && n.ConfigErr == nil {
			return false
		}
	}
	return true
}

// ConfigKeys lists the declared settings' names, sorted.
func (d Desired) ConfigKeys() []string { return sortedKeys(d.Config) }

// SetSettings applies settings on one node in one round trip: CONFIG SET
// of each, CONFIG GET to read them back, and CONFIG REWRITE when rewrite
// is true (the node has a config file). A value the node stores in
// another form than declared (CONFIG SET maxmemory 1gb reads back as
// 1073741824) is an error that names the form to declare: compared as
// declared, it would show as drift forever.
func SetSettings(ctx context.Context, pool *Pool, addr string, settings map[string]string, rewrite bool) error {
	keys := sortedKeys(settings)
	if len(keys) == 0 {
		return nil
	}
	c := pool.Client(addr)
	sets := make([]*redis.StatusCmd, len(keys))
	gets := make([]*redis.MapStringStringCmd, len(keys))
	var rw *redis.StatusCmd
	_, _ = c.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, k := range keys {
			sets[i] = p.ConfigSet(ctx, k, settings[k])
		}
		for i, k := range keys {
			gets[i] = p.ConfigGet(ctx, k)
		}
		if rewrite {
			rw = p.ConfigRewrite(ctx)
		}
		return nil
	})
	var errs Errors
	for i, k := range keys {
		if err := sets[i].Err(); err != nil {
			errs = append(errs, nodeErr(addr, "CONFIG SET "+k, err))
			continue
		}
		if err := gets[i].Err(); err != nil {
			errs = append(errs, nodeErr(addr, "CONFIG GET "+k, err))
			continue
		}
		if got := gets[i].Val()[k]; got != settings[k] {
			errs = append(errs, &NodeError{Addr: addr, Kind: ErrOther, Op: "CONFIG SET " + k,
				Err: &SettingError{Setting: k, Problem: SettingStoredAs, Node: addr, Value: settings[k], Stored: got}})
		}
	}
	if rw != nil && len(errs) == 0 {
		if err := rw.Err(); err != nil {
			errs = append(errs, &NodeError{Addr: addr, Kind: ErrOther, Op: "CONFIG REWRITE",
				Err: fmt.Errorf("%v: the settings are applied but not saved to the node's config file, so a restart loses them; make the file writable by redis-server and apply again", err)})
		}
	}
	return errs.Err()
}

// configSet runs a StepConfigSet.
func (e *Executor) configSet(ctx context.Context, obs *Observed, s Step) error {
	n := obs.Node(s.Addr)
	rewrite := n != nil && n.ConfigFile != ""
	if err := SetSettings(ctx, e.Pool, s.Addr, s.Settings, rewrite); err != nil {
		return err
	}
	e.info(ctx, s.String(), map[string]any{"address": s.Addr, "node_id": obs.ID(s.Addr), "persisted": rewrite})
	return nil
}

// Unpersisted lists the declared nodes whose settings CONFIG REWRITE
// cannot persist (no config file), sorted: a restart loses what config
// set there. Empty when no setting is declared.
func Unpersisted(d Desired, obs *Observed) []string {
	if len(d.Config) == 0 {
		return nil
	}
	var out []string
	for _, a := range d.Addrs() {
		if n := obs.Node(a); n.OK() && n.ConfigFile == "" {
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return out
}
