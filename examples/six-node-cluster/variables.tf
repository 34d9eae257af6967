variable "nodes" {
  description = "Six empty, cluster-enabled redis-server nodes as host:port, one per host."
  type        = list(string)
  default = [
    "10.0.0.11:6379",
    "10.0.0.12:6379",
    "10.0.0.13:6379",
    "10.0.0.14:6379",
    "10.0.0.15:6379",
    "10.0.0.16:6379",
  ]

  validation {
    condition     = length(var.nodes) == 6 && length(distinct(var.nodes)) == 6
    error_message = "nodes must list six distinct host:port addresses."
  }
}

variable "password" {
  description = "requirepass/masterauth shared by the nodes. Leave unset to use the REDIS_PASSWORD environment variable."
  type        = string
  sensitive   = true
  default     = null
}
