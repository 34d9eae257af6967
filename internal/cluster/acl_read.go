package cluster

// ACL reads: each member's form of the user, its status against what apply left, ACL LIST for import.

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/redis/go-redis/v9"
)

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
