#!/usr/bin/env bash
# THE test command: ./scripts/test.sh [pytest arguments...]
#
#   1. scripts/setup.sh     .venv with twinops[dev] (skipped when up to date)
#   2. scripts/services.sh  PostgreSQL and Mosquitto on 127.0.0.1
#      scripts/browser.sh   Debian's Chromium for the console's browser tests
#   3. ruff check, ruff format --check, mypy, pytest "$@"
#
# All checks run even when an earlier one fails; the exit status is non-zero if
# any failed, and the last line is a summary. Needs no input (fine under CI=true).
#
# Environment:
#   TWINOPS_TEST_PG_URL     default postgresql+psycopg://postgres@127.0.0.1:5432/twinops_test
#   TWINOPS_TEST_MQTT_URL   default mqtt://127.0.0.1:1883
#   TWINOPS_DATA_DIR        default <repo>/../shared/data
#   TWINOPS_PYTEST_WORKERS  run pytest with -n N (pytest-xdist); default: one process
#   TWINOPS_SKIP_LINT       1 to skip ruff and mypy (quick pytest iterations)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="$ROOT/.venv"
cd "$ROOT"

start=$SECONDS
results=()
failed=()

# Our own lines go to stdout with the tools' output, so a log keeps their order.
banner() { printf '\n==> %s\n' "$*"; }

# step NAME COMMAND...: runs a check, records its result, never aborts.
step() {
    local name="$1" rc=0 t0=$SECONDS
    shift
    banner "$name: $*"
    "$@" || rc=$?
    if ((rc == 0)); then
        results+=("$name ok")
    else
        results+=("$name FAILED")
        failed+=("$name")
        printf '==> %s FAILED (exit %d)\n' "$name" "$rc"
    fi
    printf '==> %s took %ds\n' "$name" "$((SECONDS - t0))"
}

summary() {
    local status="$1" joined
    joined="$(printf '%s, ' "${results[@]}")"
    printf '\ntest.sh: %s in %ds (%s)\n' "$status" "$((SECONDS - start))" "${joined%, }"
}

abort() { # a prerequisite failed: nothing else can run
    results+=("$1 FAILED")
    summary FAILED
    exit 1
}

banner "setup: scripts/setup.sh"
"$ROOT/scripts/setup.sh" 2>&1 || abort setup
results+=("setup ok")

banner "services: scripts/services.sh"
{ "$ROOT/scripts/services.sh" >/dev/null; } 2>&1 || abort services
results+=("services ok")

# A missing browser fails only the console's browser tests, so the other checks still run.
step browser "$ROOT/scripts/browser.sh"

export VIRTUAL_ENV="$VENV"
export PATH="$VENV/bin:$PATH"
export TWINOPS_TEST_PG_URL="${TWINOPS_TEST_PG_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/twinops_test}"
export TWINOPS_TEST_MQTT_URL="${TWINOPS_TEST_MQTT_URL:-mqtt://127.0.0.1:1883}"
if [[ -z "${TWINOPS_DATA_DIR:-}" ]]; then
    TWINOPS_DATA_DIR="$(cd "$ROOT/.." && pwd)/shared/data"
fi
export TWINOPS_DATA_DIR
[[ -d "$TWINOPS_DATA_DIR" ]] || printf 'test.sh: warning: TWINOPS_DATA_DIR=%s does not exist\n' "$TWINOPS_DATA_DIR"
printf 'test.sh: TWINOPS_TEST_PG_URL=%s TWINOPS_DATA_DIR=%s\n' "$TWINOPS_TEST_PG_URL" "$TWINOPS_DATA_DIR"

if [[ "${TWINOPS_SKIP_LINT:-0}" == 1 ]]; then
    results+=("lint skipped")
else
    dirs=()
    for d in src tests bench examples; do
        if [[ -d "$d" ]]; then dirs+=("$d"); fi
    done
    if ((${#dirs[@]} > 0)); then
        step ruff "$VENV/bin/ruff" check "${dirs[@]}"
        step ruff-format "$VENV/bin/ruff" format --check "${dirs[@]}"
    fi
    step mypy "$VENV/bin/mypy"
fi

# pytest exits 5 when it collected no tests: that is a failure here too.
run_pytest() {
    local rc=0 workers=()
    if [[ -n "${TWINOPS_PYTEST_WORKERS:-}" && "${TWINOPS_PYTEST_WORKERS}" != 1 ]]; then
        workers=(-n "$TWINOPS_PYTEST_WORKERS")
    fi
    printf '    python -m pytest%s\n' "$(printf ' %q' "${workers[@]}" "$@")"
    "$VENV/bin/python" -m pytest "${workers[@]}" "$@" || rc=$?
    if ((rc == 5)); then
        printf 'test.sh: pytest collected no tests (exit 5); treating that as a failure\n'
    fi
    return "$rc"
}
step pytest run_pytest "$@"

if ((${#failed[@]} > 0)); then
    summary "FAILED [${failed[*]}]"
    exit 1
fi
summary PASSED
