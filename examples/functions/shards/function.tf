# The layout `redis-cli --cluster create <six nodes> --cluster-replicas 1`
# chooses, as a shards value: masters 10.0.0.11, .12 and .13 with replicas
# .15, .16 and .14 (never on their master's host), and slots 0-5460,
# 5461-10922 and 10923-16383.
resource "redis_cluster" "main" {
  shards = provider::redis::shards([
    "10.0.0.11:6379",
    "10.0.0.12:6379",
    "10.0.0.13:6379",
    "10.0.0.14:6379",
    "10.0.0.15:6379",
    "10.0.0.16:6379",
  ], 1)
}

# The function sets slots on every shard, so redis_cluster enforces that split
# and reports slots moved outside Terraform as drift. To leave slot moves to
# others (resharding by hand), keep only masters and replicas: create then
# makes the same even split, and later moves are not drift.
resource "redis_cluster" "floating_slots" {
  shards = [
    for s in provider::redis::shards([
      "10.0.1.11:6379",
      "10.0.1.12:6379",
      "10.0.1.13:6379",
      "10.0.1.14:6379",
      "10.0.1.15:6379",
      "10.0.1.16:6379",
    ], 1) : { master = s.master, replicas = s.replicas }
  ]
}
