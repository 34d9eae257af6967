# A user by the address of any member and its name: its rules are read as ACL LIST prints them on
# that node, and its current passwords are the ones the next plan compares with.
terraform import redis_acl_user.app 10.0.0.11:6379/app
