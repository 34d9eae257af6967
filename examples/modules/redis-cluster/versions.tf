terraform {
  required_version = ">= 1.8" # provider functions
  required_providers {
    redis = {
      source = "tfredis/redis"
    }
  }
}
