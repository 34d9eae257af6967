package cluster

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Redis keeps ACL users on each node and never copies them to the other
// members of a cluster (redis#7988, valkey#1193): a replica promoted by a
// failover lacks a user that was only set on its master. The acl*.go files
// set, read, compare and delete one ACL user on every member.
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
