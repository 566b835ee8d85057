#!/usr/bin/env bash
# Writes crates/arca/link-order.txt, the symbol ordering file release builds of `arca` link
# with (crates/arca/build.rs). Two servers run under callgrind: a dev server (in memory) and a
# durable one (`storage "file"`, initialised and unsealed over the API, KV v2 at secret/). The
# file lists first what both ran from start until idle, then what the common requests ran
# (sys/health, KV v2 read and write, token lookup and create, userpass and AppRole logins), each
# in the order callgrind first met the functions, then what the bench's other workloads ran
# (transit, PKI, JWT, identity tokens, response wrapping). Packed at the front of .text, they
# keep an idle server's resident code to a few MiB instead of most of the binary. Rerun it after a
# toolchain or dependency upgrade, or when the idle RSS `bench/startup.py --idle-rss` prints
# grows: names the build no longer has are skipped, not errors.
#   scripts/link-order.sh          # builds release arca and arca-bench, then about 30 s
#   NO_BUILD=1 scripts/link-order.sh
set -euo pipefail
cd "$(dirname "$0")/.."

target=${CARGO_TARGET_DIR:-target}
out=crates/arca/link-order.txt
if [ -z "${NO_BUILD:-}" ]; then cargo build --release -p arca -p arca-bench; fi
arca=$target/release/arca
bench=$target/release/arca-bench

work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until $1 answers GET /v1/sys/health with any status (sealed and uninitialised too).
wait_answer() {
  for _ in $(seq 1 600); do
    if curl -s -o /dev/null "$1/v1/sys/health"; then return 0; fi
    sleep 0.2
  done
  echo "link-order.sh: $1 did not answer" >&2
  cat "$work"/*.log >&2
  exit 1
}

# Profiles one server ($1: dev or file) into $work/$1.out.1 (start-up) and .2 (requests).
profile() {
  local kind=$1 port url token
  port=$(free_port)
  url=http://127.0.0.1:$port
  local args=(server -dev -dev-root-token-id=root "-dev-listen-address=127.0.0.1:$port")
  if [ "$kind" = file ]; then
    mkdir -p "$work/data"
    cat >"$work/server.hcl" <<HCL
storage "file" {
  path = "$work/data"
}
listener "tcp" {
  address = "127.0.0.1:$port"
  tls_disable = true
}
disable_mlock = true
api_addr = "$url"
HCL
    args=(server "-config=$work/server.hcl")
  fi
  # --demangle=no: the ordering file needs the symbols' linker names.
  valgrind --tool=callgrind --demangle=no --callgrind-out-file="$work/$kind.out" \
    "$arca" "${args[@]}" >"$work/$kind.log" 2>&1 &
  pid=$!
  wait_answer "$url"
  token=root
  if [ "$kind" = file ]; then
    local init key
    init=$(curl -sf -X PUT "$url/v1/sys/init" -d '{"secret_shares":1,"secret_threshold":1}')
    key=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["keys_base64"][0])' <<<"$init")
    token=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["root_token"])' <<<"$init")
    curl -sf -o /dev/null -X PUT "$url/v1/sys/unseal" -d "{\"key\":\"$key\"}"
    curl -sf -o /dev/null -H "X-Vault-Token: $token" -X POST "$url/v1/sys/mounts/secret" \
      -d '{"type":"kv","options":{"version":"2"}}'
  fi
  # What runs while idle (timers, the expiration manager) belongs to start-up's share.
  sleep 3
  callgrind_control -d startup "$pid" >/dev/null
  for w in sys-health kv2-read kv2-write token-lookup-self token-create userpass-login approle-login; do
    "$bench" callgrind-drive --addr "$url" --token "$token" --workload "$w" --n 50 --warmup 10
  done
  callgrind_control -d requests "$pid" >/dev/null
  # The rest of the bench's workloads (all but the database and plugin ones, which need a
  # running PostgreSQL or a plugin build): their code follows, so a server that serves them
  # too still keeps its resident code packed.
  for w in kv2-read-ns token-create-revoke identity-entity-read approle-login-oidc-token \
    transit-encrypt transit-decrypt transit-sign-ed25519 transit-verify-ecdsa-p256 \
    transit-encrypt-batch-100 wrap-unwrap jwt-login pki-issue-ec-256 pki-issue-rsa-2048; do
    "$bench" callgrind-drive --addr "$url" --token "$token" --workload "$w" --n 10 --warmup 2
  done
  callgrind_control -d more "$pid" >/dev/null
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=
}

profile dev
profile file

python3 - "$work/dev.out.1" "$work/file.out.1" "$work/dev.out.2" "$work/file.out.2" \
  "$work/dev.out.3" "$work/file.out.3" "$out" <<'PY'
import re
import sys

*dumps, out = sys.argv[1:]
order, seen = [], set()
for dump in dumps:
    names = {}
    with open(dump) as f:
        for line in f:
            m = re.match(r"(c?fn)=\((\d+)\)(?: (.*))?", line)
            if not m:
                continue
            kind, ident, name = m.groups()
            if name:
                names[ident] = name.strip()
            name = names.get(ident)
            # fn= lines open a function that ran; cfn= lines only name callees.
            if kind == "fn" and name and not name.startswith("0x") and name not in seen:
                seen.add(name)
                order.append(name)
with open(out, "w") as f:
    f.write("\n".join(order) + "\n")
print(f"link-order.sh: {len(order)} symbols written to {out}")
PY
