#!/usr/bin/env bash
# Create the project virtualenv (.venv) and install twinops into it, editable,
# with the dev extra: pip install -e '.[dev]'. Then install the console's browser
# assets from npm (web/package-lock.json: npm ci in web/) and copy the files the
# console loads into src/twinops/web/static/vendor/ (no CDN: the console works offline).
#
# Skips the install when pyproject.toml (and the interpreter) have not changed
# since the last successful one (hash stamp in .venv), and npm ci when
# web/package-lock.json has not (stamp in web/node_modules). Quiet unless something
# fails; then pip's (or npm's) output is shown.
#
# Environment:
#   TWINOPS_PYTHON   interpreter to create .venv with (default python3.11, else python3 if >= 3.11)
#   TWINOPS_VERBOSE  1 to show pip's output as it runs
#   TWINOPS_FORCE_SETUP  1 to reinstall even when the stamp matches
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
readonly ROOT
readonly VENV="$ROOT/.venv"
readonly STAMP="$VENV/.twinops-setup-stamp"
readonly LOG="$VENV/.twinops-setup.log"
cd "$ROOT"

export PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1

log() { printf 'setup: %s\n' "$*" >&2; }
die() {
    printf 'setup: ERROR: %s\n' "$*" >&2
    exit 1
}

py_ok() { # interpreter: is it 3.11 or newer?
    "$1" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1
}

pick_python() {
    local cand
    for cand in ${TWINOPS_PYTHON:+"$TWINOPS_PYTHON"} python3.11 python3; do
        if command -v "$cand" >/dev/null 2>&1 && py_ok "$cand"; then
            printf '%s\n' "$cand"
            return 0
        fi
    done
    return 1
}

# Runs a command quietly, keeping its output in $LOG; shows it if it fails.
quiet() {
    if [[ "${TWINOPS_VERBOSE:-0}" == 1 ]]; then
        "$@" 2>&1 | tee -a "$LOG" >&2
        return "${PIPESTATUS[0]}"
    fi
    if ! "$@" >>"$LOG" 2>&1; then
        printf 'setup: command failed: %s\n--- last 80 lines of %s ---\n' "$*" "$LOG" >&2
        tail -n 80 "$LOG" >&2
        return 1
    fi
}

# Serialize concurrent runs on the same checkout (lock file outside the tree).
if command -v flock >/dev/null 2>&1; then
    lock="${TMPDIR:-/tmp}/twinops-setup-$(id -u)-$(printf '%s' "$ROOT" | sha256sum | cut -c1-16).lock"
    exec 9>"$lock"
    flock -w 900 9 || die "timed out waiting for another setup.sh ($lock)"
fi

[[ -f pyproject.toml ]] || die "no pyproject.toml in $ROOT"

if [[ ! -x "$VENV/bin/python" ]] || ! py_ok "$VENV/bin/python"; then
    python="$(pick_python)" || die "need Python 3.11 or newer (python3.11 or python3 on PATH, or TWINOPS_PYTHON)"
    log "creating .venv with $python ($("$python" -V 2>&1))"
    # --clear: a .venv whose interpreter is gone or too old is rebuilt.
    "$python" -m venv --clear "$VENV" || die "could not create $VENV with $python"
    rm -f "$STAMP"
fi

# The console's third-party assets: npm ci when the lock changed, then copy into vendor/.
readonly WEB="$ROOT/web"
readonly VENDOR="$ROOT/src/twinops/web/static/vendor"
readonly WEB_STAMP="$WEB/node_modules/.twinops-setup-stamp"
# name in node_modules -> name in vendor/
readonly VENDOR_FILES=(
    "uplot/dist/uPlot.esm.js:uPlot.esm.js"
    "uplot/dist/uPlot.min.css:uPlot.min.css"
    "uplot/LICENSE:uPlot.LICENSE.txt"
)

web_assets() {
    local web_want entry missing=0
    [[ -f "$WEB/package-lock.json" ]] || return 0
    for entry in "${VENDOR_FILES[@]}"; do
        [[ -f "$VENDOR/${entry#*:}" ]] || missing=1
    done
    web_want="$(sha256sum "$WEB/package-lock.json" | cut -d' ' -f1)"
    if [[ "${TWINOPS_FORCE_SETUP:-0}" != 1 && $missing == 0 && -f "$WEB_STAMP" &&
        "$(cat "$WEB_STAMP")" == "$web_want" ]]; then
        return 0
    fi
    if ! command -v npm >/dev/null 2>&1; then
        log "warning: npm is not installed; the console's charts (src/twinops/web/static/vendor) are missing"
        return 0
    fi
    log "installing the console's assets with npm ci (web/package-lock.json changed or first run)"
    rm -f "$WEB_STAMP"
    quiet npm ci --prefix "$WEB" --no-audit --no-fund --ignore-scripts --loglevel=error ||
        die "npm ci in web/ failed"
    mkdir -p "$VENDOR"
    for entry in "${VENDOR_FILES[@]}"; do
        cp -f "$WEB/node_modules/${entry%%:*}" "$VENDOR/${entry#*:}" ||
            die "web/node_modules/${entry%%:*} is missing after npm ci"
    done
    printf '%s\n' "$web_want" >"$WEB_STAMP"
}
web_assets

want="$({
    sha256sum pyproject.toml
    "$VENV/bin/python" -VV
} | sha256sum | cut -d' ' -f1)"

if [[ "${TWINOPS_FORCE_SETUP:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$want" ]] &&
    "$VENV/bin/python" -c 'import importlib.metadata as m; m.version("twinops")' >/dev/null 2>&1; then
    exit 0
fi

log "installing twinops with the dev extra into .venv (pyproject.toml changed or first run)"
: >"$LOG"
rm -f "$STAMP"
quiet "$VENV/bin/python" -m pip install --upgrade pip || die "upgrading pip failed"
quiet "$VENV/bin/python" -m pip install -e '.[dev]' || die "pip install -e '.[dev]' failed"
printf '%s\n' "$want" >"$STAMP.tmp"
mv -f "$STAMP.tmp" "$STAMP"
log "done"
