#!/usr/bin/env bash
# The test command: installs what a fresh machine lacks, builds once, runs every test.
# Needs: cargo (with cargo-nextest if available), apt-get for redis-server when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v redis-server >/dev/null 2>&1 || need_apt+=(redis-server)
# The dashboard test drives Debian's Chromium with playwright-core (never a downloaded browser).
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
command -v node >/dev/null 2>&1 || need_apt+=(nodejs)
command -v npm >/dev/null 2>&1 || need_apt+=(npm)
if ((${#need_apt[@]})); then
  echo "installing: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
(cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
(cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)
# Tests start their own redis-server on free loopback ports; a system service is not needed.
command -v systemctl >/dev/null 2>&1 && systemctl stop redis-server >/dev/null 2>&1 || true

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --locked --no-fail-fast
else
  cargo test --locked --no-fail-fast
fi

# The OpenAPI document (written by tests/api_router.rs) must validate against the spec.
python3 -m openapi_spec_validator --help >/dev/null 2>&1 \
  || python3 -m pip install -q openapi-spec-validator 2>/dev/null \
  || python3 -m pip install -q --break-system-packages openapi-spec-validator
python3 -m openapi_spec_validator target/openapi.json

# The deploy kit: workflows, Dockerfile, Kubernetes manifests, systemd unit (a few seconds).
bash scripts/lint-deploy.sh
