#!/usr/bin/env bash
# A real Matrix Synapse on loopback that signs users in through Drawbridge's OpenID Connect, for tests.
#
#   scripts/synapse.sh install
#   scripts/synapse.sh start DIR --port P --server-name NAME --oidc-issuer URL \
#       --oidc-client-id ID --oidc-client-secret S [--idp-id drawbridge] [options below]
#   scripts/synapse.sh stop DIR
#
# install  Creates a venv with Debian's interpreter (/usr/bin/python3 -m venv) at
#          $DRAWBRIDGE_CACHE_DIR/synapse-venv (default ~/.cache/drawbridge/synapse-venv) and installs
#          matrix-synapse[oidc]==$SYNAPSE_VERSION from PyPI as a wheel. A marker file holding the version
#          makes a second run instant. Safe to run concurrently (flock). Needs only PyPI, no stdin.
# start    Writes DIR/homeserver.yaml (SQLite, HTTP on 127.0.0.1:P, no federation, relaxed rate limits,
#          one oidc_providers entry), generates the signing key, starts Synapse in the background
#          (DIR/synapse.pid, log in DIR/homeserver.log), waits for /health (90 s), registers an admin
#          user through the shared-secret admin API and writes its access token to DIR/admin_token.
#          Runs `install` first if needed. Re-running on a stopped DIR keeps its database and secrets.
#          Last line on success: SYNAPSE_READY url=... admin_token_file=... redirect_uri=...
#          Options:
#            --idp-id ID                  oidc_providers idp_id (default drawbridge); Synapse stores
#                                         users' external ids under auth_provider "oidc-ID"
#            --no-oidc-registration       enable_registration: false (SSO logs in existing users only)
#            --allow-existing-users       allow_existing_users: true (link by localpart)
#            --update-profile-information sso.update_profile_information: true (display name synced
#                                         from the id_token at every login)
#            --backchannel-logout         backchannel_logout_enabled: true
#            --client-whitelist URL       sso.client_whitelist entry (skips "Continue to your account")
#            --admin-user NAME            localpart of the admin account (default synapse-admin)
#            --public-baseurl URL         where browsers reach Synapse through a reverse proxy on loopback
#                                         that passes Host (with the port) and X-Forwarded-Proto:
#                                         public_baseurl URL and x_forwarded: true (default
#                                         http://127.0.0.1:P/, no proxy); the redirect URI follows it
#            --oidc-server-url URL        where Synapse itself calls the provider, for an issuer whose name
#                                         only browsers resolve (e.g. https://sso.example.test:PORT behind
#                                         a test nginx): discover: false, authorization_endpoint
#                                         ISSUER/oauth/authorize (the browser), token_endpoint,
#                                         userinfo_endpoint and jwks_uri under URL (Drawbridge's paths)
# stop     SIGTERM, waits up to 30 s, then SIGKILL. Leaves DIR in place.
#
# The redirect URI to register at Drawbridge is http://127.0.0.1:P/_synapse/client/oidc/callback
# (with --public-baseurl: URL/_synapse/client/oidc/callback).
set -euo pipefail

PROG="synapse.sh"
SYNAPSE_VERSION="1.163.2"
CACHE_DIR="${DRAWBRIDGE_CACHE_DIR:-${HOME:-/root}/.cache/drawbridge}"
VENV="$CACHE_DIR/synapse-venv"
MARKER="$VENV/.drawbridge-synapse-version"
PY="$VENV/bin/python"

die() { printf '%s: error: %s\n' "$PROG" "$*" >&2; exit 1; }
say() { printf '%s: %s\n' "$PROG" "$*"; }
usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
    exit 2
}

installed() { [[ -x "$PY" && -f "$MARKER" && "$(cat "$MARKER" 2>/dev/null)" == "$SYNAPSE_VERSION" ]]; }

cmd_install() {
    if installed; then
        say "matrix-synapse $SYNAPSE_VERSION already installed in $VENV"
        return
    fi
    [[ -x /usr/bin/python3 ]] || die "/usr/bin/python3 not found (apt-get install python3 python3-venv)"
    mkdir -p "$CACHE_DIR"
    local lock="$CACHE_DIR/synapse-venv.lock"
    exec 9>"$lock"
    if command -v flock >/dev/null 2>&1 && ! flock -n 9; then
        say "another install is running; waiting for the lock $lock"
        flock 9
    fi
    if installed; then # another process finished the install while we waited
        say "matrix-synapse $SYNAPSE_VERSION already installed in $VENV"
        exec 9>&-
        return
    fi
    local started=$SECONDS
    if [[ -e "$VENV" ]]; then
        say "removing incomplete or outdated venv $VENV"
        rm -rf "$VENV"
    fi
    say "creating venv $VENV with /usr/bin/python3 ($(/usr/bin/python3 --version 2>&1))"
    /usr/bin/python3 -m venv "$VENV" \
        || die "python3 -m venv failed (apt-get install python3-venv)"
    say "pip install matrix-synapse[oidc]==$SYNAPSE_VERSION (from PyPI, wheels preferred)"
    PIP_NO_INPUT=1 "$VENV/bin/pip" install --disable-pip-version-check --no-input --prefer-binary \
        --only-binary matrix-synapse "matrix-synapse[oidc]==$SYNAPSE_VERSION" \
        || die "pip install matrix-synapse[oidc]==$SYNAPSE_VERSION failed"
    local got
    got="$("$PY" -c 'import synapse; print(synapse.__version__)')" || die "installed synapse does not import"
    [[ "$got" == "$SYNAPSE_VERSION" ]] || die "installed synapse is $got, expected $SYNAPSE_VERSION"
    "$PY" -c 'import authlib' || die "authlib (Synapse's OIDC support) is missing from the venv"
    printf '%s\n' "$SYNAPSE_VERSION" >"$MARKER"
    exec 9>&-
    say "installed matrix-synapse $SYNAPSE_VERSION in $((SECONDS - started)) s"
}

# pid_alive DIR: true if DIR/synapse.pid names a running Synapse.
pid_alive() {
    local pidfile="$1/synapse.pid" pid
    [[ -f "$pidfile" ]] || return 1
    pid="$(cat "$pidfile")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    # Guard against a reused pid: it must be our homeserver.
    tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "synapse.app.homeserver" || return 1
}

cmd_start() {
    local dir="" port="" server_name="" issuer="" client_id="" client_secret="" idp_id="drawbridge"
    local oidc_registration=true allow_existing=false update_profile=false backchannel=false
    local whitelist="" admin_user="synapse-admin" public_baseurl="" oidc_server_url=""
    [[ $# -ge 1 ]] || usage
    dir="$1"; shift
    while (($# > 0)); do
        case "$1" in
            --port) port="${2:-}"; shift 2 ;;
            --server-name) server_name="${2:-}"; shift 2 ;;
            --oidc-issuer) issuer="${2:-}"; shift 2 ;;
            --oidc-client-id) client_id="${2:-}"; shift 2 ;;
            --oidc-client-secret) client_secret="${2:-}"; shift 2 ;;
            --idp-id) idp_id="${2:-}"; shift 2 ;;
            --no-oidc-registration) oidc_registration=false; shift ;;
            --allow-existing-users) allow_existing=true; shift ;;
            --update-profile-information) update_profile=true; shift ;;
            --backchannel-logout) backchannel=true; shift ;;
            --client-whitelist) whitelist="${2:-}"; shift 2 ;;
            --admin-user) admin_user="${2:-}"; shift 2 ;;
            --public-baseurl) public_baseurl="${2:-}"; shift 2 ;;
            --oidc-server-url) oidc_server_url="${2:-}"; shift 2 ;;
            *) die "unknown argument '$1'" ;;
        esac
    done
    if ! [[ "$port" =~ ^[0-9]{1,5}$ ]] || ((10#$port < 1 || 10#$port > 65535)); then
        die "--port must be a port number (1-65535), got '$port'"
    fi
    port=$((10#$port))
    [[ -n "$server_name" ]] || die "--server-name is required"
    [[ "$issuer" =~ ^https?:// ]] || die "--oidc-issuer must be an http(s) URL"
    [[ -n "$client_id" ]] || die "--oidc-client-id is required"
    [[ -n "$client_secret" ]] || die "--oidc-client-secret is required"
    [[ "$idp_id" =~ ^[A-Za-z0-9._~-]+$ ]] || die "--idp-id must be made of A-Z a-z 0-9 . _ ~ -"
    [[ "$admin_user" =~ ^[a-z0-9._=/-]+$ ]] || die "--admin-user must be a lowercase Matrix localpart"
    if [[ -n "$public_baseurl" ]]; then
        [[ "$public_baseurl" =~ ^https?://[^/]+/?$ ]] || die "--public-baseurl must be an http(s) URL with no path"
        [[ "$public_baseurl" == */ ]] || public_baseurl="$public_baseurl/"
    fi
    if [[ -n "$oidc_server_url" ]]; then
        [[ "$oidc_server_url" =~ ^https?://[^/]+/?$ ]] || die "--oidc-server-url must be an http(s) URL with no path"
        oidc_server_url="${oidc_server_url%/}"
    fi

    installed || cmd_install

    mkdir -p "$dir"
    dir="$(cd "$dir" && pwd -P)"
    if pid_alive "$dir"; then
        die "a Synapse is already running from $dir (pid $(cat "$dir/synapse.pid")); run '$PROG stop $dir' first"
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        die "something already listens on 127.0.0.1:$port"
    fi

    local url="http://127.0.0.1:$port"
    local browser_base="${public_baseurl:-$url/}"
    say "writing $dir/homeserver.yaml (server_name $server_name, $url, idp_id $idp_id, issuer $issuer)"
    (umask 077 && SYN_DIR="$dir" SYN_PORT="$port" SYN_SERVER_NAME="$server_name" SYN_ISSUER="$issuer" \
        SYN_CLIENT_ID="$client_id" SYN_CLIENT_SECRET="$client_secret" SYN_IDP_ID="$idp_id" \
        SYN_OIDC_REGISTRATION="$oidc_registration" SYN_ALLOW_EXISTING="$allow_existing" \
        SYN_UPDATE_PROFILE="$update_profile" SYN_BACKCHANNEL="$backchannel" SYN_WHITELIST="$whitelist" \
        SYN_PUBLIC_BASEURL="$public_baseurl" SYN_OIDC_SERVER_URL="$oidc_server_url" \
        "$PY" - <<'PYEOF'
import json, os, secrets

env = os.environ
d = env["SYN_DIR"]
flag = lambda name: env[name] == "true"

def load_secret(name):
    """A random secret kept in DIR, so a restart keeps sessions, macaroons and the admin password valid."""
    path = os.path.join(d, name)
    if not os.path.exists(path):
        with open(path, "w") as f:
            f.write(secrets.token_urlsafe(32))
    with open(path) as f:
        return f.read().strip()

q = json.dumps  # JSON strings are valid YAML scalars, whatever they contain
issuer = env["SYN_ISSUER"]
port = int(env["SYN_PORT"])
# A high limit for every rate limiter that a test can hit.
relaxed = "{per_second: 1000, burst_count: 1000}"
lines = f"""# Written by scripts/synapse.sh for Drawbridge tests. Rewritten at every start.
server_name: {q(env["SYN_SERVER_NAME"])}
public_baseurl: {q(env["SYN_PUBLIC_BASEURL"] or f"http://127.0.0.1:{port}/")}
pid_file: {q(os.path.join(d, "homeserver.pid"))}
listeners:
  - port: {port}
    bind_addresses: ["127.0.0.1"]
    type: http
    tls: false
    x_forwarded: {"true" if env["SYN_PUBLIC_BASEURL"] else "false"}
    resources:
      - names: [client]
        compress: false
database:
  name: sqlite3
  args:
    database: {q(os.path.join(d, "homeserver.db"))}
media_store_path: {q(os.path.join(d, "media_store"))}
signing_key_path: {q(os.path.join(d, "signing.key"))}
registration_shared_secret: {q(load_secret("registration_shared_secret"))}
macaroon_secret_key: {q(load_secret("macaroon_secret_key"))}
form_secret: {q(load_secret("form_secret"))}
report_stats: false
enable_registration: false
enable_metrics: false
# No federation: nothing to fetch from key servers, no outbound federation.
trusted_key_servers: []
suppress_key_server_warning: true
federation_domain_whitelist: []
allow_public_rooms_over_federation: false
presence:
  enabled: false
url_preview_enabled: false
rc_message: {relaxed}
rc_registration: {relaxed}
rc_registration_token_validity: {relaxed}
rc_login:
  address: {relaxed}
  account: {relaxed}
  failed_attempts: {relaxed}
rc_admin_redaction: {relaxed}
rc_joins:
  local: {relaxed}
  remote: {relaxed}
rc_joins_per_room: {relaxed}
rc_3pid_validation: {relaxed}
rc_invites:
  per_room: {relaxed}
  per_user: {relaxed}
  per_issuer: {relaxed}
rc_presence:
  per_user: {relaxed}
rc_delayed_event_mgmt: {relaxed}
rc_room_creation: {relaxed}
rc_reports: {relaxed}
rc_profile: {relaxed}
rc_user_directory: {relaxed}
"""
sso = []
if flag("SYN_UPDATE_PROFILE"):
    sso.append("  update_profile_information: true")
if env["SYN_WHITELIST"]:
    sso.append(f"  client_whitelist: [{q(env['SYN_WHITELIST'])}]")
if sso:
    lines += "sso:\n" + "\n".join(sso) + "\n"
lines += f"""oidc_providers:
  - idp_id: {q(env["SYN_IDP_ID"])}
    idp_name: "Drawbridge"
    issuer: {q(issuer)}
    client_id: {q(env["SYN_CLIENT_ID"])}
    client_secret: {q(env["SYN_CLIENT_SECRET"])}
    client_auth_method: client_secret_basic
    scopes: ["openid", "profile", "email"]
    enable_registration: {str(flag("SYN_OIDC_REGISTRATION")).lower()}
    allow_existing_users: {str(flag("SYN_ALLOW_EXISTING")).lower()}
    backchannel_logout_enabled: {str(flag("SYN_BACKCHANNEL")).lower()}
    user_mapping_provider:
      config:
        subject_template: "{{{{ user.sub }}}}"
        localpart_template: "{{{{ user.preferred_username }}}}"
        display_name_template: "{{{{ user.name }}}}"
        email_template: "{{{{ user.email }}}}"
        confirm_localpart: false
"""
server_url = env["SYN_OIDC_SERVER_URL"]
if server_url:
    # The browser goes to the issuer's authorize endpoint; Synapse's own calls go to server_url.
    lines += f"""    discover: false
    authorization_endpoint: {q(issuer.rstrip("/") + "/oauth/authorize")}
    token_endpoint: {q(server_url + "/oauth/token")}
    userinfo_endpoint: {q(server_url + "/oauth/userinfo")}
    jwks_uri: {q(server_url + "/oauth/discovery/keys")}
"""
if issuer.startswith("http://") or server_url.startswith("http://"):
    # Synapse validates the provider's metadata (discovered or configured) with authlib, which insists that
    # issuer, authorization_endpoint, token_endpoint and jwks_uri use https ('"issuer" MUST use "https"
    # scheme'). skip_verification only skips that metadata check (synapse/handlers/oidc.py
    # _validate_metadata); id_token signature, iss, aud, nonce and exp are still verified.
    lines += "    skip_verification: true\n"
with open(os.path.join(d, "homeserver.yaml"), "w") as f:
    f.write(lines)
PYEOF
    ) || die "could not write $dir/homeserver.yaml"

    if [[ ! -s "$dir/signing.key" ]]; then
        say "generating the signing key"
        (cd "$dir" && "$PY" -m synapse.app.homeserver -c "$dir/homeserver.yaml" --generate-keys \
            >>"$dir/homeserver.log" 2>&1) || { tail -n 30 "$dir/homeserver.log" >&2; die "key generation failed"; }
    fi

    say "starting Synapse $SYNAPSE_VERSION on $url (log $dir/homeserver.log)"
    local started=$SECONDS
    # Started in its own session with every inherited descriptor closed (not just 0-2): a caller that
    # waits for our output to end, or watches a descriptor to learn we exited, is not held by Synapse.
    local pid
    pid=$("$PY" - "$dir" "$PY" <<'PYEOF'
import os, subprocess, sys
directory, python = sys.argv[1], sys.argv[2]
with open(os.path.join(directory, "homeserver.log"), "ab") as log:
    child = subprocess.Popen([python, "-m", "synapse.app.homeserver", "-c", os.path.join(directory, "homeserver.yaml")],
                             cwd=directory, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                             close_fds=True, start_new_session=True)
print(child.pid)
PYEOF
) || die "could not start Synapse"
    printf '%s\n' "$pid" >"$dir/synapse.pid"

    local deadline=$((SECONDS + 90))
    until "$PY" -c 'import sys, urllib.request
sys.exit(0 if urllib.request.urlopen(sys.argv[1], timeout=2).status == 200 else 1)' "$url/health" 2>/dev/null; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 "$dir/homeserver.log" >&2 || true
            rm -f "$dir/synapse.pid"
            die "Synapse exited during start-up (log tail above, full log $dir/homeserver.log)"
        fi
        if ((SECONDS >= deadline)); then
            tail -n 40 "$dir/homeserver.log" >&2 || true
            cmd_stop "$dir" >&2 || true
            die "Synapse did not answer $url/health within 90 s (log tail above)"
        fi
        sleep 0.3
    done
    say "Synapse answers $url/health after $((SECONDS - started)) s (pid $pid)"

    say "registering admin @$admin_user:$server_name (shared-secret registration)"
    SYN_URL="$url" SYN_DIR="$dir" SYN_ADMIN="$admin_user" "$PY" - <<'PYEOF' || die "admin registration failed"
import hashlib, hmac, json, os, sys, urllib.error, urllib.request

url, d, user = os.environ["SYN_URL"], os.environ["SYN_DIR"], os.environ["SYN_ADMIN"]
secret = open(os.path.join(d, "registration_shared_secret")).read().strip()
password_file = os.path.join(d, "admin_password")
if not os.path.exists(password_file):
    import secrets
    with open(password_file, "w") as f:
        f.write(secrets.token_urlsafe(24))
password = open(password_file).read().strip()

def call(method, path, body=None):
    req = urllib.request.Request(url + path, method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, json.load(resp)
    except urllib.error.HTTPError as err:
        text = err.read().decode(errors="replace")
        try:
            return err.code, json.loads(text)
        except ValueError:
            return err.code, {"raw": text}

status, nonce = call("GET", "/_synapse/admin/v1/register")
if status != 200:
    sys.exit(f"GET /_synapse/admin/v1/register -> {status} {nonce}")
mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
mac.update(b"\x00".join([nonce["nonce"].encode(), user.encode(), password.encode(), b"admin"]))
status, reply = call("POST", "/_synapse/admin/v1/register", {
    "nonce": nonce["nonce"], "username": user, "password": password, "admin": True, "mac": mac.hexdigest()})
if status == 400 and reply.get("errcode") == "M_USER_IN_USE":
    # Restart on an existing DIR: the admin exists; log in with its stored password.
    status, reply = call("POST", "/_matrix/client/v3/login", {
        "type": "m.login.password", "identifier": {"type": "m.id.user", "user": user}, "password": password})
    if status != 200:
        sys.exit(f"admin exists but POST /_matrix/client/v3/login -> {status} {reply}")
elif status != 200:
    sys.exit(f"POST /_synapse/admin/v1/register -> {status} {reply}")
token_file = os.path.join(d, "admin_token")
with open(token_file + ".tmp", "w") as f:
    f.write(reply["access_token"] + "\n")
os.replace(token_file + ".tmp", token_file)
print(f"synapse.sh: admin {reply['user_id']} token written to {token_file}")
PYEOF
    chmod 0600 "$dir/admin_token" "$dir/admin_password"

    say "redirect URI to register at the OIDC provider: ${browser_base}_synapse/client/oidc/callback"
    if [[ "$backchannel" == true ]]; then
        say "back-channel logout URI: ${browser_base}_synapse/client/oidc/backchannel_logout"
    fi
    printf 'SYNAPSE_READY url=%s admin_token_file=%s redirect_uri=%s idp=oidc-%s pid=%s\n' \
        "$url" "$dir/admin_token" "${browser_base}_synapse/client/oidc/callback" "$idp_id" "$pid"
}

cmd_stop() {
    [[ $# -eq 1 ]] || usage
    local dir="$1" pid
    [[ -d "$dir" ]] || { say "$dir does not exist; nothing to stop"; return 0; }
    if ! pid_alive "$dir"; then
        rm -f "$dir/synapse.pid"
        say "no Synapse running from $dir"
        return 0
    fi
    pid="$(cat "$dir/synapse.pid")"
    say "stopping Synapse (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null && ((waited < 300)); do
        sleep 0.1
        waited=$((waited + 1))
    done
    if kill -0 "$pid" 2>/dev/null; then
        say "Synapse did not stop within 30 s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        sleep 0.2
    fi
    rm -f "$dir/synapse.pid"
    say "stopped"
}

(($# >= 1)) || usage
sub="$1"; shift
case "$sub" in
    install) (($# == 0)) || usage; cmd_install ;;
    start) cmd_start "$@" ;;
    stop) cmd_stop "$@" ;;
    -h | --help | help) usage ;;
    *) usage ;;
esac
