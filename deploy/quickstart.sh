#!/usr/bin/env bash
# Drawbridge quickstart: a working gateway with a demo user directory on a
# fresh Debian/Ubuntu machine. Run `deploy/quickstart.sh --help` for details.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)"
PROG="quickstart.sh"

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
step() { printf '==> %s\n' "$*" >&2; }

usage() {
    cat <<'EOF'
Usage: deploy/quickstart.sh [--no-serve] [--help]

Sets up and starts a local Drawbridge gateway with a demo user directory:
  * installs missing system packages (scripts/install-deps.sh),
  * starts Debian's PostgreSQL cluster if nothing listens on 127.0.0.1:5432,
  * creates roles drawbridge / platform_ro, databases drawbridge / platform_demo
    and the demo table platform_demo.public.accounts with users alice, bob,
    carol, dave, erin (one password hash format each) and frank (inactive),
    all with the password "drawbridge-demo",
  * builds drawbridge, writes $STATE_DIR/drawbridge.yaml, runs migrate and
    check, registers the demo OAuth client "demo-chat" and a service token
    "demo-platform", then serves on http://127.0.0.1:8080 (Ctrl-C to stop),
  * and beside it, for the whole loop: a demo chat server on :8065 (the
    Mattermost contract server from Tests/contract-servers, a stand-in that
    signs in through Drawbridge's GitLab surface, since Mattermost itself is
    not installed) and a demo platform on :8081 (deploy/demo/platform_app.py)
    whose "Open chat" buttons hand a user over to chat with no second form.
Re-running is safe: passwords are reused, demo users are reset.

Options:
  --no-serve   do everything except starting the server
  -h, --help   show this help

Environment:
  DRAWBRIDGE_QUICKSTART_STATE_DIR  state directory (default: <repo>/.quickstart;
                                   STATE_DIR is honoured too)
  DRAWBRIDGE_QUICKSTART_HOST       HTTP listen host (default: 127.0.0.1)
  DRAWBRIDGE_QUICKSTART_PORT       HTTP listen port (default: 8080)
  DRAWBRIDGE_QUICKSTART_CHAT_PORT  demo chat server port (default: 8065)
  DRAWBRIDGE_QUICKSTART_PLATFORM_PORT  demo platform port (default: 8081)
  DRAWBRIDGE_BUILD=release         build with -c release (default: debug)
  DRAWBRIDGE_QUICKSTART_BIN        use this drawbridge binary instead of building
EOF
}

SERVE=1
while (($# > 0)); do
    case "$1" in
        --no-serve) SERVE=0 ;;
        -h | --help) usage; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
    shift
done

STATE_DIR="${DRAWBRIDGE_QUICKSTART_STATE_DIR:-${STATE_DIR:-$ROOT/.quickstart}}"
[[ "$STATE_DIR" == /* ]] || STATE_DIR="$PWD/$STATE_DIR"
SECRETS_DIR="$STATE_DIR/secrets"
CONFIG="$STATE_DIR/drawbridge.yaml"
HTTP_HOST="${DRAWBRIDGE_QUICKSTART_HOST:-127.0.0.1}"
HTTP_PORT="${DRAWBRIDGE_QUICKSTART_PORT:-8080}"
CHAT_PORT="${DRAWBRIDGE_QUICKSTART_CHAT_PORT:-8065}"
PLATFORM_PORT="${DRAWBRIDGE_QUICKSTART_PLATFORM_PORT:-8081}"
for port in "$CHAT_PORT" "$PLATFORM_PORT"; do
    if ! [[ "$port" =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
        die "DRAWBRIDGE_QUICKSTART_CHAT_PORT and _PLATFORM_PORT must be port numbers (1-65535), got '$port'"
    fi
done
PG_HOST=127.0.0.1
PG_PORT=5432
DEMO_PASSWORD="drawbridge-demo"

if ! [[ "$HTTP_PORT" =~ ^[0-9]{1,5}$ ]] || ((10#$HTTP_PORT < 1 || 10#$HTTP_PORT > 65535)); then
    die "DRAWBRIDGE_QUICKSTART_PORT must be a port number (1-65535), got '$HTTP_PORT'"
fi
HTTP_PORT=$((10#$HTTP_PORT))
[[ "$HTTP_HOST" =~ ^[A-Za-z0-9.:-]+$ ]] \
    || die "DRAWBRIDGE_QUICKSTART_HOST must be a host name or IP address, got '$HTTP_HOST'"
if [[ "$HTTP_HOST" == *:* ]]; then # IPv6 literal
    YAML_HOST="\"$HTTP_HOST\""
    URL_HOST="[$HTTP_HOST]"
else
    YAML_HOST="$HTTP_HOST"
    URL_HOST="$HTTP_HOST"
fi
PUBLIC_URL="http://$URL_HOST:$HTTP_PORT"

case "${DRAWBRIDGE_BUILD:-debug}" in
    debug | "") BUILD_ARGS=() ; BUILD_NAME=debug ;;
    release) BUILD_ARGS=(-c release) ; BUILD_NAME=release ;;
    *) die "DRAWBRIDGE_BUILD must be 'debug' or 'release', got '$DRAWBRIDGE_BUILD'" ;;
esac

QUICKSTART_BIN="${DRAWBRIDGE_QUICKSTART_BIN:-}"
QUICKSTART_KEK_FILE="${DRAWBRIDGE_QUICKSTART_KEK_FILE:-}"
# The quickstart's own settings are not Drawbridge's: the binary would warn about each one it sees.
unset DRAWBRIDGE_QUICKSTART_STATE_DIR DRAWBRIDGE_QUICKSTART_HOST DRAWBRIDGE_QUICKSTART_PORT DRAWBRIDGE_QUICKSTART_CHAT_PORT \
    DRAWBRIDGE_QUICKSTART_PLATFORM_PORT DRAWBRIDGE_QUICKSTART_BIN DRAWBRIDGE_QUICKSTART_KEK_FILE DRAWBRIDGE_BUILD

cd "$ROOT"

# --- privileges ---------------------------------------------------------------

# require_root_or_sudo WHAT: fail early if as_root cannot work.
require_root_or_sudo() {
    ((EUID == 0)) || command -v sudo >/dev/null 2>&1 \
        || die "need root to $1 (not root and no sudo available)"
}

# as_root CMD...: run CMD as root (directly, or through sudo).
as_root() {
    if ((EUID == 0)); then
        "$@"
    else
        sudo "$@"
    fi
}

# admin_psql DB: run psql as the 'postgres' superuser (peer authentication over
# the local socket) on database DB, reading SQL from stdin.
admin_psql() {
    local db="$1" runner
    if ((EUID == 0)); then
        runner=(runuser -u postgres --)
    elif command -v sudo >/dev/null 2>&1; then
        runner=(sudo -u postgres)
    else
        die "need to run psql as the 'postgres' user (not root and no sudo available)"
    fi
    # cd / so psql does not complain about a cwd the postgres user cannot read.
    (cd / && "${runner[@]}" psql -X -q -v ON_ERROR_STOP=1 -p "$PG_PORT" -d "$db") \
        || die "SQL setup failed on database '$db' (see the psql error above)"
}

# --- PostgreSQL -----------------------------------------------------------------

pg_bindir() {
    local candidate best=""
    for candidate in /usr/lib/postgresql/*/bin; do
        [[ -x "$candidate/postgres" ]] || continue
        if [[ -z "$best" ]] || [[ "$(printf '%s\n%s\n' "$best" "$candidate" | sort -V | tail -n 1)" == "$candidate" ]]; then
            best="$candidate"
        fi
    done
    [[ -n "$best" ]] || die "no PostgreSQL server found in /usr/lib/postgresql (did scripts/install-deps.sh fail?)"
    printf '%s\n' "$best"
}

pg_ready() { "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT"; }

ensure_postgres() {
    if pg_ready; then
        step "PostgreSQL is accepting connections on $PG_HOST:$PG_PORT"
        return
    fi
    command -v pg_ctlcluster >/dev/null 2>&1 \
        || die "nothing accepts connections on $PG_HOST:$PG_PORT and pg_ctlcluster (postgresql-common) is missing"
    local version out
    version="$(basename "$(dirname "$PG_BIN")")"
    require_root_or_sudo "start PostgreSQL cluster $version/main"
    if pg_lsclusters -h 2>/dev/null | awk -v v="$version" '$1 == v && $2 == "main" { found = 1 } END { exit !found }'; then
        step "Starting PostgreSQL cluster $version/main"
        if ! out="$(as_root pg_ctlcluster "$version" main start 2>&1)"; then
            if [[ "$out" == *"already running"* ]]; then
                : # fine: it is running, it may just still be starting up
            else
                printf '%s\n' "$out" >&2
                die "could not start PostgreSQL cluster $version/main (pg_ctlcluster $version main start)"
            fi
        fi
    else
        step "Creating PostgreSQL cluster $version/main on port $PG_PORT"
        if ! out="$(as_root pg_createcluster "$version" main --port "$PG_PORT" --start 2>&1)"; then
            printf '%s\n' "$out" >&2
            die "could not create PostgreSQL cluster $version/main (pg_createcluster $version main --start)"
        fi
    fi
    local waited=0
    until pg_ready; do
        ((waited < 60)) \
            || die "PostgreSQL cluster $version/main is not accepting connections on $PG_HOST:$PG_PORT after 30s (check pg_lsclusters and /var/log/postgresql/postgresql-$version-main.log)"
        sleep 0.5
        waited=$((waited + 1))
    done
}

# --- secrets ---------------------------------------------------------------------

# secret NAME: print the password stored in $SECRETS_DIR/NAME, generating it
# on first use.
secret() {
    local file="$SECRETS_DIR/$1" value
    if [[ ! -s "$file" ]]; then
        value="$(od -An -tx1 -N24 /dev/urandom | tr -d ' \n')"
        [[ ${#value} -eq 48 ]] || die "could not generate a random password"
        (umask 077 && printf '%s\n' "$value" >"$file.tmp" && mv -f "$file.tmp" "$file") \
            || die "could not write $file"
    fi
    chmod 0600 "$file"
    IFS= read -r value <"$file" || true
    [[ "$value" =~ ^[A-Za-z0-9._~-]+$ ]] \
        || die "$file must hold a password made of letters, digits and ._~- (delete it to generate a new one)"
    printf '%s\n' "$value"
}

# kek: the base64 key that seals Drawbridge's id_token signing keys, generated once
# and kept (a new one would make the stored signing keys unreadable).
# The key-encryption key lives beside the machine-wide database it protects, not in the checkout: a second
# checkout on the same machine shares the `drawbridge` database, and a key of its own could not open the
# signing keys already sealed there. A checkout's older per-checkout key is moved there on first use.
KEK_FILE="${QUICKSTART_KEK_FILE:-${XDG_DATA_HOME:-${HOME:-/root}/.local/share}/drawbridge-quickstart/keys-encryption-key}"
kek() {
    local file="$KEK_FILE" value
    (umask 077 && mkdir -p "$(dirname "$file")") || die "could not create $(dirname "$file")"
    if [[ ! -s "$file" && -s "$SECRETS_DIR/keys-encryption-key" ]]; then
        (umask 077 && cp "$SECRETS_DIR/keys-encryption-key" "$file") || die "could not write $file"
    fi
    if [[ ! -s "$file" ]]; then
        (umask 077 && head -c 32 /dev/urandom | base64 >"$file.tmp" && mv -f "$file.tmp" "$file") \
            || die "could not write $file"
    fi
    chmod 0600 "$file"
    IFS= read -r value <"$file" || true
    [[ "$value" =~ ^[A-Za-z0-9+/]{43}=$ ]] || die "$file must hold 32 bytes in base64 (delete it only if no signing key was ever made with it)"
    printf '%s\n' "$value"
}

# --- demo password hashes ------------------------------------------------------

# demo_hash FORMAT: hash the demo password with `drawbridge password hash`.
demo_hash() {
    local format="$1" hash
    hash="$(printf '%s' "$DEMO_PASSWORD" | "$BIN" password hash --format "$format")" \
        || die "'drawbridge password hash --format $format' failed"
    # Only the hash itself: drop surrounding whitespace.
    hash="${hash#"${hash%%[![:space:]]*}"}"
    hash="${hash%"${hash##*[![:space:]]}"}"
    [[ -n "$hash" && "$hash" != *[[:space:]\'\\]* ]] \
        || die "'drawbridge password hash --format $format' printed an unexpected value: '$hash'"
    if [[ "$format" == bcrypt ]]; then
        # PHP's password_hash() writes the $2y$ prefix; $2b$/$2a$ are the same
        # algorithm, so present the demo hash the way PHP stores it.
        case "$hash" in
            "\$2a\$"* | "\$2b\$"*) hash="\$2y\$${hash:4}" ;;
        esac
    fi
    printf '%s\n' "$hash"
}

# ================================================================================

if ((SERVE == 1)) && (exec 3<>"/dev/tcp/$HTTP_HOST/$HTTP_PORT") 2>/dev/null; then
    die "something is already listening on $HTTP_HOST:$HTTP_PORT (another drawbridge?); stop it or set DRAWBRIDGE_QUICKSTART_PORT"
fi

step "Checking system dependencies"
bash "$ROOT/scripts/install-deps.sh"

PG_BIN="$(pg_bindir)"
ensure_postgres

step "Preparing state directory $STATE_DIR"
mkdir -p "$SECRETS_DIR" || die "could not create $SECRETS_DIR"
chmod 0700 "$STATE_DIR" "$SECRETS_DIR"
DRAWBRIDGE_DB_PASSWORD="$(secret drawbridge.password)"
PLATFORM_RO_PASSWORD="$(secret platform_ro.password)"
CHAT_ADMIN_TOKEN="$(secret demo-chat-admin.token)"

step "Creating roles and databases (drawbridge, platform_ro; drawbridge, platform_demo)"
admin_psql postgres <<EOF
\\set db_password '$DRAWBRIDGE_DB_PASSWORD'
\\set ro_password '$PLATFORM_RO_PASSWORD'
SELECT 'CREATE ROLE drawbridge' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'drawbridge') \\gexec
ALTER ROLE drawbridge WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'db_password';
SELECT 'CREATE ROLE platform_ro' WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'platform_ro') \\gexec
ALTER ROLE platform_ro WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION PASSWORD :'ro_password';
ALTER ROLE platform_ro SET default_transaction_read_only = on;
SELECT 'CREATE DATABASE drawbridge OWNER drawbridge ENCODING ''UTF8'' LOCALE ''C.UTF-8'' TEMPLATE template0'
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'drawbridge') \\gexec
ALTER DATABASE drawbridge OWNER TO drawbridge;
REVOKE ALL ON DATABASE drawbridge FROM PUBLIC;
SELECT 'CREATE DATABASE platform_demo ENCODING ''UTF8'' LOCALE ''C.UTF-8'' TEMPLATE template0'
    WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'platform_demo') \\gexec
REVOKE ALL ON DATABASE platform_demo FROM PUBLIC;
REVOKE ALL ON DATABASE platform_demo FROM platform_ro;
GRANT CONNECT ON DATABASE platform_demo TO platform_ro;
EOF

step "Creating demo table platform_demo.public.accounts"
admin_psql platform_demo <<'EOF'
CREATE TABLE IF NOT EXISTS public.accounts (
    id            bigserial PRIMARY KEY,
    login         text NOT NULL UNIQUE,
    email         text NOT NULL UNIQUE,
    full_name     text NOT NULL,
    password_hash text,
    is_active     boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- Sign-in matches lower(login) / lower(email); `drawbridge check` warns when these are missing.
CREATE INDEX IF NOT EXISTS accounts_lower_login ON public.accounts (lower(login));
CREATE INDEX IF NOT EXISTS accounts_lower_email ON public.accounts (lower(email));
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM platform_ro;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM platform_ro;
REVOKE ALL ON SCHEMA public FROM platform_ro;
GRANT USAGE ON SCHEMA public TO platform_ro;
GRANT SELECT ON public.accounts TO platform_ro;
EOF

if [[ -n "$QUICKSTART_BIN" ]]; then
    BIN="$QUICKSTART_BIN"
    step "Using drawbridge binary $BIN (DRAWBRIDGE_QUICKSTART_BIN)"
else
    step "Building drawbridge ($BUILD_NAME)"
    swift build --product drawbridge "${BUILD_ARGS[@]}" \
        || die "swift build --product drawbridge ${BUILD_ARGS[*]} failed"
    BIN_DIR="$(swift build "${BUILD_ARGS[@]}" --show-bin-path)" \
        || die "swift build --show-bin-path failed"
    BIN="$BIN_DIR/drawbridge"
fi
[[ -x "$BIN" ]] || die "drawbridge binary not found at $BIN"

step "Hashing the demo password (drawbridge password hash)"
HASH_ALICE="$(demo_hash bcrypt)"
HASH_BOB="$(demo_hash django-pbkdf2-sha256)"
HASH_CAROL="$(demo_hash argon2id)"
HASH_DAVE="$(demo_hash sha512-crypt)"
HASH_ERIN="$(demo_hash yescrypt)"
HASH_FRANK="$(demo_hash bcrypt)"

step "Resetting demo users alice, bob, carol, dave, erin, frank"
admin_psql platform_demo <<EOF
\\set h_alice '$HASH_ALICE'
\\set h_bob '$HASH_BOB'
\\set h_carol '$HASH_CAROL'
\\set h_dave '$HASH_DAVE'
\\set h_erin '$HASH_ERIN'
\\set h_frank '$HASH_FRANK'
INSERT INTO public.accounts (login, email, full_name, password_hash, is_active) VALUES
    ('alice', 'alice@example.com', 'Alice Anderson', :'h_alice', true),
    ('bob',   'bob@example.com',   'Bob Brown',      :'h_bob',   true),
    ('carol', 'carol@example.com', 'Carol Chen',     :'h_carol', true),
    ('dave',  'dave@example.com',  'Dave Davis',     :'h_dave',  true),
    ('erin',  'erin@example.com',  'Erin Evans',     :'h_erin',  true),
    ('frank', 'frank@example.com', 'Frank Fischer',  :'h_frank', false)
ON CONFLICT (login) DO UPDATE SET
    email = EXCLUDED.email,
    full_name = EXCLUDED.full_name,
    password_hash = EXCLUDED.password_hash,
    is_active = EXCLUDED.is_active;
EOF

step "Writing $CONFIG"
KEK="$(kek)"
(
    umask 077
    cat >"$CONFIG.tmp" <<EOF
# Generated by deploy/quickstart.sh; rewritten on every run.
http: { host: $YAML_HOST, port: $HTTP_PORT }
public_url: $PUBLIC_URL
trusted_proxies: [127.0.0.1/32]
database: { url: "postgres://drawbridge:$DRAWBRIDGE_DB_PASSWORD@$PG_HOST:$PG_PORT/drawbridge", schema: drawbridge }
directory:
  url: "postgres://platform_ro:$PLATFORM_RO_PASSWORD@$PG_HOST:$PG_PORT/platform_demo"
  table: public.accounts
  columns: { id: id, login: login, email: email, name: full_name, password: password_hash, active: is_active }
  login_by: [login, email]
session: { cookie_name: drawbridge_session, idle_timeout: 8h, absolute_timeout: 7d }
keys: { encryption_key: "$KEK" }
# The demo chat server (a Mattermost stand-in): accounts are made on first sign-in, in team "demo".
connectors:
  mattermost: { url: "http://127.0.0.1:$CHAT_PORT", token: "$CHAT_ADMIN_TOKEN", teams: [demo], channels: ["demo:random"], timeout: 5s }
EOF
    mv -f "$CONFIG.tmp" "$CONFIG"
) || die "could not write $CONFIG"
chmod 0600 "$CONFIG"

step "Running migrations (drawbridge migrate)"
"$BIN" migrate --config "$CONFIG" || die "drawbridge migrate --config $CONFIG failed"

# The demo chat keeps its accounts in $STATE_DIR/demo-chat.json. If that file is new (a fresh clone or state
# directory) while this PostgreSQL still holds an earlier quickstart's Drawbridge database, that database links
# platform users to chat accounts that no longer exist, and a sign-out would revoke sessions of nobody.
# Forget those links and their jobs, so the demo users are provisioned anew on the new demo chat.
if [[ ! -e "$STATE_DIR/demo-chat.json" ]]; then
    step "Forgetting chat links to an earlier demo chat (the demo chat starts empty)"
    admin_psql drawbridge <<'EOF' || die "could not reset the demo chat links in database drawbridge"
DELETE FROM drawbridge.chat_accounts WHERE connector = 'mattermost';
DELETE FROM drawbridge.provisioning_jobs WHERE connector = 'mattermost';
EOF
fi

step "Checking configuration and directory (drawbridge check; the demo chat is not started yet)"
"$BIN" check --skip-connectors --config "$CONFIG" || die "drawbridge check --config $CONFIG failed"

CHAT_URL="http://127.0.0.1:$CHAT_PORT"
PLATFORM_URL="http://127.0.0.1:$PLATFORM_PORT"
step "Registering the demo OAuth client demo-chat (drawbridge clients add)"
# json_field FIELD: the field of the JSON object on stdin.
json_field() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }
if "$BIN" clients show demo-chat --config "$CONFIG" >/dev/null 2>&1; then
    CHAT_CLIENT_SECRET="$("$BIN" clients rotate-secret demo-chat --config "$CONFIG" --json | json_field client_secret)" \
        || die "drawbridge clients rotate-secret demo-chat failed"
else
    CHAT_CLIENT_SECRET="$("$BIN" clients add --config "$CONFIG" --client-id demo-chat --name "Demo chat" --trusted \
        --redirect-uri "$CHAT_URL/signup/gitlab/complete" --json | json_field client_secret)" \
        || die "drawbridge clients add demo-chat failed"
fi
step "Making the demo platform's service token (drawbridge tokens add --name demo-platform)"
"$BIN" tokens revoke --name demo-platform --config "$CONFIG" >/dev/null 2>&1 || true
TOKEN_FILE="$SECRETS_DIR/demo-platform.token"
(umask 077 && "$BIN" tokens add --name demo-platform --config "$CONFIG" --json | json_field token >"$TOKEN_FILE") \
    || die "drawbridge tokens add --name demo-platform failed"

cat <<EOF

Drawbridge quickstart is ready.

  Login page:  $PUBLIC_URL/login
  Password:    $DEMO_PASSWORD   (the same for every demo user)

  Demo users (platform_demo.public.accounts), log in by login or email:
    alice   bcrypt (${HASH_ALICE:0:4}, cost ${HASH_ALICE:4:2}, as PHP writes it)
    bob     Django pbkdf2_sha256
    carol   argon2id
    dave    sha512-crypt
    erin    yescrypt
    frank   bcrypt, inactive (login must be refused)

  Config:      $CONFIG

  The whole loop, in a browser on this machine:
    1. $PLATFORM_URL            the demo platform: press "Open chat as alice"
    2. it hands alice over (POST /api/v1/handoff) and the browser lands, signed in with no form, on
       $CHAT_URL                the demo chat (a Mattermost stand-in), where alice's account was made
    3. $PUBLIC_URL/launch/mattermost   the "Open chat" link itself; $PUBLIC_URL/logout signs out
EOF

if ((SERVE == 0)); then
    printf '\nNot serving (--no-serve). Run deploy/quickstart.sh again without it for the whole loop, or start\nonly the gateway with:\n  %q serve --config %q\n' "$BIN" "$CONFIG"
    exit 0
fi

CHILDREN=()
# shellcheck disable=SC2317  # invoked via trap
stop_children() { ((${#CHILDREN[@]} == 0)) || kill "${CHILDREN[@]}" 2>/dev/null || true; }
trap stop_children EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
step "Starting the demo chat server on $CHAT_URL (Mattermost contract server, a stand-in)"
python3 "$ROOT/Tests/contract-servers/mattermost_contract_server.py" --port "$CHAT_PORT" --site-url "$CHAT_URL" \
    --admin-token "$CHAT_ADMIN_TOKEN" --gitlab-url "$PUBLIC_URL" --gitlab-client-id demo-chat \
    --gitlab-client-secret "$CHAT_CLIENT_SECRET" --team demo:random --state "$STATE_DIR/demo-chat.json" \
    >"$STATE_DIR/demo-chat.log" 2>&1 &
CHILDREN+=($!)
step "Starting the demo platform on $PLATFORM_URL"
python3 "$ROOT/deploy/demo/platform_app.py" --port "$PLATFORM_PORT" --drawbridge "$PUBLIC_URL" --token-file "$TOKEN_FILE" \
    >"$STATE_DIR/demo-platform.log" 2>&1 &
CHILDREN+=($!)

printf '\nServing on %s. Ctrl-C to stop.\n\n' "$PUBLIC_URL"
"$BIN" serve --config "$CONFIG"
