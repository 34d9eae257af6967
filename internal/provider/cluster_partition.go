package provider

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/tfredis/terraform-provider-redis/internal/cluster"
)

// partitionNote ends every partition diagnostic: what apply does and what
// Redis itself guarantees.
const partitionNote = "\n\nPlan shows the cluster as the majority side sees it: a cut-off node is not its shard's master, even while it still claims the slots. " +
	"Apply sends nothing to the minority side (no REPLICATE, FAILOVER, MEET, SETSLOT or FORGET there): it waits up to 10 s for the partition to heal, then fails, naming the nodes. " +
	"Run terraform apply again once they rejoin: Redis makes a cut-off master a replica of the node that took its slots, and apply then fails back (failback = true) without losing a key. " +
	"Redis Cluster is not strongly consistent: writes acknowledged by a master on the minority side during cluster-node-timeout are lost by design; the provider adds no loss."

// readSplit reads the nodes (views included) and returns the partition
// they show, nil when there is none. Bounded by the observation's own
// per-node timeout.
//
// A split seen for a moment is normal (flags clear within a ping round once
// links heal, or after a restart): it is confirmed by reading again, up to
// three times 300 ms apart, and only a lasting one is returned.
func (r *clusterResource) readSplit(ctx context.Context, addrs []string) *cluster.Split {
	ctx = r.data.mask(ctx)
	split := cluster.FindSplit(addrs, cluster.Observe(ctx, r.data.pool, addrs, true))
	for i := 0; i < 3 && split != nil; i++ {
		select {
		case <-ctx.Done():
			return split
		case <-time.After(300 * time.Millisecond):
		}
		split = cluster.FindSplit(addrs, cluster.Observe(ctx, r.data.pool, addrs, true))
	}
	return split
}

// splitKey is the private-state key where Read records that it found no
// partition, with the run (provider process) that read it.
const splitKey = "no_split_run"

// newRunID returns a random identifier for this provider process.
func newRunID() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// noSplitRecord is what Read stores under splitKey when every declared node
// was read and none shows a partition (JSON: private state holds JSON).
func noSplitRecord(run string) []byte {
	return []byte(`{"run":"` + run + `"}`)
}

// readNoSplit tells whether raw (the private state under splitKey) says
// that a refresh of this very run found no partition. A plan then needs
// not read every node's CLUSTER NODES a second time: at hundreds of nodes
// that read is most of the plan's time. After a refresh of another run
// (terraform plan -refresh=false), or when the refresh saw a split, the
// plan reads the nodes itself.
func (r *clusterResource) readNoSplit(raw []byte) bool {
	return r.data != nil && r.data.run != "" && len(raw) > 0 && string(raw) == string(noSplitRecord(r.data.run))
}

// warnPartition adds the plan-time warning for a split.
func (r *clusterResource) warnPartition(split *cluster.Split, diags *diag.Diagnostics) {
	if split == nil {
		return
	}
	if !split.Blocking() {
		diags.AddWarning("Cluster Links Suspected Down", r.data.redact(errors.New(split.Describe()))+
			"\n\nEvery node still sees a majority, so apply goes on; a command between the nodes named may wait for the link. "+
			"If the link stays down long enough for a majority to agree a node failed, apply stops instead of acting on the minority side.")
		return
	}
	diags.AddWarning("Cluster Partitioned", r.data.redact(errors.New(split.Describe()+partitionNote)))
}

// markCutOff flags the members on the minority side as the majority sees
// them (failing, though Terraform reaches them), so that Predict leaves
// them as they are and keeps their shards' acting masters.
func markCutOff(current map[string]cluster.Member, split *cluster.Split) {
	if split == nil || split.NoMajority {
		return
	}
	for _, a := range split.CutOff {
		if m, ok := current[a]; ok {
			m.Reachable, m.Flags = true, []string{"fail"}
			current[a] = m
		}
	}
}
