# OpenBao policy docs: exact, glob and prefix-glob paths
path "secret/foo" {
  capabilities = ["read"]
}

path "secret/bar/*" {
  capabilities = ["read"]
}

path "secret/zip-*" {
  capabilities = ["read"]
}
