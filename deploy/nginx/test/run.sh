#!/usr/bin/env bash
# Runs the real nginx with deploy/nginx/drawbridge.conf on loopback ports and checks its routes
# against stub upstreams (stub_upstream.py): TLS, the auth_request wiring, the identity headers,
# forwarded headers, cookies, HSTS, body limits, WebSocket upgrade headers.
#
# Everything lives in a temporary directory: a throwaway CA and certificate (openssl), the config
# rendered by render.sh, nginx's pid, logs and temp files. nginx and the stub are stopped by their
# own process ids on exit. Prints `ok: nginx: …` per check and `FAIL: nginx: …` per problem;
# exits 1 if anything failed. Needs nginx (with auth_request), openssl, curl, python3.
#
#   deploy/nginx/test/run.sh [--keep]    # --keep: leave the temporary directory for inspection
set -uo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
keep=no
[ "${1:-}" = "--keep" ] && keep=yes

failures=0
pass() { echo "ok: nginx: $*"; }
fail() { echo "FAIL: nginx: $*"; failures=$((failures + 1)); }

for tool in nginx openssl curl python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        fail "$tool is not installed (apt-get install nginx-light openssl curl python3)"
        exit 1
    fi
done
if ! nginx -V 2>&1 | grep -q -- '--with-http_auth_request_module'; then
    fail "this nginx lacks ngx_http_auth_request_module (Debian: nginx-light, nginx-full or nginx-extras have it)"
    exit 1
fi

tmp="$(mktemp -d /tmp/drawbridge-nginx-test.XXXXXX)"
nginx_pid="" stub_pid=""
cleanup() {
    if [ -n "$nginx_pid" ] && kill -0 "$nginx_pid" 2>/dev/null; then
        kill -QUIT "$nginx_pid" 2>/dev/null
        for _ in $(seq 1 50); do kill -0 "$nginx_pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$nginx_pid" 2>/dev/null
    fi
    if [ -n "$stub_pid" ] && kill -0 "$stub_pid" 2>/dev/null; then
        kill "$stub_pid" 2>/dev/null
        wait "$stub_pid" 2>/dev/null
    fi
    if [ "$keep" = yes ]; then echo "kept $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT

# --- ports, certificates ------------------------------------------------------------------------
read -r http_port https_port drawbridge_port mattermost_port app_port < <(python3 - <<'EOF'
import socket
socks = []
for _ in range(5):
    s = socket.socket(); s.bind(("127.0.0.1", 0)); socks.append(s)
print(" ".join(str(s.getsockname()[1]) for s in socks))
EOF
)
ipv6=no
if python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0))' 2>/dev/null; then ipv6=yes; fi

mkdir -p "$tmp/tls" "$tmp/acme/.well-known/acme-challenge" "$tmp/prefix/logs"
# Started as root, nginx's workers run as nobody: they must reach the ACME files and the temp
# directories (created and chowned by the master), not the keys, which only the master reads.
chmod 755 "$tmp" "$tmp/prefix" "$tmp/acme" "$tmp/acme/.well-known" "$tmp/acme/.well-known/acme-challenge"
chmod 700 "$tmp/tls"
if ! {
    openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -days 2 \
        -subj "/CN=Drawbridge test CA" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" \
        -keyout "$tmp/tls/ca.key" -out "$tmp/tls/ca.pem" &&
    openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:P-256 -subj "/CN=sso.example.com" \
        -keyout "$tmp/tls/server.key" -out "$tmp/tls/server.csr" &&
    printf 'subjectAltName=DNS:sso.example.com,DNS:chat.example.com,DNS:app.example.com\nextendedKeyUsage=serverAuth\n' > "$tmp/tls/ext.cnf" &&
    openssl x509 -req -in "$tmp/tls/server.csr" -CA "$tmp/tls/ca.pem" -CAkey "$tmp/tls/ca.key" -CAcreateserial \
        -days 2 -extfile "$tmp/tls/ext.cnf" -out "$tmp/tls/server.pem"
} >"$tmp/openssl.log" 2>&1; then
    fail "could not make the test certificate: $(tail -n 3 "$tmp/openssl.log" | tr '\n' ' ')"
    exit 1
fi
echo "acme-token" > "$tmp/acme/.well-known/acme-challenge/t0k3n"
chmod 644 "$tmp/acme/.well-known/acme-challenge/t0k3n"

# --- render the production file, wrap it like Debian's nginx.conf does ----------------------------
if ! "$here/render.sh" --out "$tmp/drawbridge.conf" --http-port "$http_port" --https-port "$https_port" \
    --drawbridge-port "$drawbridge_port" --mattermost-port "$mattermost_port" --app-port "$app_port" \
    --cert "$tmp/tls/server.pem" --key "$tmp/tls/server.key" --acme-root "$tmp/acme" --ipv6 "$ipv6" 2>"$tmp/render.log"; then
    fail "render.sh failed: $(tr '\n' ' ' < "$tmp/render.log")"
    exit 1
fi
pass "rendered deploy/nginx/drawbridge.conf (https on 127.0.0.1:$https_port, IPv6 listeners: $ipv6)"

# The http-level settings of Debian 12's /etc/nginx/nginx.conf, so that a directive the site file
# repeats at the wrong level fails here as it would on a real server.
cat > "$tmp/nginx.conf" <<EOF
worker_processes 1;
pid $tmp/nginx.pid;
error_log $tmp/error.log notice;
events { worker_connections 128; }
http {
    sendfile on;
    tcp_nopush on;
    types_hash_max_size 2048;
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    ssl_protocols TLSv1 TLSv1.1 TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers on;
    access_log $tmp/access.log;
    gzip on;
    client_body_temp_path $tmp/prefix/client_body;
    proxy_temp_path $tmp/prefix/proxy;
    include $tmp/drawbridge.conf;
}
EOF

# --- nginx -t: must pass without a single warning ---------------------------------------------------
if nginx -t -q -p "$tmp/prefix/" -e "$tmp/nginx-t.log" -c "$tmp/nginx.conf" 2>"$tmp/nginx-t.stderr"; then
    warnings="$(cat "$tmp/nginx-t.stderr" "$tmp/nginx-t.log" 2>/dev/null | grep -E '\[(warn|emerg|alert|crit|error)\]' || true)"
    if [ -n "$warnings" ]; then
        fail "nginx -t warns: $(printf '%s' "$warnings" | tr '\n' ' ')"
    else
        pass "nginx -t accepts the config without warnings"
    fi
else
    fail "nginx -t rejects the config: $(cat "$tmp/nginx-t.stderr" "$tmp/nginx-t.log" 2>/dev/null | tr '\n' ' ')"
    exit 1
fi

# --- start the stubs and nginx -----------------------------------------------------------------------
python3 "$here/stub_upstream.py" --drawbridge "$drawbridge_port" --mattermost "$mattermost_port" --app "$app_port" \
    --auth-log "$tmp/auth.log" --ready-file "$tmp/stub.ready" 2>"$tmp/stub.log" &
stub_pid=$!
nginx -p "$tmp/prefix/" -e "$tmp/error.log" -c "$tmp/nginx.conf" -g 'daemon off;' 2>>"$tmp/error.log" &
nginx_pid=$!

up=no
for _ in $(seq 1 100); do
    if [ -f "$tmp/stub.ready" ] && (exec 3<>"/dev/tcp/127.0.0.1/$https_port") 2>/dev/null; then up=yes; break; fi
    kill -0 "$nginx_pid" 2>/dev/null || break
    sleep 0.1
done
if [ "$up" != yes ]; then
    fail "nginx or the stub did not start: $(tail -n 5 "$tmp/error.log" "$tmp/stub.log" 2>/dev/null | tr '\n' ' ')"
    exit 1
fi
pass "nginx started (pid $nginx_pid) with stub upstreams on 127.0.0.1:$drawbridge_port/$mattermost_port/$app_port"

# --- requests ------------------------------------------------------------------------------------------
n=0
# request NAME HOST URL-PATH [curl args…]: writes $tmp/r/NAME.{code,headers,body}
mkdir -p "$tmp/r"
request() {
    local name="$1" host="$2" path="$3"; shift 3
    local scheme=https port="$https_port"
    if [ "${1:-}" = "--plain-http" ]; then scheme=http; port="$http_port"; shift; fi
    n=$((n + 1))
    curl -sS --max-time 10 --cacert "$tmp/tls/ca.pem" \
        --resolve "$host:$port:127.0.0.1" \
        -o "$tmp/r/$name.body" -D "$tmp/r/$name.headers" -w '%{http_code}' "$@" \
        "$scheme://$host:$port$path" > "$tmp/r/$name.code" 2>"$tmp/r/$name.err" || true
}
code() { cat "$tmp/r/$1.code"; }
header() { grep -i "^$2:" "$tmp/r/$1.headers" | head -n 1 | cut -d: -f2- | sed 's/^ *//; s/\r$//'; }
header_count() { grep -ci "^$2:" "$tmp/r/$1.headers"; }
echoed() { grep -x "$2" "$tmp/r/$1.body" >/dev/null; }
not_echoed() { ! grep -i "^$2" "$tmp/r/$1.body" >/dev/null; }
auth_count() { [ -f "$tmp/auth.log" ] && wc -l < "$tmp/auth.log" || echo 0; }
last_auth() { tail -n 1 "$tmp/auth.log" | python3 -c "import json,sys; r=json.load(sys.stdin); print($1)"; }
expect() { # expect DESCRIPTION ACTUAL EXPECTED
    if [ "$2" = "$3" ]; then pass "$1"; else fail "$1: got '$2', expected '$3'"; fi
}
expect_true() { # expect_true DESCRIPTION command…
    local description="$1"; shift
    if "$@"; then pass "$description"; else fail "$description"; fi
}

# Port 80
request http_redirect app.example.com "/some/page?x=1" --plain-http
expect "http:// answers 301" "$(code http_redirect)" 301
expect "http:// redirects to https:// on the same host and path" "$(header http_redirect Location)" "https://app.example.com/some/page?x=1"
request acme sso.example.com "/.well-known/acme-challenge/t0k3n" --plain-http
expect "ACME HTTP-01 challenge files are served on port 80" "$(code acme) $(tr -d '\n' < "$tmp/r/acme.body")" "200 acme-token"

# Unknown names: no certificate at all
request unknown_host other.example.org "/"
expect_true "an unknown server name gets no TLS handshake (ssl_reject_handshake)" test "$(code unknown_host)" = 000

# sso.example.com -> Drawbridge
request sso sso.example.com "/login?rd=https%3A%2F%2Fapp.example.com%2F" -H "X-Forwarded-For: 203.0.113.9"
expect "sso: proxied to Drawbridge" "$(code sso)" 200
expect_true "sso: upstream saw Host: sso.example.com" echoed sso "h:host=sso.example.com"
expect_true "sso: upstream saw X-Forwarded-Proto: https" echoed sso "h:x-forwarded-proto=https"
expect_true "sso: upstream saw X-Forwarded-Host: sso.example.com" echoed sso "h:x-forwarded-host=sso.example.com"
expect_true "sso: X-Forwarded-For keeps the client's chain and appends the peer" echoed sso "h:x-forwarded-for=203.0.113.9, 127.0.0.1"
expect_true "sso: upstream saw X-Real-IP" echoed sso "h:x-real-ip=127.0.0.1"
expect_true "sso: HTTP/1.1 to the upstream without a Connection header (keepalive)" not_echoed sso "h:connection="
expect_true "sso: the query string arrives unchanged" echoed sso "path=/login?rd=https%3A%2F%2Fapp.example.com%2F"
expect "sso: Set-Cookie passes unchanged (Domain not rewritten)" "$(header sso Set-Cookie)" \
    "drawbridge_session=abc; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax"
expect "sso: exactly one HSTS header, nginx's" "$(header_count sso Strict-Transport-Security) $(header sso Strict-Transport-Security)" \
    "1 max-age=31536000; includeSubDomains"
request sso_h2 sso.example.com "/healthz" --http2
expect "sso: HTTP/2 works" "$(code sso_h2) $(head -n 1 "$tmp/r/sso_h2.headers" | cut -d' ' -f1)" "200 HTTP/2"
request metrics sso.example.com "/metrics"
expect "sso: /metrics is not exposed through the proxy" "$(code metrics)" 403
head -c 2000000 /dev/zero > "$tmp/big.bin"
request sso_big sso.example.com "/login" --data-binary "@$tmp/big.bin" -H "Content-Type: application/octet-stream"
expect "sso: a 2 MB body is refused (client_max_body_size 1m)" "$(code sso_big)" 413

# chat.example.com -> Mattermost
request chat chat.example.com "/api/v4/system/ping"
expect "chat: proxied to Mattermost" "$(code chat)" 200
expect_true "chat: upstream is the Mattermost stub" echoed chat "role=mattermost"
expect_true "chat: upstream saw Host: chat.example.com" echoed chat "h:host=chat.example.com"
expect_true "chat: upstream saw X-Forwarded-Proto: https" echoed chat "h:x-forwarded-proto=https"
expect "chat: HSTS" "$(header chat Strict-Transport-Security)" "max-age=31536000; includeSubDomains"
request chat_ws chat.example.com "/api/v4/websocket" --http1.1 -H "Upgrade: websocket" -H "Connection: Upgrade" \
    -H "Sec-WebSocket-Version: 13" -H "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="
expect_true "chat: the WebSocket path forwards Upgrade: websocket" echoed chat_ws "h:upgrade=websocket"
expect_true "chat: the WebSocket path forwards Connection: upgrade" echoed chat_ws "h:connection=upgrade"
request chat_upload chat.example.com "/api/v4/files" --data-binary "@$tmp/big.bin" -H "Content-Type: application/octet-stream"
expect "chat: a 2 MB upload passes (client_max_body_size 100m)" "$(code chat_upload)" 200

# app.example.com -> auth_request -> app
before="$(auth_count)"
request app_anon app.example.com "/reports/q3?year=2026" -H "Remote-User: mallory"
expect "app: no session: 302 to the login page" "$(code app_anon)" 302
expect "app: the login URL carries the original URL in rd" "$(header app_anon Location)" \
    "https://sso.example.com/login?rd=https://app.example.com:$https_port/reports/q3?year=2026"
expect "app: the redirect is not cacheable" "$(header app_anon Cache-Control)" "no-store"
expect_true "app: no session: the app was never reached" not_echoed app_anon "role=app"
expect "app: Drawbridge was asked once" "$(( $(auth_count) - before ))" 1
expect "app: the check is GET /auth/verify" "$(last_auth 'r["method"] + " " + r["path"]')" "GET /auth/verify"
expect "app: the check carries X-Forwarded-Host" "$(last_auth 'r["headers"].get("x-forwarded-host")')" "app.example.com"
expect "app: the check carries X-Forwarded-Proto" "$(last_auth 'r["headers"].get("x-forwarded-proto")')" "https"
expect "app: the check carries X-Forwarded-Uri" "$(last_auth 'r["headers"].get("x-forwarded-uri")')" "/reports/q3?year=2026"
expect "app: the check carries X-Forwarded-Method" "$(last_auth 'r["headers"].get("x-forwarded-method")')" "GET"
expect "app: the check carries X-Forwarded-For" "$(last_auth 'r["headers"].get("x-forwarded-for")')" "127.0.0.1"

request app_bad app.example.com "/" -H "Cookie: drawbridge_session=expired"
expect "app: an invalid session is redirected too" "$(code app_bad)" 302

before="$(auth_count)"
request app_ok app.example.com "/reports/q3?year=2026" -H "Cookie: other=1; drawbridge_session=good" \
    -H "Remote-User: mallory" -H "Remote-Groups: admins"
expect "app: valid session: the app answers" "$(code app_ok)" 200
expect_true "app: upstream is the app" echoed app_ok "role=app"
expect_true "app: Remote-User comes from Drawbridge, not the client" echoed app_ok "h:remote-user=alice"
expect_true "app: Remote-Email" echoed app_ok "h:remote-email=alice@example.com"
expect_true "app: Remote-Name" echoed app_ok "h:remote-name=Alice Example"
expect_true "app: Remote-Groups comes from Drawbridge, not the client" echoed app_ok "h:remote-groups=staff"
expect_true "app: the client's Remote-User never arrives" not_echoed app_ok "h:remote-user=mallory"
expect_true "app: upstream saw X-Forwarded-Proto: https" echoed app_ok "h:x-forwarded-proto=https"
expect_true "app: upstream saw X-Forwarded-Host: app.example.com" echoed app_ok "h:x-forwarded-host=app.example.com"
expect_true "app: upstream saw X-Forwarded-For" echoed app_ok "h:x-forwarded-for=127.0.0.1"
expect_true "app: the original path and query reach the app" echoed app_ok "path=/reports/q3?year=2026"
expect "app: the check saw the session cookie" "$(last_auth 'r["headers"].get("cookie")')" "other=1; drawbridge_session=good"
expect "app: HSTS" "$(header app_ok Strict-Transport-Security)" "max-age=31536000; includeSubDomains"
expect "app: exactly one HSTS header" "$(header_count app_ok Strict-Transport-Security)" 1
expect "app: no Set-Cookie when the check sends none" "$(header_count app_ok Set-Cookie)" 0

request app_ok_again app.example.com "/" -H "Cookie: drawbridge_session=good"
expect "app: every request is checked again (no caching of the answer)" "$(( $(auth_count) - before ))" 2

request app_platform app.example.com "/" -H "Cookie: app_session=platform"
expect "app: signed in from the platform's cookie: the app answers" "$(code app_platform)" 200
expect_true "app: Remote-User for the platform's user" echoed app_platform "h:remote-user=alice"
expect "app: the session cookie the check opened reaches the browser" "$(header app_platform Set-Cookie)" \
    "drawbridge_session=fromplatform; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax"
expect "app: HSTS with it" "$(header_count app_platform Strict-Transport-Security) $(header app_platform Strict-Transport-Security)" \
    "1 max-age=31536000; includeSubDomains"

request app_noemail app.example.com "/" -H "Cookie: drawbridge_session=noemail" -H "Remote-Email: mallory@evil.test"
expect "app: a user without email passes" "$(code app_noemail)" 200
expect_true "app: a client's Remote-Email is dropped when Drawbridge sends none" not_echoed app_noemail "h:remote-email="
expect_true "app: Remote-User for the second user" echoed app_noemail "h:remote-user=bob"

request app_post app.example.com "/submit" -H "Cookie: drawbridge_session=good" --data-binary "field=value&other=2"
expect "app: POST with a body passes" "$(code app_post)" 200
expect_true "app: the app gets the POST and its body" echoed app_post "body-bytes=19"
expect "app: the check is still a bodiless GET" "$(last_auth 'r["method"] + " " + str(r["body_bytes"]) + " " + str(r["headers"].get("content-length"))')" "GET 0 None"
expect "app: the check reports the original method" "$(last_auth 'r["headers"].get("x-forwarded-method")')" "POST"

request app_internal app.example.com "/_drawbridge/verify" -H "Cookie: drawbridge_session=good"
expect_true "app: the internal check location is not reachable from outside" not_echoed app_internal "role=drawbridge"

if grep -E '\[(emerg|alert|crit)\]' "$tmp/error.log" >/dev/null 2>&1; then
    fail "nginx logged errors: $(grep -E '\[(emerg|alert|crit)\]' "$tmp/error.log" | head -n 3 | tr '\n' ' ')"
fi

echo "nginx: $n requests, $failures problem(s)"
[ "$failures" -eq 0 ]
