#!/usr/bin/env bash
# Regenerates the checked-in protobuf/gRPC code under federation/v1/ from proto/federation/v1/*.proto.
# The generator is grpcio-tools, pinned in requirements-dev.txt. Never edit the generated files.
# Usage: scripts/gen_proto.sh [OUTPUT_ROOT]   (default: the project root; check_proto.sh passes a temp dir)
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-.}"
py="${PYTHON:-.venv/bin/python}"
mkdir -p "$out/federation/v1"
"$py" -m grpc_tools.protoc -I proto \
  --python_out="$out" --grpc_python_out="$out" --pyi_out="$out" \
  proto/federation/v1/federation.proto
