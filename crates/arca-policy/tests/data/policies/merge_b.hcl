path "m/shared" {
  capabilities = ["update", "list"]
}
path "m/denied" {
  capabilities = ["deny"]
}
path "m/food*" {
  capabilities = ["create"]
}
path "m/x/+" {
  capabilities = ["delete"]
}
