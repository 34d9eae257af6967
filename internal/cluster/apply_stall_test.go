package cluster

import (
	"testing"
	"time"
)

// TestStallWatch: the watch fires once one condition with no repair has
// stood for its bound; another condition, a repairable one or none starts
// it again.
func TestStallWatch(t *testing.T) {
	t0 := time.Unix(1000, 0)
	at := func(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }
	w := stallWatch{after: 10 * time.Second}
	steps := []struct {
		s          float64
		why        string
		repairable bool
		want       bool
	}{
		{0, "a sees b as replica, want master", false, false},
		{9, "a sees b as replica, want master", false, false},
		{10, "a sees b as replica, want master", false, true},
		{11, "c serves 0-5, want 0-6", false, false}, // another condition
		{20, "c serves 0-5, want 0-6", false, false},
		{21, "c serves 0-5, want 0-6", false, true},
		{22, "c serves 0-5, want 0-6", true, false}, // a step repairs it now
		{40, "c serves 0-5, want 0-6", false, false},
		{49, "c serves 0-5, want 0-6", false, false},
		{50, "", false, false}, // met
		{70, "c serves 0-5, want 0-6", false, false},
	}
	for _, st := range steps {
		if got := w.see(st.why, st.repairable, at(st.s)); got != st.want {
			t.Fatalf("at %vs (%q, repairable %v): stalled %v, want %v", st.s, st.why, st.repairable, got, st.want)
		}
	}
}
