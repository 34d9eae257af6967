# One Redis Cluster per instance of this module: the layout redis-cli would
# choose for the nodes, optionally with explicit slots.
locals {
  layout = provider::redis::shards(var.nodes, var.replicas)
  shards = var.slots == null ? local.layout : [
    for i, s in local.layout : {
      master   = s.master
      replicas = s.replicas
      slots    = var.slots[i]
    }
  ]
}

resource "redis_cluster" "this" {
  shards        = local.shards
  force_destroy = var.force_destroy
}

# Health as the cluster reports it now. No depends_on: a data source that
# depends on pending changes is read at apply time, so it could not show
# drift at plan time. Reading it right after the resource in one apply is
# fine because the resource returns only once the cluster is ready.
data "redis_cluster" "health" {
  seeds = [for s in redis_cluster.this.shards : s.master]
}
