# OpenBao policy docs: "a more detailed policy"
path "secret/*" {
  capabilities = ["create", "read", "update", "patch", "delete", "list", "scan"]
}

path "secret/super-secret" {
  capabilities = ["deny"]
}

path "secret/restricted" {
  capabilities = ["create"]
  allowed_parameters = {
    "foo" = []
    "bar" = ["zip", "zap"]
  }
}
