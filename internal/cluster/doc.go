// Package cluster is Redis (and Valkey) Cluster as a small library: it
// reads a cluster, compares it with a declaration, and changes it, with no
// Terraform import (a depguard rule keeps it so). The provider converts its
// schemas to the types here and reports what comes back.
//
// The package has three layers, kept apart by file rather than by package:
//
//   - Topology and parsing, pure: topology.go (Desired, Shard), nodes.go
//     (CLUSTER NODES lines), slots.go and split_ranges.go (SlotSet),
//     keyslot.go, layout.go (even splits, replica placement), slot_plan.go
//     and import.go (what the provider's plan and import derive), errclass.go
//     and errors.go (what a reply means).
//   - Connections and observation: pool.go (one lazily dialed client per
//     address, credentials, TLS, redaction via secrets.go), observe.go and
//     read.go (one pipelined read per node), acl.go (grants probed without
//     side effects), engines.go, precheck.go, safety.go, partition.go.
//   - Planning and execution: plan.go (Plan: observed and desired in, steps
//     out, pure), predict.go, node_plan.go (the same planner scoped to one
//     node), apply.go (rounds of observe, plan, run, wait), migrate.go and
//     migrate_atomic.go (slot moves), node_join.go, node.go and
//     node_repair.go (node resources), departures.go (what the node
//     resources of one run agree on), config.go, destroy.go.
//
// Why one package and not three: the layers share types that the planner
// and the executor must see whole (Observed, NodeState, Step), and every
// cut tried would export them only for each other, with no second user.
// The pure layer is already testable on its own (go test -short runs it
// with no redis-server) and fuzzed (FuzzPlan, FuzzPredictConverges,
// FuzzPlanSlots); what a split would add is import-level enforcement, which
// depguard gives where it matters (no Terraform here). Split when a second
// consumer (a CLI, an operator) needs the pure layer without go-redis.
package cluster
