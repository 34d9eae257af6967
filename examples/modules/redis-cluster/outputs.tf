output "id" {
  description = "The cluster resource's ID."
  value       = redis_cluster.this.id
}

output "node_ids" {
  description = "Node ID by address."
  value       = { for addr, n in redis_cluster.this.nodes : addr => n.id }
}

output "shards" {
  description = "Shards with their slots, as applied."
  value       = redis_cluster.this.shards
}

output "state" {
  description = "cluster_state as the nodes report it (ok or fail)."
  value       = data.redis_cluster.health.state
}

output "slots_ok" {
  description = "Slots served by a healthy master."
  value       = data.redis_cluster.health.slots_ok
}
