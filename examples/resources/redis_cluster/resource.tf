# Three shards of one master and one replica each, on six hosts. The 16384
# slots are split evenly in shard order, as `redis-cli --cluster create` does:
# 0-5460, 5461-10922, 10923-16383.
resource "redis_cluster" "main" {
  shards = [
    { master = "10.0.0.11:6379", replicas = ["10.0.0.15:6379"] },
    { master = "10.0.0.12:6379", replicas = ["10.0.0.16:6379"] },
    { master = "10.0.0.13:6379", replicas = ["10.0.0.14:6379"] },
  ]
}

# The slots declared per shard, here giving the third (larger) host half of
# them. Each entry is a range "a-b" or a single slot "n"; together they must
# cover 0-16383 exactly once. A slot found on another master is drift, and
# apply moves it back with its keys.
resource "redis_cluster" "explicit_slots" {
  shards = [
    { master = "10.0.1.11:6379", replicas = ["10.0.1.15:6379"], slots = ["0-4095"] },
    { master = "10.0.1.12:6379", replicas = ["10.0.1.16:6379"], slots = ["4096-8191"] },
    { master = "10.0.1.13:6379", replicas = ["10.0.1.14:6379"], slots = ["8192-16383"] },
  ]

  # Destroy refuses while any master holds keys unless this is true.
  force_destroy = false
}

# Settings every node must have, replicas and nodes added later included:
# applied with CONFIG SET, saved with CONFIG REWRITE where the nodes run from
# a config file. A node whose value differs is drift, set back by apply.
# Plan's safety warnings (see the Safety checks guide) can be quieted once
# decided on.
resource "redis_cluster" "with_settings" {
  shards = [
    { master = "10.0.2.11:6379", replicas = ["10.0.2.15:6379"] },
    { master = "10.0.2.12:6379", replicas = ["10.0.2.16:6379"] },
    { master = "10.0.2.13:6379", replicas = ["10.0.2.14:6379"] },
  ]

  config = {
    "cluster-node-timeout"            = "15000"
    "cluster-allow-replica-migration" = "no"
    "maxmemory-policy"                = "allkeys-lru"
  }

  # A cache: losing keys when a master restarts is acceptable.
  acknowledge_warnings = ["no_persistence"]
}
