#!/usr/bin/env bash
# `drawbridge provision sync` throughput (results: Benchmarks/RESULTS.md, "Provisioning sync").
#
#   scripts/bench/sync.sh
#
# For each user count in BENCH_SYNC_USERS: a fresh throwaway PostgreSQL database pair, a platform table of
# that many users, a fresh Mattermost contract server (Tests/contract-servers/, a stand-in for Mattermost)
# answering every API call after BENCH_LATENCY_MS, and one `drawbridge provision sync` at the default
# concurrency, timed, with its peak RSS (/usr/bin/time -v). Each user costs 4 chat calls (look-up by
# email, by username, create, join the team). A second sync over the same users (nothing to do) is timed too.
#
# Environment: DRAWBRIDGE_BENCH_BIN (release binary; else built into .build-release), BENCH_SYNC_USERS
# (default "2000 10000 20000"), BENCH_LATENCY_MS (default 5), BENCH_CONCURRENCY (default: the command's),
# DRAWBRIDGE_BENCH_OUT (default /tmp/drawbridge-sync-bench-<time>).
set -euo pipefail
PROG="sync.sh"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source=scripts/bench/lib.sh
source "$ROOT/scripts/bench/lib.sh"

USERS_LIST="${BENCH_SYNC_USERS:-2000 10000 20000}"
LATENCY="${BENCH_LATENCY_MS:-5}"
OUT="${DRAWBRIDGE_BENCH_OUT:-/tmp/drawbridge-sync-bench-$(date -u +%Y%m%dT%H%M%SZ)}"
unset DRAWBRIDGE_BENCH_OUT
mkdir -p "$OUT"
PG_DIR=""; CHAT_PID=""
cleanup() {
    local status=$?
    trap - EXIT
    [[ -n "$CHAT_PID" ]] && kill "$CHAT_PID" 2>/dev/null || true
    [[ -n "$PG_DIR" ]] && bash "$ROOT/scripts/test-postgres.sh" stop "$PG_DIR" >&2 || true
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT; trap 'exit 143' TERM

if [[ -n "${DRAWBRIDGE_BENCH_BIN:-}" ]]; then
    BIN="$DRAWBRIDGE_BENCH_BIN"
    unset DRAWBRIDGE_BENCH_BIN DRAWBRIDGE_BENCH_OUT   # not Drawbridge settings: the binary would warn about them
else
    step "Building release binary"
    (cd "$ROOT" && swift build -c release --product drawbridge --scratch-path .build-release) || die "release build failed"
    BIN="$(cd "$ROOT" && swift build -c release --scratch-path .build-release --show-bin-path)/drawbridge"
fi

PG_DIR="$OUT/pg"
ADMIN_URL="$(bash "$ROOT/scripts/test-postgres.sh" start "$PG_DIR" | tail -1)"
PORT="$(sed -n 's#.*:\([0-9]*\)/.*#\1#p' <<<"$ADMIN_URL")"
CONCURRENCY_ARGS=()
[[ -n "${BENCH_CONCURRENCY:-}" ]] && CONCURRENCY_ARGS=(--concurrency "$BENCH_CONCURRENCY")

printf '%-8s %-10s %-12s %-12s %-14s %s\n' users seconds "users/s" "peak RSS" "resync s" "resync users/s" | tee "$OUT/summary.txt"
for USERS in $USERS_LIST; do
    positive BENCH_SYNC_USERS "$USERS"
    DB="sync_$USERS"
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS ${DB}_drawbridge" -c "DROP DATABASE IF EXISTS ${DB}_platform" \
        -c "CREATE DATABASE ${DB}_drawbridge" -c "CREATE DATABASE ${DB}_platform" >/dev/null
    psql -q "postgres://postgres@127.0.0.1:$PORT/${DB}_platform" >/dev/null <<SQL
CREATE TABLE accounts (id bigserial PRIMARY KEY, login text NOT NULL UNIQUE, email text NOT NULL UNIQUE,
    full_name text NOT NULL, password_hash text, is_active boolean NOT NULL DEFAULT true);
INSERT INTO accounts (login, email, full_name) SELECT 'user' || n, 'user' || n || '@example.com', 'User Number' || n
FROM generate_series(1, $USERS) AS n;
SQL
    /usr/bin/python3 "$ROOT/Tests/contract-servers/mattermost_contract_server.py" --port 0 --admin-token bench-token \
        --team town:off-topic --latency-ms "$LATENCY" >"$OUT/chat-$USERS.out" 2>"$OUT/chat-$USERS.err" &
    CHAT_PID=$!
    for _ in $(seq 100); do grep -q LISTENING "$OUT/chat-$USERS.out" 2>/dev/null && break; sleep 0.1; done
    CHAT_PORT="$(sed -n 's/^LISTENING \([0-9]*\).*/\1/p' "$OUT/chat-$USERS.out")"
    [[ -n "$CHAT_PORT" ]] || die "the contract server did not start"
    cat >"$OUT/drawbridge-$USERS.yaml" <<YAML
public_url: https://sso.example.com
database: { url: "postgres://postgres@127.0.0.1:$PORT/${DB}_drawbridge", schema: drawbridge }
directory:
  url: "postgres://postgres@127.0.0.1:$PORT/${DB}_platform"
  table: public.accounts
  columns: { id: id, login: login, email: email, name: full_name, password: password_hash, active: is_active }
session: { cookie_domain: example.com }
keys: { encryption_key: "$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=')" }
connectors:
  mattermost: { url: "http://127.0.0.1:$CHAT_PORT", token: bench-token, teams: [town] }
YAML
    "$BIN" migrate --config "$OUT/drawbridge-$USERS.yaml" >/dev/null
    /usr/bin/time -v -o "$OUT/time-$USERS.txt" "$BIN" provision sync --json "${CONCURRENCY_ARGS[@]}" \
        --config "$OUT/drawbridge-$USERS.yaml" >"$OUT/sync-$USERS.json" 2>"$OUT/sync-$USERS.err" || die "sync failed (see $OUT/sync-$USERS.err)"
    "$BIN" provision sync --json --config "$OUT/drawbridge-$USERS.yaml" >"$OUT/resync-$USERS.json" 2>/dev/null || die "resync failed"
    read -r SECONDS_TAKEN CREATED < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["seconds"], d["connectors"]["mattermost"]["created"])' "$OUT/sync-$USERS.json")
    [[ "$CREATED" == "$USERS" ]] || die "created $CREATED of $USERS (see $OUT/sync-$USERS.json)"
    RESYNC="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["seconds"])' "$OUT/resync-$USERS.json")"
    RSS="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$OUT/time-$USERS.txt")"
    printf '%-8s %-10.1f %-12s %-12s %-14.2f %s\n' "$USERS" "$SECONDS_TAKEN" "$(per_second "$USERS" "$SECONDS_TAKEN")" \
        "$((RSS / 1024)) MB" "$RESYNC" "$(per_second "$USERS" "$RESYNC")" | tee -a "$OUT/summary.txt"
    kill "$CHAT_PID" 2>/dev/null || true; wait "$CHAT_PID" 2>/dev/null || true; CHAT_PID=""
done
step "Raw outputs: $OUT"
