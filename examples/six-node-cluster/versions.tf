terraform {
  required_providers {
    redis = {
      source = "tfredis/redis"
    }
  }
}
