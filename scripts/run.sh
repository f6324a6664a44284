#!/usr/bin/env bash
# The run command: builds and runs the daemon with ./crontab and ./config/worker.toml. Nothing
# to install: with no Redis configured (no REDIS_URL/REDIS_HOST, no [redis] table in the config)
# the daemon keeps its jobs in the embedded store, one SQLite file (CRONQ_DATA, default
# ./data/cronq.db). Set REDIS_URL to use Redis instead (several daemons, BullMQ producers).
set -euo pipefail
cd "$(dirname "$0")/.."

# The API can change jobs: on a laptop, listen on loopback unless told otherwise.
export WORKER_LISTEN="${WORKER_LISTEN:-127.0.0.1:3001}"
exec cargo run --release --locked --bin worker -- "$@"
