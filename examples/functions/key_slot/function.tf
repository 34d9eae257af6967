# Provider functions need Terraform 1.8 or later, and the redis provider
# declared in the module's terraform block (as on the provider's page).

# The hash slot of a key, as CLUSTER KEYSLOT computes it: 12182.
output "foo_slot" {
  value = provider::redis::key_slot("foo")
}

# Keys with the same {hash tag} share a slot, so multi-key commands and
# transactions can use them together: only "user1000" is hashed here.
output "user_keys_share_a_slot" {
  value = provider::redis::key_slot("{user1000}.following") == provider::redis::key_slot("{user1000}.followers")
}

# Which of the three shards of the walkthrough serves a key, with redis-cli's
# even split (0-5460, 5461-10922, 10923-16383): shard 2 for "foo".
locals {
  slot = provider::redis::key_slot("foo")
}

output "foo_shard" {
  value = local.slot <= 5460 ? 0 : (local.slot <= 10922 ? 1 : 2)
}
