terraform {
  required_providers {
    redis = {
      source = "tfredis/redis"
    }
  }
}

variable "redis_password" {
  description = "requirepass/masterauth of the nodes. Leave unset to use the REDIS_PASSWORD environment variable."
  type        = string
  sensitive   = true
  default     = null
}

provider "redis" {
  # AUTH on every node. Never written to state; falls back to REDIS_PASSWORD.
  password = var.redis_password

  # A dead node costs at most this, once, per operation.
  dial_timeout = "2s"
}
