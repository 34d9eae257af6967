# Import a running cluster by the address of any one member. The live
# topology, read through that member, becomes the shards with their slots.
terraform import redis_cluster.main 10.0.0.11:6379
