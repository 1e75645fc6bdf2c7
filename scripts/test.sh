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
bash scripts/install-deps.sh --tests

PG_DIR=""
# shellcheck disable=SC2317  # invoked via trap
cleanup() {
    local status=$?
    rm -f "${TEST_LOG:-}"
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

# At most 8 tests at once (Swift Testing otherwise starts all ~180 together: each runs its own gateway, databases
# and often a contract server, and on 2 cores the resulting queue made timing-sensitive sign-ins fail now and
# then). Measured: the main phase took 130 s this way against 116 s unbounded. Ignored by toolchains without it.
export SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH="${SWT_EXPERIMENTAL_MAXIMUM_PARALLELIZATION_WIDTH:-8}"

# Every run's output is also kept, so that a failure deep in a long log is repeated at the very end
# (CI shows only the tail).
TEST_LOG="$(mktemp "${TMPDIR:-/tmp}/drawbridge-tests.XXXXXX")"
run_tests() { swift test --disable-xctest --skip-build "$@" 2>&1 | tee -a "$TEST_LOG"; }

status=0
if (($# > 0)); then
    step "Running tests (swift test --disable-xctest $*)"
    run_tests "$@" || status=$?
else
    # The suites that load the whole machine (a real Synapse, 10,000-user syncs against a Python stand-in,
    # several `drawbridge serve` processes, a PostgreSQL cluster restarted under serve, chromium behind nginx,
    # schemathesis fuzzing the service API for 90 s)
    # run after the rest and one at a time: on 2 cores, overlapping them with the timing-sensitive suites made
    # sign-ins time out.
    HEAVY=(ProvisioningSyncTests OpenAPIConformanceTests SynapseTests ProvisioningRecoveryTests OutboxPostgresRestartTests BrowserSSOTests BrowserSynapseTests ReplicaTests BrowserReplicaTests CacheInvalidationListenerTests)
    skip="$(IFS='|'; echo "${HEAVY[*]}")"
    step "Running tests (swift test --disable-xctest --skip '$skip')"
    run_tests --skip "$skip" || status=$?
    for suite in "${HEAVY[@]}"; do
        step "Running $suite on its own"
        # Anchored (Module.Suite/test): a bare "ReplicaTests" would run BrowserReplicaTests as well.
        run_tests --filter "\\.$suite/" || status=$?
    done
    # The deploy kit: systemd-analyze, nginx on loopback with the production site, Caddy, Kubernetes schemas,
    # hadolint, shellcheck (scripts/check-deploy.sh says what each check is).
    step "Checking the deploy kit (scripts/check-deploy.sh)"
    bash scripts/check-deploy.sh --quiet || status=$?
fi
if ((status == 0)); then
    step "Tests passed"
else
    # The failing tests and the issues they recorded (with their continuation lines), once more.
    step "What failed"
    awk '/^✘/ { print; more = 1; next } more && /^[[:space:]]*↳/ { print; next } { more = 0 }' "$TEST_LOG" | head -n 80 >&2
    step "Tests failed (exit status $status)"
fi
rm -f "$TEST_LOG"
exit "$status"
