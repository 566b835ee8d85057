path "kv/*" {
  capabilities = ["read", "list"]
}
path "kv/app" {
  capabilities = ["update"]
}
path "kv/dir" {
  capabilities = ["list"]
}
path "kv/dir2/*" {
  capabilities = ["create"]
}
path "/lead/slash" {
  capabilities = ["sudo", "read"]
}
