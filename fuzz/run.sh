#!/usr/bin/env bash
# Runs every fuzz target for a short bounded time (default 20 s each; FUZZ_SECONDS overrides),
# as CI can. Needs cargo-fuzz (installed when missing) and nightly features: RUSTC_BOOTSTRAP=1
# lets the stable toolchain build with -Zsanitizer; a nightly toolchain works as well.
# Usage: fuzz/run.sh [target ...]     (all targets when none is named)
set -euo pipefail
cd "$(dirname "$0")"

seconds="${FUZZ_SECONDS:-20}"
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "==> installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  mapfile -t targets < <(cargo fuzz list)
fi

for t in "${targets[@]}"; do
  echo "==> fuzz target $t for ${seconds}s"
  mkdir -p "corpus/$t"
  cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$seconds" -max_len=4096 -timeout=10
done
echo "==> all ${#targets[@]} fuzz targets ran ${seconds}s without a crash"
