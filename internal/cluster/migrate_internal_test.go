package cluster

import "testing"

// TestSlotClaimant: the owner settling an open slot is the claimant when
// its own view serves the slot, even if another master's view still does
// (SETSLOT IMPORTING on the slot's owner fails: "I'm already the owner");
// otherwise the master that serves it by its own view.
func TestSlotClaimant(t *testing.T) {
	line := func(id, addr, flags, slots string) string {
		return id + " " + addr + "@16379 " + flags + " - 0 0 1 connected " + slots
	}
	a, b, c := "10.0.0.1:6379", "10.0.0.2:6379", "10.0.0.3:6379"
	obs := func(aSlots, bSlots, cSlots string) *Observed {
		return nodeObsOf(
			nodeObs(t, a, nidA, 0, "16384", line(nidA, a, "myself,master", aSlots)),
			nodeObs(t, b, nidB, 0, "16384", line(nidB, b, "myself,master", bSlots)),
			nodeObs(t, c, nidC, 0, "16384", line(nidC, c, "myself,master", cSlots)))
	}
	for _, tc := range []struct {
		name        string
		a, b, c     string
		owner, want string
	}{
		{"only another master serves it", "100-200", "0-99", "300", a, b},
		{"the owner serves it alone", "0-99", "100-200", "300", a, a},
		{"the owner and a later address both serve it", "0-99", "0-99", "300", a, a},
		{"the owner and an earlier address both serve it", "0-99", "0-99", "300", b, b},
		{"nobody serves it", "100", "200", "300", a, ""},
		{"two others serve it: the last by address", "100", "0", "0", a, c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := slotClaimant(obs(tc.a, tc.b, tc.c), tc.owner, 0); got != tc.want {
				t.Fatalf("claimant of slot 0 with owner %s: %q, want %q", tc.owner, got, tc.want)
			}
		})
	}
}
