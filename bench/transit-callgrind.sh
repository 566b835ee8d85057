#!/usr/bin/env bash
# Instructions per transit operation, repeatable on a shared machine (issue 17), in two parts:
#
# 1. In process: `arca-bench transit-cost --only OP` under `valgrind --tool=callgrind`, once
#    collecting only inside `transit_cost::raw_loop` (aws-lc-rs alone) and once only inside
#    `transit_cost::engine_loop` (the engine's `handle_request` on pre-built requests); see
#    crates/arca-bench/src/transit_cost.rs for what each holds. Each loop runs N + N/10 times
#    (the batch line N/20 + N/200 requests of 100 items), the warm-up included in the count.
# 2. Over HTTP: `bench/callgrind.sh` on the transit workloads (a dev Arca under callgrind,
#    M requests per workload on one keep-alive connection, the floor beside them).
#
# Writes bench/results/transit-callgrind.md (and the .json of each part).
#   bench/transit-callgrind.sh                # N=2000, M=2000
#   N=500 M=500 OUT=/tmp/cg bench/transit-callgrind.sh
set -euo pipefail
cd "$(dirname "$0")/.."

n=${N:-2000}
m=${M:-2000}
out=${OUT:-bench/results}
target=${CARGO_TARGET_DIR:-target}
bench=$target/release/arca-bench

cargo build --release -p arca -p arca-bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"

# Runs operation $1 under callgrind collecting only in $2 (raw_loop or engine_loop); the dump
# is named $3 as `callgrind_control -d $3` would name it.
inproc() {
  local file=$work/cost.$3.out
  echo "transit-callgrind.sh: in process: $3" >&2
  valgrind --tool=callgrind --toggle-collect="*transit_cost::$2*" \
    --callgrind-out-file="$file" "$bench" transit-cost --only "$1" --iterations "$n" \
    >"$work/cost.$3.log" 2>&1
  sed -i 's/^desc: Trigger: Program termination$/desc: Trigger: dump '"$3"'/' "$file"
}

singles=()
for op in encrypt decrypt sign verify; do
  inproc "$op" raw_loop "raw-$op"
  inproc "$op" engine_loop "engine-$op"
  singles+=("$work/cost.raw-$op.out" "$work/cost.engine-$op.out")
done
inproc batch raw_loop raw-batch
inproc batch engine_loop engine-batch

label="arca $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo '+changes'), $(valgrind --version)"
b=$((n / 20))
"$bench" callgrind-report --n $((n + n / 10)) --out "$work" --name inproc \
  --label "$label, in process, $((n + n / 10)) operations per line" "${singles[@]}" >/dev/null
"$bench" callgrind-report --n $((b + b / 10)) --out "$work" --name inproc-batch \
  --label "$label, in process, $((b + b / 10)) requests of 100 items" \
  "$work/cost.raw-batch.out" "$work/cost.engine-batch.out" >/dev/null

WORKLOADS="transit-encrypt transit-decrypt transit-sign-ed25519 transit-verify-ecdsa-p256 transit-encrypt-batch-100" \
  N=$m OUT=$work NAME=server NO_BUILD=1 bench/callgrind.sh >/dev/null

{
  echo "# Transit: instructions per operation"
  echo
  echo "Made by \`bench/transit-callgrind.sh\`. In process: \`raw-*\` is aws-lc-rs alone,"
  echo "\`engine-*\` the transit engine's \`handle_request\` on a pre-built request (see"
  echo "\`crates/arca-bench/src/transit_cost.rs\`). Over HTTP: the whole \`arca server -dev\` process"
  echo "per request, as \`bench/callgrind.sh\`."
  echo
  sed 's/^# /## /; s/^## \([a-z]\)/### \1/' "$work/inproc.md"
  echo
  sed 's/^# /## /; s/^## \([a-z]\)/### \1/' "$work/inproc-batch.md"
  echo
  sed 's/^# /## Over HTTP: /; s/^## \([a-z]\)/### \1/' "$work/server.md"
} >"$out/transit-callgrind.md"
cp "$work/inproc.json" "$out/transit-callgrind-inproc.json"
cp "$work/inproc-batch.json" "$out/transit-callgrind-inproc-batch.json"
cp "$work/server.json" "$out/transit-callgrind-server.json"
echo "wrote $out/transit-callgrind.md" >&2
