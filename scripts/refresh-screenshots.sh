#!/usr/bin/env bash
# Refreshes the README's pictures docs/dashboard.png and docs/dashboard-mobile.png on purpose:
# runs the dashboard tests (which otherwise write only target/screenshots/) with
# CRONQ_REFRESH_DOCS=1.
# Needs what the test needs: redis-server, Debian's chromium, `npm ci` in tests/browser.
set -euo pipefail
cd "$(dirname "$0")/.."
(cd tests/browser && npm ci --silent)
CRONQ_REFRESH_DOCS=1 cargo nextest run --test dashboard --no-capture
git status --short docs/dashboard.png docs/dashboard-mobile.png
