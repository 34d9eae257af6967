# Read a live cluster through any of its members.
data "redis_cluster" "main" {
  seeds = ["10.0.0.11:6379", "10.0.0.12:6379"]
}

output "cluster_state" {
  value = data.redis_cluster.main.state
}

output "masters" {
  value = [for shard in data.redis_cluster.main.shards : shard.master]
}

# A health check: Terraform reports a failed assertion as a warning at plan
# and at apply, without stopping either.
check "redis_cluster_health" {
  # No depends_on, and seeds known before apply (literals or variables): then
  # Terraform reads the cluster while planning and `terraform plan` shows its
  # health. A data source that depends_on a resource with pending changes is
  # read only during apply, so the check could not see a problem at plan.
  data "redis_cluster" "health" {
    seeds = ["10.0.0.11:6379", "10.0.0.12:6379", "10.0.0.13:6379"]
  }

  assert {
    condition     = data.redis_cluster.health.state == "ok"
    error_message = "Redis Cluster is ${data.redis_cluster.health.state}: ${data.redis_cluster.health.slots_fail} slots are on failed masters, ${data.redis_cluster.health.slots_pfail} on masters suspected down."
  }

  assert {
    condition     = alltrue([for address, node in data.redis_cluster.health.nodes : node.link_state == "connected"])
    error_message = "Redis Cluster nodes not connected: ${join(", ", [for address, node in data.redis_cluster.health.nodes : address if node.link_state != "connected"])}."
  }
}
