#!/usr/bin/env bash
# Installs the OpenAPI tools the OpenAPI end-to-end test runs (crates/arca/tests/openapi_e2e.rs):
# `openapi-spec-validator` (checks the document is valid OpenAPI 3) and `schemathesis` (sends
# generated requests from the document), pinned, with pip, unless the pinned versions are
# already there. Prints the python interpreter that has them; fails loudly (exit status 1,
# message on stderr) when they cannot be installed: the test fails rather than skips.
set -euo pipefail

validator_version=0.8.4
schemathesis_version=4.32.5

fail() {
  echo "scripts/openapi-tools.sh: $*" >&2
  exit 1
}

python=$(command -v python3 || true)
[ -n "$python" ] || fail "python3 not found"

have() {
  "$python" - "$validator_version" "$schemathesis_version" <<'PY' 2>/dev/null
import sys
from importlib.metadata import version
sys.exit(0 if (version("openapi-spec-validator"), version("schemathesis")) == (sys.argv[1], sys.argv[2]) else 1)
PY
}

if ! have; then
  echo "scripts/openapi-tools.sh: installing openapi-spec-validator==${validator_version} schemathesis==${schemathesis_version}" >&2
  "$python" -m pip install --quiet --disable-pip-version-check \
    "openapi-spec-validator==${validator_version}" "schemathesis==${schemathesis_version}" >&2 \
    || fail "pip install of the OpenAPI tools failed"
  have || fail "the OpenAPI tools are not importable after installation"
fi
echo "$python"
