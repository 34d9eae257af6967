package cluster

import (
	"reflect"
	"strings"
	"testing"
)

const (
	vsID1 = "1111111111111111111111111111111111111111"
	vsID2 = "2222222222222222222222222222222222222222"
	vsID3 = "3333333333333333333333333333333333333333"
	vsID4 = "4444444444444444444444444444444444444444"
	vsID5 = "5555555555555555555555555555555555555555"
	vsID6 = "6666666666666666666666666666666666666666"
)

func vsView(t *testing.T, lines ...string) []NodeLine {
	t.Helper()
	v, err := ParseNodes(strings.Join(lines, "\n"))
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func healthyView(t *testing.T) []NodeLine {
	// Lines in no particular order, as CLUSTER NODES prints them.
	return vsView(t,
		vsID6+" 10.0.0.16:6379@16379 slave "+vsID2+" 0 1 2 connected",
		vsID3+" 10.0.0.13:6379@16379 master - 0 1 3 connected 10923-16383",
		vsID1+" 10.0.0.11:6379@16379 myself,master - 0 1 1 connected 0-5460",
		vsID4+" 10.0.0.14:6379@16379 slave "+vsID3+" 0 1 3 connected",
		vsID2+" 10.0.0.12:6379@16379 master - 0 1 2 connected 5461-10922",
		vsID5+" 10.0.0.15:6379@16379 slave "+vsID1+" 0 1 1 connected",
	)
}

func TestServedShardsHealthyEqualsShardsFromView(t *testing.T) {
	view := healthyView(t)
	want, err := ShardsFromView(view, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := ServedShards(view, nil)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("ServedShards = %+v\nShardsFromView = %+v", got, want)
	}
	if got[0].Master != "10.0.0.11:6379" || got[2].Replicas[0] != "10.0.0.14:6379" || got[1].Slots.String() != "5461-10922" {
		t.Fatalf("unexpected shards %+v", got)
	}
}

func TestServedShardsFailedMasterKeepsItsSlots(t *testing.T) {
	// 10.0.0.13 died and has no replica: the cluster is down, ShardsFromView
	// refuses, ServedShards still reports what the member sees.
	view := vsView(t,
		vsID1+" 10.0.0.11:6379@16379 myself,master - 0 1 1 connected 0-5460",
		vsID2+" 10.0.0.12:6379@16379 master - 0 1 2 connected 5461-10922",
		vsID3+" 10.0.0.13:6379@16379 master,fail - 0 1 3 disconnected 10923-16383",
		vsID5+" 10.0.0.15:6379@16379 slave,fail "+vsID1+" 0 1 1 disconnected",
		vsID6+" 10.0.0.16:6379@16379 slave "+vsID2+" 0 1 2 connected",
		vsID4+" 10.0.0.14:6379@16379 slave "+vsID3+" 0 1 3 connected",
	)
	if _, err := ShardsFromView(view, nil); err == nil {
		t.Fatal("ShardsFromView accepted a view whose slots 10923-16383 belong to a failed master")
	}
	got := ServedShards(view, nil)
	if len(got) != 3 || got[2].Master != "10.0.0.13:6379" || got[2].Slots.String() != "10923-16383" ||
		!reflect.DeepEqual(got[2].Replicas, []string{"10.0.0.14:6379"}) {
		t.Fatalf("failed master's shard: %+v", got)
	}
	if len(got[0].Replicas) != 0 {
		t.Fatalf("a failed replica is listed: %+v", got[0])
	}
}

func TestServedShardsPartialAndOrphans(t *testing.T) {
	// Slots 5461-16383 unassigned, one replica of a master without slots,
	// one node still in handshake, one master with no address.
	view := vsView(t,
		vsID1+" 10.0.0.11:6379@16379 myself,master - 0 1 1 connected 0-5460",
		vsID2+" 10.0.0.12:6379@16379 master - 0 1 2 connected",
		vsID3+" 10.0.0.13:6379@16379 slave "+vsID2+" 0 1 2 connected",
		vsID4+" 10.0.0.14:6379@16379 handshake - 0 1 0 disconnected",
		vsID5+" :0@0 master,noaddr - 0 1 5 disconnected 5461-5500",
	)
	got := ServedShards(view, func(a string) string { return "x" + a })
	if len(got) != 1 || got[0].Master != "x10.0.0.11:6379" || len(got[0].Replicas) != 0 {
		t.Fatalf("got %+v", got)
	}
	if ServedShards(nil, nil) == nil {
		// An empty, non-nil list renders as [] rather than null.
		t.Fatal("no view gives a nil slice")
	}
}
