package provider

import (
	"crypto/sha256"
	"strings"
	"testing"
)

func TestClaimsTake(t *testing.T) {
	cfgA, cfgB := sha256.Sum256([]byte("a")), sha256.Sum256([]byte("b"))
	node := func(cfg [sha256.Size]byte, update bool) claim {
		return claim{what: `a redis_cluster_node (role "master")`, config: cfg, update: update}
	}
	cs := newClaims()
	if _, conflict := cs.take("10.0.0.11:6379", node(cfgA, true)); conflict {
		t.Fatal("first claim conflicts")
	}
	// Terraform plans a replaced resource again as a create, same config.
	if _, conflict := cs.take("10.0.0.11:6379", node(cfgA, false)); conflict {
		t.Fatal("the create half of a replacement was taken for a second resource")
	}
	// Two new resources with the same configuration are two resources.
	cs = newClaims()
	cs.take("10.0.0.11:6379", node(cfgA, false))
	if _, conflict := cs.take("10.0.0.11:6379", node(cfgA, false)); !conflict {
		t.Fatal("two identical new resources for one node were let through")
	}
	// Different configurations, or kinds, conflict.
	cs = newClaims()
	cs.take("10.0.0.11:6379", node(cfgA, true))
	other, conflict := cs.take("10.0.0.11:6379", node(cfgB, true))
	if !conflict || other.what == "" {
		t.Fatal("a second resource with another configuration was let through")
	}
	cl := claim{what: "a redis_cluster (shards led by 10.0.0.11:6379)", config: cfgA, update: false}
	if _, conflict := cs.take("10.0.0.11:6379", cl); !conflict {
		t.Fatal("a redis_cluster declaring a node a redis_cluster_node declares was let through")
	}
	if _, conflict := cs.take("10.0.0.12:6379", cl); conflict {
		t.Fatal("another address conflicts")
	}
	msg := declaredTwice("10.0.0.11:6379", cl, other)
	for _, want := range []string{"10.0.0.11:6379", "redis_cluster (shards", "redis_cluster_node", "Remove it from one"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	var none *claims
	if _, conflict := none.take("x:1", cl); conflict {
		t.Fatal("a nil claims conflicts")
	}
}
