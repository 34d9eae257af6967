# Staging: three masters, no replicas.
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
  nodes    = ["10.0.1.11:6379", "10.0.1.12:6379", "10.0.1.13:6379"]
  replicas = 0
  # staging data is disposable
  force_destroy = true
}

output "cache_state" {
  value = module.cache.state
}
