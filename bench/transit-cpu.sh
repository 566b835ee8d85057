#!/usr/bin/env bash
# Server CPU time per transit request, Arca beside OpenBao (issue 17): wall-clock rates on this
# shared 2-core machine move with whatever else runs, but the CPU a server spends on a request
# barely does. Starts a dev Arca and a dev OpenBao (in-memory storage), then for each transit
# workload sends a warm-up and N requests one after another on one keep-alive connection
# (`arca-bench callgrind-drive`) and reads the server's CPU time (the sum over its threads of
# /proc/<pid>/task/*/schedstat, user and kernel, in ns) just before and just after the N.
#   bench/transit-cpu.sh            # N=5000
#   N=2000 bench/transit-cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."

n=${N:-5000}
warmup=${WARMUP:-500}
target=${CARGO_TARGET_DIR:-target}
arca=$target/release/arca
bench=$target/release/arca-bench
bao=${BAO_BIN:-$(scripts/bao.sh)}
workloads=${WORKLOADS:-transit-encrypt transit-decrypt transit-sign-ed25519 transit-verify-ecdsa-p256 transit-encrypt-batch-100}

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

wait_ready() {
  for _ in $(seq 1 300); do
    if curl -sf -o /dev/null "$1/v1/sys/health"; then return 0; fi
    sleep 0.1
  done
  echo "transit-cpu.sh: $1 did not answer" >&2
  exit 1
}

arca_port=$(free_port)
"$arca" server -dev -dev-root-token-id=root "-dev-listen-address=127.0.0.1:$arca_port" \
  >"$work/arca.log" 2>&1 &
pids+=("$!")
arca_pid=$!
bao_port=$(free_port)
"$bao" server -dev -dev-root-token-id=root "-dev-listen-address=127.0.0.1:$bao_port" \
  >"$work/bao.log" 2>&1 &
pids+=("$!")
bao_pid=$!
wait_ready "http://127.0.0.1:$arca_port"
wait_ready "http://127.0.0.1:$bao_port"

# Prints the CPU time in ns of the server $1 to file $2.
cat >"$work/cpu.sh" <<'EOF'
#!/bin/sh
cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $1} END {printf "%d\n", s}' >"$2"
EOF
chmod +x "$work/cpu.sh"

# Prints "workload server ns-per-request".
measure() {
  "$bench" callgrind-drive --addr "http://127.0.0.1:$2" --workload "$1" --n "$n" \
    --warmup "$warmup" --before "$work/cpu.sh $3 $work/before" --after "$work/cpu.sh $3 $work/after" \
    >/dev/null
  echo "$1 $4 $(( ($(cat "$work/after") - $(cat "$work/before")) / n ))"
}

echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg); N=$n after $warmup"
echo "| workload | Arca CPU µs/request | OpenBao CPU µs/request | OpenBao / Arca |"
echo "|---|---:|---:|---:|"
for w in $workloads; do
  a=$(measure "$w" "$arca_port" "$arca_pid" arca | awk '{print $3}')
  b=$(measure "$w" "$bao_port" "$bao_pid" openbao | awk '{print $3}')
  awk -v w="$w" -v a="$a" -v b="$b" \
    'BEGIN { printf "| %s | %.1f | %.1f | %.1f |\n", w, a / 1000, b / 1000, b / a }'
done
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
