path "m/shared" {
  capabilities = ["read"]
}
path "m/denied" {
  capabilities = ["read", "update", "sudo"]
}
path "m/*" {
  capabilities = ["read"]
}
path "m/x/+" {
  capabilities = ["list"]
}
