package cluster

import (
	"context"
	"strings"
	"time"
)

// PartitionGrace is how long apply lets a partition stand before it refuses
// to go on with a PartitionError. A split seen for a moment is normal: a
// node that just restarted, or whose links just healed, is flagged failing
// until its first ping round (a few hundred milliseconds), and flags clear
// by themselves. A real partition lasts: apply fails within PartitionGrace
// plus one read of the nodes, whatever the Terraform timeout.
const PartitionGrace = 10 * time.Second

// blockingSplit is the partition that stops apply: every node read (so a
// plan could be made) and some of them cut off from the majority, or none
// seeing a majority. Nodes Terraform cannot read are Plan's to report.
func blockingSplit(d Desired, obs *Observed) *Split {
	if requireAll(d, obs) != nil {
		return nil
	}
	if s := FindSplit(d.Observed(), obs); s.Blocking() {
		return s
	}
	return nil
}

// awaitHealed returns at once when obs shows no blocking split. Otherwise it
// re-reads the nodes, logging every 2 s what it waits for, until the split
// heals (it returns the fresh observation) or PartitionGrace passes (a
// PartitionError naming the nodes and sides). It sends no command that
// changes anything.
func (e *Executor) awaitHealed(ctx context.Context, d Desired, obs *Observed) (*Observed, error) {
	split := blockingSplit(d, obs)
	if split == nil {
		return obs, nil
	}
	start := time.Now()
	var lastLog time.Time
	for {
		if time.Since(lastLog) >= 2*time.Second {
			lastLog = time.Now()
			e.info(ctx, "nodes are cut off from the majority: changing nothing while waiting for the partition to heal",
				map[string]any{"cut_off": strings.Join(split.CutOff, ","), "majority": strings.Join(split.Majority, ","),
					"no_majority": split.NoMajority, "elapsed_ms": time.Since(start).Milliseconds(), "gives_up_after_ms": PartitionGrace.Milliseconds()})
		}
		if time.Since(start) >= PartitionGrace || sleep(ctx, 10*e.poll()) != nil {
			return obs, &PartitionError{Split: split, Waited: time.Since(start)}
		}
		obs = Observe(ctx, e.Pool, d.Observed(), true)
		if split = blockingSplit(d, obs); split == nil {
			e.info(ctx, "the partition healed: planning from the nodes as they are now", map[string]any{"elapsed_ms": time.Since(start).Milliseconds()})
			return obs, nil
		}
	}
}

// splitWatch ends a wait that a partition would make endless: check returns
// a PartitionError once a blocking split has stood for PartitionGrace.
type splitWatch struct{ since time.Time }

func (w *splitWatch) check(d Desired, obs *Observed) error {
	s := blockingSplit(d, obs)
	if s == nil {
		w.since = time.Time{}
		return nil
	}
	if w.since.IsZero() {
		w.since = time.Now()
	}
	if waited := time.Since(w.since); waited >= PartitionGrace {
		return &PartitionError{Split: s, Waited: waited}
	}
	return nil
}
