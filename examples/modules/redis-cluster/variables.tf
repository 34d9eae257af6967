variable "nodes" {
  description = "Addresses (host:port) of empty cluster-enabled redis-server nodes. Masters and replicas are chosen as redis-cli --cluster create would choose them."
  type        = list(string)
}

variable "replicas" {
  description = "Replicas per master."
  type        = number
  default     = 1
}

variable "slots" {
  description = "Optional slot ranges per shard (in shard order), e.g. [[\"0-8191\"], [\"8192-16383\"]]. Null: the even split redis-cli makes."
  type        = list(list(string))
  default     = null
}

variable "force_destroy" {
  description = "Allow destroy to flush masters that still hold keys."
  type        = bool
  default     = false
}
