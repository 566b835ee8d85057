#!/usr/bin/env bash
# Checks tests/data/capabilities_cases.txt against a live OpenBao (or Vault) server.
# Usage: BAO_ADDR=http://127.0.0.1:18250 BAO_TOKEN=root tests/live_check.sh
# Not run by CI: the table is evaluated by tests/capabilities.rs without a server.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
data="$here/data"
fail=0
pass=0
declare -A tokens
for f in "$data"/policies/*; do
  stem="$(basename "${f%.*}")"
  bao policy write "live-$stem" "$f" >/dev/null
done
token_for() {
  local set="$1"
  if [[ "$set" == root ]]; then echo "$BAO_TOKEN"; return; fi
  if [[ -z "${tokens[$set]:-}" ]]; then
    local args=()
    IFS=, read -ra names <<<"$set"
    for n in "${names[@]}"; do
      if [[ "$n" == default ]]; then args+=("-policy=default"); else args+=("-policy=live-$n"); fi
    done
    [[ "$set" == default ]] || args+=("-no-default-policy")
    tokens[$set]="$(bao token create -ttl=10m "${args[@]}" -field=token)"
  fi
  echo "${tokens[$set]}"
}
while read -r set path want; do
  [[ -z "$set" || "$set" == \#* ]] && continue
  tok="$(token_for "$set")"
  got="$(bao token capabilities "$tok" "$path" | tr -d ' ')"
  if [[ "$got" == "$want" ]]; then
    pass=$((pass + 1))
  else
    echo "MISMATCH $set $path: want $want, server says $got"
    fail=$((fail + 1))
  fi
done <"$data/capabilities_cases.txt"
echo "$pass passed, $fail failed"
[[ $fail -eq 0 ]]
