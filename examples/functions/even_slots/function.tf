# The split redis-cli makes for three masters:
# [["0-5460"], ["5461-10922"], ["10923-16383"]]
output "three_masters" {
  value = provider::redis::even_slots(3)
}

# Declaring the slots per shard makes redis_cluster enforce them: a slot moved
# outside Terraform shows as drift and apply moves it back with its keys.
# even_slots declares the split redis-cli would make.
locals {
  masters = ["10.0.0.11:6379", "10.0.0.12:6379", "10.0.0.13:6379"]
  split   = provider::redis::even_slots(length(local.masters))
}

resource "redis_cluster" "main" {
  shards = [
    for i, master in local.masters : {
      master = master
      slots  = local.split[i]
    }
  ]
}
