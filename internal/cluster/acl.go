package cluster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

// Redis keeps ACL users on each node and never copies them to the other
// members of a cluster (redis#7988, valkey#1193): a replica promoted by a
// failover lacks a user that was only set on its master. This file sets,
// reads, compares and deletes one ACL user on every member.
//
// Comparing rules: ACL GETUSER prints a user in an engine-specific form
// (Redis 6.0 lists keys, 7.0 prints them as one string and adds selectors
// and %R~/%W~ key permissions), so declared rules are never parsed here.
// Instead, after apply sets the user, the form GETUSER prints on each node
// (everything but the passwords, rendered deterministically) is recorded
// per engine version (INFO redis_version); a later read compares each
// node's form with the one recorded for its version. A node whose version
// has no recorded form (upgraded since) is compared with every recorded
// form and shows as drift when none matches; the next apply re-records.
//
// Comparing passwords: GETUSER lists the SHA-256 of each password. The
// caller keeps fingerprints of the expected hashes (PasswordFingerprint),
// never the plaintext nor the hashes ACL stores.

// ACLUser is the declared user.
type ACLUser struct {
	Name  string
	Rules []string
	// Password is the plaintext password (write-only in Terraform), ""
	// when none. It is registered as a secret: errors redact it.
	Password string
	// Hashes are SHA-256 hashes (64 hex digits) of passwords, set with ACL's
	// "#<hash>" rule.
	Hashes []string
}

// HashPassword is the SHA-256 of a password in hex, as ACL GETUSER lists it.
func HashPassword(pw string) string {
	sum := sha256.Sum256([]byte(pw))
	return hex.EncodeToString(sum[:])
}

// fingerprintSalt keeps PasswordFingerprint apart from the hash Redis stores.
const fingerprintSalt = "terraform-provider-redis/acl-password-fingerprint/v1\x00"

// PasswordFingerprint derives from a password hash (as ACL GETUSER lists
// it) the value Terraform keeps to recognize it: never the plaintext, and
// not the hash Redis authenticates with.
func PasswordFingerprint(hash string) string {
	sum := sha256.Sum256([]byte(fingerprintSalt + strings.ToLower(hash)))
	return hex.EncodeToString(sum[:])
}

// Fingerprints is the sorted set of PasswordFingerprint of u's passwords.
func (u ACLUser) Fingerprints() []string {
	var out []string
	if u.Password != "" {
		out = append(out, PasswordFingerprint(HashPassword(u.Password)))
	}
	for _, h := range u.Hashes {
		out = append(out, PasswordFingerprint(h))
	}
	return sortedSet(out)
}

func sortedSet(in []string) []string {
	seen := map[string]bool{}
	out := []string{}
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

var hashRe = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

// ValidateACLName checks a user name as ACL SETUSER would.
func ValidateACLName(name string) error {
	if name == "" {
		return errors.New("the user name is empty")
	}
	if strings.ContainsAny(name, " \t\r\n\x00") {
		return fmt.Errorf("user name %q contains a space or a control character, which ACL refuses", name)
	}
	return nil
}

// ValidateACLHash checks a password hash: 64 hex digits.
func ValidateACLHash(h string) error {
	if !hashRe.MatchString(h) {
		return errors.New("not a SHA-256 hash: want 64 hexadecimal digits (for example the output of `printf %s \"$PASSWORD\" | sha256sum`); the value is not shown")
	}
	return nil
}

// RuleError is a rule refused, by the provider or by a node; Index is its
// position in rules.
type RuleError struct {
	Index int
	Rule  string // "" when it must not be shown (it holds a password)
	Node  string // the node that refused it, "" when refused before any was asked
	Why   string
	// Password tells that the rule sets a password (RulePassword,
	// RuleHash) or lets the user in without one while a password is set
	// (RuleNopass); RuleOther for any other problem.
	Password RuleProblem
}

// RuleProblem is the password problem of a rule.
type RuleProblem int

const (
	RuleOther RuleProblem = iota
	// RulePassword: the rule sets or removes a password in clear text.
	RulePassword
	// RuleHash: the rule sets or removes a password hash.
	RuleHash
	// RuleNopass: nopass, while a password is set too.
	RuleNopass
)

func (e *RuleError) Error() string { return e.Text(fmt.Sprintf("rule %d", e.Index), e.Why) }

// Text says what is wrong, calling the rule ref and giving why as the
// reason (the provider names its attribute, and where passwords go).
func (e *RuleError) Text(ref, why string) string {
	rule := ref
	if e.Rule != "" {
		rule += fmt.Sprintf(" %q", e.Rule)
	}
	if e.Node != "" {
		return fmt.Sprintf("%s is refused by node %s: %s", rule, e.Node, why)
	}
	return fmt.Sprintf("%s %s", rule, why)
}

// ValidateACLRules checks rules without asking a node: no empty rule, no
// rule with spaces outside a selector (ACL SETUSER takes one rule per
// argument), no password in a rule (the rules are stored in state and
// shown in plans: passwords are given apart), and no
// nopass together with a password. It never quotes a rule that looks like
// a password.
func ValidateACLRules(rules []string, withPassword bool) error {
	var errs Errors
	for i, r := range rules {
		t := strings.TrimSpace(r)
		switch {
		case t == "":
			errs = append(errs, &RuleError{Index: i, Why: "is empty"})
		case strings.HasPrefix(t, ">") || strings.HasPrefix(t, "<"):
			errs = append(errs, &RuleError{Index: i, Password: RulePassword, Why: "sets or removes a password in clear text (it starts with '>' or '<'); the value is not shown. " +
				"Rules are stored in plain text: give the password, or its SHA-256 hash, apart from the rules"})
		case strings.HasPrefix(t, "#") || strings.HasPrefix(t, "!"):
			errs = append(errs, &RuleError{Index: i, Password: RuleHash, Why: "sets or removes a password hash (it starts with '#' or '!'); the value is not shown. Give SHA-256 hashes apart from the rules instead"})
		case t != r:
			errs = append(errs, &RuleError{Index: i, Rule: r, Why: "has leading or trailing spaces: remove them"})
		case !strings.HasPrefix(t, "(") && strings.ContainsAny(t, " \t\n"):
			errs = append(errs, &RuleError{Index: i, Rule: r, Why: "holds several words: ACL takes one rule per list element (split it, e.g. [\"~app:*\", \"+get\"]); only a selector \"(...)\" may hold spaces"})
		case strings.EqualFold(t, "nopass") && withPassword:
			errs = append(errs, &RuleError{Index: i, Rule: r, Password: RuleNopass, Why: "lets the user in without a password, and a password or hash is set too: keep one of them"})
		}
	}
	return errs.Err()
}

// ACLNode is one member as read by ReadACLUser.
type ACLNode struct {
	Addr    string
	Err     error  // the node could not be read
	Version string // redis_version
	Exists  bool   // the user exists on the node
	// Form is the user's rules as ACL GETUSER prints them on this engine,
	// without its passwords (see the comment at the top of this file).
	Form   string
	Hashes []string // SHA-256 of its passwords, sorted
	// Persistence, from CONFIG GET aclfile and INFO config_file.
	ACLFile    string
	ConfigFile string
}

// Persistence tells how the node keeps ACL changes across restarts:
// "aclfile" (ACL SAVE), "config" (CONFIG REWRITE) or "" (it does not).
func (n *ACLNode) Persistence() string {
	switch {
	case n.ACLFile != "":
		return "aclfile"
	case n.ConfigFile != "":
		return "config"
	}
	return ""
}

// Members finds every member of a cluster from seeds: each seed that
// answers and every node a reachable seed knows, by the address it
// announces (mapped with address_map), deduplicated by node ID. A seed
// running without cluster-enabled is a member by itself. A seed that
// answers wrongly (credentials, TLS, permissions) is an error naming it;
// an unreachable one is skipped, and an error only when none answers.
// The returned addresses are sorted.
func ClusterMembers(ctx context.Context, pool *Pool, seeds []string) ([]string, error) {
	obs := Observe(ctx, pool, seeds, true)
	var errs, dead Errors
	members := map[string]bool{}
	ids := map[string]bool{}
	for _, s := range seeds {
		n := obs.Node(s)
		var ne *NodeError
		switch {
		case n.OK():
			members[s] = true
			ids[n.ID] = true
		case errors.As(n.Err, &ne) && ne.Kind == ErrNotCluster:
			members[s] = true
		case IsUnreachable(n.Err):
			dead = append(dead, n.Err)
		default:
			errs = append(errs, n.Err)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	if len(members) == 0 {
		return nil, &NoSeedError{Seeds: len(seeds), Errs: dead}
	}
	for _, s := range seeds {
		for _, l := range obs.Node(s).Known() {
			if ids[l.ID] || l.Addr() == "" {
				continue
			}
			ids[l.ID] = true
			members[pool.AnnouncedAddress(l.Addr())] = true
		}
	}
	return sortedKeys(members), nil
}

// ReadACLUser reads user name on every address concurrently, one
// pipelined round trip each (INFO server, CONFIG GET aclfile, ACL GETUSER).
func ReadACLUser(ctx context.Context, pool *Pool, addrs []string, name string) map[string]*ACLNode {
	out := make(map[string]*ACLNode, len(addrs))
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := readACLNode(ctx, pool, a, name)
			mu.Lock()
			out[a] = n
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

func readACLNode(ctx context.Context, pool *Pool, addr, name string) *ACLNode {
	n := &ACLNode{Addr: addr}
	ctx, cancel := context.WithTimeout(ctx, 2*pool.DialTimeout())
	defer cancel()
	c := pool.Client(addr)
	var server *redis.StringCmd
	var aclfile *redis.MapStringStringCmd
	var user *redis.Cmd
	_, err := c.Pipelined(ctx, func(p redis.Pipeliner) error {
		server = p.Info(ctx, "server")
		aclfile = p.ConfigGet(ctx, "aclfile")
		user = p.Do(ctx, "ACL", "GETUSER", name)
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		switch {
		case server.Err() != nil:
			n.Err = nodeErr(addr, "", server.Err())
		case aclfile.Err() != nil:
			n.Err = nodeErr(addr, "CONFIG GET aclfile", aclfile.Err())
		case user.Err() != nil && !errors.Is(user.Err(), redis.Nil):
			n.Err = nodeErr(addr, "ACL GETUSER", user.Err())
		default:
			n.Err = nodeErr(addr, "connect", err)
		}
		return n
	}
	info := ParseInfo(server.Val())
	n.Version = info["redis_version"]
	n.ConfigFile = info["config_file"]
	n.ACLFile = aclfile.Val()["aclfile"]
	if errors.Is(user.Err(), redis.Nil) || user.Val() == nil {
		return n
	}
	form, hashes, perr := ParseACLUser(user.Val())
	if perr != nil {
		n.Err = &NodeError{Addr: addr, Kind: ErrOther, Op: "ACL GETUSER", Err: perr}
		return n
	}
	n.Exists, n.Form, n.Hashes = true, form, hashes
	return n
}

// ParseACLUser turns an ACL GETUSER reply (RESP2: alternating field names
// and values) into the user's form without passwords, and its password
// hashes, sorted. The form renders every other field, sorted by name, so
// that one engine prints one user the same way every time.
func ParseACLUser(reply any) (form string, hashes []string, err error) {
	fields, ok := reply.([]any)
	if !ok || len(fields)%2 != 0 {
		return "", nil, fmt.Errorf("unexpected ACL GETUSER reply %T of %d elements", reply, len(fields))
	}
	parts := make([]string, 0, len(fields)/2)
	for i := 0; i < len(fields); i += 2 {
		k, ok := fields[i].(string)
		if !ok {
			return "", nil, fmt.Errorf("unexpected ACL GETUSER field name %v", fields[i])
		}
		if k == "passwords" {
			list, _ := fields[i+1].([]any)
			for _, h := range list {
				if s, ok := h.(string); ok {
					hashes = append(hashes, strings.ToLower(s))
				}
			}
			continue
		}
		parts = append(parts, k+"="+renderACLValue(fields[i+1]))
	}
	sort.Strings(parts)
	return strings.Join(parts, "; "), sortedSet(hashes), nil
}

func renderACLValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "nil"
	case string:
		return fmt.Sprintf("%q", x)
	case []any:
		items := make([]string, len(x))
		for i, e := range x {
			items[i] = renderACLValue(e)
		}
		return "[" + strings.Join(items, " ") + "]"
	default:
		return fmt.Sprint(x)
	}
}

// Member statuses, as the redis_acl_user resource shows them per node.
const (
	ACLInSync          = "in_sync"
	ACLMissing         = "missing"
	ACLRulesDiffer     = "rules_differ"
	ACLPasswordsDiffer = "passwords_differ"
	ACLBothDiffer      = "rules_and_passwords_differ"
	ACLUnreachable     = "unreachable"
)

// ACLExpect is what apply left: the form of the rules per engine version
// and the fingerprints of the passwords.
type ACLExpect struct {
	Forms        map[string]string `json:"forms"`
	Fingerprints []string          `json:"fingerprints"`
}

// ACLStatus compares one node's read with what apply left. Pure.
func ACLStatus(want ACLExpect, n *ACLNode) string {
	switch {
	case n == nil || n.Err != nil:
		return ACLUnreachable
	case !n.Exists:
		return ACLMissing
	}
	rulesOK := false
	if f, ok := want.Forms[n.Version]; ok {
		rulesOK = f == n.Form
	} else {
		for _, f := range want.Forms {
			rulesOK = rulesOK || f == n.Form
		}
	}
	var got []string
	for _, h := range n.Hashes {
		got = append(got, PasswordFingerprint(h))
	}
	pwOK := strings.Join(sortedSet(got), ",") == strings.Join(sortedSet(want.Fingerprints), ",")
	switch {
	case rulesOK && pwOK:
		return ACLInSync
	case pwOK:
		return ACLRulesDiffer
	case rulesOK:
		return ACLPasswordsDiffer
	}
	return ACLBothDiffer
}

// ACLDrift describes, one line per node in address order, every member
// whose status is not in sync.
func ACLDrift(name string, status map[string]string) []string {
	var out []string
	for _, a := range sortedKeys(status) {
		switch status[a] {
		case ACLInSync:
		case ACLMissing:
			out = append(out, fmt.Sprintf("%s: user %q is missing (a node that joined later, was reset, or lost it in a restart)", a, name))
		case ACLRulesDiffer:
			out = append(out, fmt.Sprintf("%s: user %q has other rules than apply set", a, name))
		case ACLPasswordsDiffer:
			out = append(out, fmt.Sprintf("%s: user %q has other passwords than apply set", a, name))
		case ACLBothDiffer:
			out = append(out, fmt.Sprintf("%s: user %q has other rules and other passwords than apply set", a, name))
		case ACLUnreachable:
			out = append(out, fmt.Sprintf("%s: could not be read", a))
		}
	}
	return out
}

// CheckACLRules asks one reachable node of each engine version in nodes
// whether it accepts rules, before any node is changed: it creates a
// throw-away user (disabled, without password, named
// terraform-rules-check-<random>) with the rules, reads it back and deletes
// it. Redis 6.0 has no side-effect-free way to check rules (ACL DRYRUN, 7.0+,
// checks commands, not rules; 6.0 even keeps a user created by a refused
// SETUSER), hence the throw-away user, which is always deleted. A refused
// rule is a *RuleError naming the rule and the node.
func CheckACLRules(ctx context.Context, pool *Pool, nodes map[string]*ACLNode, rules []string) error {
	byVersion := map[string]string{}
	for _, a := range sortedKeys(nodes) {
		n := nodes[a]
		if n.Err != nil {
			continue
		}
		if _, ok := byVersion[n.Version]; !ok {
			byVersion[n.Version] = a
		}
	}
	var errs Errors
	for _, v := range sortedKeys(byVersion) {
		if err := checkRulesOn(ctx, pool, byVersion[v], v, rules); err != nil {
			errs = append(errs, err)
		}
	}
	return errs.Err()
}

var modifierRe = regexp.MustCompile(`(?s)modifier '(.*)': (.*)$`)

func checkRulesOn(ctx context.Context, pool *Pool, addr, version string, rules []string) error {
	var b [6]byte
	_, _ = rand.Read(b[:])
	scratch := "terraform-rules-check-" + hex.EncodeToString(b[:])
	c := pool.Client(addr)
	args := []any{"ACL", "SETUSER", scratch, "reset"}
	for _, r := range rules {
		args = append(args, r)
	}
	// Last, so that an "on" among the rules cannot enable it.
	args = append(args, "off", "resetpass")
	err := c.Do(ctx, args...).Err()
	// Always delete it: Redis 6.0 creates the user even when a rule is refused.
	if derr := c.Do(context.WithoutCancel(ctx), "ACL", "DELUSER", scratch).Err(); derr != nil && err == nil {
		return nodeErr(addr, "ACL DELUSER (of the throw-away user "+scratch+" that checked the rules; delete it by hand)", derr)
	}
	if err == nil {
		return nil
	}
	if !isRedisError(err) || isPermission(err) {
		return nodeErr(addr, "ACL SETUSER (checking the rules)", err)
	}
	msg := strings.TrimPrefix(err.Error(), "ERR ")
	node := addr
	if version != "" {
		node += " (redis " + version + ")"
	}
	if m := modifierRe.FindStringSubmatch(msg); m != nil {
		for i, r := range rules {
			if r == m[1] {
				return &RuleError{Index: i, Rule: r, Node: node, Why: m[2]}
			}
		}
		// A selector's inner rule, or a rule the engine rewrote.
		for i, r := range rules {
			if strings.Contains(r, m[1]) {
				return &RuleError{Index: i, Rule: r, Node: node, Why: fmt.Sprintf("%q: %s", m[1], m[2])}
			}
		}
	}
	return fmt.Errorf("the rules are refused by node %s: %s", node, msg)
}

// SetACLUser sets u on every node in nodes that could be read (ACL SETUSER
// name reset <rules> <passwords>), then persists it where the node can:
// ACL SAVE with an aclfile, CONFIG REWRITE with a config file. It returns
// the nodes that keep it only in memory (sorted), and an error naming each
// node that failed. Nodes that could not be read are skipped: the caller
// decides about them.
func SetACLUser(ctx context.Context, pool *Pool, nodes map[string]*ACLNode, u ACLUser) (volatile []string, err error) {
	pool.secrets.Add(u.Password)
	args := []any{"ACL", "SETUSER", u.Name, "reset"}
	for _, r := range u.Rules {
		args = append(args, r)
	}
	if u.Password != "" {
		args = append(args, ">"+u.Password)
	}
	for _, h := range u.Hashes {
		args = append(args, "#"+strings.ToLower(h))
	}
	return eachACLNode(ctx, pool, nodes, "ACL SETUSER", args)
}

// DeleteACLUser deletes user name from every node in nodes that could be
// read, and persists that like SetACLUser.
func DeleteACLUser(ctx context.Context, pool *Pool, nodes map[string]*ACLNode, name string) (volatile []string, err error) {
	return eachACLNode(ctx, pool, nodes, "ACL DELUSER", []any{"ACL", "DELUSER", name})
}

func eachACLNode(ctx context.Context, pool *Pool, nodes map[string]*ACLNode, op string, args []any) ([]string, error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	var errs Errors
	var volatile []string
	for _, a := range sortedKeys(nodes) {
		n := nodes[a]
		if n.Err != nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := pool.Client(a)
			if err := c.Do(ctx, args...).Err(); err != nil {
				mu.Lock()
				errs = append(errs, nodeErr(a, op, err))
				mu.Unlock()
				return
			}
			var err error
			switch n.Persistence() {
			case "aclfile":
				err = nodeErr(a, "ACL SAVE", c.Do(ctx, "ACL", "SAVE").Err())
			case "config":
				err = nodeErr(a, "CONFIG REWRITE", c.ConfigRewrite(ctx).Err())
			default:
				mu.Lock()
				volatile = append(volatile, a)
				mu.Unlock()
			}
			if err != nil {
				mu.Lock()
				errs = append(errs, fmt.Errorf("%w (%s was applied in memory; it is lost when the node restarts unless it is persisted)", err, op))
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Strings(volatile)
	sort.Slice(errs, func(i, j int) bool { return errs[i].Error() < errs[j].Error() })
	return volatile, errs.Err()
}

// ACLListRules reads user name's rules on addr as ACL LIST prints them,
// without the user's password hashes (for import), and those hashes.
// ok is false when the node has no such user.
func ACLListRules(ctx context.Context, pool *Pool, addr, name string) (rules, hashes []string, ok bool, err error) {
	lines, err := pool.Client(addr).Do(ctx, "ACL", "LIST").StringSlice()
	if err != nil {
		return nil, nil, false, nodeErr(addr, "ACL LIST", err)
	}
	for _, l := range lines {
		words := splitACLLine(l)
		if len(words) < 2 || words[0] != "user" || words[1] != name {
			continue
		}
		rules = []string{}
		for _, w := range words[2:] {
			if strings.HasPrefix(w, "#") {
				hashes = append(hashes, strings.ToLower(w[1:]))
				continue
			}
			rules = append(rules, w)
		}
		return rules, sortedSet(hashes), true, nil
	}
	return nil, nil, false, nil
}

// splitACLLine splits an ACL LIST line into words, keeping a selector
// "(...)" as one word.
func splitACLLine(l string) []string {
	var out []string
	var cur strings.Builder
	depth := 0
	for _, r := range l {
		switch {
		case r == '(':
			depth++
		case r == ')' && depth > 0:
			depth--
		case r == ' ' && depth == 0:
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
			continue
		}
		cur.WriteRune(r)
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}
