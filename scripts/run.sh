#!/usr/bin/env bash
# The run command: on a fresh machine, makes sure a local Redis answers on 127.0.0.1:6379
# (installing and starting redis-server when REDIS_URL is not set and nothing answers), then
# builds and runs the daemon with ./crontab and ./config/worker.toml.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -z "${REDIS_URL:-}" ] && [ -z "${REDIS_HOST:-}" ]; then
  if ! (exec 3<>/dev/tcp/127.0.0.1/6379) 2>/dev/null; then
    if ! command -v redis-server >/dev/null 2>&1; then
      SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
      $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
    fi
    redis-server --port 6379 --bind 127.0.0.1 --daemonize yes --appendonly yes --dir "${TMPDIR:-/tmp}" >/dev/null
  fi
fi
# The API can change jobs: on a laptop, listen on loopback unless told otherwise.
export WORKER_LISTEN="${WORKER_LISTEN:-127.0.0.1:3001}"
exec cargo run --release --locked --bin worker -- "$@"
