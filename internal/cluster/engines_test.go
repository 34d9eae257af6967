package cluster

import (
	"strings"
	"testing"
)

func TestCheckJoinableRefusesOldServers(t *testing.T) {
	d := desired3x2(true)
	var fresh []fakeNode
	for i, n := range healthy3x2() {
		fresh = append(fresh, fakeNode{addr: n.addr, id: fid(i + 1), knows: []string{}})
	}
	obs := fakeObserved(t, fresh)
	obs.Node("10.0.0.14:6379").Version = "5.0.14"
	err := CheckJoinable(d, obs, nil)
	if err == nil {
		t.Fatal("a Redis 5.0 node must be refused before anything changes")
	}
	for _, want := range []string{"10.0.0.14:6379", "redis 5.0.14", "6.0"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error should name %q: %v", want, err)
		}
	}
	obs.Node("10.0.0.14:6379").Version = "6.0.16"
	if err := CheckJoinable(d, obs, nil); err != nil {
		t.Fatalf("Redis 6.0 is supported: %v", err)
	}
}

func TestMixedVersions(t *testing.T) {
	if got := MixedVersions(map[string]string{"a:1": "redis 7.0.15", "b:1": "redis 7.0.15", "c:1": ""}); got != "" {
		t.Errorf("one version: got %q", got)
	}
	got := MixedVersions(map[string]string{"b:1": "redis 7.0.15", "a:1": "redis 7.0.15", "c:1": "valkey 8.1.1"})
	if want := "redis 7.0.15 on a:1, b:1; valkey 8.1.1 on c:1"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEngineName(t *testing.T) {
	for _, c := range []struct {
		n    NodeState
		want string
	}{
		{NodeState{Version: "7.0.15"}, "redis 7.0.15"},
		{NodeState{Version: "7.2.4", Engine: "valkey", EngineVersion: "9.1.2"}, "valkey 9.1.2"},
	} {
		if got := c.n.EngineName(); got != c.want {
			t.Errorf("%+v: got %q, want %q", c.n, got, c.want)
		}
	}
}
