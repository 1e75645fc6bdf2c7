#!/usr/bin/env bash
# Throwaway PostgreSQL cluster for tests.
#
#   scripts/test-postgres.sh start DIR   # prints postgres://postgres@127.0.0.1:PORT/postgres
#   scripts/test-postgres.sh stop DIR    # stops it and removes DIR
#
# The cluster lives in DIR (data in DIR/data, unix socket in DIR, log in
# DIR/postgres.log), listens only on 127.0.0.1 at a free port, trusts every
# local connection and has a superuser role named "postgres". As root, the
# cluster runs as the "postgres" system user; otherwise as the invoking user.
# PG_BINDIR overrides where initdb/pg_ctl/pg_isready are taken from.
set -euo pipefail

MARKER=".drawbridge-test-postgres"
PROG="test-postgres.sh"

die() { printf '%s: %s\n' "$PROG" "$*" >&2; exit 1; }
usage() { printf 'usage: %s start DIR | stop DIR\n' "$PROG" >&2; exit 2; }

# Directory with initdb, pg_ctl and pg_isready: $PG_BINDIR, else the newest
# /usr/lib/postgresql/*/bin (Debian/Ubuntu), else whatever is on PATH.
find_bindir() {
    if [[ -n "${PG_BINDIR:-}" ]]; then
        [[ -x "$PG_BINDIR/initdb" ]] || die "PG_BINDIR=$PG_BINDIR has no initdb"
        printf '%s\n' "$PG_BINDIR"
        return
    fi
    local candidate best=""
    for candidate in /usr/lib/postgresql/*/bin; do
        [[ -x "$candidate/initdb" && -x "$candidate/pg_ctl" ]] || continue
        if [[ -z "$best" ]] || [[ "$(printf '%s\n%s\n' "$best" "$candidate" | sort -V | tail -n 1)" == "$candidate" ]]; then
            best="$candidate"
        fi
    done
    if [[ -z "$best" ]] && command -v initdb >/dev/null 2>&1; then
        best="$(dirname "$(command -v initdb)")"
    fi
    [[ -n "$best" ]] || die "PostgreSQL server binaries (initdb, pg_ctl) not found; run scripts/install-deps.sh"
    printf '%s\n' "$best"
}

# run_as_owner CMD...: run a PostgreSQL tool as the cluster owner (pg_ctl and
# initdb refuse to run as root). Runs from DIR so an unreadable cwd does not
# produce warnings.
run_as_owner() {
    if ((EUID == 0)); then
        (cd "$DIR" && runuser -u postgres -- "$@")
    else
        (cd "$DIR" && "$@")
    fi
}

free_port() {
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

cmd_start() {
    local bindir
    bindir="$(find_bindir)"

    mkdir -p "$DIR"
    DIR="$(cd "$DIR" && pwd -P)"
    [[ ! -e "$DIR/data" ]] || die "$DIR/data already exists; stop the old cluster first ($PROG stop $DIR)"
    # DIR gets chowned and later removed: only ever use an empty directory.
    [[ -z "$(ls -A "$DIR")" ]] || die "$DIR is not empty; give an empty or new directory"
    : >"$DIR/$MARKER"

    if ((EUID == 0)); then
        id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' system user to own the cluster"
        command -v runuser >/dev/null 2>&1 || die "running as root but 'runuser' is not available"
        chown -R postgres: "$DIR"
        chmod 0700 "$DIR"
        runuser -u postgres -- test -w "$DIR" 2>/dev/null \
            || die "user 'postgres' cannot write to $DIR (a parent directory is not accessible to it; use a directory under /tmp)"
    fi

    # Socket path must fit in sockaddr_un (107 bytes) including ".s.PGSQL.65535".
    ((${#DIR} <= 90)) || die "directory path too long for a unix socket: $DIR"

    local locale_args=(--no-locale)
    if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then
        locale_args=(--locale=C.UTF-8)
    fi

    if ! run_as_owner "$bindir/initdb" -D "$DIR/data" -U postgres --auth=trust -E UTF8 \
        "${locale_args[@]}" --no-sync --no-instructions >"$DIR/initdb.log" 2>&1; then
        tail -n 20 "$DIR/initdb.log" >&2 || true
        die "initdb failed (full output in $DIR/initdb.log)"
    fi

    cat >>"$DIR/data/postgresql.conf" <<EOF

# --- drawbridge test cluster ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
# The main test phase runs ~160 tests at once, each gateway with two pools of up to 4 connections:
# 200 ran out ("too many clients already") once the suites grew.
max_connections = 600
shared_buffers = 16MB
fsync = off
synchronous_commit = off
full_page_writes = off
EOF

    local attempt port="" started=0
    for attempt in 1 2 3 4 5; do
        port="$(free_port)" || die "could not pick a free port (python3 failed)"
        if run_as_owner "$bindir/pg_ctl" -D "$DIR/data" -l "$DIR/postgres.log" \
            -o "-p $port" -w -t 60 start >/dev/null 2>>"$DIR/pg_ctl.log"; then
            started=1
            break
        fi
        # Most likely lost a race for the port; make sure nothing is left
        # half-started, then try another one.
        run_as_owner "$bindir/pg_ctl" -D "$DIR/data" -m immediate stop >/dev/null 2>&1 || true
        printf '%s: start on port %s failed (attempt %s), retrying\n' "$PROG" "$port" "$attempt" >&2
    done
    if ((started == 0)); then
        tail -n 20 "$DIR/postgres.log" >&2 2>/dev/null || true
        die "PostgreSQL did not start (see $DIR/postgres.log)"
    fi

    local waited=0
    until "$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U postgres -d postgres; do
        ((waited < 60)) || die "PostgreSQL on 127.0.0.1:$port not ready after 30s (see $DIR/postgres.log)"
        sleep 0.5
        waited=$((waited + 1))
    done

    printf '%s\n' "$port" >"$DIR/port"
    printf 'postgres://postgres@127.0.0.1:%s/postgres\n' "$port"
}

cmd_stop() {
    [[ -e "$DIR" ]] || return 0
    DIR="$(cd "$DIR" && pwd -P)"
    [[ -e "$DIR/$MARKER" ]] \
        || die "$DIR was not created by '$PROG start'; refusing to remove it"
    if [[ -f "$DIR/data/postmaster.pid" ]]; then
        local bindir
        bindir="$(find_bindir)"
        run_as_owner "$bindir/pg_ctl" -D "$DIR/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
}

(($# == 2)) || usage
[[ -n "$2" ]] || usage
DIR="$2"
case "$1" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    *) usage ;;
esac
