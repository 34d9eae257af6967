# A member of any cluster, by its address: role, master and (for a master) slots are read from it.
terraform import 'redis_cluster_node.replica["10.0.0.15:6379"]' 10.0.0.15:6379
