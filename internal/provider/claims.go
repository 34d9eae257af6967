package provider

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
)

// claims records, for one Terraform run, which resource declares each node
// address, so that a node declared by two resources is refused at plan
// time, before anything changes: two resources managing one node would
// undo each other's changes on every apply. Terraform configures the
// provider afresh for every run (plan, apply), so a claims lives exactly
// as long as one run's plans.
//
// What it can see: resources of this provider configuration whose
// addresses are known at plan time. A node declared under two provider
// configurations (aliases) or in two Terraform states is beyond it.
type claims struct {
	mu sync.Mutex
	by map[string]claim
}

// claim is one resource's declaration of a node address.
type claim struct {
	// what names the claimant for the error, e.g. `a redis_cluster_node (role "master")`.
	what string
	// config fingerprints the claimant's configuration.
	config [sha256.Size]byte
	// update: planned with a prior state. Terraform plans a resource being
	// replaced twice (as an update, then as a create), with the same
	// configuration: that pair is one claimant, not two.
	update bool
}

func newClaims() *claims { return &claims{by: map[string]claim{}} }

// newClaim describes the resource whose plan is being modified.
func newClaim(what string, config tfsdk.Config, state tfsdk.State) claim {
	return claim{what: what, config: sha256.Sum256([]byte(config.Raw.String())), update: !state.Raw.IsNull()}
}

// take records c for addr and returns the claim of another resource that
// declared it first, if any.
func (cs *claims) take(addr string, c claim) (other claim, conflict bool) {
	if cs == nil {
		return claim{}, false
	}
	cs.mu.Lock()
	defer cs.mu.Unlock()
	prev, ok := cs.by[addr]
	switch {
	case !ok:
		cs.by[addr] = c
		return claim{}, false
	case prev.config == c.config && prev.what == c.what && prev.update != c.update:
		// One resource being replaced. (A copy of an existing resource,
		// identical to it, added in the same run looks the same and is
		// let through; two identical new ones are caught.)
		return claim{}, false
	}
	return prev, true
}

// declaredTwice is the error detail for a conflict on addr.
func declaredTwice(addr string, self claim, other claim) string {
	return fmt.Sprintf("Node %s is declared by %s and by %s in this configuration. "+
		"A node is managed by one resource: two would undo each other's changes on every apply. "+
		"Remove it from one of them (redis_cluster ignores members it does not list, so a node can join a redis_cluster's cluster as a redis_cluster_node of its own).",
		addr, self.what, other.what)
}
