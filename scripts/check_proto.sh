#!/usr/bin/env bash
# Fails when the checked-in generated code in federation/v1/ differs from a fresh regeneration.
# Run by the test suite (tests/federation/test_proto_codegen.py) and usable in CI on its own.
set -euo pipefail
cd "$(dirname "$0")/.."
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
scripts/gen_proto.sh "$tmp"
status=0
for f in "$tmp"/federation/v1/*; do
  name="federation/v1/$(basename "$f")"
  if ! diff -q "$f" "$name" >/dev/null 2>&1; then
    echo "生成代码已过期 (generated code out of date): $name — 运行 scripts/gen_proto.sh" >&2
    status=1
  fi
done
exit $status
