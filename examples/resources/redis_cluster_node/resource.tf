# A cluster composed node by node: three masters with their slots, and a
# replica for each, all created in one apply (Terraform runs them in
# parallel; each node joins through its seeds).
locals {
  masters = {
    "10.0.0.11:6379" = ["0-5460"]
    "10.0.0.12:6379" = ["5461-10922"]
    "10.0.0.13:6379" = ["10923-16383"]
  }
  replicas = {
    "10.0.0.15:6379" = "10.0.0.11:6379"
    "10.0.0.16:6379" = "10.0.0.12:6379"
    "10.0.0.14:6379" = "10.0.0.13:6379"
  }
}

resource "redis_cluster_node" "master" {
  for_each = local.masters
  address  = each.key
  seeds    = [for m in keys(local.masters) : m if m != each.key] # any members; used to join
  role     = "master"
  slots    = each.value

  # Destroy moves a master's slots with their keys to the masters that
  # stay. When the whole cluster goes in one run none stays: with false,
  # masters holding keys refuse and keep them; true discards them.
  force_destroy = false
}

resource "redis_cluster_node" "replica" {
  for_each = local.replicas
  address  = each.key
  seeds    = keys(local.masters)
  role     = "replica"
  master   = each.value
}
