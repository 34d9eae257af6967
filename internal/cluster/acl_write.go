package cluster

// ACL writes: rules checked on each node first, then the user set or deleted on every member.

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"sync"
)

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
