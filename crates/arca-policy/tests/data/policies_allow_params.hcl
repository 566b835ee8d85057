path "kv1/restricted" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "foo" = []
    "bar" = ["zip", "zap"]
  }
}
path "kv1/star" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "bar" = ["zip", "zap"]
    "*"   = []
  }
}
path "kv1/denied" {
  capabilities = ["create", "update"]
  denied_parameters = {
    "no_store" = [false, "false"]
    "secret" = []
  }
}
path "kv1/denyall" {
  capabilities = ["create", "update"]
  denied_parameters = {
    "*" = []
  }
}
path "kv1/required" {
  capabilities = ["create", "update"]
  required_parameters = ["name", "id"]
}
path "kv1/glob" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "bar" = ["foo-*"]
  }
}
path "kv1/both" {
  capabilities = ["create", "update"]
  allowed_parameters = {
    "a" = []
    "b" = []
  }
  denied_parameters = {
    "b" = ["bad"]
  }
}
path "kv1/wrapped" {
  capabilities = ["create", "update", "read"]
  min_wrapping_ttl = "1s"
  max_wrapping_ttl = "90s"
}
