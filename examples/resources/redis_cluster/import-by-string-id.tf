# Import a running cluster by the address of any one member.
import {
  to = redis_cluster.main
  id = "10.0.0.11:6379"
}
