path "old/read" {
  policy = "read"
}
path "old/write" {
  policy = "write"
}
path "old/sudo" {
  policy = "sudo"
}
path "old/deny" {
  policy = "deny"
}
path "old/mixed" {
  policy = "read"
  capabilities = ["update"]
}
