#!/usr/bin/env bash
# Drawbridge's test command (what CI runs):
#
#   scripts/test.sh [swift test args...]     e.g. scripts/test.sh --filter Login
#
# Installs missing system dependencies, starts a throwaway PostgreSQL cluster
# unless DRAWBRIDGE_TEST_DATABASE_URL is already set, builds, and runs the
# swift-testing suites. Exits with `swift test`'s status.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
cd "$ROOT"

step() { printf '==> %s\n' "$*" >&2; }

step "Checking system dependencies"
bash scripts/install-deps.sh

PG_DIR=""
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local status=$?
    if [[ -n "$PG_DIR" ]]; then
        step "Stopping throwaway PostgreSQL"
        bash scripts/test-postgres.sh stop "$PG_DIR" >&2 || rm -rf "$PG_DIR" || true
        PG_DIR=""
    fi
    exit "$status"
}

if [[ -z "${DRAWBRIDGE_TEST_DATABASE_URL:-}" ]]; then
    step "Starting throwaway PostgreSQL"
    # As root the cluster runs as 'postgres', which must be able to reach the
    # directory: use /tmp rather than a possibly private $TMPDIR.
    if ((EUID == 0)); then tmp_base=/tmp; else tmp_base="${TMPDIR:-/tmp}"; fi
    trap cleanup EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    PG_DIR="$(mktemp -d "${tmp_base%/}/drawbridge-pg.XXXXXX")"
    DRAWBRIDGE_TEST_DATABASE_URL="$(bash scripts/test-postgres.sh start "$PG_DIR")"
    export DRAWBRIDGE_TEST_DATABASE_URL
    step "PostgreSQL at $DRAWBRIDGE_TEST_DATABASE_URL"
else
    step "Using DRAWBRIDGE_TEST_DATABASE_URL from the environment"
fi

step "Building (swift build --build-tests)"
swift build --build-tests

step "Running tests (swift test --disable-xctest${*:+ $*})"
status=0
swift test --disable-xctest "$@" || status=$?
if ((status == 0)); then
    step "Tests passed"
else
    step "Tests failed (exit status $status)"
fi
exit "$status"
