#!/usr/bin/env bash
# Drawbridge OAuth endpoints benchmark (results: Benchmarks/RESULTS.md, "OAuth endpoints").
#
#   scripts/bench/oauth.sh
#
# Same machinery as scripts/bench/run.sh (release build in .build-release, throwaway PostgreSQL
# from scripts/test-postgres.sh, quiet-machine wait, CPU split by cpu-split.py), with:
#   - 10,000 platform users sharing ONE bcrypt cost-4 hash (sign-in cost is not measured here;
#     the sessions and tokens are made once, up front);
#   - pg_stat_statements preloaded (ALTER SYSTEM + restart of the throwaway cluster);
#   - one trusted confidential client (drawbridge clients add --trusted --json);
#   - sessions and token pairs from scripted code flows (scripts/bench/oauth-flow.py).
# Measures with wrk:
#   1. GET /api/v4/user and GET /oauth/userinfo with a Bearer token (bearer.lua);
#   2. POST /oauth/token grant_type=refresh_token, each refresh token used once (refresh.lua);
#   3. full code flows: authorize (session) -> token -> /api/v4/user (flow.lua);
#   4. SQL statements per full flow (pg_stat_statements over both databases, oauth-flow.py flows).
#
# Environment:
#   DRAWBRIDGE_BENCH_BIN     use this drawbridge binary (skips the build)
#   DRAWBRIDGE_BENCH_OUT     output directory (default /tmp/drawbridge-oauth-bench-<UTC time>)
#   BENCH_USERS              users in the platform table (default 10000)
#   BENCH_DURATION           seconds per wrk run (default 15)
#   BENCH_CONNECTIONS        connection counts for every wrk measurement (default "16 64")
#   BENCH_SESSIONS           signed-in users for the flow run and bearer tokens (default 256)
#   BENCH_FLOW_SCOPE         scope of the refresh and flow runs (default read_user, as Mattermost)
#   BENCH_SQL_FLOWS          flows for the statement count (default 200)
#   BENCH_SQL_GAP_FLOWS      flows with 1.1 s between their requests, so no 1 s cache spans
#                            two steps (default 20; 0 skips)
#   BENCH_QUIET_MAX, BENCH_QUIET_WAIT   as in run.sh (default 10 %, 300 s)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
BENCH="$ROOT/scripts/bench"
PROG="bench/oauth.sh"
# shellcheck source=scripts/bench/lib.sh
source "$BENCH/lib.sh"


OUT="${DRAWBRIDGE_BENCH_OUT:-/tmp/drawbridge-oauth-bench-$(date -u +%Y%m%dT%H%M%SZ)}"
USERS="${BENCH_USERS:-10000}"
DURATION="${BENCH_DURATION:-15}"
read -r -a CONNECTIONS <<<"${BENCH_CONNECTIONS:-16 64}"
NSESSIONS="${BENCH_SESSIONS:-256}"
FLOW_SCOPE="${BENCH_FLOW_SCOPE:-read_user}"
SQL_FLOWS="${BENCH_SQL_FLOWS:-200}"
SQL_GAP_FLOWS="${BENCH_SQL_GAP_FLOWS:-20}"
QUIET_MAX="${BENCH_QUIET_MAX:-10}"
QUIET_WAIT="${BENCH_QUIET_WAIT:-300}"
CORES="$(nproc)"
PASSWORD="bench-pw"
REDIRECT="http://127.0.0.1:9/cb"
BEARER_SCOPE="openid profile email"
positive BENCH_USERS "$USERS"; positive BENCH_DURATION "$DURATION"; positive BENCH_SESSIONS "$NSESSIONS"
positive BENCH_SQL_FLOWS "$SQL_FLOWS"
[[ "$SQL_GAP_FLOWS" =~ ^[0-9]+$ ]] || die "BENCH_SQL_GAP_FLOWS must be a number"
for c in "${CONNECTIONS[@]}"; do positive BENCH_CONNECTIONS "$c"; done
((NSESSIONS <= USERS)) || die "BENCH_SESSIONS must not exceed BENCH_USERS"

for tool in wrk curl psql ps awk top python3; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required"
done
mkdir -p "$OUT" || die "cannot create $OUT"
OUT="$(cd "$OUT" && pwd -P)"
[[ -z "$(ls -A "$OUT")" ]] || die "$OUT is not empty"
chmod 0755 "$OUT"
step "Output directory: $OUT"

# --- cleanup (as run.sh) -------------------------------------------------------------------
PG_DIR=""; SERVER_PID=""; BACKGROUND_PIDS=()
stop_server() {
    [[ -n "$SERVER_PID" ]] || return 0
    if kill -0 "$SERVER_PID" 2>/dev/null; then
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        local waited=0
        while kill -0 "$SERVER_PID" 2>/dev/null && ((waited < 100)); do sleep 0.1; waited=$((waited + 1)); done
        kill -0 "$SERVER_PID" 2>/dev/null && kill -KILL "$SERVER_PID" 2>/dev/null || true
    fi
    local status=0
    wait "$SERVER_PID" 2>/dev/null || status=$?
    printf '%s\n' "$status" >"$OUT/drawbridge.exit-status"
    SERVER_PID=""
}
# shellcheck disable=SC2317
cleanup() {
    local status=$? pid
    trap - EXIT
    for pid in "${BACKGROUND_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    stop_server
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

# --- Drawbridge ---------------------------------------------------------------------------------
HTTP_PORT="$(bench_free_port)"
URL="http://127.0.0.1:$HTTP_PORT"
bench_config "$HTTP_PORT" "$URL"
drawbridge clients add --config "$CONFIG" --name bench --trusted --redirect-uri "$REDIRECT" --json >"$OUT/client.json" \
    || die "clients add failed"
CLIENT_ID="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_id"])' <"$OUT/client.json")"
CLIENT_SECRET="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["client_secret"])' <"$OUT/client.json")"

step "Starting drawbridge serve on $URL"
env "${ENV_CLEAN[@]}" "$BIN" serve --config "$CONFIG" >"$OUT/drawbridge.log" 2>&1 &
SERVER_PID=$!
waited=0
until curl -fsS -o /dev/null "$URL/readyz" 2>/dev/null; do
    kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$OUT/drawbridge.log" >&2; die "drawbridge serve exited during start-up"; }
    ((waited < 300)) || die "drawbridge not ready after 30 s"
    sleep 0.1; waited=$((waited + 1))
done
check_server() { kill -0 "$SERVER_PID" 2>/dev/null || { tail -n 20 "$OUT/drawbridge.log" >&2; die "drawbridge exited $1"; }; }

# --- one scripted code flow with curl (as a client would), then the bulk set-up in Python -------------
step "One code flow with curl"
J="$OUT/curl-jar.txt"
curl -fsS -c "$J" -o "$OUT/login-form.html" "$URL/login"
CSRF="$(sed -n 's/.*name="csrf" value="\([^"]*\)".*/\1/p' "$OUT/login-form.html" | head -n 1)"
st="$(curl -sS -b "$J" -c "$J" -o /dev/null -w '%{http_code}' --data-urlencode username=user1 \
    --data-urlencode "password=$PASSWORD" --data-urlencode "csrf=$CSRF" --data-urlencode rd=/ "$URL/login")"
[[ "$st" == 303 ]] || die "POST /login answered $st"
grep -q drawbridge_session "$J" || die "no drawbridge_session cookie after POST /login"
loc="$(curl -sS -b "$J" -o /dev/null -w '%{http_code} %{redirect_url}' \
    "$URL/oauth/authorize?response_type=code&client_id=$CLIENT_ID&redirect_uri=http%3A%2F%2F127.0.0.1%3A9%2Fcb&scope=openid%20profile%20email&state=x")"
[[ "$loc" == "302 "* ]] || die "authorize answered $loc"
code="$(sed -n 's/.*[?&]code=\([^&]*\).*/\1/p' <<<"$loc")"
[[ -n "$code" ]] || die "no code in $loc"
curl -fsS -o "$OUT/curl-token.json" -d grant_type=authorization_code --data-urlencode "code=$code" \
    --data-urlencode "redirect_uri=$REDIRECT" --data-urlencode "client_id=$CLIENT_ID" \
    --data-urlencode "client_secret=$CLIENT_SECRET" "$URL/oauth/token" || die "token exchange failed"
ACCESS="$(python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])' <"$OUT/curl-token.json")"
for ep in /api/v4/user /oauth/userinfo; do
    st="$(curl -sS -o "$OUT/curl$(tr / - <<<"$ep").json" -w '%{http_code}' -H "Authorization: Bearer $ACCESS" "$URL$ep")"
    [[ "$st" == 200 ]] || die "$ep answered $st"
done
step "curl flow OK: $(cat "$OUT/curl-api-v4-user.json" | head -c 200)"

FLOWPY=(python3 "$BENCH/oauth-flow.py")
step "Signing in $NSESSIONS users (sessions for the flow runs) and $SQL_FLOWS + $SQL_GAP_FLOWS more for the SQL count"
"${FLOWPY[@]}" sessions "$URL" 1 "$NSESSIONS" "$PASSWORD" >"$OUT/sessions.txt"
"${FLOWPY[@]}" sessions "$URL" $((NSESSIONS + 1)) $((SQL_FLOWS + SQL_GAP_FLOWS)) "$PASSWORD" >"$OUT/sql-sessions.txt"
head -n "$SQL_FLOWS" "$OUT/sql-sessions.txt" >"$OUT/sql-sessions-a.txt"
tail -n +$((SQL_FLOWS + 1)) "$OUT/sql-sessions.txt" >"$OUT/sql-sessions-b.txt"
step "Token pairs: $NSESSIONS with scope '$BEARER_SCOPE' (bearer runs), ${#CONNECTIONS[@]} x max-connections with '$FLOW_SCOPE' (refresh runs)"
"${FLOWPY[@]}" tokens "$URL" "$CLIENT_ID" "$CLIENT_SECRET" "$REDIRECT" "$BEARER_SCOPE" "$OUT/sessions.txt" "$NSESSIONS" >"$OUT/tokens-bearer.tsv"
for c in "${CONNECTIONS[@]}"; do
    "${FLOWPY[@]}" tokens "$URL" "$CLIENT_ID" "$CLIENT_SECRET" "$REDIRECT" "$FLOW_SCOPE" "$OUT/sessions.txt" "$c" >"$OUT/tokens-refresh-c$c.tsv"
done
sleep 3

non_count() { awk -v c="$1" '$1 != c && $1 ~ /^[0-9]+$/ { n += $2 } END { print n + 0 }' "$2"; }
wrk_requests() { sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' "$1"; }

# run_wrk NAME CONNECTIONS SCRIPT PATH [ENV=VALUE...]: one wrk run with a CPU split.
run_wrk() {
    local name="$1" c="$2" script="$3" path="$4"; shift 4
    local threads=$((c < 2 ? c : 2))
    wait_quiet "$name"
    snapshot "$name" "$DURATION"
    : >"$OUT/status-$name.txt"
    env BENCH_THREADS="$threads" BENCH_STATUS_FILE="$OUT/status-$name.txt" "$@" \
        wrk -t "$threads" -c "$c" -d "${DURATION}s" --timeout 10s --latency -s "$BENCH/$script" "$URL$path" >"$OUT/wrk-$name.txt" 2>&1 || true
    wait_background
    check_server "during $name"
    grep -q ' requests in ' "$OUT/wrk-$name.txt" || { cat "$OUT/wrk-$name.txt" >&2; die "wrk failed in $name"; }
}
report() { # NAME OK_CODE LABEL: one summary line
    local name="$1" ok="$2" secs n good
    secs="$(wrk_seconds "$OUT/wrk-$name.txt")"; n="$(wrk_requests "$OUT/wrk-$name.txt")"
    good="$(code_count "$ok" "$OUT/status-$name.txt")"
    printf '%-22s %s req/s %s (%s requests in %ss; non-%s %s); p50 %s p99 %s%s\n' "$name" \
        "$(per_second "$good" "$secs")" "$ok" "$n" "$secs" "$ok" "$(non_count "$ok" "$OUT/status-$name.txt")" \
        "$(latency_pct 50% "$OUT/wrk-$name.txt")" "$(latency_pct 99% "$OUT/wrk-$name.txt")" \
        "$(e="$(wrk_errors "$OUT/wrk-$name.txt")"; [[ -n "$e" ]] && printf '; socket errors: %s' "$e")" | tee -a "$SUMMARY" >&2
    cpu_line "$name" | tee -a "$SUMMARY" >&2
}

SUMMARY="$OUT/summary.txt"
{
    printf 'date            %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
    printf 'machine         %s, %s cores, %s MB RAM\n' "$(lscpu | sed -n 's/^Model name: *//p' | head -n 1)" "$CORES" "$(awk '/MemTotal/ { printf "%d", $2 / 1024 }' /proc/meminfo)"
    printf 'postgres        %s (pg_stat_statements preloaded)\n' "$PG_VERSION"
    printf 'binary          %s\n' "$BIN"
    printf 'source          %s\n' "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown)"
    printf 'users           %s (one bcrypt cost-4 hash); %s signed-in sessions\n' "$USERS" "$NSESSIONS"
    printf 'client          %s (trusted, confidential); bearer scope "%s", refresh/flow scope "%s"\n' "$CLIENT_ID" "$BEARER_SCOPE" "$FLOW_SCOPE"
    printf 'duration        %ss per wrk run\n' "$DURATION"
} >"$SUMMARY"

# --- 1. bearer endpoints ---------------------------------------------------------------------------
for ep in user userinfo; do
    path=/api/v4/user; [[ "$ep" == userinfo ]] && path=/oauth/userinfo
    for c in "${CONNECTIONS[@]}"; do
        step "GET $path, wrk -c $c for ${DURATION}s"
        run_wrk "$ep-c$c" "$c" bearer.lua "$path" BENCH_TOKENS="$OUT/tokens-bearer.tsv"
        report "$ep-c$c" 200
        sleep 2
    done
done

# --- 2. refresh grant ------------------------------------------------------------------------------
for c in "${CONNECTIONS[@]}"; do
    step "POST /oauth/token refresh_token, wrk -c $c for ${DURATION}s ($c refresh tokens, chained)"
    run_wrk "refresh-c$c" "$c" refresh.lua /oauth/token BENCH_TOKENS="$OUT/tokens-refresh-c$c.tsv" \
        BENCH_CLIENT_ID="$CLIENT_ID" BENCH_CLIENT_SECRET="$CLIENT_SECRET"
    report "refresh-c$c" 200
    printf '    refresh-c%s other counters: %s\n' "$c" "$(grep -v '^[0-9]' "$OUT/status-refresh-c$c.txt" | paste -sd ' ' || true)" | tee -a "$SUMMARY" >&2
    sleep 2
done

# --- 3. full code flows ----------------------------------------------------------------------------
for c in "${CONNECTIONS[@]}"; do
    step "Full flows (authorize -> token -> /api/v4/user), wrk -c $c for ${DURATION}s"
    run_wrk "flow-c$c" "$c" flow.lua /oauth/authorize BENCH_SESSIONS="$OUT/sessions.txt" \
        BENCH_CLIENT_ID="$CLIENT_ID" BENCH_CLIENT_SECRET="$CLIENT_SECRET" BENCH_REDIRECT_URI="$REDIRECT" \
        BENCH_SCOPE="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "$FLOW_SCOPE")"
    secs="$(wrk_seconds "$OUT/wrk-flow-c$c.txt")"
    flows="$(code_count flow "$OUT/status-flow-c$c.txt")"
    printf '%-22s %s flows/s (%s flows, %s requests in %ss; 302 %s, 200 %s, other %s); per-request p50 %s p99 %s\n' "flow-c$c" \
        "$(per_second "$flows" "$secs")" "$flows" "$(wrk_requests "$OUT/wrk-flow-c$c.txt")" "$secs" \
        "$(code_count 302 "$OUT/status-flow-c$c.txt")" "$(code_count 200 "$OUT/status-flow-c$c.txt")" \
        "$(awk '$1 ~ /^[0-9]+$/ && $1 != 200 && $1 != 302 { n += $2 } END { print n + 0 }' "$OUT/status-flow-c$c.txt")" \
        "$(latency_pct 50% "$OUT/wrk-flow-c$c.txt")" "$(latency_pct 99% "$OUT/wrk-flow-c$c.txt")" | tee -a "$SUMMARY" >&2
    cpu_line "flow-c$c" | tee -a "$SUMMARY" >&2
    sleep 2
done

# --- 4. SQL statements per full flow ----------------------------------------------------------------
STATS_SQL="SELECT calls, rows, regexp_replace(query, '\\s+', ' ', 'g') FROM pg_stat_statements
 WHERE query NOT ILIKE '%pg_stat_statements%' AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
 ORDER BY calls DESC, query"
sql_count() { # NAME SESSIONS COUNT GAP
    local name="$1"
    sleep 2 # let anything the previous step started settle
    sqlv drawbridge 'SELECT pg_stat_statements_reset()' >/dev/null
    "${FLOWPY[@]}" flows "$URL" "$CLIENT_ID" "$CLIENT_SECRET" "$REDIRECT" "$FLOW_SCOPE" "$2" "$3" "$4" >"$OUT/sql-$name-driver.txt"
    sleep 1
    local db total=0 calls
    : >"$OUT/sql-$name.txt"
    for db in drawbridge platform_bench; do
        printf -- '-- %s (calls | rows | statement)\n' "$db" >>"$OUT/sql-$name.txt"
        psql -X -At -F ' | ' -h 127.0.0.1 -p "$PG_PORT" -U postgres -d "$db" -c "$STATS_SQL" >>"$OUT/sql-$name.txt"
        calls="$(sqlv "$db" "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements WHERE query NOT ILIKE '%pg_stat_statements%' AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())")"
        printf '%s %s\n' "$db" "$calls" >>"$OUT/sql-$name-totals.txt"
        total=$((total + calls))
    done
    printf '%-22s %s statements for %s flows = %s per flow (drawbridge db %s, platform db %s); %s\n' "sql-$name" "$total" "$3" \
        "$(awk -v t="$total" -v n="$3" 'BEGIN { printf "%.2f", t / n }')" \
        "$(awk '$1 == "drawbridge" { print $2 }' "$OUT/sql-$name-totals.txt")" \
        "$(awk '$1 == "platform_bench" { print $2 }' "$OUT/sql-$name-totals.txt")" \
        "$(cat "$OUT/sql-$name-driver.txt")" | tee -a "$SUMMARY" >&2
}
step "SQL count: $SQL_FLOWS flows back to back, a different user (session) each"
sql_count flows "$OUT/sql-sessions-a.txt" "$SQL_FLOWS" 0
if ((SQL_GAP_FLOWS > 0)); then
    step "SQL count: $SQL_GAP_FLOWS flows with 1.1 s between requests (no 1 s cache spans two steps)"
    sql_count gapflows "$OUT/sql-sessions-b.txt" "$SQL_GAP_FLOWS" 1.1
fi
# Top-level statements only (pg_stat_statements.track = top, the default): what Drawbridge sends.
printf 'sql note        pg_stat_statements (track = top) over both databases, reset (one call resets all) before each count;\n                statement lists in sql-flows.txt / sql-gapflows.txt\n' >>"$SUMMARY"

# --- wrap up ----------------------------------------------------------------------------------------
curl -fsS -o "$OUT/metrics.txt" "$URL/metrics" || true
printf 'RSS after load  %s MB\n' "$(ps -o rss= -p "$SERVER_PID" | awk '{ printf "%.1f", $1 / 1024 }')" | tee -a "$SUMMARY" >&2
stop_server
printf 'drawbridge exit status after SIGTERM: %s; drawbridge.log %s lines\n' "$(cat "$OUT/drawbridge.exit-status")" "$(wc -l <"$OUT/drawbridge.log")" | tee -a "$SUMMARY" >&2
printf '\n' >&2
cat "$SUMMARY"
printf '\nRaw outputs: %s\n' "$OUT"
