package failoverdemo

// The keys the story writes through a cluster client, reads back and counts per node.

import (
	"context"
	"crypto/sha256"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

func (s *Story) clusterClient() *redis.ClusterClient {
	addrs := make([]string, len(s.Nodes))
	for i, n := range s.Nodes {
		addrs[i] = n.Addr()
	}
	return redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, Password: s.Password,
		DialTimeout: time.Second, ReadTimeout: 5 * time.Second, Protocol: 2})
}

// writeKeys writes Keys keys with values unique to this run and returns them.
func (s *Story) writeKeys() map[string]string {
	s.R.Helper()
	c := s.clusterClient()
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	token := time.Now().UnixNano()
	want := make(map[string]string, s.Keys)
	for i := range s.Keys {
		k, v := fmt.Sprintf("%s:%d", s.Prefix, i), fmt.Sprintf("%d:%d", token, i)
		if err := c.Set(ctx, k, v, 0).Err(); err != nil {
			s.R.Fatalf("SET %s: %v", k, err)
		}
		want[k] = v
	}
	return want
}

// checkKeys reads every key back and compares the values.
func (s *Story) checkKeys(want map[string]string) {
	s.R.Helper()
	c := s.clusterClient()
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	found, same := 0, 0
	hw, hg := sha256.New(), sha256.New()
	for i := range s.Keys {
		k := fmt.Sprintf("%s:%d", s.Prefix, i)
		v, err := c.Get(ctx, k).Result()
		if err == nil {
			found++
		}
		if v == want[k] {
			same++
		}
		fmt.Fprintln(hw, want[k])
		fmt.Fprintln(hg, v)
	}
	s.say("%d of %d keys exist; checksum of their values %x (written: %x)", found, s.Keys, hg.Sum(nil)[:8], hw.Sum(nil)[:8])
	s.check(found == s.Keys, fmt.Sprintf("all %d keys exist", s.Keys), fmt.Sprintf(": %d", found))
	s.check(same == s.Keys, "every value is the one written", fmt.Sprintf(": %d of %d", same, s.Keys))
}

// countKeys counts the story's keys on one node (SCAN MATCH).
func (s *Story) countKeys(n Node) int {
	s.R.Helper()
	c := s.client(n)
	defer func() { _ = c.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	count := 0
	iter := c.Scan(ctx, 0, s.Prefix+":*", 1000).Iterator()
	for iter.Next(ctx) {
		count++
	}
	if err := iter.Err(); err != nil {
		s.R.Fatalf("SCAN on %s: %v", n.Addr(), err)
	}
	return count
}
