#!/usr/bin/env bash
# Drawbridge login benchmark (results: Benchmarks/RESULTS.md).
#
#   scripts/bench/run.sh
#
# Builds the release binary, starts a throwaway PostgreSQL with a platform
# table of 100,000 users (bcrypt cost 10), serves Drawbridge on loopback and
# measures with wrk:
#   1. one bcrypt cost-10 verification (libxcrypt crypt_r, as Drawbridge) and
#      the hash-bound limit = cores / verification time;
#   2. successful logins/s (POST /login, status 303) at several connection counts;
#   3. GET /healthz latency while logins saturate the hash pool;
#   4. RSS idle after start-up and peak under load;
#   5. 503s when more logins arrive than hashing.threads + hashing.queue_limit.
# Raw outputs go to $OUT (printed at the start and the end); nothing is left
# running afterwards.
#
# Environment:
#   DRAWBRIDGE_BENCH_BIN   use this drawbridge binary (skips the build)
#   DRAWBRIDGE_BENCH_OUT   output directory (default /tmp/drawbridge-bench-<UTC time>)
#   BENCH_USERS            users in the platform table (default 100000)
#   BENCH_HASH_POOL        distinct hashes, assigned round-robin (default 200)
#   BENCH_DURATION         seconds per login run (default 20)
#   BENCH_CONNECTIONS      login connection counts to try (default "4 8 16")
#   BENCH_MIXED_DURATION   seconds of the logins + /healthz run (default 25)
#   BENCH_PROBE_CONNECTIONS /healthz connections (default 4)
#   BENCH_PROBE_DELAY_MS   pause between a /healthz connection's requests (default 10)
#   BENCH_OVERLOAD_CONNECTIONS  login connections of the 503 run (default 128; 0 skips it)
#   BENCH_OVERLOAD_DURATION     seconds of the 503 run (default 15)
#   BENCH_HASH_THREADS, BENCH_QUEUE_LIMIT  hashing.threads / hashing.queue_limit (default 0 = cores, 64)
#   BENCH_QUIET_MAX        before each measurement, wait until the machine is at most this %
#                          busy (of all cores, over 3 s) with other work (default 10) ...
#   BENCH_QUIET_WAIT       ... for at most this many seconds over the whole run (default 300),
#                          then measure anyway; a run whose CPU split shows other work
#                          above BENCH_QUIET_MAX % of the machine is flagged [DISTURBED]
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
BENCH="$ROOT/scripts/bench"
PROG="bench/run.sh"
# shellcheck source=scripts/bench/lib.sh
source "$BENCH/lib.sh"



OUT="${DRAWBRIDGE_BENCH_OUT:-/tmp/drawbridge-bench-$(date -u +%Y%m%dT%H%M%SZ)}"
USERS="${BENCH_USERS:-100000}"
POOL="${BENCH_HASH_POOL:-200}"
COST=10
DURATION="${BENCH_DURATION:-20}"
read -r -a CONNECTIONS <<<"${BENCH_CONNECTIONS:-4 8 16}"
MIXED_DURATION="${BENCH_MIXED_DURATION:-25}"
PROBE_CONNECTIONS="${BENCH_PROBE_CONNECTIONS:-4}"
PROBE_DELAY_MS="${BENCH_PROBE_DELAY_MS:-10}"
OVERLOAD_CONNECTIONS="${BENCH_OVERLOAD_CONNECTIONS:-128}"
OVERLOAD_DURATION="${BENCH_OVERLOAD_DURATION:-15}"
QUIET_MAX="${BENCH_QUIET_MAX:-10}"
QUIET_WAIT="${BENCH_QUIET_WAIT:-300}"
HASH_THREADS="${BENCH_HASH_THREADS:-0}"
QUEUE_LIMIT="${BENCH_QUEUE_LIMIT:-64}"
CORES="$(nproc)"
VERIFY_ITERATIONS=50
PASSWORD_PREFIX="bench-pw-" # user n's password is bench-pw-(n % POOL); login.lua agrees

positive BENCH_USERS "$USERS"
positive BENCH_HASH_POOL "$POOL"
positive BENCH_DURATION "$DURATION"
positive BENCH_MIXED_DURATION "$MIXED_DURATION"
positive BENCH_PROBE_CONNECTIONS "$PROBE_CONNECTIONS"
[[ "$PROBE_DELAY_MS" =~ ^[0-9]+$ ]] || die "BENCH_PROBE_DELAY_MS must be a number of milliseconds"
[[ "$OVERLOAD_CONNECTIONS" =~ ^[0-9]+$ ]] || die "BENCH_OVERLOAD_CONNECTIONS must be a number"
positive BENCH_OVERLOAD_DURATION "$OVERLOAD_DURATION"
[[ "$HASH_THREADS" =~ ^[0-9]+$ ]] || die "BENCH_HASH_THREADS must be a number"
[[ "$QUEUE_LIMIT" =~ ^[0-9]+$ ]] || die "BENCH_QUEUE_LIMIT must be a number"
[[ "$QUIET_MAX" =~ ^[0-9]+$ ]] || die "BENCH_QUIET_MAX must be a percentage"
[[ "$QUIET_WAIT" =~ ^[0-9]+$ ]] || die "BENCH_QUIET_WAIT must be a number of seconds"
((${#CONNECTIONS[@]} > 0)) || die "BENCH_CONNECTIONS is empty"
for c in "${CONNECTIONS[@]}"; do positive BENCH_CONNECTIONS "$c"; done

for tool in wrk curl psql cc ps awk top python3; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required (apt-get install wrk curl postgresql-client gcc procps gawk python3)"
done

mkdir -p "$OUT" || die "cannot create $OUT"
OUT="$(cd "$OUT" && pwd -P)"
[[ -z "$(ls -A "$OUT")" ]] || die "$OUT is not empty; give a new directory in DRAWBRIDGE_BENCH_OUT"
chmod 0755 "$OUT" # the throwaway cluster's owner (postgres) must reach $OUT/pg
step "Output directory: $OUT"

# --- cleanup ---------------------------------------------------------------------

PG_DIR=""
SERVER_PID=""
SAMPLER_PID=""
BACKGROUND_PIDS=()

stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        local waited=0
        while kill -0 "$SERVER_PID" 2>/dev/null && ((waited < 100)); do
            sleep 0.1
            waited=$((waited + 1))
        done
        if kill -0 "$SERVER_PID" 2>/dev/null; then
            printf 'drawbridge did not stop within 10 s of SIGTERM; killing it\n' >>"$OUT/notes.txt"
            kill -KILL "$SERVER_PID" 2>/dev/null || true
        fi
    fi
    local status=0
    wait "$SERVER_PID" 2>/dev/null || status=$?
    printf '%s\n' "$status" >"$OUT/drawbridge.exit-status"
    SERVER_PID=""
}

# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local status=$?
    trap - EXIT
    local pid
    for pid in "${BACKGROUND_PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    if [[ -n "$SAMPLER_PID" ]]; then kill "$SAMPLER_PID" 2>/dev/null || true; fi
    stop_server
    if [[ -n "$PG_DIR" ]]; then
        step "Stopping throwaway PostgreSQL"
        cp -f "$PG_DIR/postgres.log" "$OUT/postgres.log" 2>/dev/null || true
        bash "$ROOT/scripts/test-postgres.sh" stop "$PG_DIR" >&2 || true
        PG_DIR=""
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# --- binary, PostgreSQL and the platform table ---------------------------------------

bench_binary
bench_postgres --no-statement-stats

step "Hashing $POOL passwords (drawbridge password hash --format bcrypt --cost $COST, $CORES at a time)"
export BENCH_HASH_BIN="$BIN" BENCH_HASH_COST="$COST" BENCH_PASSWORD_PREFIX="$PASSWORD_PREFIX"
# shellcheck disable=SC2016  # expanded by the inner bash
seq 0 $((POOL - 1)) | xargs -P "$CORES" -n 1 env "${ENV_CLEAN[@]}" bash -c '
    set -euo pipefail
    hash="$(printf "%s%s" "$BENCH_PASSWORD_PREFIX" "$1" | "$BENCH_HASH_BIN" password hash --format bcrypt --cost "$BENCH_HASH_COST")"
    printf "%s\t%s\n" "$1" "$hash"
' bench-hash >"$OUT/hash-pool.tsv"
unset BENCH_HASH_BIN BENCH_HASH_COST BENCH_PASSWORD_PREFIX
hashes="$(awk -F '\t' -v cost="$COST" 'index($2, "$2b$" cost "$") == 1 { n++ } END { print n + 0 }' "$OUT/hash-pool.tsv")"
((hashes == POOL)) || die "expected $POOL bcrypt cost-$COST hashes in $OUT/hash-pool.tsv, got $hashes"

step "Creating platform_bench.public.accounts with $USERS users"
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
CREATE TEMP TABLE hash_pool (slot integer PRIMARY KEY, hash text NOT NULL);
\\copy hash_pool FROM '$OUT/hash-pool.tsv'
INSERT INTO public.accounts (login, email, full_name, password_hash, is_active)
SELECT 'user' || n, 'user' || n || '@bench.example.com', 'Bench User ' || n, p.hash, true
FROM generate_series(1, $USERS) AS n
JOIN hash_pool AS p ON p.slot = n % $POOL;
-- Drawbridge matches lower(col) = lower(\$1): without these every login is a sequential scan.
CREATE INDEX accounts_lower_login ON public.accounts (lower(login));
CREATE INDEX accounts_lower_email ON public.accounts (lower(email));
ANALYZE public.accounts;
REVOKE ALL ON SCHEMA public FROM platform_ro;
GRANT USAGE ON SCHEMA public TO platform_ro;
GRANT SELECT ON public.accounts TO platform_ro;
EOF
count="$(psql -X -At -h 127.0.0.1 -p "$PG_PORT" -U postgres -d platform_bench -c 'SELECT count(*) FROM public.accounts')"
((count == USERS)) || die "expected $USERS users, found $count"
# The query Drawbridge sends for login_by [login, email] (DirectoryQueries.lookup), with a sample name.
psql -X -h 127.0.0.1 -p "$PG_PORT" -U postgres -d platform_bench >"$OUT/lookup-plan.txt" <<'EOF'
EXPLAIN (ANALYZE, BUFFERS)
SELECT "id", "login", "email", "full_name", "password_hash", "is_active",
       CASE WHEN lower("login"::text) = lower('user54321') THEN 0 WHEN lower("email"::text) = lower('user54321') THEN 1 END AS drawbridge_rank
FROM "public"."accounts"
WHERE lower("login"::text) = lower('user54321') OR lower("email"::text) = lower('user54321')
ORDER BY drawbridge_rank LIMIT 5;
EOF
grep -q 'accounts_lower_login' "$OUT/lookup-plan.txt" \
    || die "the login lookup does not use the lower(login) index (see $OUT/lookup-plan.txt)"

# --- Drawbridge ---------------------------------------------------------------------

HTTP_PORT="$(bench_free_port)"
URL="http://127.0.0.1:$HTTP_PORT"
bench_config "$HTTP_PORT" "$URL" "hashing: { threads: $HASH_THREADS, queue_limit: $QUEUE_LIMIT }"

step "Starting drawbridge serve on $URL"
# Not through the drawbridge() function: $! must be the server's own PID (env execs it).
env "${ENV_CLEAN[@]}" "$BIN" serve --config "$CONFIG" >"$OUT/drawbridge.log" 2>&1 &
SERVER_PID=$!
waited=0
until curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$OUT/drawbridge.log" >&2; die "drawbridge serve exited during start-up"; }
    ((waited < 300)) || die "drawbridge not ready after 30 s (see $OUT/drawbridge.log)"
    sleep 0.1
    waited=$((waited + 1))
done
sleep 3
# check_server WHEN: stop with a clear message if drawbridge is no longer running.
check_server() {
    kill -0 "$SERVER_PID" 2>/dev/null && return 0
    local status=0
    if [[ "$BASHPID" == "$$" ]]; then # only the main shell can collect the exit status
        wait "$SERVER_PID" 2>/dev/null || status=$?
        SERVER_PID=""
    else
        status="unknown (noticed in a subshell)"
    fi
    tail -n 20 "$OUT/drawbridge.log" >&2 || true
    die "drawbridge exited $1 with status $status (0: it was sent SIGTERM/SIGINT from outside this script; >128: killed by signal status-128); see $OUT/drawbridge.log"
}
rss_mb() { ps -o rss= -p "$SERVER_PID" | awk '{ printf "%.1f", $1 / 1024 }'; }
IDLE_RSS_MB="$(rss_mb)"
step "Ready; idle RSS ${IDLE_RSS_MB} MB"

# --- CSRF pair and sanity checks ----------------------------------------------------------

curl -fsS -c "$OUT/cookies.txt" -o "$OUT/login-form.html" "$URL/login" || die "GET /login failed"
CSRF_COOKIE="$(awk -F '\t' '$6 == "drawbridge_csrf" { print $7 }' "$OUT/cookies.txt")"
CSRF_FIELD="$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$OUT/login-form.html" | head -n 1)"
[[ -n "$CSRF_COOKIE" && -n "$CSRF_FIELD" ]] || die "could not read the drawbridge_csrf cookie and csrf field from GET /login"
COOKIE_HEADER="drawbridge_csrf=$CSRF_COOKIE"

login_status() { # USER PASSWORD: print the HTTP status of one POST /login
    curl -sS -o /dev/null -w '%{http_code}' -H "Cookie: $COOKIE_HEADER" \
        --data-urlencode "username=$1" --data-urlencode "password=$2" \
        --data-urlencode "csrf=$CSRF_FIELD" --data-urlencode "rd=/" "$URL/login"
}
n=$((USERS / 2 + 7))
good="$(login_status "user$n" "$PASSWORD_PREFIX$((n % POOL))")"
bad="$(login_status "user$n" "wrong-password")"
printf 'sanity: right password -> %s, wrong password -> %s\n' "$good" "$bad" | tee "$OUT/sanity.txt" >&2
[[ "$good" == 303 ]] || die "a correct login answered $good, not 303 (see $OUT/drawbridge.log)"
[[ "$bad" == 401 ]] || die "a wrong password answered $bad, not 401"

# --- a quiet machine --------------------------------------------------------------------------

wait_quiet "the bcrypt timing"
step "Machine ${BUSY_BEFORE}% busy before measuring"

# --- 1. one bcrypt verification --------------------------------------------------------------

step "Timing bcrypt cost-$COST verification (libxcrypt crypt_r, C, $VERIFY_ITERATIONS x 1 thread, then x $CORES threads)"
cc -O2 -o "$OUT/bcrypt-time" "$BENCH/bcrypt-time.c" -lcrypt -lpthread
SAMPLE_HASH="$(awk -F '\t' '$1 == "0" { print $2 }' "$OUT/hash-pool.tsv")"
"$OUT/bcrypt-time" "$SAMPLE_HASH" "${PASSWORD_PREFIX}0" "$VERIFY_ITERATIONS" "$CORES" >"$OUT/bcrypt-time.txt"
figure() { awk -v k="$1" '$1 == k { print $2 }' "$2"; }
VERIFY_MS="$(figure single_mean_ms "$OUT/bcrypt-time.txt")"
VERIFY_MIN_MS="$(figure single_min_ms "$OUT/bcrypt-time.txt")"
PARALLEL_PER_S="$(figure parallel_per_second "$OUT/bcrypt-time.txt")"
HASH_LIMIT="$(awk -v c="$CORES" -v ms="$VERIFY_MS" 'BEGIN { printf "%.1f", c * 1000 / ms }')"
step "bcrypt: ${VERIFY_MS} ms per verification -> hash-bound limit $CORES / ${VERIFY_MS} ms = $HASH_LIMIT logins/s ($PARALLEL_PER_S/s measured on $CORES threads)"

# --- load ---------------------------------------------------------------------------------------

# RSS of drawbridge once a second for the rest of the run.
(
    while kill -0 "$SERVER_PID" 2>/dev/null; do
        printf '%s %s\n' "$(date +%s)" "$(ps -o rss= -p "$SERVER_PID" | tr -d ' ')"
        sleep 1
    done
) >"$OUT/rss.log" 2>/dev/null &
SAMPLER_PID=$!

export BENCH_COOKIE="$COOKIE_HEADER" BENCH_CSRF="$CSRF_FIELD" BENCH_USERS="$USERS" BENCH_POOL="$POOL" BENCH_RD="/"




# login_wrk NAME CONNECTIONS SECONDS: a wrk login run; raw output in wrk-NAME.txt, codes in status-NAME.txt.
login_wrk() {
    local threads=$(($2 < 2 ? $2 : 2))
    local started
    started="$(date +%s)"
    : >"$OUT/status-$1.txt"
    BENCH_STATUS_FILE="$OUT/status-$1.txt" wrk -t "$threads" -c "$2" -d "$3s" --timeout 15s --latency \
        -s "$BENCH/login.lua" "$URL/login" >"$OUT/wrk-$1.txt" 2>&1 || true
    printf '%s %s %s\n' "$1" "$started" "$(date +%s)" >>"$OUT/phases.txt"
    check_server "during the $1 run"
    grep -q ' requests in ' "$OUT/wrk-$1.txt" || { cat "$OUT/wrk-$1.txt" >&2; die "wrk failed in the $1 run"; }
}

other_count() { awk '$1 != 303 && $1 != 401 && $1 != 503 { n += $2 } END { print n + 0 }' "$1"; }
wrk_max() { awk '$1 == "Latency" && NF >= 4 { print $4; exit }' "$1"; }

SUMMARY="$OUT/summary.txt"
{
    printf 'date            %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'machine         %s, %s cores, %s MB RAM\n' "$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)" "$CORES" "$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
    printf 'swift           %s\n' "$(swift --version 2>&1 | head -n 1 || echo unknown)"
    printf 'postgres        %s\n' "$PG_VERSION"
    printf 'binary          %s\n' "$BIN"
    printf 'source          %s (git describe --always --dirty at measuring time)\n' \
        "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    printf 'users           %s (hash pool %s, bcrypt cost %s)\n' "$USERS" "$POOL" "$COST"
    printf 'hashing         threads %s (0 = cores), queue_limit %s\n' "$HASH_THREADS" "$QUEUE_LIMIT"
    printf 'bcrypt verify   mean %s ms, min %s ms (1 thread, %s verifications); %s/s on %s threads\n' \
        "$VERIFY_MS" "$VERIFY_MIN_MS" "$VERIFY_ITERATIONS" "$PARALLEL_PER_S" "$CORES"
    printf 'hash-bound      %s logins/s (%s cores / %s ms); 90%% = %s\n' "$HASH_LIMIT" "$CORES" "$VERIFY_MS" \
        "$(awk -v l="$HASH_LIMIT" 'BEGIN { printf "%.1f", l * 0.9 }')"
    printf 'idle RSS        %s MB\n' "$IDLE_RSS_MB"
    printf 'machine busy    %s%% of all cores with other work before the bcrypt timing%s\n' "$BUSY_BEFORE" \
        "$( ((BUSY_BEFORE > QUIET_MAX)) && printf ' (WARNING: over %s%%, figures are shared with it)' "$QUIET_MAX")"
} >"$SUMMARY"

BEST_C=""
BEST_RATE="-1"
for c in "${CONNECTIONS[@]}"; do
    step "Logins: wrk -c $c for ${DURATION}s"
    wait_quiet "logins c=$c"
    snapshot "login-c$c" "$DURATION"
    login_wrk "login-c$c" "$c" "$DURATION"
    secs="$(wrk_seconds "$OUT/wrk-login-c$c.txt")"
    ok="$(code_count 303 "$OUT/status-login-c$c.txt")"
    rate="$(per_second "$ok" "$secs")"
    errors="$(wrk_errors "$OUT/wrk-login-c$c.txt")"
    printf 'logins c=%-4s  %s/s successful (303 %s, 401 %s, 503 %s, other %s in %ss); latency p50 %s p99 %s max %s%s\n' \
        "$c" "$rate" "$ok" "$(code_count 401 "$OUT/status-login-c$c.txt")" "$(code_count 503 "$OUT/status-login-c$c.txt")" \
        "$(other_count "$OUT/status-login-c$c.txt")" "$secs" \
        "$(latency_pct 50% "$OUT/wrk-login-c$c.txt")" "$(latency_pct 99% "$OUT/wrk-login-c$c.txt")" "$(wrk_max "$OUT/wrk-login-c$c.txt")" \
        "${errors:+; socket errors: $errors}" | tee -a "$SUMMARY" >&2
    wait_background
    cpu_line "login-c$c" | tee -a "$SUMMARY" >&2
    if awk -v a="$rate" -v b="$BEST_RATE" 'BEGIN { exit !(a > b) }'; then
        BEST_RATE="$rate"
        BEST_C="$c"
    fi
    sleep 2
done
printf 'best logins     %s/s at c=%s = %s%% of the hash-bound limit\n' "$BEST_RATE" "$BEST_C" \
    "$(awk -v r="$BEST_RATE" -v l="$HASH_LIMIT" 'BEGIN { printf "%.0f", 100 * r / l }')" | tee -a "$SUMMARY" >&2

# mixed NAME DELAY_MS: logins at the best connection count plus a /healthz probe for the same window.
mixed() {
    local name="$1" delay="$2"
    step "Logins (c=$BEST_C) + /healthz (c=$PROBE_CONNECTIONS, ${delay} ms pause) for ${MIXED_DURATION}s"
    : >"$OUT/status-$name-healthz.txt"
    wait_quiet "$name"
    snapshot "$name" "$MIXED_DURATION"
    login_wrk "$name-login" "$BEST_C" "$MIXED_DURATION" &
    local login_pid=$!
    BACKGROUND_PIDS+=("$login_pid")
    BENCH_STATUS_FILE="$OUT/status-$name-healthz.txt" BENCH_PROBE_DELAY_MS="$delay" \
        wrk -t 1 -c "$PROBE_CONNECTIONS" -d "${MIXED_DURATION}s" --timeout 5s --latency \
        -s "$BENCH/healthz.lua" "$URL/healthz" >"$OUT/wrk-$name-healthz.txt" 2>&1 || true
    wait "$login_pid"
    grep -q ' requests in ' "$OUT/wrk-$name-healthz.txt" \
        || { cat "$OUT/wrk-$name-healthz.txt" >&2; die "wrk /healthz failed in the $name run"; }
    wait_background
    local secs ok hsecs hok
    secs="$(wrk_seconds "$OUT/wrk-$name-login.txt")"
    ok="$(code_count 303 "$OUT/status-$name-login.txt")"
    hsecs="$(wrk_seconds "$OUT/wrk-$name-healthz.txt")"
    hok="$(code_count 200 "$OUT/status-$name-healthz.txt")"
    printf '%s  /healthz p50 %s p99 %s max %s (%s/s, 200 %s, other %s); logins meanwhile %s/s (303 %s, 503 %s, other %s)\n' \
        "$name" "$(latency_pct 50% "$OUT/wrk-$name-healthz.txt")" "$(latency_pct 99% "$OUT/wrk-$name-healthz.txt")" \
        "$(wrk_max "$OUT/wrk-$name-healthz.txt")" "$(per_second "$hok" "$hsecs")" "$hok" \
        "$(awk '$1 != 200 { n += $2 } END { print n + 0 }' "$OUT/status-$name-healthz.txt")" \
        "$(per_second "$ok" "$secs")" "$ok" "$(code_count 503 "$OUT/status-$name-login.txt")" \
        "$(awk '$1 != 303 && $1 != 503 { n += $2 } END { print n + 0 }' "$OUT/status-$name-login.txt")" \
        | tee -a "$SUMMARY" >&2
    cpu_line "$name" | tee -a "$SUMMARY" >&2
    sleep 2
}
mixed probe "$PROBE_DELAY_MS"
mixed flood 0

if ((OVERLOAD_CONNECTIONS > 0)); then
    step "Overload: wrk -c $OVERLOAD_CONNECTIONS for ${OVERLOAD_DURATION}s (capacity = hashing threads + queue_limit $QUEUE_LIMIT)"
    wait_quiet overload
    snapshot overload "$OVERLOAD_DURATION"
    login_wrk overload "$OVERLOAD_CONNECTIONS" "$OVERLOAD_DURATION"
    wait_background
    secs="$(wrk_seconds "$OUT/wrk-overload.txt")"
    printf 'overload c=%s  303 %s (%s/s), 503 %s, 401 %s, other %s in %ss; latency p50 %s p99 %s max %s\n' \
        "$OVERLOAD_CONNECTIONS" "$(code_count 303 "$OUT/status-overload.txt")" \
        "$(per_second "$(code_count 303 "$OUT/status-overload.txt")" "$secs")" \
        "$(code_count 503 "$OUT/status-overload.txt")" "$(code_count 401 "$OUT/status-overload.txt")" \
        "$(other_count "$OUT/status-overload.txt")" "$secs" \
        "$(latency_pct 50% "$OUT/wrk-overload.txt")" "$(latency_pct 99% "$OUT/wrk-overload.txt")" "$(wrk_max "$OUT/wrk-overload.txt")" \
        | tee -a "$SUMMARY" >&2
    cpu_line overload | tee -a "$SUMMARY" >&2
fi

# --- wrap up ---------------------------------------------------------------------------------------

sleep 2
curl -fsS -o "$OUT/metrics.txt" "$URL/metrics" || true
AFTER_RSS_MB="$(rss_mb)"
kill "$SAMPLER_PID" 2>/dev/null || true
wait "$SAMPLER_PID" 2>/dev/null || true
SAMPLER_PID=""
PEAK_RSS_MB="$(awk '$2 > max { max = $2 } END { printf "%.1f", max / 1024 }' "$OUT/rss.log")"
printf 'RSS             idle %s MB, peak under load %s MB (%s samples), after load %s MB\n' \
    "$IDLE_RSS_MB" "$PEAK_RSS_MB" "$(wc -l <"$OUT/rss.log")" "$AFTER_RSS_MB" | tee -a "$SUMMARY" >&2
# Peak RSS within each login run's window (rss.log and phases.txt hold epoch seconds).
printf 'RSS peak by run %s\n' "$(awk '
    NR == FNR { name[NR] = $1; from[NR] = $2; to[NR] = $3; runs = NR; next }
    { for (i = 1; i <= runs; i++) if ($1 >= from[i] && $1 <= to[i] && $2 > peak[i]) peak[i] = $2 }
    END { for (i = 1; i <= runs; i++) printf "%s%s %.1f MB", (i > 1 ? ", " : ""), name[i], peak[i] / 1024 }
' "$OUT/phases.txt" "$OUT/rss.log")" | tee -a "$SUMMARY" >&2
grep -E '^drawbridge_(logins_total|hash_pool_rejections_total)' "$OUT/metrics.txt" >>"$SUMMARY" 2>/dev/null || true

step "Stopping drawbridge (SIGTERM)"
stop_server
printf 'drawbridge exit status after SIGTERM: %s\n' "$(cat "$OUT/drawbridge.exit-status")" | tee -a "$SUMMARY" >&2
if [[ -s "$OUT/drawbridge.log" ]]; then
    printf 'drawbridge.log: %s lines (warnings and above)\n' "$(wc -l <"$OUT/drawbridge.log")" | tee -a "$SUMMARY" >&2
fi

printf '\n' >&2
cat "$SUMMARY"
printf '\nRaw outputs: %s\n' "$OUT"
