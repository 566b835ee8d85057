# OpenBao policy docs: "secret/*" outranks "secret/+/+/foo/*" (rule 3, more + segments)
path "secret/*" {
  capabilities = ["read"]
}

path "secret/+/+/foo/*" {
  capabilities = ["update"]
}
