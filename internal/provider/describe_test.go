package provider

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// TestDescribe: the errors of internal/cluster reach diagnostics with the
// attribute names, exactly as they read before their texts moved here,
// alone, in a list, or wrapped; other errors as they are.
func TestDescribe(t *testing.T) {
	slots := cluster.NewSlotSet(cluster.SlotRange{Start: 0, End: 99})
	held := &cluster.KeysHeldError{Addr: "127.0.0.1:7000", Keys: 3, Slots: slots}
	heldText := "node 127.0.0.1:7000 holds 3 keys in slots 0-99, and no master stays in the cluster to take them " +
		"(the other masters are leaving in this run too, or none is left). It was left as it is, keys and membership kept. " +
		"To keep the keys, keep a master that stays and declare these slots on it; " +
		"to discard them, set force_destroy = true on its resource, apply, then destroy"
	foreign := &cluster.ForeignSlotsError{ID: "abc", Slots: slots}
	foreignText := "slots 0-99 are served by node abc, which no shard declares: declare it in shards, or move its slots away first"
	down := errors.New("node 127.0.0.1:7001: unreachable: EOF")
	for _, c := range []struct {
		err  error
		want string
	}{
		{held, heldText},
		{fmt.Errorf("leaving: %w", held), "leaving: " + heldText},
		{cluster.Errors{foreign, down}, "- " + foreignText + "\n- " + down.Error()},
		{&cluster.UnreadableError{Errs: cluster.Errors{down}}, "cannot reset the cluster while some nodes cannot be read; bring them back, or remove them from shards first:\n- " + down.Error()},
		{down, down.Error()},
	} {
		if got := describe(c.err); got != c.want {
			t.Errorf("describe(%T):\n got %q\nwant %q", c.err, got, c.want)
		}
	}
}
