output "node_ids" {
  description = "Cluster node ID of every member, by address."
  value       = { for address, node in redis_cluster.main.nodes : address => node.id }
}

output "roles" {
  description = "Role (master or replica) of every member, by address, as last read."
  value       = { for address, node in redis_cluster.main.nodes : address => node.role }
}

output "state" {
  description = "cluster_state as last read: \"ok\" once every slot is served."
  value       = redis_cluster.main.state
}
