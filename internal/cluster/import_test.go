package cluster

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestImportShards: the node reached at one address that announces
// another is named as reached; the ID is that of slot 0's master.
func TestImportShards(t *testing.T) {
	view := vsView(t,
		vsID2+" 10.0.0.12:6379@16379 master - 0 1 2 connected 8192-16383",
		vsID1+" 10.0.0.11:6379@16379 myself,slave "+vsID3+" 0 1 1 connected",
		vsID3+" 10.0.0.13:6379@16379 master - 0 1 3 connected 0-8191",
	)
	n := &NodeState{Addr: "127.0.0.1:7001", ID: vsID1, View: view}
	shards, id, err := ImportShards("127.0.0.1:7001", n, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Shard{
		{Master: "10.0.0.13:6379", Replicas: []string{"127.0.0.1:7001"}, Slots: rng(0, 8191)},
		{Master: "10.0.0.12:6379", Slots: rng(8192, 16383)},
	}
	if fmt.Sprint(shards) != fmt.Sprint(want) || id != vsID3 {
		t.Fatalf("ImportShards = %v, %q; want %v, %q", shards, id, want, vsID3)
	}
	// address_map: announced addresses mapped back to dialed ones first.
	mapped := func(a string) string { return strings.Replace(a, "10.0.0.", "192.168.0.", 1) }
	shards, _, err = ImportShards("127.0.0.1:7001", n, mapped)
	if err != nil || shards[1].Master != "192.168.0.12:6379" {
		t.Fatalf("with a mapping: %v, %v", shards, err)
	}
	if _, _, err := ImportShards("a:1", &NodeState{View: vsView(t, vsID1+" 10.0.0.11:6379@16379 myself,slave "+vsID3+" 0 1 1 connected")}, nil); err == nil {
		t.Fatal("a view of a replica whose master serves nothing was imported")
	}
	if SlotZeroID(nil) != "" {
		t.Fatal("SlotZeroID(nil) is not empty")
	}
}

// FuzzRenameMember: renaming changes exactly the members named from, in
// place, and leaves its input as it was.
func FuzzRenameMember(f *testing.F) {
	f.Add("a:1 b:1,c:1 d:1", "b:1", "x:9")
	f.Add("a:1,a:1 a:1", "a:1", "a:1")
	f.Add("a:1", "", "z:1")
	f.Add(" , ", "", "")
	f.Fuzz(func(t *testing.T, layout, from, to string) {
		// Shards separated by spaces, members by commas (master first).
		var shards []Shard
		for _, s := range strings.Split(layout, " ") {
			ms := strings.Split(s, ",")
			shards = append(shards, Shard{Master: ms[0], Replicas: ms[1:], Slots: rng(len(shards)%SlotCount, len(shards)%SlotCount)})
		}
		before := fmt.Sprintf("%#v", shards)
		got := RenameMember(shards, from, to)
		if fmt.Sprintf("%#v", shards) != before {
			t.Fatal("the input was changed")
		}
		if len(got) != len(shards) {
			t.Fatalf("%d shards, want %d", len(got), len(shards))
		}
		for i := range got {
			old, now := shards[i].Members(), got[i].Members()
			if len(old) != len(now) || !got[i].Slots.Equal(shards[i].Slots) {
				t.Fatalf("shard %d: %v -> %v", i, shards[i], got[i])
			}
			for j := range old {
				want := old[j]
				if want == from {
					want = to
				}
				if now[j] != want {
					t.Fatalf("shard %d member %d: %q -> %q, want %q", i, j, old[j], now[j], want)
				}
			}
		}
		if from == to && !reflect.DeepEqual(got, shards) {
			t.Fatal("renaming to the same name changed something")
		}
	})
}
