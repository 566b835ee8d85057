#!/usr/bin/env bash
# Instructions per request, repeatable on a shared machine: builds release arca and arca-bench,
# runs a dev Arca (in-memory storage) under `valgrind --tool=callgrind` with collection off
# until it is ready, then for each workload (sys-health, kv2-read, kv2-write,
# token-lookup-self) sends a warm-up and then N requests on one keep-alive connection from
# `arca-bench callgrind-drive` (not under valgrind), zeroing the counters just before the N and
# dumping them just after; then the same for the floor (`arca-bench floor`, a bare hyper server
# answering Arca's sys/health answer). Writes bench/results/callgrind.{json,md}.
#   bench/callgrind.sh                 # N=2000 requests per workload, about 2-3 minutes
#   N=500 OUT=/tmp/cg bench/callgrind.sh
#   WORKLOADS="transit-encrypt transit-verify-ecdsa-p256" NAME=transit bench/callgrind.sh
# WORKLOADS replaces the four above, NAME the base name of the files written (callgrind),
# NO_BUILD=1 skips the build.
set -euo pipefail
cd "$(dirname "$0")/.."

n=${N:-2000}
warmup=${WARMUP:-200}
out=${OUT:-bench/results}
target=${CARGO_TARGET_DIR:-target}

workloads=${WORKLOADS:-sys-health kv2-read kv2-write token-lookup-self}
name=${NAME:-callgrind}

if [ -z "${NO_BUILD:-}" ]; then cargo build --release -p arca -p arca-bench; fi
arca=$target/release/arca
bench=$target/release/arca-bench

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Waits until $1 answers GET /v1/sys/health (valgrind makes start-up slow).
wait_ready() {
  for _ in $(seq 1 600); do
    if curl -sf -o /dev/null "$1/v1/sys/health"; then return 0; fi
    sleep 0.2
  done
  echo "callgrind.sh: $1 did not answer" >&2
  exit 1
}

# Runs workload $2 against $1 with counters zeroed before and dumped (named $3) after, in the
# callgrind process $4.
measure() {
  echo "callgrind.sh: $3: $warmup warm-up + $n requests" >&2
  "$bench" callgrind-drive --addr "$1" --workload "$2" --n "$n" --warmup "$warmup" \
    --before "callgrind_control -z $4 >/dev/null" \
    --after "callgrind_control -d $3 $4 >/dev/null"
}

cg=(valgrind --tool=callgrind --instr-atstart=no)

arca_port=$(free_port)
arca_url=http://127.0.0.1:$arca_port
"${cg[@]}" --callgrind-out-file="$work/arca.%p.out" \
  "$arca" server -dev -dev-root-token-id=root "-dev-listen-address=127.0.0.1:$arca_port" \
  >"$work/arca.log" 2>&1 &
arca_pid=$!
pids+=("$arca_pid")
wait_ready "$arca_url"

# The floor copies the live Arca's answer at start, so it starts while Arca runs.
floor_port=$(free_port)
floor_url=http://127.0.0.1:$floor_port
"${cg[@]}" --callgrind-out-file="$work/floor.%p.out" \
  "$bench" floor --listen "127.0.0.1:$floor_port" --copy-from "$arca_url" \
  >"$work/floor.log" 2>&1 &
floor_pid=$!
pids+=("$floor_pid")
wait_ready "$floor_url"

callgrind_control -i on "$arca_pid" >/dev/null
for w in $workloads; do
  measure "$arca_url" "$w" "$w" "$arca_pid"
done
kill "$arca_pid"
wait "$arca_pid" 2>/dev/null || true

callgrind_control -i on "$floor_pid" >/dev/null
measure "$floor_url" sys-health floor "$floor_pid"
kill "$floor_pid"
wait "$floor_pid" 2>/dev/null || true

label="arca $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates Cargo.toml Cargo.lock || echo '+changes'), $(valgrind --version), $n requests per workload after $warmup"
"$bench" callgrind-report --n "$n" --out "$out" --name "$name" --label "$label" \
  "$work"/arca.*.out.[0-9]* "$work"/floor.*.out.[0-9]*
