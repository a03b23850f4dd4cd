#!/usr/bin/env bash
# Installs everything the node needs on a fresh Debian 12 machine: Debian packages, the Python
# virtualenv with pinned dependencies, and front-end assets from the npm lock file.
# Usage: scripts/setup.sh [--dev]     (--dev adds test/bench tools)
# Idempotent: re-running skips what is already there.
set -euo pipefail
cd "$(dirname "$0")/.."
DEV=0; [ "${1:-}" = "--dev" ] && DEV=1
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"

want=$(grep -vE '^\s*(#|$)' deploy/apt-packages.txt | tr '\n' ' ')
missing=""
for p in $want; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"; done
if [ -n "$missing" ]; then
  echo "安装 Debian 软件包:$missing"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

if [ ! -x .venv/bin/python ]; then python3 -m venv .venv; fi
req=requirements.txt; [ "$DEV" = 1 ] && req=requirements-dev.txt
stamp=".venv/.installed-$(cat requirements.txt requirements-dev.txt setup.py | sha256sum | cut -c1-16)-$DEV"
if [ ! -f "$stamp" ]; then
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v "is ignored" || true
  .venv/bin/pip install -q -r "$req" 2>&1 | grep -v "is ignored" || true
  # compat mode puts the project root on sys.path, so packages added later need no reinstall
  .venv/bin/pip install -q --no-deps -e . --config-settings editable_mode=compat >/tmp/hotline-pip.log 2>&1 \
    || { cat /tmp/hotline-pip.log; exit 1; }
  .venv/bin/pip check
  touch "$stamp"
fi

if [ -f package-lock.json ]; then
  if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then npm ci --no-audit --no-fund --loglevel=error; fi
  .venv/bin/python scripts/vendor_assets.py
fi
echo "环境就绪 (.venv)"
