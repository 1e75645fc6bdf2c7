#!/usr/bin/env bash
# Checks a running Drawbridge against openapi/drawbridge.yaml with schemathesis (PyPI), in a venv kept in
# .build/schemathesis-venv (made on first use):
#
#   scripts/schemathesis.sh --url http://127.0.0.1:8080 --token dbt_… [--max-examples N]
#
# Runs schemathesis' example, coverage and fuzzing phases with the checks that hold for this API (see
# CHECKS below) and exits with its status.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION="4.32.5"
VENV="$ROOT/.build/schemathesis-venv"
die() { printf 'schemathesis.sh: %s\n' "$*" >&2; exit 2; }

URL="" TOKEN="" MAX_EXAMPLES=150
while (($# > 0)); do
    case "$1" in
        --url) URL="${2:?--url needs a value}"; shift 2 ;;
        --token) TOKEN="${2:?--token needs a value}"; shift 2 ;;
        --max-examples) MAX_EXAMPLES="${2:?--max-examples needs a value}"; shift 2 ;;
        *) die "unknown argument '$1' (use --url URL --token TOKEN [--max-examples N])" ;;
    esac
done
[[ -n "$URL" && -n "$TOKEN" ]] || die "--url and --token are required"

if [[ ! -x "$VENV/bin/schemathesis" ]] || ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$VERSION"; then
    python3 -m venv "$VENV" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$VERSION" >&2 \
        || die "could not install schemathesis $VERSION from PyPI"
fi

# Every check but two that do not fit this API: positive_data_acceptance expects any schema-valid body to be
# accepted, but a valid body may name a user who does not exist (404 is the right answer); and
# use_after_free / ensure_resource_availability look for REST resources this API does not have.
CHECKS="not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance,negative_data_rejection,missing_required_header,unsupported_method,ignored_auth"
# schemathesis keeps a cache (.schemathesis/) in the working directory: keep it inside .build.
mkdir -p "$ROOT/.build/schemathesis-run"
cd "$ROOT/.build/schemathesis-run"
exec "$VENV/bin/schemathesis" run "$ROOT/openapi/drawbridge.yaml" \
    --url "$URL" \
    --header "Authorization: Bearer $TOKEN" \
    --checks "$CHECKS" \
    --phases examples,coverage,fuzzing \
    --max-examples "$MAX_EXAMPLES" \
    --workers 1 \
    --no-color 2>&1
