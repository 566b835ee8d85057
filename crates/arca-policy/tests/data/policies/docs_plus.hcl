# OpenBao policy docs: + segment wildcards
path "secret/+/teamb" {
  capabilities = ["read"]
}

path "secret/+/+/teamb" {
  capabilities = ["read"]
}
