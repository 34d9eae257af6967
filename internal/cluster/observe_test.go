package cluster

import "testing"

func TestEngineOf(t *testing.T) {
	cases := []struct {
		info            string
		engine, version string
	}{
		// Valkey keeps redis_version at the Redis version it is compatible with.
		{"# Server\r\nredis_version:7.2.4\r\nserver_name:valkey\r\nvalkey_version:8.1.1\r\n", "valkey", "8.1.1"},
		{"# Server\r\nredis_version:7.0.15\r\nredis_mode:cluster\r\n", "redis", "7.0.15"},
	}
	for _, c := range cases {
		e, v := EngineOf(ParseInfo(c.info))
		if e != c.engine || v != c.version {
			t.Errorf("EngineOf(%q) = %s %s, want %s %s", c.info, e, v, c.engine, c.version)
		}
	}
}
