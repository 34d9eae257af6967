package cluster

import (
	"context"
	"slices"
	"testing"
	"time"
)

// leaving tells whether d would keep addr out of a reservation.
func leaving(d *Departures, addr string) bool {
	kept, release := d.Reserve([]string{addr})
	release()
	return len(kept) == 0
}

func TestDeparturesReserveSkipsLeaving(t *testing.T) {
	d := NewDepartures()
	d.Leave("b:1")
	kept, release := d.Reserve([]string{"a:1", "b:1", "c:1"})
	if !slices.Equal(kept, []string{"a:1", "c:1"}) {
		t.Fatalf("kept %v, want a:1 and c:1 (b:1 is leaving)", kept)
	}
	if !leaving(d, "b:1") || leaving(d, "a:1") {
		t.Fatalf("leaving: b:1 %v, a:1 %v", leaving(d, "b:1"), leaving(d, "a:1"))
	}
	// a:1 has a move running into it: it waits until that is released.
	d.Leave("a:1")
	waited := make(chan error, 1)
	go func() { waited <- d.WaitIncoming(context.Background(), "a:1") }()
	select {
	case err := <-waited:
		t.Fatalf("WaitIncoming returned (%v) while a move into a:1 was reserved", err)
	case <-time.After(50 * time.Millisecond):
	}
	release()
	release() // idempotent
	select {
	case err := <-waited:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("WaitIncoming did not return after the move was released")
	}
	if kept, _ := d.Reserve([]string{"a:1", "b:1"}); len(kept) != 0 {
		t.Fatalf("kept %v; both are leaving", kept)
	}
}

func TestDeparturesWaitIncomingHonoursContext(t *testing.T) {
	d := NewDepartures()
	_, _ = d.Reserve([]string{"a:1"})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	if err := d.WaitIncoming(ctx, "a:1"); err == nil {
		t.Fatal("WaitIncoming returned nil while a move was reserved and the context expired")
	}
}

func TestDeparturesNilCoordinatesNothing(t *testing.T) {
	var d *Departures
	d.Leave("a:1")
	kept, release := d.Reserve([]string{"a:1"})
	release()
	if !slices.Equal(kept, []string{"a:1"}) || leaving(d, "a:1") || d.WaitIncoming(context.Background(), "a:1") != nil {
		t.Fatal("a nil Departures must keep every candidate and never wait")
	}
}
