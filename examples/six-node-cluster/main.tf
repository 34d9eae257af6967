# A Redis Cluster of three shards, each a master and one replica, on six hosts:
# what `redis-cli --cluster create <six nodes> --cluster-replicas 1` builds,
# declared once and kept that way. After a failover, `terraform plan` shows the
# promoted replica and `terraform apply` hands mastership back.

provider "redis" {
  password = var.password # null: REDIS_PASSWORD from the environment
}

locals {
  # The pairing redis-cli chooses for six hosts: the first three nodes are
  # masters; the replica of nodes[0] is nodes[4], of nodes[1] nodes[5], of
  # nodes[2] nodes[3]. No replica shares a host with its master.
  # With Terraform >= 1.8 the provider function
  # provider::redis::shards(var.nodes, 1) computes the same layout.
  shards = [
    { master = var.nodes[0], replicas = [var.nodes[4]] },
    { master = var.nodes[1], replicas = [var.nodes[5]] },
    { master = var.nodes[2], replicas = [var.nodes[3]] },
  ]
}

resource "redis_cluster" "main" {
  # No slots declared: create splits the 16384 slots evenly in shard order
  # (0-5460, 5461-10922, 10923-16383), and plan shows the split.
  shards = local.shards
}
