#!/usr/bin/env bash
# Builds Arca and starts a dev server on 127.0.0.1:8200 with root token "root".
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -p arca
exec ./target/release/arca server -dev -dev-root-token-id=root "$@"
