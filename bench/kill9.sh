#!/usr/bin/env bash
# The long kill -9 durability run: the test crates/arca/tests/durable_kill9.rs, built in release
# mode, with more rounds, more concurrent writers and more writes before each kill.
#
#   bench/kill9.sh                 # 300 rounds, 16 writers, kill after 1-2000 acknowledged writes
#   bench/kill9.sh 1000            # 1000 rounds
#   ARCA_KILL9_WRITERS=64 ARCA_KILL9_MAX_ACKED=5000 bench/kill9.sh 100
#
# Every round SIGKILLs a file-storage Arca while the writers write KV v2 secrets, restarts and
# unseals it, and checks that every write answered 2xx reads back with its value (a failed
# check fails the run and prints the seed to repeat it with).
set -euo pipefail
cd "$(dirname "$0")/.."
export ARCA_KILL9_ROUNDS="${1:-300}"
export ARCA_KILL9_WRITERS="${ARCA_KILL9_WRITERS:-16}"
export ARCA_KILL9_MAX_ACKED="${ARCA_KILL9_MAX_ACKED:-2000}"
exec cargo test --release -p arca --test durable_kill9 -- --nocapture
