#!/usr/bin/env bash
# Runs every test: lint, then pytest on SQLite and PostgreSQL (unit, integration, multi-node, SIP
# and browser tests; the generated-code check is tests/federation/test_proto_codegen.py).
# Starts PostgreSQL if it is down.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/python -c "from tests.pg import ensure_server; ensure_server()"
.venv/bin/ruff check .
set +e
# two workers (pytest-xdist): CI has 2 cores; every test waits on conditions, never on time
.venv/bin/pytest -q -p no:cacheprovider -n "${TEST_WORKERS:-2}" "$@"
code=$?
set -e
[ "$code" -eq 5 ] && { echo "没有执行任何测试"; exit 1; }
exit "$code"
