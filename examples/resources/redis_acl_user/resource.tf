variable "app_password" {
  type      = string
  sensitive = true
  ephemeral = true # Terraform 1.10+: never saved in the plan either
}

# The application's user on every member of the cluster, replicas included,
# so that it can still log in after a failover.
resource "redis_acl_user" "app" {
  seeds               = ["10.0.0.11:6379"] # any members; every member is found from them
  name                = "app"
  rules               = ["on", "~app:*", "+@read", "+@write"]
  password_wo         = var.app_password # write-only (Terraform 1.11+), never in state
  password_wo_version = 1                # bump to set a new password_wo
}

# Terraform older than 1.11: SHA-256 hashes instead of the password
# (printf %s "$PASSWORD" | sha256sum). Two hashes accept two passwords
# during a rotation.
resource "redis_acl_user" "reports" {
  seeds = ["10.0.0.11:6379", "10.0.0.12:6379"]
  name  = "reports"
  rules = ["on", "~report:*", "+@read"]
  password_hashes = [
    "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8",
  ]
}
