#!/usr/bin/env bash
# Make sure the services the test suite needs are running on 127.0.0.1, and
# reuse them when they already are:
#
#   PostgreSQL  127.0.0.1:5432, user postgres without a password, database twinops_test
#   Mosquitto   127.0.0.1:1883, anonymous MQTT
#
# Idempotent and safe to run twice or concurrently (runs hold a lock). As root it
# installs Debian's packages when they are missing and starts the services; as
# another user it only checks them and explains what is missing.
#
# Prints the PostgreSQL URL for the tests on stdout; progress goes to stderr.
#
# Environment:
#   TWINOPS_SERVICES_WAIT       seconds to wait for each service to answer (default 60)
#   TWINOPS_MOSQUITTO_CONF      broker config to try first (default /etc/mosquitto/mosquitto.conf);
#                               when it does not give an anonymous listener on
#                               127.0.0.1:1883, a minimal config of our own is used
#   TWINOPS_SERVICES_STATE_DIR  lock, logs and our own mosquitto config
#                               (default ${TMPDIR:-/tmp}/twinops-services-<uid>)
#
# Needs only bash, coreutils, apt-get and what apt-get installs.
set -euo pipefail

readonly PG_HOST=127.0.0.1 PG_PORT=5432 PG_USER=postgres PG_DB=twinops_test
readonly MQTT_HOST=127.0.0.1 MQTT_PORT=1883
readonly PG_URL="postgresql+psycopg://${PG_USER}@${PG_HOST}:${PG_PORT}/${PG_DB}"
readonly WAIT_SECS="${TWINOPS_SERVICES_WAIT:-60}"
STATE_DIR="${TWINOPS_SERVICES_STATE_DIR:-${TMPDIR:-/tmp}/twinops-services-$(id -u)}"
readonly STATE_DIR
readonly APT_LOG="$STATE_DIR/apt.log"
readonly MQTT_SYSTEM_CONF="${TWINOPS_MOSQUITTO_CONF:-/etc/mosquitto/mosquitto.conf}"
readonly HBA_MARK="# twinops test machine: added by scripts/services.sh"

APT_UPDATED=0

log() { printf 'services: %s\n' "$*" >&2; }
die() {
    printf 'services: ERROR: %s\n' "$*" >&2
    exit 1
}
is_root() { [[ "$(id -u)" -eq 0 ]]; }
have() { command -v "$1" >/dev/null 2>&1; }

# Succeeds when something accepts a TCP connection on host:port.
tcp_open() {
    # shellcheck disable=SC2016  # expanded by the inner shell
    timeout 3 "$BASH" -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# Waits (bounded) until "$@" succeeds; on timeout names the service and its log.
wait_until() {
    local what="$1" logf="$2"
    shift 2
    local deadline=$((SECONDS + WAIT_SECS))
    until "$@"; do
        if ((SECONDS >= deadline)); then
            die "$what did not answer within ${WAIT_SECS}s (log: $logf)"
        fi
        sleep 1
    done
}

# Runs a command with the lock descriptor closed, so that daemons it starts
# (postinst scripts, pg_ctlcluster, mosquitto -d) do not keep our lock held.
unlocked() { "$@" 9>&-; }

apt_install() {
    is_root || die "package(s) $* missing and not running as root; install them with: sudo apt-get install -y $*"
    have apt-get || die "package(s) $* missing and apt-get is not available"
    export DEBIAN_FRONTEND=noninteractive
    if ((APT_UPDATED == 0)); then
        log "apt-get update"
        unlocked apt-get update >>"$APT_LOG" 2>&1 ||
            die "apt-get update failed (log: $APT_LOG)"
        APT_UPDATED=1
    fi
    log "apt-get install -y $*"
    unlocked apt-get install -y \
        -o DPkg::Lock::Timeout=300 "$@" >>"$APT_LOG" 2>&1 ||
        die "apt-get install $* failed (log: $APT_LOG)"
}

# ---------------------------------------------------------------- PostgreSQL

# 0: accepting connections, 1: a server answers but is not ready yet, 2: nothing.
pg_status() {
    if have pg_isready; then
        local rc=0
        pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 3 || rc=$?
        case "$rc" in
            0) return 0 ;;
            1) return 1 ;;
            *) return 2 ;;
        esac
    fi
    tcp_open "$PG_HOST" "$PG_PORT" && return 0
    return 2
}
pg_ready() { pg_status; }

pg_psql() {
    PGCONNECT_TIMEOUT=5 psql -X -q -w -v ON_ERROR_STOP=1 \
        -h "$PG_HOST" -p "$PG_PORT" -U "$PG_USER" "$@"
}

pg_server_installed() {
    have pg_ctlcluster && compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null
}

# Prints "VERSION NAME LOGFILE" of the local cluster configured on port 5432
# (preferring one called main), or nothing.
pg_local_cluster() {
    have pg_lsclusters || return 0
    pg_lsclusters -h 2>/dev/null | awk -v port="$PG_PORT" '
        $3 == port && $2 == "main" { main = $1 " " $2 " " $7 }
        $3 == port && other == ""  { other = $1 " " $2 " " $7 }
        END { if (main != "") print main; else if (other != "") print other }'
}

pg_ensure_listen() {
    local ver="$1" name="$2" value
    have pg_conftool || return 0
    value="$(pg_conftool -s "$ver" "$name" show listen_addresses 2>/dev/null || echo localhost)"
    value="${value//\'/}"
    case ",${value// /}," in
        *,localhost,* | *,127.0.0.1,* | *,\*,* | *,0.0.0.0,*) ;;
        *)
            log "PostgreSQL $ver/$name: adding 127.0.0.1 to listen_addresses ('$value')"
            pg_conftool "$ver" "$name" set listen_addresses "${value:+$value,}127.0.0.1" >&2
            ;;
    esac
}

pg_start() {
    is_root || die "PostgreSQL is not answering on $PG_HOST:$PG_PORT and this is not root; start it with: sudo pg_ctlcluster --skip-systemctl-redirect \$(ls /etc/postgresql) main start"
    pg_server_installed || apt_install postgresql
    # Debian's postinst may have started the new cluster itself.
    if pg_status; then return 0; fi

    local cluster ver name logf out rc=0
    cluster="$(pg_local_cluster)"
    if [[ -z "$cluster" ]]; then
        if [[ -n "$(pg_lsclusters -h 2>/dev/null)" ]]; then
            die "no PostgreSQL cluster is configured on port $PG_PORT: $(pg_lsclusters 2>&1)"
        fi
        ver="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/postgres' |
            awk -F/ '{print $5}' | sort -V | tail -n 1)"
        log "creating PostgreSQL cluster $ver/main on port $PG_PORT"
        unlocked pg_createcluster --port "$PG_PORT" "$ver" main >>"$APT_LOG" 2>&1 ||
            die "pg_createcluster $ver main failed (log: $APT_LOG)"
        cluster="$(pg_local_cluster)"
        [[ -n "$cluster" ]] || die "pg_createcluster $ver main did not produce a cluster on port $PG_PORT"
    fi
    read -r ver name logf <<<"$cluster"
    pg_ensure_listen "$ver" "$name"
    log "starting PostgreSQL cluster $ver/$name"
    out="$(unlocked pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" start 2>&1)" || rc=$?
    # Exit 2 means "already running" (e.g. a concurrent start); waiting tells.
    if ((rc != 0 && rc != 2)); then
        die "pg_ctlcluster $ver $name start failed (rc=$rc): $out (log: $logf)"
    fi
    wait_until "PostgreSQL $ver/$name on $PG_HOST:$PG_PORT" "$logf" pg_ready
}

# Local TCP connections from user postgres without a password must work.
pg_ensure_auth() {
    local err ver name logf hba
    err="$(pg_psql -d postgres -tAc 'SELECT 1' 2>&1 >/dev/null)" && return 0
    case "$err" in
        *password* | *authentication* | *pg_hba.conf*) ;;
        *) die "cannot connect to PostgreSQL on $PG_HOST:$PG_PORT as $PG_USER: $err" ;;
    esac
    local cluster
    cluster="$(pg_local_cluster)"
    if ! is_root || [[ -z "$cluster" ]]; then
        die "PostgreSQL on $PG_HOST:$PG_PORT refuses $PG_USER without a password ($err); add 'host all all 127.0.0.1/32 trust' to its pg_hba.conf and reload"
    fi
    read -r ver name logf <<<"$cluster"
    hba="$(pg_conftool -s "$ver" "$name" show hba_file 2>/dev/null || echo "/etc/postgresql/$ver/$name/pg_hba.conf")"
    hba="${hba//\'/}"
    if ! grep -qF "$HBA_MARK" "$hba"; then
        log "PostgreSQL $ver/$name: trusting local TCP connections from 127.0.0.1 in $hba"
        local tmp
        tmp="$(mktemp "$hba.XXXXXX")"
        {
            printf '%s\n' "$HBA_MARK"
            printf 'host    all    all    127.0.0.1/32    trust\n'
            cat "$hba"
        } >"$tmp"
        chown --reference="$hba" "$tmp"
        chmod --reference="$hba" "$tmp"
        mv -f "$tmp" "$hba"
    fi
    unlocked pg_ctlcluster --skip-systemctl-redirect "$ver" "$name" reload >&2 ||
        die "pg_ctlcluster $ver $name reload failed (log: $logf)"
    local deadline=$((SECONDS + 10))
    until err="$(pg_psql -d postgres -tAc 'SELECT 1' 2>&1 >/dev/null)"; do
        ((SECONDS < deadline)) || die "PostgreSQL still refuses $PG_USER after updating $hba: $err (log: $logf)"
        sleep 1
    done
}

pg_ensure_db() {
    local exists
    exists="$(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" ||
        die "cannot query PostgreSQL on $PG_HOST:$PG_PORT"
    [[ "$exists" == 1 ]] && return 0
    log "creating database $PG_DB"
    if ! pg_psql -d postgres -c "CREATE DATABASE $PG_DB" >/dev/null 2>"$STATE_DIR/createdb.err"; then
        # Someone else may have created it in the meantime.
        exists="$(pg_psql -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" || true
        [[ "$exists" == 1 ]] || die "CREATE DATABASE $PG_DB failed: $(cat "$STATE_DIR/createdb.err")"
    fi
}

ensure_postgres() {
    local rc=0
    pg_status || rc=$?
    case "$rc" in
        0) log "PostgreSQL answers on $PG_HOST:$PG_PORT; reusing it" ;;
        1)
            log "PostgreSQL on $PG_HOST:$PG_PORT is starting; waiting"
            wait_until "PostgreSQL on $PG_HOST:$PG_PORT" "/var/log/postgresql/" pg_ready
            ;;
        *) pg_start ;;
    esac
    if ! have psql; then
        apt_install postgresql-client
    fi
    pg_ensure_auth
    pg_ensure_db
    log "PostgreSQL ready: $PG_URL"
}

# ----------------------------------------------------------------- Mosquitto

# Succeeds when an MQTT 3.1.1 broker on host:port accepts an anonymous CONNECT.
mqtt_ready() {
    # shellcheck disable=SC2016  # expanded by the inner shell
    timeout 5 "$BASH" -c '
        exec 3<>"/dev/tcp/$1/$2" || exit 1
        # CONNECT: protocol "MQTT" level 4, clean session, keep-alive 60 s, empty client id
        printf "\x10\x0c\x00\x04MQTT\x04\x02\x00\x3c\x00\x00" >&3
        reply="$(head -c 4 <&3 | od -An -tx1 | tr -d " \n")"
        printf "\xe0\x00" >&3 || true  # DISCONNECT
        [[ "$reply" == 20020000 ]]
    ' _ "$MQTT_HOST" "$MQTT_PORT" 2>/dev/null
}

# Succeeds when the system config is likely to give an anonymous listener on
# 127.0.0.1:1883: either an explicit one, or no listener at all (mosquitto 2's
# local-only default, which is 1883 on loopback with anonymous access).
mqtt_system_conf_ok() {
    local conf="$MQTT_SYSTEM_CONF" files=() dir f
    [[ -r "$conf" ]] || return 1
    files+=("$conf")
    while read -r dir; do
        for f in "$dir"/*.conf; do
            if [[ -r "$f" ]]; then files+=("$f"); fi
        done
    done < <(awk '$1 == "include_dir" { print $2 }' "$conf")
    local listeners
    listeners="$(awk '$1 == "listener" || $1 == "port" { print $1, $2, $3 }' "${files[@]}")"
    [[ -z "$listeners" ]] && return 0
    grep -qE "^(listener ${MQTT_PORT}( 127\.0\.0\.1| localhost)?|port ${MQTT_PORT}) *$" <<<"$listeners" || return 1
    awk '$1 == "allow_anonymous" && $2 == "true" { found = 1 } END { exit !found }' "${files[@]}"
}

mqtt_start_with() {
    local conf="$1" out
    log "starting mosquitto -d -c $conf"
    out="$(unlocked mosquitto -d -c "$conf" 2>&1)" || {
        log "mosquitto -d -c $conf failed: $out"
        return 1
    }
}

# Waits up to $1 seconds for the broker; no error.
mqtt_wait() {
    local deadline=$((SECONDS + $1))
    until mqtt_ready; do
        ((SECONDS < deadline)) || return 1
        sleep 1
    done
}

mqtt_own_conf() {
    local dir="$STATE_DIR/mosquitto"
    mkdir -p "$dir"
    cat >"$dir/mosquitto.conf" <<EOF
# Written by twinops scripts/services.sh: a broker for the test suite only.
listener ${MQTT_PORT} ${MQTT_HOST}
allow_anonymous true
persistence false
log_dest file $dir/mosquitto.log
pid_file $dir/mosquitto.pid
EOF
    touch "$dir/mosquitto.log"
    # As root, mosquitto drops to user mosquitto, which must write its files.
    if is_root && id mosquitto >/dev/null 2>&1; then
        chown -R mosquitto: "$dir"
    fi
    printf '%s\n' "$dir/mosquitto.conf"
}

ensure_mosquitto() {
    if tcp_open "$MQTT_HOST" "$MQTT_PORT"; then
        wait_until "MQTT broker on $MQTT_HOST:$MQTT_PORT (already listening; anonymous MQTT CONNECT)" \
            "/var/log/mosquitto/mosquitto.log" mqtt_ready
        log "MQTT broker answers on $MQTT_HOST:$MQTT_PORT; reusing it"
        return 0
    fi
    if ! have mosquitto; then
        apt_install mosquitto
        # Debian's postinst may have started it.
        if mqtt_wait 3; then
            log "Mosquitto ready on $MQTT_HOST:$MQTT_PORT"
            return 0
        fi
    fi
    if mqtt_system_conf_ok; then
        if is_root && id mosquitto >/dev/null 2>&1; then
            # /run is often a fresh tmpfs; Debian's init script creates this.
            install -d -m 755 -o mosquitto -g mosquitto /run/mosquitto
        fi
        if mqtt_start_with "$MQTT_SYSTEM_CONF" && mqtt_wait 10; then
            log "Mosquitto ready on $MQTT_HOST:$MQTT_PORT ($MQTT_SYSTEM_CONF)"
            return 0
        fi
        log "Mosquitto with $MQTT_SYSTEM_CONF did not answer (log: /var/log/mosquitto/mosquitto.log); using a config of our own"
    fi
    local conf
    conf="$(mqtt_own_conf)"
    mqtt_start_with "$conf" || die "could not start mosquitto with $conf (log: ${conf%/*}/mosquitto.log)"
    wait_until "Mosquitto on $MQTT_HOST:$MQTT_PORT" "${conf%/*}/mosquitto.log" mqtt_ready
    log "Mosquitto ready on $MQTT_HOST:$MQTT_PORT ($conf)"
}

# ---------------------------------------------------------------------- main

main() {
    mkdir -p "$STATE_DIR"
    [[ -O "$STATE_DIR" ]] || die "$STATE_DIR is not owned by $(id -un); set TWINOPS_SERVICES_STATE_DIR"
    chmod 755 "$STATE_DIR" # mosquitto, as its own user, must reach our config
    if have flock; then
        exec 9>"$STATE_DIR/lock"
        flock -w "$((WAIT_SECS * 10))" 9 || die "timed out waiting for another services.sh ($STATE_DIR/lock)"
    else
        log "flock not found; running without a lock"
    fi
    ensure_postgres
    ensure_mosquitto
    printf '%s\n' "$PG_URL"
}

main "$@"
