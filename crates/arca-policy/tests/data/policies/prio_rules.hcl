# One pair per priority rule of the policy docs, each granting a distinct capability set.
# Rule 1: the first wildcard/glob later wins (foo/a* over foo/+).
path "r1/a*" {
  capabilities = ["read"]
}
path "r1/+" {
  capabilities = ["list"]
}
# Rule 1 again: r1b/bar/+/baz over r1b/+/bar/baz.
path "r1b/bar/+/baz" {
  capabilities = ["read"]
}
path "r1b/+/bar/baz" {
  capabilities = ["list"]
}
# Rule 2: not ending in * wins (r2/+/bar over r2/+/ba*).
path "r2/+/bar" {
  capabilities = ["read"]
}
path "r2/+/ba*" {
  capabilities = ["list"]
}
# Rule 2 again: r2b/+ over r2b/*.
path "r2b/+" {
  capabilities = ["read"]
}
path "r2b/*" {
  capabilities = ["list"]
}
# Rule 3: fewer + segments wins (r3/bar/+/baz over r3/+/+/baz).
path "r3/bar/+/baz" {
  capabilities = ["read"]
}
path "r3/+/+/baz" {
  capabilities = ["list"]
}
# Rule 4: longer wins (r4/+/bar/ba* over r4/+/bar/b*).
path "r4/+/bar/ba*" {
  capabilities = ["read"]
}
path "r4/+/bar/b*" {
  capabilities = ["list"]
}
# Longest prefix between plain globs.
path "lp/*" {
  capabilities = ["read"]
}
path "lp/deep/*" {
  capabilities = ["update"]
}
