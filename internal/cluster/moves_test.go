package cluster

import (
	"strings"
	"testing"
)

func TestSlotMoves(t *testing.T) {
	split := EvenSplit(3)
	served := map[string]SlotSet{"a:1": split[0], "b:1": split[1], "c:1": split[2]}
	// Same layout: nothing moves. A replica serving its shard's slots after
	// a failover is not a move either.
	if m := SlotMoves(served, []Shard{{Master: "a:1", Slots: split[0]}, {Master: "b:1", Slots: split[1]}, {Master: "c:1", Slots: split[2]}}); len(m) != 0 {
		t.Fatalf("no change planned %v", m)
	}
	failedOver := map[string]SlotSet{"r:1": split[0], "b:1": split[1], "c:1": split[2]}
	if m := SlotMoves(failedOver, []Shard{{Master: "a:1", Replicas: []string{"r:1"}, Slots: split[0]}, {Master: "b:1", Slots: split[1]}, {Master: "c:1", Slots: split[2]}}); len(m) != 0 {
		t.Fatalf("a failover is not a slot move: %v", m)
	}
	// A fourth shard takes a quarter, from each of the three.
	four := Rebalance([]SlotSet{split[0], split[1], split[2], {}}, SlotSet{})
	m := SlotMoves(served, []Shard{{Master: "a:1", Slots: four[0]}, {Master: "b:1", Slots: four[1]}, {Master: "c:1", Slots: four[2]}, {Master: "d:1", Slots: four[3]}})
	total := 0
	for _, mv := range m {
		if mv.To != "d:1" {
			t.Fatalf("move to %s, want d:1: %v", mv.To, mv)
		}
		total += mv.Slots.Len()
	}
	if len(m) != 3 || total != 4096 {
		t.Fatalf("moves %v (%d slots)", m, total)
	}
	if got := m[0].String(); got != "slots "+m[0].Slots.String()+" (1365 slots, keys not counted) from a:1 to d:1" && m[0].Slots.Len() != 1366 {
		t.Fatalf("rendered %q", got)
	}
}

func TestMoveStringSaysThePath(t *testing.T) {
	m := Move{From: "a:1", To: "b:1", Slots: NewSlotSet(SlotRange{0, 9}), Keys: 5}
	if got := m.String(); strings.Contains(got, "MIGRATE") || strings.Contains(got, "atomic") {
		t.Fatalf("a move whose engines were not read names a path: %s", got)
	}
	for p, want := range map[MovePath]string{
		PathMigrate:      "key by key with MIGRATE",
		PathRedisImport:  "CLUSTER MIGRATION IMPORT",
		PathValkeyExport: "CLUSTER MIGRATESLOTS",
	} {
		m.Path = &p
		if got := m.String(); !strings.HasPrefix(got, "slots 0-9 (10 slots, 5 keys) from a:1 to b:1, ") || !strings.Contains(got, want) {
			t.Errorf("%v: %s", p, got)
		}
	}
}
