package cluster

import (
	"strings"
	"testing"
)

func TestCheckSettingNames(t *testing.T) {
	if err := CheckSettingNames(map[string]string{"cluster-node-timeout": "5000", "maxmemory-policy": "allkeys-lru"}); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"requirepass":       "credential",
		"masterauth":        "credential",
		"cluster-*":         "not a setting name",
		"Maxmemory":         "not a setting name",
		"max memory":        "not a setting name",
		"":                  "not a setting name",
		"tls-key-file-pass": "credential",
	} {
		err := CheckSettingNames(map[string]string{name: "x"})
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("%q: %v, want %q naming it", name, err, want)
		}
	}
}

func TestSettingsDrift(t *testing.T) {
	cfg := map[string]string{"a": "1", "b": "2"}
	diff, err := SettingsDrift("n:1", cfg, map[string]string{"a": "1", "b": "3", "c": "9"})
	if err != nil || len(diff) != 1 || diff["b"] != "2" {
		t.Fatalf("diff %v err %v", diff, err)
	}
	_, err = SettingsDrift("n:1", cfg, map[string]string{"a": "1"})
	if err == nil || !strings.Contains(err.Error(), `n:1 does not know setting "b"`) {
		t.Fatalf("err %v", err)
	}
}

// Plan sets a differing setting on the node where it differs only, says
// so naming the node and setting, runs it first, and adds no wait: the
// topology is as declared.
func TestPlanConfigDrift(t *testing.T) {
	obs := fakeObserved(t, sixNodes())
	healthyFacts(obs)
	d := Desired{Failback: true, Config: map[string]string{"cluster-node-timeout": "15000"}}
	for _, n := range sixNodes()[:3] {
		s := Shard{Master: n.addr}
		ss, _ := ParseSlotSet([]string{n.slots})
		s.Slots = ss
		d.Shards = append(d.Shards, s)
	}
	for i, r := range []string{"10.0.0.4:6379", "10.0.0.5:6379", "10.0.0.6:6379"} {
		d.Shards[i].Replicas = []string{r}
	}
	steps, err := Plan(d, obs)
	if err != nil || len(steps) != 0 {
		t.Fatalf("no drift: steps %v err %v", steps, err)
	}
	obs.Node("10.0.0.5:6379").Config["cluster-node-timeout"] = "5000"
	steps, err = Plan(d, obs)
	if err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 || steps[0].Kind != StepConfigSet || steps[0].Addr != "10.0.0.5:6379" || steps[0].Settings["cluster-node-timeout"] != "15000" {
		t.Fatalf("steps %v", steps)
	}
	drift := Drift(steps)
	if len(drift) != 1 || !strings.Contains(drift[0], `10.0.0.5:6379: setting cluster-node-timeout is "5000", declared "15000"`) {
		t.Fatalf("drift %q", drift)
	}
	// Not read (an observation without settings): no step.
	obs.Node("10.0.0.5:6379").Config = nil
	if steps, err := Plan(d, obs); err != nil || len(steps) != 0 {
		t.Fatalf("unread settings: steps %v err %v", steps, err)
	}
	// Refused (NOPERM): an error naming the node.
	obs.Node("10.0.0.5:6379").ConfigErr = errTest
	if _, err := Plan(d, obs); err == nil || !strings.Contains(err.Error(), "10.0.0.5:6379") {
		t.Fatalf("refused settings: %v", err)
	}
}

func TestUnpersisted(t *testing.T) {
	obs := fakeObserved(t, sixNodes()[:1])
	d := Desired{Shards: []Shard{{Master: "10.0.0.1:6379"}}}
	if u := Unpersisted(d, obs); len(u) != 0 {
		t.Fatalf("no config declared: %v", u)
	}
	d.Config = map[string]string{"hz": "10"}
	if u := Unpersisted(d, obs); len(u) != 1 || u[0] != "10.0.0.1:6379" {
		t.Fatalf("%v", u)
	}
	obs.Node("10.0.0.1:6379").ConfigFile = "/etc/redis.conf"
	if u := Unpersisted(d, obs); len(u) != 0 {
		t.Fatalf("%v", u)
	}
}
