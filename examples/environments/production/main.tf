# Production: six masters with two replicas each, one node per host.
terraform {
  required_providers {
    redis = {
      source = "tfredis/redis"
    }
  }
}

provider "redis" {} # password from REDIS_PASSWORD

module "cache" {
  source   = "../../modules/redis-cluster"
  nodes    = [for i in range(11, 29) : "10.0.2.${i}:6379"]
  replicas = 2
}

output "cache_state" {
  value = module.cache.state
}

output "cache_node_ids" {
  value = module.cache.node_ids
}
