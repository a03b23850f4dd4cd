#!/usr/bin/env bash
# Generate the IVR prompts (espeak-ng cmn-latn-pinyin + sox, 8 kHz mono) and hold music into the
# node's prompts directory. Operator-recorded files in <prompts>/custom/<name>.wav take precedence.
# Usage: scripts/gen_prompts.sh [-c path/to/node.toml]
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/hotline "$@" telephony gen-prompts
