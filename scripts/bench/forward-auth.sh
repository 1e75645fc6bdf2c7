#!/usr/bin/env bash
# Drawbridge forward-auth benchmark (results: Benchmarks/RESULTS.md, "Forward auth").
#
#   scripts/bench/forward-auth.sh
#
# Target (issue): GET /auth/verify at >= 30,000 req/s with p99 < 5 ms on loopback, two replicas behind
# nginx, and a 10x burst. Same machinery as scripts/bench/oauth.sh (release build in .build-release,
# throwaway PostgreSQL from scripts/test-postgres.sh with pg_stat_statements, quiet-machine wait), with:
#   - 10,000 platform users sharing ONE bcrypt cost-4 hash; BENCH_SESSIONS of them signed in up front
#     with POST /login (scripts/bench/oauth-flow.py sessions);
#   - TWO `drawbridge serve` replicas (same config and databases, DRAWBRIDGE_HTTP_PORT differs);
#   - nginx (its own prefix and config in the output directory, `daemon off`, plain http on loopback):
#     an upstream of both replicas (keepalive), `location /app/` guarded by `auth_request /_auth`, whose
#     internal location proxies to /auth/verify (Cookie passed, no body), serving a 3-byte static file.
# Measures with wrk (forward-auth.lua rotates the session cookies over the signed-in users), each at
# BENCH_CONNECTIONS (steady) and BENCH_BURST_CONNECTIONS (10x, the burst):
#   1. direct:    GET /auth/verify on replica A                     (200 expected)
#   2. nginx:     GET /app/page.txt through nginx -> auth_request  (200 expected)
#   3. anonymous: GET /app/page.txt through nginx without a cookie (401 expected)
# and two diagnostics ("single"), direct at the steady count: ONE session cookie for every request (the
# 1 s session and user caches then miss once a second in all, not once a second per session), and no
# cookie at all (401: what Drawbridge costs without any session work).
# For every run: req/s of the expected status, wrk's p50/p99/max, other statuses, socket errors; the CPU
# split between replica A, replica B, nginx, postgres, wrk and everything else; requests per replica
# (from each replica's /metrics); and what the databases saw (pg_stat_statements calls per statement,
# reset before the run, and pg_stat_database tuple writes / commits, read 11 s after the run so every
# backend has flushed its statistics).
#
# Environment:
#   DRAWBRIDGE_BENCH_BIN      use this drawbridge binary (skips the build)
#   DRAWBRIDGE_BENCH_OUT      output directory (default /tmp/drawbridge-forward-auth-bench-<UTC time>)
#   BENCH_USERS               users in the platform table (default 10000)
#   BENCH_SESSIONS            signed-in users whose cookies wrk rotates over (default 256)
#   BENCH_DURATION            seconds per wrk run (default 15)
#   BENCH_CONNECTIONS         steady connection count (default 32)
#   BENCH_BURST_CONNECTIONS   burst connection count (default 10 x BENCH_CONNECTIONS)
#   BENCH_THREADS             wrk -t (default 2)
#   BENCH_NGINX_WORKERS       nginx worker_processes (default auto = one per core)
#   BENCH_QUIET_MAX           % of the machine other work may use before a run (default 10)
#   BENCH_QUIET_WAIT          seconds the whole run may wait for a quiet machine (default 1200)
#   BENCH_RUNS                which measurements to make, any of "direct nginx anon single" (default all;
#                             they always run in that order)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
BENCH="$ROOT/scripts/bench"
PROG="bench/forward-auth.sh"
# shellcheck source=scripts/bench/lib.sh
source "$BENCH/lib.sh"

OUT="${DRAWBRIDGE_BENCH_OUT:-/tmp/drawbridge-forward-auth-bench-$(date -u +%Y%m%dT%H%M%SZ)}"
USERS="${BENCH_USERS:-10000}"
NSESSIONS="${BENCH_SESSIONS:-256}"
DURATION="${BENCH_DURATION:-15}"
STEADY="${BENCH_CONNECTIONS:-32}"
BURST="${BENCH_BURST_CONNECTIONS:-$((STEADY * 10))}"
THREADS="${BENCH_THREADS:-2}"
NGINX_WORKERS="${BENCH_NGINX_WORKERS:-auto}"
QUIET_MAX="${BENCH_QUIET_MAX:-10}"
QUIET_WAIT="${BENCH_QUIET_WAIT:-1200}"
RUNS="${BENCH_RUNS:-direct nginx anon single}"
for r in $RUNS; do [[ " direct nginx anon single " == *" $r "* ]] || die "BENCH_RUNS: unknown measurement '$r'"; done
CORES="$(nproc)"
PASSWORD="bench-pw"
positive BENCH_USERS "$USERS"; positive BENCH_SESSIONS "$NSESSIONS"; positive BENCH_DURATION "$DURATION"
positive BENCH_CONNECTIONS "$STEADY"; positive BENCH_BURST_CONNECTIONS "$BURST"; positive BENCH_THREADS "$THREADS"
((NSESSIONS <= USERS)) || die "BENCH_SESSIONS must not exceed BENCH_USERS"
((STEADY >= THREADS)) || die "BENCH_CONNECTIONS must be at least BENCH_THREADS"

NGINX_BIN="$(command -v nginx || true)"
[[ -z "$NGINX_BIN" && -x /usr/sbin/nginx ]] && NGINX_BIN=/usr/sbin/nginx
[[ -n "$NGINX_BIN" ]] || die "'nginx' is required (Debian: nginx-light)"
"$NGINX_BIN" -V 2>&1 | grep -q -- '--with-http_auth_request_module' || die "nginx lacks the auth_request module"
for tool in wrk curl psql ps awk top python3; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required"
done
mkdir -p "$OUT" || die "cannot create $OUT"
OUT="$(cd "$OUT" && pwd -P)"
[[ -z "$(ls -A "$OUT")" ]] || die "$OUT is not empty"
chmod 0755 "$OUT"
step "Output directory: $OUT"

# --- cleanup: only what this script started, by pid ---------------------------------------------
PG_DIR=""; REPLICA_PIDS=(); NGINX_PID=""; BACKGROUND_PIDS=()
stop_pid() { # PID NAME: SIGTERM (SIGQUIT for nginx: graceful), then SIGKILL after 10 s
    local pid="$1" name="$2" sig=TERM waited=0 status=0
    [[ -n "$pid" ]] || return 0
    [[ "$name" == nginx ]] && sig=QUIT
    if kill -0 "$pid" 2>/dev/null; then
        kill -"$sig" "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null && ((waited < 100)); do sleep 0.1; waited=$((waited + 1)); done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || status=$?
    printf '%s\n' "$status" >"$OUT/$name.exit-status"
}
stop_services() {
    stop_pid "$NGINX_PID" nginx; NGINX_PID=""
    local i
    for i in "${!REPLICA_PIDS[@]}"; do stop_pid "${REPLICA_PIDS[$i]}" "replica-$i"; done
    REPLICA_PIDS=()
}
# shellcheck disable=SC2317
cleanup() {
    local status=$? pid
    trap - EXIT
    for pid in "${BACKGROUND_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    stop_services
    if [[ -n "$PG_DIR" ]]; then
        step "Stopping throwaway PostgreSQL"
        cp -f "$PG_DIR/postgres.log" "$OUT/postgres.log" 2>/dev/null || true
        bash "$ROOT/scripts/test-postgres.sh" stop "$PG_DIR" >&2 || true
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM; trap 'exit 129' HUP

# --- binary, PostgreSQL with pg_stat_statements, platform users (lib.sh) ---------------------------
bench_binary
bench_postgres
bench_accounts "$USERS" "$PASSWORD"

# --- two Drawbridge replicas --------------------------------------------------------------------
PORT_A="$(bench_free_port)"; PORT_B="$(bench_free_port)"; NGINX_PORT="$(bench_free_port)"
[[ "$PORT_A" != "$PORT_B" && "$PORT_A" != "$NGINX_PORT" && "$PORT_B" != "$NGINX_PORT" ]] || die "port clash, run again"
URL_A="http://127.0.0.1:$PORT_A"; URL_B="http://127.0.0.1:$PORT_B"; URL_NGINX="http://127.0.0.1:$NGINX_PORT"
# Both replicas read this config; each gets its own DRAWBRIDGE_HTTP_PORT. public_url is nginx's address.
bench_config "$PORT_A" "$URL_NGINX"

start_replica() { # INDEX PORT
    env "${ENV_CLEAN[@]}" DRAWBRIDGE_HTTP_PORT="$2" "$BIN" serve --config "$CONFIG" >"$OUT/replica-$1.log" 2>&1 &
    REPLICA_PIDS[$1]=$!
}
wait_ready() { # URL PID LOG
    local waited=0
    until curl -fsS -o /dev/null "$1/readyz" 2>/dev/null; do
        kill -0 "$2" 2>/dev/null || { tail -n 20 "$3" >&2; die "drawbridge serve exited during start-up ($3)"; }
        ((waited < 300)) || die "drawbridge at $1 not ready after 30 s"
        sleep 0.1; waited=$((waited + 1))
    done
}
step "Starting replica A on $URL_A"
start_replica 0 "$PORT_A"
wait_ready "$URL_A" "${REPLICA_PIDS[0]}" "$OUT/replica-0.log"
# B starts after A: both would otherwise race to create the first signing key.
step "Starting replica B on $URL_B"
start_replica 1 "$PORT_B"
wait_ready "$URL_B" "${REPLICA_PIDS[1]}" "$OUT/replica-1.log"
PID_A="${REPLICA_PIDS[0]}"; PID_B="${REPLICA_PIDS[1]}"

# --- nginx ---------------------------------------------------------------------------------------
NGX="$OUT/nginx"
mkdir -p "$NGX/html/app" "$NGX/logs"
printf 'ok\n' >"$NGX/html/app/page.txt"
chmod -R a+rX "$NGX"
cat >"$NGX/nginx.conf" <<EOF
# Written by scripts/bench/forward-auth.sh: nginx in front of two Drawbridge replicas.
daemon off;
worker_processes $NGINX_WORKERS;
pid $NGX/nginx.pid;
error_log $NGX/logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    default_type text/plain;
    sendfile on;
    keepalive_requests 10000;
    open_file_cache max=16 inactive=60s;
    client_body_temp_path $NGX/client_body;
    proxy_temp_path $NGX/proxy;
    fastcgi_temp_path $NGX/fastcgi;
    uwsgi_temp_path $NGX/uwsgi;
    scgi_temp_path $NGX/scgi;

    upstream drawbridge {
        server 127.0.0.1:$PORT_A;
        server 127.0.0.1:$PORT_B;
        keepalive 256;              # idle upstream connections kept per worker
        keepalive_requests 10000;
    }

    server {
        listen 127.0.0.1:$NGINX_PORT;
        root $NGX/html;

        # The protected pages: every request is checked by Drawbridge first.
        location /app/ {
            auth_request /_auth;
            auth_request_set \$drawbridge_user \$upstream_http_remote_user;
            add_header X-Remote-User \$drawbridge_user always;
        }

        location = /_auth {
            internal;
            proxy_pass http://drawbridge/auth/verify;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Cookie \$http_cookie;
            proxy_set_header X-Forwarded-Host \$host;
            proxy_set_header X-Forwarded-Proto \$scheme;
            proxy_set_header X-Forwarded-Uri \$request_uri;
        }
    }
}
EOF
"$NGINX_BIN" -t -q -p "$NGX/" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" 2>"$OUT/nginx-t.txt" \
    || { cat "$OUT/nginx-t.txt" >&2; die "nginx -t failed"; }
step "Starting nginx on $URL_NGINX (upstream: both replicas)"
"$NGINX_BIN" -p "$NGX/" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log" >"$OUT/nginx.stdout" 2>&1 &
NGINX_PID=$!
waited=0
until curl -sS -o /dev/null "$URL_NGINX/" 2>/dev/null; do
    kill -0 "$NGINX_PID" 2>/dev/null || { cat "$NGX/logs/error.log" >&2; die "nginx exited during start-up"; }
    ((waited < 100)) || die "nginx not answering after 10 s"
    sleep 0.1; waited=$((waited + 1))
done

check_server() {
    local i
    for i in "${!REPLICA_PIDS[@]}"; do
        kill -0 "${REPLICA_PIDS[$i]}" 2>/dev/null || { tail -n 20 "$OUT/replica-$i.log" >&2; die "replica $i exited $1"; }
    done
    kill -0 "$NGINX_PID" 2>/dev/null || { tail -n 20 "$NGX/logs/error.log" >&2; die "nginx exited $1"; }
}

# --- sessions, and a check of every path with curl -------------------------------------------------
step "Signing in $NSESSIONS users (POST /login on replica A)"
python3 "$BENCH/oauth-flow.py" sessions "$URL_A" 1 "$NSESSIONS" "$PASSWORD" >"$OUT/sessions.txt"
[[ "$(wc -l <"$OUT/sessions.txt")" -eq "$NSESSIONS" ]] || die "expected $NSESSIONS sessions"
S1="$(head -n 1 "$OUT/sessions.txt")"
expect() { # LABEL EXPECTED_STATUS CURL_ARGS...: one request, the status must match
    local label="$1" want="$2" got; shift 2
    got="$(curl -sS -o "$OUT/curl-$label.body" -D "$OUT/curl-$label.headers" -w '%{http_code}' "$@")"
    [[ "$got" == "$want" ]] || { cat "$OUT/curl-$label.headers" >&2; die "$label: expected $want, got $got"; }
}
expect direct-a 200 -b "drawbridge_session=$S1" "$URL_A/auth/verify"
grep -qi '^remote-user: user1' "$OUT/curl-direct-a.headers" || die "replica A: no Remote-User: user1"
expect direct-b 200 -b "drawbridge_session=$S1" "$URL_B/auth/verify"
grep -qi '^remote-user: user1' "$OUT/curl-direct-b.headers" || die "replica B: no Remote-User: user1"
expect direct-anon 401 "$URL_A/auth/verify"
expect direct-bogus 401 -b "drawbridge_session=not-a-session" "$URL_A/auth/verify"
expect nginx-ok 200 -b "drawbridge_session=$S1" "$URL_NGINX/app/page.txt"
[[ "$(cat "$OUT/curl-nginx-ok.body")" == ok ]] || die "nginx: unexpected body for the protected page"
grep -qi '^x-remote-user: user1' "$OUT/curl-nginx-ok.headers" || die "nginx: Remote-User not handed on"
expect nginx-anon 401 "$URL_NGINX/app/page.txt"
expect nginx-bogus 401 -b "drawbridge_session=not-a-session" "$URL_NGINX/app/page.txt"
step "curl checks OK: direct 200 with Remote-User on both replicas, 401 without a (valid) cookie; nginx 200 / 401 / 401"

# --- measurement helpers --------------------------------------------------------------------------
# cpu_split SECONDS: percent of one core for replica A, replica B, nginx, postgres, wrk, and the rest
# (kernel softirq work for loopback, other people's work, this script).
cpu_split() {
    python3 - "$1" "$PID_A" "$PID_B" <<'PY'
import os, sys, time
TICK = os.sysconf("SC_CLK_TCK")
seconds, pid_a, pid_b = float(sys.argv[1]), sys.argv[2], sys.argv[3]
def ticks(path):
    try:
        with open(path) as f: data = f.read()
    except OSError:
        return None
    fields = data[data.rindex(")") + 2:].split()
    return data[data.index("(") + 1:data.rindex(")")], int(fields[11]) + int(fields[12])
def busy():
    with open("/proc/stat") as f: v = [int(x) for x in f.readline().split()[1:]]
    return sum(v[:8]) - v[3] - v[4], v[6]  # busy ticks, softirq ticks
def snap():
    procs = {p: ticks(f"/proc/{p}/stat") for p in os.listdir("/proc") if p.isdigit()}
    return {p: t for p, t in procs.items() if t}, busy(), time.monotonic()
g0, (b0, s0), m0 = snap(); time.sleep(seconds); g1, (b1, s1), m1 = snap()
scale = 100.0 / (TICK * (m1 - m0))
groups = {"replica A": 0, "replica B": 0, "nginx": 0, "postgres": 0, "wrk": 0}
for p, (comm, t) in g1.items():
    if p not in g0: continue
    key = "replica A" if p == pid_a else "replica B" if p == pid_b else comm if comm in groups else None
    if key: groups[key] += t - g0[p][1]
total = b1 - b0
rest = total - sum(groups.values())
parts = ", ".join(f"{k} {v * scale:.0f}%" for k, v in groups.items())
print(f"busy {total * scale:.0f}% of {os.cpu_count() * 100}%: {parts}, rest {max(rest, 0) * scale:.0f}% (of which softirq {(s1 - s0) * scale:.0f}%)")
PY
}

# verify_requests URL: /auth/verify requests this replica has answered (its /metrics counter).
verify_requests() {
    curl -fsS "$1/metrics" 2>/dev/null | awk '/^drawbridge_http_requests_total\{/ && /route="\/auth\/verify"/ { n += $NF } END { printf "%d", n }'
}

DB_COUNTERS="SELECT datname, xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted
 FROM pg_stat_database WHERE datname IN ('drawbridge', 'platform_bench') ORDER BY datname"
STATS_SQL="SELECT calls, rows, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements
 WHERE query NOT ILIKE '%pg_stat_statements%' AND query NOT ILIKE '%pg_stat_database%'
   AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY calls DESC, query"
db_snapshot() { psql -X -At -F ' ' -h 127.0.0.1 -p "$PG_PORT" -U postgres -d postgres -c "$DB_COUNTERS"; }

# run_wrk NAME CONNECTIONS URL [ENV=VALUE...]: one measured wrk run with CPU split, DB and replica counters.
run_wrk() {
    local name="$1" c="$2" url="$3"; shift 3
    local threads=$((c < THREADS ? c : THREADS)) window=$((DURATION > 6 ? DURATION - 4 : DURATION)) db
    wait_quiet "$name"
    printf '%s\n' "$BUSY_BEFORE" >"$OUT/busy-before-$name.txt"
    sqlv drawbridge 'SELECT pg_stat_statements_reset()' >/dev/null # resets every database's entries
    db_snapshot >"$OUT/db-before-$name.txt"
    printf '%s %s\n' "$(verify_requests "$URL_A")" "$(verify_requests "$URL_B")" >"$OUT/replicas-before-$name.txt"
    (sleep $((DURATION > 6 ? 2 : 0)); cpu_split "$window" >"$OUT/cpu-$name.txt" 2>&1) &
    BACKGROUND_PIDS+=($!)
    (sleep $((DURATION / 2 > 3 ? DURATION / 2 - 3 : 0)); top -b -d 5 -n 2 -w 200 >"$OUT/top-$name.txt" 2>&1) &
    BACKGROUND_PIDS+=($!)
    : >"$OUT/status-$name.txt"
    env BENCH_THREADS="$threads" BENCH_STATUS_FILE="$OUT/status-$name.txt" "$@" \
        wrk -t "$threads" -c "$c" -d "${DURATION}s" --timeout 10s --latency -s "$BENCH/forward-auth.lua" "$url" \
        >"$OUT/wrk-$name.txt" 2>&1 || true
    wait_background
    check_server "during $name"
    grep -q ' requests in ' "$OUT/wrk-$name.txt" || { cat "$OUT/wrk-$name.txt" >&2; die "wrk failed in $name"; }
    printf '%s %s\n' "$(verify_requests "$URL_A")" "$(verify_requests "$URL_B")" >"$OUT/replicas-after-$name.txt"
    : >"$OUT/sql-$name.txt"
    for db in drawbridge platform_bench; do
        printf -- '-- %s (calls | rows | statement)\n' "$db" >>"$OUT/sql-$name.txt"
        psql -X -At -F ' | ' -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" -c "$STATS_SQL" >>"$OUT/sql-$name.txt"
    done
    # Backends flush pg_stat_database counters when idle for a while (PGSTAT_IDLE_INTERVAL, 10 s).
    sleep 11
    db_snapshot >"$OUT/db-after-$name.txt"
}

non_count() { awk -v c="$1" '$1 != c && $1 ~ /^[0-9]+$/ { n += $2 } END { print n + 0 }' "$2"; }
wrk_requests() { sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$1"; }
wrk_max() { awk '$1 == "Latency" && NF >= 4 { print $4; exit }' "$1"; }
# sql_calls NAME DB KIND: calls of reads (SELECT) or writes (INSERT/UPDATE/DELETE, also inside a WITH).
sql_calls() {
    awk -v db="$2" -v kind="$3" -F ' [|] ' '
        /^-- / { cur = $0; sub(/^-- /, "", cur); sub(/ .*/, "", cur); next }
        cur == db {
            q = tolower($3); w = (q ~ /(^|[ (])(insert|update|delete)[ ]/)
            if ((kind == "write" && w) || (kind == "read" && !w)) n += $1
        }
        END { print n + 0 }' "$OUT/sql-$1.txt"
}
db_delta() { # NAME DB: "commits N, rows inserted/updated/deleted I/U/D"
    awk -v db="$2" '
        FNR == NR { if ($1 == db) { c = $2; i = $4; u = $5; d = $6 }; next }
        $1 == db { printf "commits %d, rows inserted/updated/deleted %d/%d/%d", $2 - c, $4 - i, $5 - u, $6 - d }' \
        "$OUT/db-before-$1.txt" "$OUT/db-after-$1.txt"
}
report() { # NAME OK_CODE
    local name="$1" ok="$2" secs n good a0 b0 a1 b1
    secs="$(wrk_seconds "$OUT/wrk-$name.txt")"; n="$(wrk_requests "$OUT/wrk-$name.txt")"
    good="$(code_count "$ok" "$OUT/status-$name.txt")"
    read -r a0 b0 <"$OUT/replicas-before-$name.txt"; read -r a1 b1 <"$OUT/replicas-after-$name.txt"
    {
        printf '%-14s %s req/s %s (%s requests in %ss; non-%s %s); p50 %s p99 %s max %s%s\n' "$name" \
            "$(per_second "$good" "$secs")" "$ok" "$n" "$secs" "$ok" "$(non_count "$ok" "$OUT/status-$name.txt")" \
            "$(latency_pct 50% "$OUT/wrk-$name.txt")" "$(latency_pct 99% "$OUT/wrk-$name.txt")" "$(wrk_max "$OUT/wrk-$name.txt")" \
            "$(e="$(wrk_errors "$OUT/wrk-$name.txt")"; [[ -n "$e" ]] && printf '; socket errors: %s' "$e")"
        printf '    /auth/verify answered: replica A %s, replica B %s\n' "$((a1 - a0))" "$((b1 - b0))"
        printf '    drawbridge db: %s statement calls read, %s write; %s\n' "$(sql_calls "$name" drawbridge read)" \
            "$(sql_calls "$name" drawbridge write)" "$(db_delta "$name" drawbridge)"
        printf '    platform db:   %s statement calls read, %s write; %s\n' "$(sql_calls "$name" platform_bench read)" \
            "$(sql_calls "$name" platform_bench write)" "$(db_delta "$name" platform_bench)"
        [[ -s "$OUT/cpu-$name.txt" ]] && printf '    cpu: %s\n' "$(cat "$OUT/cpu-$name.txt")"
        printf '    machine busy before the run: %s%%\n' "$(cat "$OUT/busy-before-$name.txt")"
    } | tee -a "$SUMMARY" >&2
}

SUMMARY="$OUT/summary.txt"
{
    printf 'date            %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'machine         %s, %s cores, %s MB RAM\n' "$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)" "$CORES" "$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
    printf 'postgres        %s (pg_stat_statements preloaded)\n' "$PG_VERSION"
    printf 'nginx           %s, worker_processes %s\n' "$("$NGINX_BIN" -v 2>&1 | sed 's/.*version: //')" "$NGINX_WORKERS"
    printf 'wrk             %s, -t %s, --timeout 10s\n' "$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')" "$THREADS"
    printf 'binary          %s\n' "$BIN"
    printf 'source          %s\n' "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    printf 'users           %s (one bcrypt cost-4 hash); %s signed-in sessions rotated by wrk\n' "$USERS" "$NSESSIONS"
    printf 'replicas        A %s (pid %s), B %s (pid %s); nginx %s\n' "$URL_A" "$PID_A" "$URL_B" "$PID_B" "$URL_NGINX"
    printf 'duration        %ss per wrk run; steady %s connections, burst %s\n' "$DURATION" "$STEADY" "$BURST"
} >"$SUMMARY"

# Warm-up (not recorded): both replicas' database pools and caches, nginx's upstream connections.
step "Warm-up: 5 s through nginx at -c $STEADY (not recorded)"
env BENCH_THREADS="$THREADS" BENCH_SESSIONS="$OUT/sessions.txt" \
    wrk -t "$THREADS" -c "$STEADY" -d 5s -s "$BENCH/forward-auth.lua" "$URL_NGINX/app/page.txt" >"$OUT/wrk-warmup.txt" 2>&1 || true
sleep 2

want() { [[ " $RUNS " == *" $1 "* ]]; }
if want direct; then
    for c in "$STEADY" "$BURST"; do
        step "direct: GET /auth/verify on replica A, wrk -c $c for ${DURATION}s"
        run_wrk "direct-c$c" "$c" "$URL_A/auth/verify" BENCH_SESSIONS="$OUT/sessions.txt"
        report "direct-c$c" 200
    done
fi
if want nginx; then
    for c in "$STEADY" "$BURST"; do
        step "nginx: GET /app/page.txt (auth_request -> both replicas), wrk -c $c for ${DURATION}s"
        run_wrk "nginx-c$c" "$c" "$URL_NGINX/app/page.txt" BENCH_SESSIONS="$OUT/sessions.txt"
        report "nginx-c$c" 200
    done
fi
if want anon; then
    for c in "$STEADY" "$BURST"; do
        step "anonymous: GET /app/page.txt through nginx without a cookie, wrk -c $c for ${DURATION}s"
        run_wrk "anon-c$c" "$c" "$URL_NGINX/app/page.txt" BENCH_SESSIONS=
        report "anon-c$c" 401
    done
fi
# Diagnostics: one session for every request, so the 1 s caches miss once a second in all (not
# BENCH_SESSIONS times): the difference to direct-c$STEADY is what the cache misses cost; and no cookie,
# the same route without any session work.
if want single; then
    head -n 1 "$OUT/sessions.txt" >"$OUT/sessions-one.txt"
    step "single: GET /auth/verify on replica A with ONE session cookie, wrk -c $STEADY for ${DURATION}s"
    run_wrk "single-c$STEADY" "$STEADY" "$URL_A/auth/verify" BENCH_SESSIONS="$OUT/sessions-one.txt"
    report "single-c$STEADY" 200
    step "single: GET /auth/verify on replica A with NO cookie, wrk -c $STEADY for ${DURATION}s"
    run_wrk "direct-anon-c$STEADY" "$STEADY" "$URL_A/auth/verify" BENCH_SESSIONS=
    report "direct-anon-c$STEADY" 401
fi

# --- wrap up ----------------------------------------------------------------------------------------
curl -fsS -o "$OUT/metrics-a.txt" "$URL_A/metrics" || true
curl -fsS -o "$OUT/metrics-b.txt" "$URL_B/metrics" || true
printf 'RSS after load  replica A %s MB, replica B %s MB\n' \
    "$(ps -o rss= -p "$PID_A" | awk '{ printf "%.1f", $1 / 1024 }')" "$(ps -o rss= -p "$PID_B" | awk '{ printf "%.1f", $1 / 1024 }')" | tee -a "$SUMMARY" >&2
[[ -s "$OUT/notes.txt" ]] && { printf 'notes:\n'; sed 's/^/    /' "$OUT/notes.txt"; } >>"$SUMMARY"
stop_services
printf 'exit status after SIGTERM: replica A %s, replica B %s; nginx after SIGQUIT %s; nginx error.log %s lines (warn and up)\n' \
    "$(cat "$OUT/replica-0.exit-status")" "$(cat "$OUT/replica-1.exit-status")" "$(cat "$OUT/nginx.exit-status")" \
    "$(wc -l <"$NGX/logs/error.log")" | tee -a "$SUMMARY" >&2
printf '\n' >&2
cat "$SUMMARY"
printf '\nRaw outputs: %s\n' "$OUT"
