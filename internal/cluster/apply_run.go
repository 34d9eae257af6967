package cluster

// The executor's Run: steps in stages across nodes, pipelined commands, REPLICATE and FAILOVER.

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Run executes steps in stages: the steps of one stage run concurrently
// across nodes and in order on each node, simple commands to one node
// pipelined in one round trip.
func (e *Executor) Run(ctx context.Context, d Desired, obs *Observed, steps []Step) error {
	// An ACL user without the commands a step needs fails here, before
	// any slot opens, naming the nodes and the grant.
	if err := e.Pool.CheckStepAccess(ctx, steps, obs); err != nil {
		return err
	}
	steps = e.skipAnnounces(ctx, obs, steps)
	for i := 0; i < len(steps); {
		j := i
		for j < len(steps) && steps[j].Kind.Stage() == steps[i].Kind.Stage() && steps[j].Wave == steps[i].Wave {
			j++
		}
		start := time.Now()
		var err error
		switch k := steps[i].Kind; k {
		case StepWaitKnown:
			err = e.waitKnown(ctx, d, obs, steps[i].Target)
		case StepWaitReady:
			want := d
			if steps[i].Expect != nil {
				want = *steps[i].Expect
			}
			err = e.waitReady(ctx, d, want, obs)
		case StepAnnounce:
			err = e.runStage(ctx, obs, e.markAgreed(ctx, d, obs, steps[i:j]), i)
		default:
			err = e.runStage(ctx, obs, steps[i:j], i)
		}
		e.debug(ctx, "stage done", map[string]any{"stage": steps[i].Kind.String(), "steps": j - i, "elapsed_ms": time.Since(start).Milliseconds()})
		if err != nil {
			return err
		}
		i = j
	}
	return nil
}

func (e *Executor) runStage(ctx context.Context, obs *Observed, steps []Step, base int) error {
	byNode := map[string][]int{}
	var order []string
	for i, s := range steps {
		if _, ok := byNode[s.Addr]; !ok {
			order = append(order, s.Addr)
		}
		byNode[s.Addr] = append(byNode[s.Addr], i)
	}
	var (
		mu   sync.Mutex
		errs Errors
		wg   sync.WaitGroup
	)
	for _, addr := range order {
		wg.Add(1)
		go func(idx []int) {
			defer wg.Done()
			if err := e.runNode(ctx, obs, steps, idx, base, &mu); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}(byNode[addr])
	}
	wg.Wait()
	return errs.Err()
}

// runNode runs one node's steps of a stage in order, pipelining runs of
// simple commands.
func (e *Executor) runNode(ctx context.Context, obs *Observed, steps []Step, idx []int, base int, hookMu *sync.Mutex) error {
	var batch []int
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := e.pipeline(ctx, obs, steps, batch)
		done := batch
		batch = nil
		if err != nil {
			return err
		}
		return e.hook(ctx, hookMu, steps, done, base)
	}
	for _, i := range idx {
		s := steps[i]
		switch s.Kind {
		case StepAddSlots, StepSetEpoch, StepMeet, StepAnnounce, StepForget, StepDrop, StepReset:
			batch = append(batch, i)
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		var err error
		switch s.Kind {
		case StepReplicate:
			err = e.replicate(ctx, s)
		case StepFailover:
			err = e.failover(ctx, s)
		case StepMoveSlots, StepFixSlot:
			if s.Kind == StepMoveSlots {
				err = e.moveSlots(ctx, obs, s)
			} else {
				err = e.fixSlot(ctx, obs, s)
			}
			if isSetSlotNotMaster(err) || isTargetNotMaster(err) {
				// The ends' roles changed since the plan: a master that
				// gave its last slot away follows the node that took it
				// (the next plan detaches it), or the source has not yet
				// heard that the target was promoted. Plan again.
				err = &replanError{why: fmt.Sprintf("%s: %v", s, err)}
			}
		case StepConfigSet:
			err = e.configSet(ctx, obs, s)
		case StepDetach:
			err = e.detach(ctx, s)
		default:
			err = fmt.Errorf("step %s cannot run inside a stage", s.Kind)
		}
		if err != nil {
			return err
		}
		if err := e.hook(ctx, hookMu, steps, []int{i}, base); err != nil {
			return err
		}
	}
	return flush()
}

func (e *Executor) hook(ctx context.Context, mu *sync.Mutex, steps []Step, done []int, base int) error {
	if e.AfterStep == nil {
		return nil
	}
	mu.Lock()
	defer mu.Unlock()
	for _, i := range done {
		if err := e.AfterStep(ctx, base+i, steps[i]); err != nil {
			return err
		}
	}
	return nil
}

// pipeline sends simple commands to one node in one round trip.
func (e *Executor) pipeline(ctx context.Context, obs *Observed, steps []Step, batch []int) error {
	addr := steps[batch[0]].Addr
	n := obs.Node(addr)
	cmds := make([]*redis.Cmd, len(batch))
	_, _ = e.Pool.Client(addr).Pipelined(ctx, func(p redis.Pipeliner) error {
		for k, i := range batch {
			if steps[i].agreed {
				continue
			}
			cmds[k] = p.Do(ctx, commandFor(n, steps[i])...)
		}
		return nil
	})
	for k, i := range batch {
		s := steps[i]
		if cmds[k] == nil {
			continue // an announce not sent (agreed)
		}
		if err := cmds[k].Err(); err != nil {
			if (s.Kind == StepForget || s.Kind == StepDrop) && isUnknownNode(err) {
				continue // already forgotten
			}
			if s.Kind == StepAnnounce {
				// Best effort: gossip delivers the same news a little later.
				e.debug(ctx, "announce failed", map[string]any{"address": addr, "target": s.Target, "error": err.Error()})
				continue
			}
			if s.Kind == StepAddSlots && isSlotBusy(err) {
				// The node learned an owner for the slot since the plan
				// was made (gossip): plan again from a fresh read.
				return &replanError{why: fmt.Sprintf("%s: %s: %v", addr, s, err)}
			}
			return nodeErr(addr, strings.ToUpper(commandName(s)), err)
		}
		if s.Kind != StepAnnounce {
			e.info(ctx, s.String(), map[string]any{"address": addr, "node_id": n.ID})
		}
	}
	return nil
}

func commandName(s Step) string {
	switch s.Kind {
	case StepAddSlots:
		return "cluster addslots"
	case StepSetEpoch:
		return "cluster set-config-epoch"
	case StepForget, StepDrop:
		return "cluster forget"
	case StepReset:
		return "cluster reset hard"
	}
	return "cluster meet"
}

func commandFor(n *NodeState, s Step) []any {
	switch s.Kind {
	case StepAddSlots:
		args := []any{"CLUSTER"}
		if n.AtLeast(7, 0) {
			args = append(args, "ADDSLOTSRANGE")
			for _, r := range s.Slots.Ranges() {
				args = append(args, r.Start, r.End)
			}
			return args
		}
		args = append(args, "ADDSLOTS")
		for _, slot := range s.Slots.Slots() {
			args = append(args, slot)
		}
		return args
	case StepSetEpoch:
		return []any{"CLUSTER", "SET-CONFIG-EPOCH", s.Epoch}
	case StepForget, StepDrop:
		return []any{"CLUSTER", "FORGET", s.TargetID}
	case StepReset:
		return []any{"CLUSTER", "RESET", "HARD"}
	}
	return meetArgs(s)
}

// meetArgs is CLUSTER MEET to the step's IP, port and bus port.
func meetArgs(s Step) []any {
	args := []any{"CLUSTER", "MEET", s.IP, s.Port}
	if s.BusPort != 0 && s.BusPort != s.Port+10000 {
		args = append(args, s.BusPort)
	}
	return args
}

// detach runs a StepDetach: CLUSTER RESET SOFT on a replica declared
// master (re-read first: a node that is a master by now is left to the
// next round), then CLUSTER MEET with the master it replicated.
func (e *Executor) detach(ctx context.Context, s Step) error {
	c := e.Pool.Client(s.Addr)
	role, err := c.Do(ctx, "ROLE").Slice()
	if err != nil {
		return nodeErr(s.Addr, "ROLE", err)
	}
	if len(role) == 0 || role[0] != "slave" {
		e.info(ctx, "not resetting the node: it is no longer a replica", map[string]any{"address": s.Addr})
		return nil
	}
	if err := c.ClusterResetSoft(ctx).Err(); err != nil {
		return nodeErr(s.Addr, "CLUSTER RESET SOFT", err)
	}
	if err := c.Do(ctx, meetArgs(s)...).Err(); err != nil {
		return nodeErr(s.Addr, "CLUSTER MEET", err)
	}
	e.info(ctx, s.String(), map[string]any{"address": s.Addr, "was_replica_of": s.TargetID})
	return nil
}

// replicate sends CLUSTER REPLICATE, retrying while the node does not yet
// know the master as a master (gossip still on its way).
func (e *Executor) replicate(ctx context.Context, s Step) error {
	c := e.Pool.Client(s.Addr)
	start, lastLog := time.Now(), time.Now()
	for {
		err := c.ClusterReplicate(ctx, s.TargetID).Err()
		if err == nil {
			e.info(ctx, s.String(), map[string]any{"address": s.Addr, "master_id": s.TargetID})
			return nil
		}
		msg := err.Error()
		retry := isUnknownNode(err) || isReplicateNotMaster(err)
		if !retry {
			if isReplicateNotEmpty(err) {
				return &NodeError{Addr: s.Addr, Kind: ErrOther, Op: "CLUSTER REPLICATE",
					Err: fmt.Errorf("%v: the node holds keys or slots; empty it (FLUSHALL) or move its slots before it can replicate %s", err, s.Target)}
			}
			return nodeErr(s.Addr, "CLUSTER REPLICATE", err)
		}
		if time.Since(lastLog) > 2*time.Second {
			lastLog = time.Now()
			e.info(ctx, "waiting until the node knows its new master as a master before CLUSTER REPLICATE", map[string]any{"address": s.Addr, "master": s.Target, "master_id": s.TargetID, "last_error": msg, "elapsed_ms": time.Since(start).Milliseconds()})
		}
		if err := sleep(ctx, e.poll()); err != nil {
			return fmt.Errorf("node %s: waiting to replicate %s: it never learned that node as a master: %w", s.Addr, describe(s.Target, s.TargetID), err)
		}
	}
}

// failover hands mastership back to s.Addr (a replica) with a plain CLUSTER
// FAILOVER, never FORCE or TAKEOVER: it waits until the replica's link to
// its master is up, then until the replica reports itself master.
func (e *Executor) failover(ctx context.Context, s Step) error {
	c := e.Pool.Client(s.Addr)
	start, lastLog := time.Now(), time.Now()
	for {
		info, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return nodeErr(s.Addr, "INFO replication", err)
		}
		kv := ParseInfo(info)
		if kv["role"] == "master" {
			return nil
		}
		if kv["master_link_status"] == "up" && kv["master_sync_in_progress"] == "0" {
			break
		}
		if time.Since(lastLog) > 2*time.Second {
			e.info(ctx, "waiting until the replica is in sync before failing back", map[string]any{"address": s.Addr, "current_master": s.Target,
				"role": kv["role"], "master_link_status": kv["master_link_status"], "master_sync_in_progress": kv["master_sync_in_progress"],
				"elapsed_ms": time.Since(start).Milliseconds()})
			lastLog = time.Now()
		}
		if err := sleep(ctx, e.poll()); err != nil {
			return fmt.Errorf("node %s: waiting until it is in sync with %s before failing back: %w", s.Addr, s.Target, err)
		}
	}
	// A manual failover gives up after 5 s (CLUSTER_MF_TIMEOUT) when it
	// cannot win the election, for example when the masters voted for a
	// failover of this shard less than 2 x cluster-node-timeout ago: send
	// it again until it wins or ctx ends.
	for attempt := 1; ; attempt++ {
		// Redis may have moved the replica to another master meanwhile
		// (replica migration to an orphaned master, on by default): a
		// failover now would take over that master's shard.
		if err := e.checkFollows(ctx, s.Addr, s.Target); err != nil {
			return err
		}
		e.info(ctx, "failing back", map[string]any{"address": s.Addr, "current_master": s.Target, "attempt": attempt})
		if err := c.ClusterFailover(ctx).Err(); err != nil {
			// The acting master is failing (just killed, say): the cluster
			// promotes this replica by itself after cluster-node-timeout,
			// so wait for that rather than FORCE over a master that may be
			// healthy a moment later.
			if !isFailoverMasterDown(err) {
				return nodeErr(s.Addr, "CLUSTER FAILOVER", err)
			}
			e.info(ctx, "acting master is failing; waiting for the cluster's own failover", map[string]any{"address": s.Addr})
		}
		deadline := time.Now().Add(manualFailoverTimeout)
		for time.Now().Before(deadline) {
			role, err := c.Do(ctx, "ROLE").Slice()
			if err == nil && len(role) > 0 && role[0] == "master" {
				return nil
			}
			// Promotion takes about 2 ms here: poll one node tightly.
			if err := sleep(ctx, 2*time.Millisecond); err != nil {
				return fmt.Errorf("node %s: CLUSTER FAILOVER sent %d times, but it did not become master: %w", s.Addr, attempt, err)
			}
		}
	}
}

// checkFollows checks, right before a failover, that the replica at addr
// still replicates master (by node ID, in the replica's own view). When it
// follows another master, the round plans again (replanError) instead of
// taking over the wrong shard: seen when Redis migrated a replica waiting
// for its first sync to a master a replica move had just orphaned.
func (e *Executor) checkFollows(ctx context.Context, addr, master string) error {
	want, err := e.Pool.Client(master).ClusterMyID(ctx).Result()
	if err != nil {
		return nodeErr(master, "CLUSTER MYID", err)
	}
	view, err := e.viewOf(ctx, addr)
	if err != nil {
		return err
	}
	st := &NodeState{Addr: addr}
	st.setView(view)
	if self := st.Self(); self != nil && self.MasterID != strings.TrimSpace(want) {
		now := describe("a node", self.MasterID)
		if l := st.Lookup(self.MasterID); l != nil && l.Addr() != "" {
			now = describe(e.Pool.AnnouncedAddress(l.Addr()), self.MasterID)
		}
		return &replanError{why: fmt.Sprintf("%s now replicates %s, not %s (Redis moved it to another master, replica migration); planning again",
			addr, now, master)}
	}
	return nil
}

// manualFailoverTimeout is a little over Redis' CLUSTER_MF_TIMEOUT (5 s).
const manualFailoverTimeout = 5500 * time.Millisecond
