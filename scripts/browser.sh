#!/usr/bin/env bash
# Make sure a headless browser for the console's Playwright tests is installed:
# Debian's Chromium at /usr/bin/chromium (the tests drive it through Python
# Playwright with executable_path; nothing is downloaded from a browser CDN).
#
# Idempotent and quiet: does nothing when the browser is already there. As root it
# installs the `chromium` package with apt-get when missing; as another user it
# only explains what is missing (the browser tests then fail, naming it).
#
# Environment:
#   TWINOPS_CHROMIUM   the browser executable to check for (default /usr/bin/chromium)
#   TWINOPS_SERVICES_STATE_DIR  where the apt log goes
#                               (default ${TMPDIR:-/tmp}/twinops-services-<uid>)
set -euo pipefail

readonly BROWSER="${TWINOPS_CHROMIUM:-/usr/bin/chromium}"
STATE_DIR="${TWINOPS_SERVICES_STATE_DIR:-${TMPDIR:-/tmp}/twinops-services-$(id -u)}"
readonly STATE_DIR
readonly APT_LOG="$STATE_DIR/apt-browser.log"

log() { printf 'browser: %s\n' "$*" >&2; }
die() {
    printf 'browser: ERROR: %s\n' "$*" >&2
    exit 1
}

[[ -x "$BROWSER" ]] && exit 0

[[ "$(id -u)" -eq 0 ]] || die "$BROWSER is missing and not running as root; install it with: sudo apt-get install -y chromium"
command -v apt-get >/dev/null 2>&1 || die "$BROWSER is missing and apt-get is not available"
mkdir -p "$STATE_DIR"

# Serialize concurrent runs (two test runs would otherwise race on dpkg).
if command -v flock >/dev/null 2>&1; then
    exec 9>"$STATE_DIR/browser.lock"
    flock -w 900 9 || die "timed out waiting for another browser.sh"
    [[ -x "$BROWSER" ]] && exit 0
fi

export DEBIAN_FRONTEND=noninteractive
log "installing chromium with apt-get (log: $APT_LOG)"
apt-get update 9>&- >>"$APT_LOG" 2>&1 || die "apt-get update failed (log: $APT_LOG)"
apt-get install -y --no-install-recommends -o DPkg::Lock::Timeout=300 chromium 9>&- >>"$APT_LOG" 2>&1 ||
    die "apt-get install chromium failed (log: $APT_LOG)"
[[ -x "$BROWSER" ]] || die "chromium installed but $BROWSER is not there (log: $APT_LOG)"
log "done"
