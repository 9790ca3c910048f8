#!/usr/bin/env bash
# Quick start: set up .venv (skipped when up to date), then run the demo:
#   ./scripts/demo.sh [twinops demo arguments...]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/twinops" demo "$@"
