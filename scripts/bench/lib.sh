# Helpers shared by the benchmark scripts (run.sh, oauth.sh, forward-auth.sh); sourced, not run.
# Callers set PROG, BENCH, OUT, SERVER_PID, CORES, QUIET_MAX, QUIET_WAIT, BACKGROUND_PIDS and define
# check_server before calling the functions that use them.
# shellcheck shell=bash

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }

step() { printf '==> %s\n' "$*" >&2; }

positive() { # NAME VALUE: VALUE must be a positive integer
    if ! [[ "$2" =~ ^[0-9]+$ ]] || ((10#$2 == 0)); then die "$1 must be a positive integer, got '$2'"; fi
}

# machine_busy SECONDS: % of all cores busy over SECONDS (/proc/stat: everything but idle and iowait).
machine_busy() {
    local a b
    a="$(head -n 1 /proc/stat)"
    sleep "$1"
    b="$(head -n 1 /proc/stat)"
    printf '%s\n%s\n' "$a" "$b" | awk '
        { busy[NR] = $2 + $3 + $4 + $7 + $8 + $9; all[NR] = busy[NR] + $5 + $6 }
        END { d = all[2] - all[1]; printf "%.0f", (d > 0 ? 100 * (busy[2] - busy[1]) / d : 0) }'
}

QUIET_WAITED=0

# wait_quiet LABEL: before a measurement, wait (within the whole run's budget of QUIET_WAIT
# seconds) until other work uses at most QUIET_MAX % of the machine; sets BUSY_BEFORE.
wait_quiet() {
    while :; do
        BUSY_BEFORE="$(machine_busy 3)"
        check_server "while waiting for a quiet machine before $1"
        ((BUSY_BEFORE > QUIET_MAX)) || return 0
        # shellcheck disable=SC2153  # QUIET_WAIT is set by the calling script
        if ((QUIET_WAITED >= QUIET_WAIT)); then
            printf 'WARNING: %s: the machine was %s%% busy with other work and the %ss wait budget is spent; measuring anyway\n' \
                "$1" "$BUSY_BEFORE" "$QUIET_WAIT" | tee -a "$OUT/notes.txt" >&2
            return 0
        fi
        step "Machine is ${BUSY_BEFORE}% busy with other work (over ${QUIET_MAX}%); waiting before $1 (${QUIET_WAITED}/${QUIET_WAIT}s of the wait budget used)"
        sleep 7
        QUIET_WAITED=$((QUIET_WAITED + 10))
    done
}

# wait_background: wait for the snapshot/wrk jobs started since the last call (never a bare
# `wait`, which would wait for the server too).
wait_background() {
    local pid
    for pid in "${BACKGROUND_PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    BACKGROUND_PIDS=()
}

# snapshot NAME SECONDS: record where the CPU goes during a run of SECONDS (drawbridge per thread,
# postgres, wrk, anything else on the machine), skipping its first and last 2 s, and a
# system-wide top for 5 s in its middle (to name any other work).
snapshot() {
    local window=$(($2 > 6 ? $2 - 4 : $2))
    (
        sleep $(($2 > 6 ? 2 : 0))
        python3 "$BENCH/cpu-split.py" "$SERVER_PID" "$window" >"$OUT/cpu-$1.txt" 2>&1 &
        sleep $((window / 2 > 3 ? window / 2 - 3 : 0))
        top -b -d 5 -n 2 -w 200 >"$OUT/top-$1.txt" 2>&1
        wait
    ) &
    BACKGROUND_PIDS+=($!)
}

# cpu_line NAME: the CPU split of a run on one line, for the summary, flagged when other work
# took more than QUIET_MAX % of the machine.
cpu_line() {
    [[ -s "$OUT/cpu-$1.txt" ]] || return 0
    local other
    other="$(sed -n 's/.*, other \([0-9]*\)%.*/\1/p' "$OUT/cpu-$1.txt")"
    printf '    cpu: %s%s\n' "$(paste -sd ';' "$OUT/cpu-$1.txt" | sed 's/;/; /g')" \
        "$( ((${other:-0} > QUIET_MAX * CORES)) && printf '  [DISTURBED: other work used %s%% of a core]' "$other")"
}

code_count() { awk -v c="$1" '$1 == c { n += $2 } END { print n + 0 }' "$2"; }

wrk_seconds() { sed -n 's/.* requests in \([0-9.]*\)\(m\{0,1\}s\),.*/\1 \2/p' "$1" | awk '{ print ($2 == "ms") ? $1 / 1000 : $1 }'; }

wrk_errors() { sed -n 's/^ *Socket errors: *//p' "$1"; }

per_second() { awk -v n="$1" -v s="$2" 'BEGIN { printf "%.1f", ((s > 0) ? n / s : 0) }'; }

latency_pct() { awk -v p="$1" '$1 == p { print $2 }' "$2"; }

# --- set-up shared by oauth.sh and forward-auth.sh ------------------------------------------------
# Callers set ROOT and OUT, and PG_DIR="" for their cleanup trap.

# bench_binary: BIN is $DRAWBRIDGE_BENCH_BIN or a release build in .build-release; `drawbridge …` runs it
# without the caller's DRAWBRIDGE_* environment (benchmark knobs, not Drawbridge settings).
bench_binary() {
    if [[ -n "${DRAWBRIDGE_BENCH_BIN:-}" ]]; then
        BIN="$DRAWBRIDGE_BENCH_BIN"
        step "Using drawbridge binary $BIN (DRAWBRIDGE_BENCH_BIN)"
    else
        step "Building drawbridge (release, --scratch-path .build-release)"
        (cd "$ROOT" && swift build -c release --product drawbridge --scratch-path .build-release) || die "release build failed"
        BIN="$(cd "$ROOT" && swift build -c release --scratch-path .build-release --show-bin-path)/drawbridge"
    fi
    [[ -x "$BIN" ]] || die "drawbridge binary not found at $BIN"
    ENV_CLEAN=()
    while IFS= read -r name; do ENV_CLEAN+=(-u "$name"); done < <(compgen -e | grep '^DRAWBRIDGE_' || true)
    drawbridge() { env "${ENV_CLEAN[@]}" "$BIN" "$@"; }
}

# bench_postgres [--no-statement-stats]: a throwaway PostgreSQL in $OUT/pg with pg_stat_statements preloaded
# (unless told not to: the login benchmark counts no statements), roles drawbridge and platform_ro (read-only),
# databases drawbridge and platform_bench; sets PG_DIR, PG_PORT, PG_VERSION and defines `sql DB` (SQL on
# stdin) and `sqlv DB SQL` (one value).
bench_postgres() {
    local stats=1
    [[ "${1:-}" == --no-statement-stats ]] && stats=0
    step "Starting throwaway PostgreSQL"
    PG_DIR="$OUT/pg"
    mkdir "$PG_DIR"
    bash "$ROOT/scripts/test-postgres.sh" start "$PG_DIR" >"$OUT/postgres.url"
    PG_PORT="$(cat "$PG_DIR/port")"
    sql() { psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$1"; }
    sqlv() { psql -X -At -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$1" -c "$2"; }
    if ((stats)); then
        step "Enabling pg_stat_statements (ALTER SYSTEM + restart; pg_ctl keeps the start options)"
        sqlv postgres "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'" >/dev/null
        PG_BIN="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
        if ((EUID == 0)); then
            (cd "$PG_DIR" && runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 restart >/dev/null)
        else
            (cd "$PG_DIR" && "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/postgres.log" -w -t 60 restart >/dev/null)
        fi
        [[ "$(sqlv postgres 'SHOW shared_preload_libraries')" == *pg_stat_statements* ]] || die "pg_stat_statements not preloaded"
    fi
    PG_VERSION="$(sqlv postgres 'SHOW server_version')"
    step "PostgreSQL $PG_VERSION on 127.0.0.1:$PG_PORT"

    sql postgres <<'EOF'
CREATE ROLE drawbridge LOGIN;
CREATE ROLE platform_ro LOGIN;
ALTER ROLE platform_ro SET default_transaction_read_only = on;
CREATE DATABASE drawbridge OWNER drawbridge;
CREATE DATABASE platform_bench;
REVOKE ALL ON DATABASE platform_bench FROM PUBLIC;
GRANT CONNECT ON DATABASE platform_bench TO platform_ro;
EOF
    if ((stats)); then
        sqlv drawbridge 'CREATE EXTENSION pg_stat_statements' >/dev/null
        sqlv platform_bench 'CREATE EXTENSION pg_stat_statements' >/dev/null
    fi
}

# bench_accounts USERS PASSWORD: platform_bench.public.accounts with USERS users sharing one bcrypt cost-4
# hash of PASSWORD (sign-in cost is not what these benchmarks measure), readable by platform_ro.
bench_accounts() {
    local users="$1" password="$2" hash
    hash="$(printf '%s' "$password" | drawbridge password hash --format bcrypt --cost 4)"
    [[ "$hash" == '$2b$04$'* ]] || die "unexpected hash $hash"
    step "Creating platform_bench.public.accounts with $users users (one bcrypt cost-4 hash)"
    sql platform_bench <<EOF
CREATE TABLE public.accounts (
    id            bigserial PRIMARY KEY,
    login         text NOT NULL UNIQUE,
    email         text NOT NULL UNIQUE,
    full_name     text NOT NULL,
    password_hash text,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
INSERT INTO public.accounts (login, email, full_name, password_hash, is_active)
SELECT 'user' || n, 'user' || n || '@bench.example.com', 'Bench User ' || n, '$hash', true
FROM generate_series(1, $users) AS n;
CREATE INDEX accounts_lower_login ON public.accounts (lower(login));
CREATE INDEX accounts_lower_email ON public.accounts (lower(email));
ANALYZE public.accounts;
REVOKE ALL ON SCHEMA public FROM platform_ro;
GRANT USAGE ON SCHEMA public TO platform_ro;
GRANT SELECT ON public.accounts TO platform_ro;
EOF
}

# bench_free_port: a free TCP port on 127.0.0.1.
bench_free_port() {
    python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# bench_config HTTP_PORT PUBLIC_URL [MORE_YAML]: writes CONFIG=$OUT/drawbridge.yaml for the databases of
# bench_postgres (a fresh key-encryption key each time: the database is throwaway too), with MORE_YAML
# appended, and runs `drawbridge migrate` on it.
bench_config() {
    CONFIG="$OUT/drawbridge.yaml"
    local kek
    kek="$(head -c 32 /dev/urandom | base64)"
    cat >"$CONFIG" <<EOF
# Written by scripts/$PROG.
http: { host: 127.0.0.1, port: $1 }
public_url: $2
trusted_proxies: [127.0.0.1/32]
database: { url: "postgres://drawbridge@127.0.0.1:$PG_PORT/drawbridge?sslmode=disable", schema: drawbridge }
directory:
  url: "postgres://platform_ro@127.0.0.1:$PG_PORT/platform_bench?sslmode=disable"
  table: public.accounts
  columns: { id: id, login: login, email: email, name: full_name, password: password_hash, active: is_active }
  login_by: [login, email]
session: { cookie_name: drawbridge_session, idle_timeout: 8h, absolute_timeout: 7d }
keys: { encryption_key: "$kek" }
log: { level: warning, format: json }
${3:-}
EOF
    chmod 0600 "$CONFIG"
    step "drawbridge migrate"
    drawbridge migrate --config "$CONFIG" >"$OUT/migrate.txt" 2>&1 || { cat "$OUT/migrate.txt" >&2; die "drawbridge migrate failed"; }
}
