#!/usr/bin/python3
"""Self-test of the chat contract servers (contract servers, not Mattermost or Rocket.Chat; they follow
shared/contracts/chat-servers.md §1, §3, §4).

Starts both servers as subprocesses, drives every admin endpoint (with each error id), the listing routes
(paging, deactivated users, auth), the control API (down/up, calls, reset, clock, config), persistence with
--state across a restart (also with coalesced writes), and the SSO client sides against an in-process fake
provider. Every server runs with --check-indexes, so a look-up index out of step with the stored users turns
the next answer into a 500 `contract.index_mismatch`; the index tests below change usernames, emails,
auth_data and active state and check the old values are free again. With --drawbridge it also signs in
through a real Drawbridge:

  /usr/bin/python3 Tests/contract-servers/selftest.py
  /usr/bin/python3 Tests/contract-servers/selftest.py --drawbridge http://127.0.0.1:8080 \
      --client-id ID --client-secret S --username alice --password drawbridge-demo \
      [--mm-port 18065] [--rc-client-id ID2 --rc-client-secret S2 --rc-port 13000]

The Drawbridge client must be registered with redirect URI http://127.0.0.1:<mm-port>/signup/gitlab/complete
(and, for Rocket.Chat, http://127.0.0.1:<rc-port>/_oauth/drawbridge). Prints `selftest: N passed, M failed`.
"""
import argparse
import base64
import http.cookiejar
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ADMIN = "selftest-admin-token"
RC_ADMIN_ID = "selftestAdminId01"


class Checks:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def ok(self, condition, message, detail=""):
        if condition:
            self.passed += 1
            print(f"ok: {message}", flush=True)
        else:
            self.failed += 1
            print(f"FAIL: {message}" + (f": {detail}" if detail != "" else ""), flush=True)
        return condition


C = Checks()


# ---------------------------------------------------------------------------------------------
# HTTP helpers

class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


class Resp:
    def __init__(self, status, headers, body, url):
        self.status, self.headers, self.raw, self.url = status, headers, body, url
        self.text = body.decode("utf-8", errors="replace")

    def json(self):
        try:
            return json.loads(self.text)
        except ValueError:
            return None

    @property
    def location(self):
        return self.headers.get("Location")

    def cookies(self):
        return self.headers.get_all("Set-Cookie") or []

    def __repr__(self):
        return f"<{self.status} {self.url} Location={self.location} body={self.text[:300]!r}>"


class Browser:
    """A cookie-keeping user agent that never follows redirects."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect())

    def send(self, method, url, data=None, headers=None):
        body = data
        hdrs = dict(headers or {})
        if isinstance(data, dict):
            body = urllib.parse.urlencode(data).encode()
            hdrs.setdefault("Content-Type", "application/x-www-form-urlencoded")
        request = urllib.request.Request(url, data=body, method=method, headers=hdrs)
        try:
            with self.opener.open(request, timeout=30) as response:
                return Resp(response.status, response.headers, response.read(), url)
        except urllib.error.HTTPError as error:
            return Resp(error.code, error.headers, error.read() if error.fp else b"", url)

    def get(self, url, headers=None):
        return self.send("GET", url, None, headers)

    def cookie(self, name):
        return next((c.value for c in self.jar if c.name == name), None)


def call(method, url, body=None, headers=None):
    data = None
    hdrs = dict(headers or {})
    if body is not None:
        data = json.dumps(body).encode()
        hdrs.setdefault("Content-Type", "application/json")
    return Browser().send(method, url, data, hdrs)


def mm(method, base, path, body=None, token=ADMIN):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return call(method, base + path, body, headers)


def rc(method, base, path, body=None, token=ADMIN, user_id=RC_ADMIN_ID):
    headers = {"X-Auth-Token": token, "X-User-Id": user_id} if token else {}
    return call(method, base + path, body, headers)


def control(base, method, path, body=None):
    return call(method, base + "/__contract__/" + path, body)


def error_id(resp):
    body = resp.json()
    return body.get("id") if isinstance(body, dict) else None


class Server:
    def __init__(self, script, args):
        self.script, self.args = script, args + ["--check-indexes"]
        self.start()

    def start(self):
        self.proc = subprocess.Popen(["/usr/bin/python3", os.path.join(HERE, self.script)] + self.args,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("LISTENING "):
            raise SystemExit(f"{self.script} did not start: {line!r} {self.proc.stderr.read()[:2000]}")
        self.port = int(line.split()[1])
        self.base = f"http://127.0.0.1:{self.port}"
        threading.Thread(target=self.proc.stderr.read, daemon=True).start()  # drain

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# ---------------------------------------------------------------------------------------------
# A fake OAuth provider (GitLab-shaped for Mattermost, generic for Rocket.Chat)

class FakeProvider:
    def __init__(self):
        self.identity = {}
        self.token_override = None     # (status, body bytes) or None
        self.user_override = None      # (status, body bytes) or None
        self.token_requests = []
        self.user_requests = []
        self.authorize_requests = []
        provider = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def reply(self, status, body, content_type="application/json", headers=()):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                for name, value in headers:
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                split = urllib.parse.urlsplit(self.path)
                if split.path == "/oauth/authorize":
                    provider.authorize_requests.append(self.path)
                    q = urllib.parse.parse_qs(split.query)
                    location = (q["redirect_uri"][0] + "?code=code-" + str(len(provider.authorize_requests))
                                + "&state=" + urllib.parse.quote(q.get("state", [""])[0], safe=""))
                    return self.reply(302, b"", "text/plain", [("Location", location)])
                if split.path in ("/api/v4/user", "/me", "/oauth/userinfo"):
                    provider.user_requests.append({"path": self.path, "headers": dict(self.headers)})
                    if provider.user_override:
                        return self.reply(*provider.user_override)
                    return self.reply(200, json.dumps(provider.identity).encode())
                self.reply(404, b"{}")

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                provider.token_requests.append({"headers": dict(self.headers), "body": body,
                                                "form": urllib.parse.parse_qs(body, keep_blank_values=True)})
                if provider.token_override:
                    return self.reply(*provider.token_override)
                token = {"access_token": "at-" + str(len(provider.token_requests)), "token_type": "bearer",
                         "expires_in": 7200, "scope": "read_user", "refresh_token": "rt", "created_at": 1700000000}
                self.reply(200, json.dumps(token).encode())

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def reset(self, identity):
        self.identity = identity
        self.token_override = self.user_override = None


def gitlab_user(uid, username, email, name="Test User"):
    return {"id": uid, "username": username, "login": username, "email": email, "name": name, "state": "active"}


def mm_login(browser, mm_base, query=""):
    """/oauth/gitlab/login → provider (auto-approves) → back to the callback. Returns (login, callback) responses."""
    start = browser.get(mm_base + "/oauth/gitlab/login" + query)
    if start.status != 302:
        return start, start
    at_provider = browser.get(start.location)
    if at_provider.status != 302:
        return start, at_provider
    return start, browser.get(at_provider.location)


def page_id(resp):
    return resp.headers.get("X-Contract-Error-Id")


# ---------------------------------------------------------------------------------------------
# Mattermost: admin REST (§3)

def test_mm_rest(m):
    base = m.base
    r = call("GET", base + "/api/v4/system/ping")
    C.ok(r.status == 200 and r.json() == {"status": "OK"} and r.headers.get("X-Version-Id"), "MM ping → {status: OK} with X-Version-Id", r)
    r = mm("GET", base, "/api/v4/users/username/x", token=None)
    C.ok(r.status == 401 and error_id(r) == "api.context.session_expired.app_error", "MM no token → 401", r)
    r = mm("GET", base, "/api/v4/users/username/x", token="wrong")
    C.ok(r.status == 401, "MM wrong token → 401", r)
    body = r.json() or {}
    C.ok(set(body) >= {"id", "message", "status_code"} and body["status_code"] == 401, "MM error body has id, message, status_code", body)

    r = mm("POST", base, "/api/v4/users", {"username": "Alice", "email": "Alice@Example.com", "auth_service": "gitlab",
                                           "auth_data": "1001", "first_name": "Alice", "last_name": "Liddell"})
    alice = r.json() or {}
    C.ok(r.status == 201 and alice.get("username") == "alice" and alice.get("email") == "alice@example.com",
         "MM create SSO user → 201, username and email lowercased", r)
    C.ok(alice.get("auth_data") == "" and alice.get("auth_service") == "gitlab" and "password" not in alice,
         "MM create response: auth_data blanked, auth_service kept, no password", alice)
    for body, expected, status, what in [
        ({"username": "x1", "email": "x1@example.com", "auth_service": "gitlab", "auth_data": "9", "password": "longenough1"},
         "model.user.is_valid.auth_data_pwd.app_error", 400, "password + auth_data"),
        ({"username": "alice2", "email": "ALICE@example.com", "auth_service": "gitlab", "auth_data": "1002"},
         "app.user.save.email_exists.app_error", 400, "duplicate email"),
        ({"username": "ALICE", "email": "other@example.com", "auth_service": "gitlab", "auth_data": "1003"},
         "app.user.save.username_exists.app_error", 400, "duplicate username"),
        ({"username": "alice3", "email": "alice3@example.com", "auth_service": "gitlab", "auth_data": "1001"},
         "app.user.save.app_error", 500, "duplicate auth_data"),
        ({"username": "al ice", "email": "x2@example.com", "auth_service": "gitlab", "auth_data": "1004"},
         "model.user.is_valid.username.app_error", 400, "username with a space"),
        ({"username": "all", "email": "x3@example.com", "auth_service": "gitlab", "auth_data": "1005"},
         "model.user.is_valid.username.app_error", 400, "restricted username 'all'"),
        ({"username": "x" * 65, "email": "x4@example.com", "auth_service": "gitlab", "auth_data": "1006"},
         "model.user.is_valid.username.app_error", 400, "65-character username"),
        ({"username": "x5", "email": "not-an-email", "auth_service": "gitlab", "auth_data": "1007"},
         "model.user.is_valid.email.app_error", 400, "invalid email"),
        ({"username": "x6", "email": "x6@example.com", "auth_service": "gitlab", "auth_data": "1008", "first_name": "f" * 65},
         "model.user.is_valid.first_name.app_error", 400, "first_name > 64"),
        ({"username": "x7", "email": "x7@example.com"}, "model.user.is_valid.pwd.app_error", 400, "password account without password"),
    ]:
        r = mm("POST", base, "/api/v4/users", body)
        C.ok(r.status == status and error_id(r) == expected, f"MM create, {what} → {status} {expected}", r)
    r = mm("POST", base, "/api/v4/users", {"username": "bob", "email": "bob@example.com", "password": "bob-password-1"})
    bob = r.json() or {}
    C.ok(r.status == 201 and bob.get("auth_service") == "", "MM create password account → 201", r)

    # get
    r = mm("GET", base, f"/api/v4/users/{alice.get('id')}")
    C.ok(r.status == 200 and (r.json() or {}).get("auth_data") == "", "MM get by id → auth_data blanked", r)
    r = mm("GET", base, "/api/v4/users/username/ALICE")
    C.ok(r.status == 200 and (r.json() or {}).get("id") == alice.get("id") and r.json()["auth_data"] == "", "MM get by username", r)
    r = mm("GET", base, "/api/v4/users/email/alice@example.com")
    C.ok(r.status == 200 and (r.json() or {}).get("id") == alice.get("id") and r.json()["auth_data"] == "", "MM get by email", r)
    r = mm("GET", base, "/api/v4/users/email/ALICE%40example.com")
    C.ok(r.status == 200 and (r.json() or {}).get("id") == alice.get("id"), "MM get by %-escaped email (path values decoded)", r)
    r = mm("GET", base, "/api/v4/users/username/nobody")
    C.ok(r.status == 404, "MM get unknown username → 404", r)
    r = mm("GET", base, "/api/v4/users/" + "z" * 26)
    C.ok(r.status == 404 and error_id(r) == "app.user.missing_account.const", "MM get unknown id → 404", r)
    r = mm("POST", base, "/api/v4/users/usernames", ["alice", "bob", "nobody"])
    C.ok(r.status == 200 and sorted(u["username"] for u in r.json()) == ["alice", "bob"]
         and all(u["auth_data"] == "" for u in r.json()), "MM POST users/usernames", r)
    r = mm("POST", base, "/api/v4/users/ids", [alice.get("id")])
    C.ok(r.status == 200 and len(r.json()) == 1, "MM POST users/ids", r)

    # patch (§1.11 provider lock)
    aid, bid = alice.get("id"), bob.get("id")
    for patch, what in [({"username": "alice-new"}, "username"), ({"first_name": "Al"}, "first_name"), ({"last_name": "L"}, "last_name")]:
        r = mm("PUT", base, f"/api/v4/users/{aid}/patch", patch)
        C.ok(r.status == 409 and error_id(r) == "api.user.patch_user.login_provider_attribute_set.app_error",
             f"MM patch SSO user {what} → 409 login_provider_attribute_set", r)
    r = mm("PUT", base, f"/api/v4/users/{aid}/patch", {"email": "Alice.New@example.com", "username": "alice", "nickname": "al"})
    C.ok(r.status == 200 and r.json()["email"] == "alice.new@example.com" and r.json()["nickname"] == "al",
         "MM patch SSO user email (and unchanged username) → 200", r)
    r = mm("PUT", base, f"/api/v4/users/{bid}/patch", {"username": "bobby", "first_name": "Bob"})
    C.ok(r.status == 200 and r.json()["username"] == "bobby", "MM patch password user username → 200", r)
    r = mm("PUT", base, f"/api/v4/users/{bid}/patch", {"email": "alice.new@example.com"})
    C.ok(r.status == 400 and error_id(r) == "app.user.save.email_exists.app_error", "MM patch to a taken email → 400", r)
    r = mm("PUT", base, f"/api/v4/users/{bid}", {"id": aid, "username": "x"})
    C.ok(r.status == 400 and error_id(r) == "api.context.invalid_body_param.app_error", "MM PUT user with another id in body → 400", r)

    # link auth (§3)
    r = mm("PUT", base, f"/api/v4/users/{bid}/auth", {"auth_data": "2002"})
    C.ok(r.status == 400 and error_id(r) == "api.user.update_user_auth.invalid_request", "MM PUT auth without auth_service → 400", r)
    r = mm("PUT", base, f"/api/v4/users/{bid}/auth", {"auth_service": "gitlab"})
    C.ok(r.status == 400 and error_id(r) == "api.user.update_user_auth.invalid_request", "MM PUT auth without auth_data → 400", r)
    r = mm("PUT", base, f"/api/v4/users/{bid}/auth", {"auth_data": "1001", "auth_service": "gitlab"})
    C.ok(r.status == 400 and error_id(r) == "app.user.update_auth_data.email_exists.app_error", "MM PUT auth clash → 400", r)
    r = mm("PUT", base, f"/api/v4/users/{bid}/auth", {"auth_data": "2002", "auth_service": "gitlab"})
    state = control(base, "GET", "state").json()
    C.ok(r.status == 200 and state["users"][bid]["auth_data"] == "2002" and state["users"][bid]["password"] == ""
         and state["users"][bid]["auth_service"] == "gitlab", "MM PUT auth links: auth_data set, password cleared", r)
    C.ok(state["users"][aid]["auth_data"] == "1001", "control state shows auth_data (the API hides it)")

    # sessions, /users/me, revoke, deactivate, reactivate
    session = control(base, "POST", "sessions", {"user_id": aid}).json()
    r = mm("GET", base, "/api/v4/users/me", token=session["token"])
    C.ok(r.status == 200 and r.json()["id"] == aid and r.json()["auth_data"] == "", "MM /users/me with a session token", r)
    r = call("GET", base + "/api/v4/users/me", headers={"Cookie": f"MMAUTHTOKEN={session['token']}"})
    C.ok(r.status == 200 and r.json()["id"] == aid, "MM /users/me with the MMAUTHTOKEN cookie", r)
    r = mm("GET", base, f"/api/v4/users/{bid}", token=session["token"])
    C.ok(r.status == 403 and error_id(r) == "api.context.permissions.app_error", "MM non-admin session on admin endpoint → 403", r)
    r = mm("POST", base, f"/api/v4/users/{aid}/sessions/revoke/all")
    C.ok(r.status == 200 and r.json() == {"status": "OK"}, "MM revoke all sessions → OK", r)
    r = mm("GET", base, "/api/v4/users/me", token=session["token"])
    C.ok(r.status == 401, "MM /users/me after revoke → 401", r)
    s2 = control(base, "POST", "sessions", {"user_id": aid}).json()
    s3 = control(base, "POST", "sessions", {"user_id": aid}).json()
    r = mm("POST", base, f"/api/v4/users/{aid}/sessions/revoke", {"session_id": s2["id"]})
    C.ok(r.status == 200 and mm("GET", base, "/api/v4/users/me", token=s2["token"]).status == 401
         and mm("GET", base, "/api/v4/users/me", token=s3["token"]).status == 200, "MM revoke one session", r)
    r = mm("DELETE", base, f"/api/v4/users/{aid}")
    u = mm("GET", base, f"/api/v4/users/{aid}").json()
    C.ok(r.status == 200 and u["delete_at"] > 0, "MM DELETE user deactivates (delete_at set)", r)
    C.ok(mm("GET", base, "/api/v4/users/me", token=s3["token"]).status == 401, "MM deactivation revoked the sessions")
    r = mm("PUT", base, f"/api/v4/users/{aid}/active", {"active": True})
    C.ok(r.status == 200 and mm("GET", base, f"/api/v4/users/{aid}").json()["delete_at"] == 0, "MM PUT active true reactivates", r)
    r = mm("PUT", base, f"/api/v4/users/{aid}/active", {"active": False})
    C.ok(r.status == 200 and mm("GET", base, f"/api/v4/users/{aid}").json()["delete_at"] > 0, "MM PUT active false deactivates", r)
    mm("PUT", base, f"/api/v4/users/{aid}/active", {"active": True})
    r = mm("DELETE", base, f"/api/v4/users/{aid}?permanent=true")
    C.ok(r.status == 401 and error_id(r) == "api.user.delete_user.not_enabled.app_error", "MM permanent delete refused by default", r)

    # teams and channels
    r = mm("GET", base, "/api/v4/teams/name/main")
    team = r.json() or {}
    C.ok(r.status == 200 and team.get("invite_id") and team.get("name") == "main", "MM team by name has invite_id", r)
    C.ok(mm("GET", base, "/api/v4/teams/name/nope").status == 404, "MM unknown team → 404")
    r = mm("POST", base, f"/api/v4/teams/{team.get('id')}/members", {"team_id": "other", "user_id": aid})
    C.ok(r.status == 400 and error_id(r) == "api.context.invalid_body_param.app_error", "MM add team member, body team_id ≠ path → 400", r)
    r = mm("GET", base, f"/api/v4/teams/{team.get('id')}/channels/name/general")
    channel = r.json() or {}
    C.ok(r.status == 200 and channel.get("team_id") == team.get("id"), "MM channel by name", r)
    r = mm("POST", base, f"/api/v4/channels/{channel.get('id')}/members", {"user_id": aid})
    C.ok(r.status == 403, "MM add channel member before team membership → 403", r)
    r = mm("POST", base, f"/api/v4/teams/{team.get('id')}/members", {"team_id": team.get("id"), "user_id": aid})
    C.ok(r.status == 201 and r.json()["user_id"] == aid, "MM add team member → 201", r)
    r = mm("POST", base, f"/api/v4/channels/{channel.get('id')}/members", {"user_id": aid})
    C.ok(r.status == 201 and r.json()["channel_id"] == channel.get("id"), "MM add channel member → 201", r)
    r = mm("GET", base, f"/api/v4/users/{aid}/teams")
    C.ok(r.status == 200 and [t["id"] for t in r.json()] == [team.get("id")], "MM users/{id}/teams", r)
    C.ok(mm("GET", base, f"/api/v4/teams/{team.get('id')}/channels/name/nope").status == 404, "MM unknown channel → 404")

    # control API: calls, down/up, latency, reset
    calls = control(base, "GET", "calls?path_prefix=/api/v4/users").json()
    C.ok(len(calls) > 10 and {"method", "path", "status"} <= set(calls[0]), "control calls log counts REST calls", calls[:1])
    control(base, "DELETE", "calls")
    control(base, "POST", "down", {"seconds": 30})
    r = mm("GET", base, "/api/v4/users/username/alice")
    C.ok(r.status == 503, "down: REST answers 503", r)
    C.ok(call("GET", base + "/api/v4/system/ping").status == 503, "down: ping answers 503 too")
    C.ok(control(base, "GET", "state").status == 200, "down: the control API still answers")
    control(base, "POST", "up")
    C.ok(mm("GET", base, "/api/v4/users/username/alice").status == 200, "up: REST answers again")
    control(base, "POST", "down", {"seconds": 0.5})
    time.sleep(0.8)
    C.ok(call("GET", base + "/api/v4/system/ping").status == 200, "down for N seconds ends by itself")
    calls = control(base, "GET", "calls").json()
    C.ok([c["status"] for c in calls].count(503) == 2, "calls log records the 503s", calls)
    control(base, "POST", "config", {"latency_ms": 300})
    t0 = time.time()
    mm("GET", base, "/api/v4/users/username/alice")
    C.ok(time.time() - t0 >= 0.3, "latency_ms delays REST calls", time.time() - t0)
    control(base, "POST", "config", {"latency_ms": 0})
    r = control(base, "POST", "users", {"username": "seeded", "email": "seeded@example.com", "password": "pw"})
    C.ok(r.status == 201 and r.json()["password"], "control seeds a password user directly", r)
    control(base, "POST", "reset")
    st = control(base, "GET", "state").json()
    C.ok(st["users"] == {} and len(st["teams"]) == 1, "reset clears users and re-seeds teams", st)


# ---------------------------------------------------------------------------------------------
# Mattermost: GET /api/v4/users (contract silent; Mattermost's getUsers) and the look-up indexes

def mm_names(resp):
    return [u.get("username") for u in resp.json()] if isinstance(resp.json(), list) else resp


def test_mm_listing(m):
    base = m.base
    control(base, "POST", "reset")
    r = mm("GET", base, "/api/v4/users", token=None)
    C.ok(r.status == 401 and error_id(r) == "api.context.session_expired.app_error", "MM list users without a token → 401", r)
    C.ok(mm("GET", base, "/api/v4/users", token="wrong").status == 401, "MM list users with a wrong token → 401")
    r = mm("GET", base, "/api/v4/users")
    C.ok(r.status == 200 and r.json() == [], "MM list users on an empty server → []", r)
    ids = {}
    for n, name in enumerate(["zed", "amy", "carl", "bob", "dora"]):
        ids[name] = mm("POST", base, "/api/v4/users", {"username": name, "email": f"{name}@example.com", "auth_service": "gitlab",
                                                       "auth_data": str(4000 + n)}).json()["id"]
    mm("DELETE", base, f"/api/v4/users/{ids['bob']}")
    r = mm("GET", base, "/api/v4/users")
    users = r.json() or []
    C.ok(r.status == 200 and mm_names(r) == ["amy", "bob", "carl", "dora", "zed"],
         "MM list users: username order, deactivated users included by default", r)
    C.ok(all(u["auth_data"] == "" and "password" not in u and u["auth_service"] == "gitlab" for u in users)
         and next(u for u in users if u["username"] == "bob")["delete_at"] > 0, "MM list users: sanitized, delete_at shown", users[:1])
    r = mm("GET", base, "/api/v4/users?active=true")
    C.ok(mm_names(r) == ["amy", "carl", "dora", "zed"], "MM list users active=true → active only", r)
    r = mm("GET", base, "/api/v4/users?inactive=true")
    C.ok(mm_names(r) == ["bob"], "MM list users inactive=true → deactivated only", r)
    r = mm("GET", base, "/api/v4/users?inactive=1&active=T")
    C.ok(r.status == 400 and error_id(r) == "api.context.invalid_url_param.app_error", "MM list users inactive and active → 400", r)
    r = mm("GET", base, "/api/v4/users?active=yes")
    C.ok(len(r.json()) == 5, "MM list users: active=yes is not a Go bool → no filter", r)
    pages = [mm_names(mm("GET", base, f"/api/v4/users?page={p}&per_page=2")) for p in range(4)]
    C.ok(pages == [["amy", "bob"], ["carl", "dora"], ["zed"], []], "MM list users: per_page=2, pages 0-3", pages)
    C.ok(mm_names(mm("GET", base, "/api/v4/users?page=-1&per_page=2")) == ["amy", "bob"], "MM list users: negative page → page 0")
    C.ok(mm_names(mm("GET", base, "/api/v4/users?page=x&per_page=2")) == ["amy", "bob"], "MM list users: bad page → page 0")
    C.ok(mm_names(mm("GET", base, "/api/v4/users?per_page=0")) == [], "MM list users: per_page=0 → []")
    C.ok(mm_names(mm("GET", base, "/api/v4/users?page=1&pageSize=3")) == ["dora", "zed"], "MM list users: pageSize when per_page is absent")
    r = mm("GET", base, "/api/v4/users?in_team=x")
    C.ok(r.status == 501 and error_id(r) == "contract.unsupported_parameter", "MM list users: unmodelled filter → 501, not ignored", r)
    session = control(base, "POST", "sessions", {"user_id": ids["amy"]}).json()
    r = mm("GET", base, "/api/v4/users?per_page=1", token=session["token"])
    C.ok(r.status == 200 and mm_names(r) == ["amy"], "MM list users with a plain user's session → 200 (no admin role needed)", r)
    for n in range(230):
        control(base, "POST", "users", {"username": f"bulk{n:03d}", "email": f"bulk{n:03d}@example.com", "password": "pw"})
    r = mm("GET", base, "/api/v4/users")
    C.ok(len(r.json()) == 60 and mm_names(r)[:2] == ["amy", "bob"] and mm_names(r)[-1] == "bulk057", "MM list users: per_page defaults to 60", mm_names(r)[-3:])
    C.ok(len(mm("GET", base, "/api/v4/users?per_page=abc").json()) == 60, "MM list users: bad per_page → 60")
    C.ok(len(mm("GET", base, "/api/v4/users?per_page=-3").json()) == 60, "MM list users: negative per_page → 60")
    r = mm("GET", base, "/api/v4/users?per_page=1000")
    C.ok(len(r.json()) == 200, "MM list users: per_page capped at 200", len(r.json()))
    everyone = []
    for p in range(10):
        batch = mm("GET", base, f"/api/v4/users?page={p}&per_page=200").json()
        everyone += batch
        if len(batch) < 200:
            break
    C.ok(len(everyone) == 235 and [u["username"] for u in everyone] == sorted(u["username"] for u in everyone)
         and len({u["id"] for u in everyone}) == 235, "MM list users: paging through 235 users sees each once, in order", len(everyone))
    # a change between pages shows on the next page (no stale cached order)
    mm("PUT", base, f"/api/v4/users/{ids['zed']}/active", {"active": False})
    mm("PUT", base, f"/api/v4/users/{ids['bob']}/active", {"active": True})
    C.ok(mm_names(mm("GET", base, "/api/v4/users?inactive=true")) == ["zed"], "MM list users follows (re)activation")
    control(base, "POST", "reset")


def test_mm_indexes(m):
    """The look-up indexes follow every change: old values are free again, new ones are taken."""
    base = m.base
    control(base, "POST", "reset")
    control(base, "POST", "config", {"enable_api_user_deletion": True})

    def create(name, email, auth_data=None, password=None):
        body = {"username": name, "email": email}
        body.update({"auth_service": "gitlab", "auth_data": auth_data} if auth_data else {"password": password or "password-123"})
        return mm("POST", base, "/api/v4/users", body)

    a = create("ann", "ann@example.com", "5001").json()
    b = create("ben", "ben@example.com", password="ben-password").json()
    r = mm("PUT", base, f"/api/v4/users/{a['id']}/patch", {"email": "ann.new@example.com"})
    C.ok(r.status == 200, "index: ann changes her email", r)
    r = create("ann2", "ann@example.com", "5002")
    C.ok(r.status == 201, "index: the old email is free for someone else", r)
    r = create("ann3", "Ann.New@example.com", "5003")
    C.ok(r.status == 400 and error_id(r) == "app.user.save.email_exists.app_error", "index: the new email is taken", r)
    C.ok(mm("GET", base, "/api/v4/users/email/ann.new@example.com").json().get("id") == a["id"]
         and mm("GET", base, "/api/v4/users/email/ann@example.com").json().get("id") != a["id"], "index: get by email follows the change")
    r = mm("PUT", base, f"/api/v4/users/{b['id']}/patch", {"username": "benjamin"})
    C.ok(r.status == 200 and mm("GET", base, "/api/v4/users/username/ben").status == 404
         and mm("GET", base, "/api/v4/users/username/benjamin").json().get("id") == b["id"], "index: username change (old one gone)", r)
    C.ok(create("ben", "ben2@example.com").status == 201, "index: the old username is free for someone else")
    r = create("benjamin", "ben3@example.com")
    C.ok(r.status == 400 and error_id(r) == "app.user.save.username_exists.app_error", "index: the new username is taken", r)
    r = mm("POST", base, "/api/v4/users/usernames", ["benjamin", "ben", "ann"])
    C.ok(r.status == 200 and [u["username"] for u in r.json()] == ["ann", "benjamin", "ben"], "index: users/usernames in creation order", r)
    # auth_data moves (PUT /auth) free the old value
    r = mm("PUT", base, f"/api/v4/users/{b['id']}/auth", {"auth_data": "5001", "auth_service": "gitlab"})
    C.ok(r.status == 400 and error_id(r) == "app.user.update_auth_data.email_exists.app_error", "index: auth_data of another user is taken", r)
    r = mm("PUT", base, f"/api/v4/users/{b['id']}/auth", {"auth_data": "6001", "auth_service": "gitlab"})
    C.ok(r.status == 200 and create("x6001", "x6001@example.com", "6001").status == 500, "index: linked auth_data is taken on create")
    mm("PUT", base, f"/api/v4/users/{b['id']}/auth", {"auth_data": "6002", "auth_service": "gitlab"})
    C.ok(create("x6001", "x6001@example.com", "6001").status == 201, "index: re-linking frees the old auth_data")
    # one check decides between email and username as a scan in creation order would
    r = create("ann2", "benjamin@example.com", "7001")
    C.ok(error_id(r) == "app.user.save.username_exists.app_error", "index: username clash alone → username_exists", r)
    r = create("benjamin", "ann2-other@example.com", "7002")
    C.ok(error_id(r) == "app.user.save.username_exists.app_error", "index: username clash → username_exists", r)
    r = create("ann", "ann@example.com", "7003")     # ann (first) has the username, ann2 (later) the email
    C.ok(error_id(r) == "app.user.save.username_exists.app_error", "index: the earlier user decides (username)", r)
    r = create("ann2", "ann.new@example.com", "7004")  # ann (first) has the email, ann2 (later) the username
    C.ok(error_id(r) == "app.user.save.email_exists.app_error", "index: the earlier user decides (email)", r)
    # seeded duplicates: the first one stored is the one found
    d1 = control(base, "POST", "users", {"username": "dup", "email": "dup1@example.com", "password": "pw"}).json()
    control(base, "POST", "users", {"username": "dup", "email": "dup2@example.com", "password": "pw"})
    C.ok(mm("GET", base, "/api/v4/users/username/dup").json().get("id") == d1["id"], "index: with seeded duplicates the first is found")
    # deactivation and permanent deletion
    mm("DELETE", base, f"/api/v4/users/{a['id']}")
    C.ok(mm("GET", base, "/api/v4/users/email/ann.new@example.com").json().get("delete_at", 0) > 0
         and create("ann9", "ann.new@example.com", "7005").status == 400, "index: a deactivated user keeps email and username")
    mm("PUT", base, f"/api/v4/users/{a['id']}/active", {"active": True})
    team = mm("GET", base, "/api/v4/teams/name/main").json()
    mm("POST", base, f"/api/v4/teams/{team['id']}/members", {"team_id": team["id"], "user_id": a["id"]})
    s1 = control(base, "POST", "sessions", {"user_id": a["id"]}).json()
    r = mm("DELETE", base, f"/api/v4/users/{a['id']}?permanent=true")
    C.ok(r.status == 200 and mm("GET", base, f"/api/v4/users/{a['id']}").status == 404
         and mm("GET", base, "/api/v4/users/me", token=s1["token"]).status == 401, "index: permanent delete", r)
    again = create("ann", "ann.new@example.com", "5001")
    C.ok(again.status == 201, "index: permanent delete frees username, email and auth_data", again)
    C.ok(mm("GET", base, f"/api/v4/users/{again.json()['id']}/teams").json() == [], "index: the new user has none of the old memberships")
    r = mm("POST", base, f"/api/v4/teams/{team['id']}/members", {"team_id": team["id"], "user_id": again.json()["id"]})
    C.ok(r.status == 201 and [t["id"] for t in mm("GET", base, f"/api/v4/users/{again.json()['id']}/teams").json()] == [team["id"]],
         "index: team membership after re-creation", r)
    control(base, "POST", "reset")
    C.ok(create("ann", "ann.new@example.com", "5001").status == 201, "index: reset empties the indexes")
    control(base, "POST", "reset")


# ---------------------------------------------------------------------------------------------
# Mattermost: GitLab SSO client side (§1.2 - §1.12) against the fake provider

def test_mm_sso(m, p):
    base = m.base
    control(base, "POST", "reset")
    p.reset(gitlab_user(5001, "Erin", "Erin@Example.com", "Erin Smith"))
    b = Browser()
    start = b.get(base + "/oauth/gitlab/login")
    loc = start.location or ""
    prefix = (p.base + "/oauth/authorize?response_type=code&client_id=mm-client&redirect_uri="
              + urllib.parse.quote_plus(base + "/signup/gitlab/complete", safe="") + "&state=")
    C.ok(start.status == 302 and loc.startswith(prefix) and "&scope=" not in loc,
         "§1.3 authorize URL: exact order, raw client_id, QueryEscaped redirect_uri, no scope", loc)
    raw_state = urllib.parse.unquote_plus(loc[len(prefix):])
    props = json.loads(base64.b64decode(raw_state))
    C.ok(props.get("action") == "login" and props.get("isMobile") == "false" and len(props.get("token", "")) == 64,
         "§1.3 state = base64std(JSON{action, isMobile, token})", props)
    cookie = next((c for c in start.cookies() if c.startswith("MMOAUTH=")), "")
    C.ok("HttpOnly" in cookie and "Max-Age=1800" in cookie and "Path=/" in cookie, "§1.3 MMOAUTH cookie: HttpOnly, 30 min", cookie)
    at_provider = b.get(loc)
    done = b.get(at_provider.location)
    C.ok(done.status == 307 and done.location == base, "§1.12 307 to the site root", done)
    set_cookies = done.cookies()
    tok = next((c for c in set_cookies if c.startswith("MMAUTHTOKEN=")), "")
    uid = next((c for c in set_cookies if c.startswith("MMUSERID=")), "")
    csrf = next((c for c in set_cookies if c.startswith("MMCSRF=")), "")
    C.ok("HttpOnly" in tok and uid and "HttpOnly" not in uid and csrf and not any("Domain=" in c for c in (tok, uid, csrf)),
         "§1.12 MMAUTHTOKEN (HttpOnly), MMUSERID, MMCSRF, host-only", set_cookies)
    C.ok(done.headers.get("Token") and any(c.startswith("MMOAUTH=;") for c in set_cookies), "§1.12 Token header; MMOAUTH cleared", set_cookies)
    tr = p.token_requests[-1]
    form = {k: v[0] for k, v in tr["form"].items()}
    C.ok(form == {"client_id": "mm-client", "client_secret": "mm-secret", "code": "code-1", "grant_type": "authorization_code",
                  "redirect_uri": base + "/signup/gitlab/complete"}, "§1.5 token form: exactly the five fields", form)
    hdr = {k.lower(): v for k, v in tr["headers"].items()}
    C.ok(hdr.get("content-type") == "application/x-www-form-urlencoded" and hdr.get("accept") == "application/json"
         and "authorization" not in hdr, "§1.5 token request headers: form, Accept json, no Authorization", hdr)
    ur = {k.lower(): v for k, v in p.user_requests[-1]["headers"].items()}
    C.ok(ur.get("authorization") == "Bearer at-1" and ur.get("accept") == "application/json"
         and ur.get("content-type") == "application/x-www-form-urlencoded" and "?" not in p.user_requests[-1]["path"],
         "§1.7 user call: Bearer, Accept json, the odd Content-Type, no token in the query", ur)
    me = b.get(base + "/api/v4/users/me")
    C.ok(me.status == 200 and me.json()["username"] == "erin" and me.json()["email"] == "erin@example.com"
         and me.json()["first_name"] == "Erin" and me.json()["last_name"] == "Smith", "/users/me by cookie after SSO", me)
    st = control(base, "GET", "state").json()
    erin = next(u for u in st["users"].values() if u["username"] == "erin")
    C.ok(erin["auth_data"] == "5001" and erin["auth_service"] == "gitlab" and erin["email_verified"] is True
         and erin["roles"] == "system_admin system_user", "§1.10 created: auth_data=id, gitlab, email_verified, first user admin", erin)
    C.ok(not st["oauth_states"], "§1.4 state token deleted after use")

    # replay, other browser, expiry
    replay = b.get(at_provider.location)
    C.ok(replay.status == 400 and page_id(replay) == "api.user.authorize_oauth_user.invalid_state.app_error" and
         "api.user.authorize_oauth_user.invalid_state.app_error" in replay.text, "§1.4 state reuse → invalid_state page", replay)
    s1 = b.get(base + "/oauth/gitlab/login")
    cb = b.get(s1.location).location
    other = Browser().get(cb)
    C.ok(page_id(other) == "api.user.authorize_oauth_user.invalid_state.app_error", "§1.4 callback in another cookie jar → invalid_state", other)
    C.ok(b.get(cb).status == 307, "…and the original browser can still finish (token not consumed by the failure)")
    s1 = b.get(base + "/oauth/gitlab/login")
    cb = b.get(s1.location).location
    control(base, "POST", "clock", {"advance_seconds": 1801})
    late = b.get(cb)
    C.ok(page_id(late) == "api.user.authorize_oauth_user.invalid_state.app_error", "§1.4 after 30 min → invalid_state", late)
    forged = b.get(base + "/signup/gitlab/complete?code=x&state=" + urllib.parse.quote(base64.b64encode(b'{"action":"login","token":"nope"}')))
    C.ok(page_id(forged) == "api.user.authorize_oauth_user.invalid_state.app_error", "§1.4 unknown state token → invalid_state", forged)
    C.ok(page_id(b.get(base + "/signup/gitlab/complete?error=access_denied&state=x")) == "oauth_access_denied", "§1.4 error=access_denied page")
    C.ok(page_id(b.get(base + "/signup/gitlab/complete?state=x")) == "oauth_missing_code", "§1.4 missing code page")

    # redirect_to and invite id
    team = mm("GET", base, "/api/v4/teams/name/main").json()
    p.reset(gitlab_user(5002, "frank", "frank@example.com", "Frank"))
    _, done = mm_login(Browser(), base, "?redirect_to=%2Fmain%2Fchannels%2Fgeneral&id=" + team["invite_id"])
    C.ok(done.status == 307 and done.location == base + "/main/channels/general", "§1.12 307 to a relative redirect_to", done)
    frank = mm("GET", base, "/api/v4/users/username/frank").json()
    C.ok([t["id"] for t in mm("GET", base, f"/api/v4/users/{frank['id']}/teams").json()] == [team["id"]],
         "§1.10 invite id in the state → team joined", frank)
    p.reset(gitlab_user(5003, "gina", "gina@example.com"))
    _, done = mm_login(Browser(), base, "?redirect_to=https%3A%2F%2Fevil.example%2Fx")
    C.ok(page_id(done) == "api.invalid_redirect_url", "redirect_to off-site refused at login", done)

    # username collisions, email clash, user creation disabled
    control(base, "POST", "users", {"username": "carol", "email": "carol-pw@example.com", "password": "pw"})
    p.reset(gitlab_user(6001, "carol", "carol1@example.com"))
    mm_login(Browser(), base)
    p.reset(gitlab_user(6002, "Carol", "carol2@example.com"))
    mm_login(Browser(), base)
    names = sorted(u["username"] for u in control(base, "GET", "state").json()["users"].values() if u["username"].startswith("carol"))
    C.ok(names == ["carol", "carol0", "carol01"], "§1.10 username collision suffixes are cumulative: carol0, carol01", names)
    control(base, "POST", "users", {"username": "dave", "email": "dave@example.com", "password": "pw"})
    p.reset(gitlab_user(7001, "dave-sso", "Dave@example.com"))
    _, done = mm_login(Browser(), base)
    C.ok(done.status == 400 and page_id(done) == "api.user.create_oauth_user.already_attached.app_error",
         "§1.10 email owned by a password account → already_attached 400", done)
    control(base, "POST", "config", {"enable_user_creation": False})
    p.reset(gitlab_user(7002, "newbie", "newbie@example.com"))
    _, done = mm_login(Browser(), base)
    C.ok(done.status == 501 and page_id(done) == "api.user.create_user.disabled.app_error", "§1.10 EnableUserCreation=false → 501", done)
    p.reset(gitlab_user(5001, "erin", "erin@example.com", "Erin Smith"))
    _, done = mm_login(Browser(), base)
    C.ok(done.status == 307, "existing SSO user still signs in with user creation off", done)
    control(base, "POST", "config", {"enable_user_creation": True})

    # later logins: attribute updates, reactivation
    p.reset(gitlab_user(5001, "erin2", "erin2@example.com", "Erin Jones Brown"))
    mm_login(Browser(), base)
    e = mm("GET", base, "/api/v4/users/username/erin2").json() or {}
    C.ok(e.get("email") == "erin2@example.com" and e.get("first_name") == "Erin" and e.get("last_name") == "Jones Brown",
         "§1.11 later login updates username, names, email", e)
    p.reset(gitlab_user(5001, "frank", "frank@example.com", "Erin Jones Brown"))
    mm_login(Browser(), base)
    e2 = mm("GET", base, f"/api/v4/users/{e.get('id')}").json()
    C.ok(e2["username"] == "erin2" and e2["email"] == "erin2@example.com", "§1.11 a taken username/email is silently not applied", e2)
    mm("DELETE", base, f"/api/v4/users/{e.get('id')}")
    p.reset(gitlab_user(5001, "erin2", "erin2@example.com", "Erin Jones Brown"))
    _, done = mm_login(Browser(), base)
    C.ok(done.status == 307 and mm("GET", base, f"/api/v4/users/{e.get('id')}").json()["delete_at"] == 0,
         "§1.11 SSO login reactivates a deactivated user", done)

    # CleanUsername
    p.reset(gitlab_user(8001, "Jöhn Doe", "john@example.com"))
    mm_login(Browser(), base)
    C.ok(mm("GET", base, "/api/v4/users/username/j-hn-doe").status == 200, "§1.9 CleanUsername('Jöhn Doe') = j-hn-doe")
    p.reset(gitlab_user(8002, "Admin", "admin@example.com"))
    mm_login(Browser(), base)
    u = mm("GET", base, "/api/v4/users/email/admin@example.com").json() or {}
    C.ok(len(u.get("username", "")) == 27 and u["username"].startswith("a"), "§1.9 reserved 'admin' → 'a' + NewId", u.get("username"))
    p.reset({"id": 8003, "username": "", "login": "loginname", "email": "l@example.com", "name": "Single"})
    mm_login(Browser(), base)
    u = mm("GET", base, "/api/v4/users/username/loginname").json() or {}
    C.ok(u.get("first_name") == "Single" and u.get("last_name") == "", "§1.9 login used when username empty; one-word name", u)

    # strict token and user responses (§1.6 - §1.8)
    cases = [
        ("token", (201, b'{"access_token":"a","token_type":"bearer"}'), "api.user.authorize_oauth_user.bad_response.app_error", "token 201"),
        ("token", (400, b'{"error":"invalid_grant"}'), "api.user.authorize_oauth_user.bad_response.app_error", "token 400"),
        ("token", (200, b'{"access_token":"a","token_type":"bearer","expires_in":"3600"}'), "api.user.authorize_oauth_user.bad_response.app_error", "expires_in string"),
        ("token", (200, b'{"access_token":"a","token_type":"bearer","expires_in":2147483648}'), "api.user.authorize_oauth_user.bad_response.app_error", "expires_in > int32"),
        ("token", (200, b'{"access_token":"a","token_type":"bearer","expires_in":3600.5}'), "api.user.authorize_oauth_user.bad_response.app_error", "expires_in fraction"),
        ("token", (200, b'{"access_token":"a","token_type":"bearer","scope":["a"]}'), "api.user.authorize_oauth_user.bad_response.app_error", "scope array"),
        ("token", (200, b'not json'), "api.user.authorize_oauth_user.bad_response.app_error", "token not JSON"),
        ("token", (200, b'{"access_token":"a","token_type":"mac"}'), "api.user.authorize_oauth_user.bad_token.app_error", "token_type mac"),
        ("token", (200, b'{"access_token":"","token_type":"bearer"}'), "api.user.authorize_oauth_user.missing.app_error", "empty access_token"),
        ("user", (500, b'oops'), "api.user.authorize_oauth_user.response.app_error", "user endpoint 500"),
        ("user", (401, b'{}'), "api.user.authorize_oauth_user.response.app_error", "user endpoint 401"),
        ("user", (403, b'Terms of Service'), "oauth.gitlab.tos.error", "user endpoint 403 Terms of Service"),
        ("user", (200, b'{"id":"42","email":"s@example.com","username":"s"}'), "api.user.login_by_oauth.parse.app_error", "string id"),
        ("user", (200, b'{"id":0,"email":"z@example.com","username":"z"}'), "api.user.login_by_oauth.parse.app_error", "id 0"),
        ("user", (200, b'{"id":42,"email":"","username":"z"}'), "api.user.login_by_oauth.parse.app_error", "empty email"),
        ("user", (200, b'{"id":1.5,"email":"z@example.com"}'), "api.user.login_by_oauth.parse.app_error", "fractional id"),
    ]
    for kind, override, expected, what in cases:
        p.reset(gitlab_user(9001, "strict", "strict@example.com"))
        if kind == "token":
            p.token_override = (override[0], override[1])
        else:
            p.user_override = (override[0], override[1])
        _, done = mm_login(Browser(), base)
        C.ok(page_id(done) == expected and expected in done.text, f"§1.6-1.8 {what} → {expected}", done)
    for body, what in [(b'{"access_token":"a","token_type":"Bearer","expires_in":3600,"scope":null,"id_token":"x.y.z"}', "token_type Bearer, scope null, id_token ignored"),
                       (b'{"ACCESS_TOKEN":"a","Token_Type":"bearer"} trailing', "Go decoding: case-insensitive keys, first value only")]:
        p.reset(gitlab_user(9002, "strict2", "strict2@example.com"))
        p.token_override = (200, body)
        _, done = mm_login(Browser(), base)
        C.ok(done.status == 307, f"§1.6 accepted: {what}", done)
        mm("DELETE", base, f"/api/v4/users/{mm('GET', base, '/api/v4/users/email/strict2@example.com').json()['id']}?permanent=true")
    # provider checks (§1.1): scope with openid; scope set
    control(base, "POST", "config", {"gitlab_scope": "openid read_user"})
    r = Browser().get(base + "/oauth/gitlab/login")
    C.ok(r.status == 501 and page_id(r) == "api.user.login_by_oauth.not_available.app_error", "§1.1 scope containing openid → 501", r)
    control(base, "POST", "config", {"gitlab_scope": "read_user api"})
    r = Browser().get(base + "/oauth/gitlab/login?login_hint=a%20b")
    C.ok(r.location and r.location.endswith("&scope=read_user%20api&login_hint=a+b"), "§1.3 &scope= (URLEncode) then &login_hint=", r)
    control(base, "POST", "config", {"gitlab_scope": "", "gitlab_enable": False})
    r = Browser().get(base + "/oauth/gitlab/login")
    C.ok(r.status == 501 and page_id(r) == "api.user.authorize_oauth_user.unsupported.app_error", "§1.1 GitLab disabled → 501", r)
    control(base, "POST", "config", {"gitlab_enable": True})


def test_persistence(script, extra_args, create, verify, label):
    handle, path = tempfile.mkstemp(prefix="contract-state-", suffix=".json")
    os.close(handle)
    try:
        s = Server(script, ["--port", "0", "--admin-token", ADMIN, "--state", path] + extra_args)
        ident = create(s.base)
        s.stop()
        s2 = Server(script, ["--port", "0", "--admin-token", ADMIN, "--state", path] + extra_args)
        C.ok(verify(s2.base, ident), f"{label}: users persist across a restart with --state")
        s2.stop()
    finally:
        os.unlink(path)


def test_restore_indexes(budget_ms):
    """--state: the indexes are rebuilt from the restored users (old values free, new ones taken, listing order).
    budget_ms=0 makes every write a coalesced background one; the last is written at SIGTERM."""
    label = f"--state-sync-budget-ms {budget_ms}"
    handle, path = tempfile.mkstemp(prefix="contract-state-", suffix=".json")
    os.close(handle)
    try:
        args = ["--port", "0", "--admin-token", ADMIN, "--state", path, "--state-sync-budget-ms", str(budget_ms)]
        s = Server("mattermost_contract_server.py", args + ["--team", "main"])
        ids = [mm("POST", s.base, "/api/v4/users", {"username": n, "email": f"{n}@example.com", "auth_service": "gitlab",
                                                    "auth_data": str(8000 + i)}).json()["id"] for i, n in enumerate(["mo", "al", "lu"])]
        mm("PUT", s.base, f"/api/v4/users/{ids[0]}/patch", {"email": "mo.new@example.com"})
        mm("DELETE", s.base, f"/api/v4/users/{ids[2]}")
        if budget_ms == 0:
            time.sleep(1.0)
            with open(path, encoding="utf-8") as handle:
                on_disk = json.load(handle)
            C.ok(on_disk["users"].get(ids[0], {}).get("email") == "mo.new@example.com",
                 f"MM {label}: the background writer wrote the state while running")
            mm("PUT", s.base, f"/api/v4/users/{ids[1]}/patch", {"nickname": "last-change"})
        s.stop()
        s2 = Server("mattermost_contract_server.py", args + ["--team", "main"])
        base = s2.base
        C.ok(mm("GET", base, "/api/v4/users/email/mo.new@example.com").json().get("id") == ids[0]
             and mm("GET", base, "/api/v4/users/email/mo@example.com").status == 404, f"MM {label}: restored email index")
        if budget_ms == 0:
            C.ok(mm("GET", base, f"/api/v4/users/{ids[1]}").json().get("nickname") == "last-change",
                 f"MM {label}: the last change before SIGTERM was written at shutdown")
        r = mm("POST", base, "/api/v4/users", {"username": "mo2", "email": "mo@example.com", "auth_service": "gitlab", "auth_data": "8100"})
        C.ok(r.status == 201, f"MM {label}: after restore the old email is free", r)
        r = mm("POST", base, "/api/v4/users", {"username": "al", "email": "al2@example.com", "auth_service": "gitlab", "auth_data": "8101"})
        C.ok(error_id(r) == "app.user.save.username_exists.app_error", f"MM {label}: after restore usernames are taken", r)
        r = mm("POST", base, "/api/v4/users", {"username": "al3", "email": "al3@example.com", "auth_service": "gitlab", "auth_data": "8001"})
        C.ok(r.status == 500 and error_id(r) == "app.user.save.app_error", f"MM {label}: after restore auth_data is taken", r)
        C.ok(mm_names(mm("GET", base, "/api/v4/users")) == ["al", "lu", "mo", "mo2"]
             and mm_names(mm("GET", base, "/api/v4/users?inactive=true")) == ["lu"], f"MM {label}: listing after restore")
        s2.stop()

        os.unlink(path)
        rargs = ["--port", "0", "--admin-token", ADMIN, "--admin-user-id", RC_ADMIN_ID, "--state", path,
                 "--state-sync-budget-ms", str(budget_ms)]
        s = Server("rocketchat_contract_server.py", rargs)
        made = [rc("POST", s.base, "/api/v1/users.create", {"username": n, "email": f"{n}@example.com", "name": n.title(),
                                                            "password": "x"}).json()["user"]["_id"] for n in ("rae", "Quin")]
        rc("POST", s.base, "/api/v1/users.update", {"userId": made[0], "data": {"username": "rae2", "email": "rae2@example.com"}})
        s.stop()
        s2 = Server("rocketchat_contract_server.py", rargs)
        base = s2.base
        C.ok((rc("GET", base, "/api/v1/users.info?username=RAE2").json() or {}).get("user", {}).get("_id") == made[0]
             and rc("GET", base, "/api/v1/users.info?username=rae").status == 400, f"RC {label}: restored username index")
        r = rc("POST", base, "/api/v1/users.create", {"username": "rae", "email": "rae@example.com", "name": "R", "password": "x"})
        C.ok(r.status == 200, f"RC {label}: after restore the old username and email are free", r)
        r = rc("POST", base, "/api/v1/users.create", {"username": "rae3", "email": "RAE2@example.com", "name": "R", "password": "x"})
        C.ok(r.status == 400 and "already in use" in r.json()["error"], f"RC {label}: after restore the new email is taken", r)
        names = [u["username"] for u in rc("GET", base, "/api/v1/users.list").json()["users"]]
        C.ok(names == ["Quin", "rae", "rae2"], f"RC {label}: listing after restore", names)
        s2.stop()
    finally:
        if os.path.exists(path):
            os.unlink(path)


# ---------------------------------------------------------------------------------------------
# Rocket.Chat (§4)

def test_rc_rest(r_):
    base = r_.base
    r = rc("POST", base, "/api/v1/users.create", {"username": "x"}, token=None)
    C.ok(r.status == 401 and r.json().get("success") is False, "RC no X-Auth-Token → 401 success:false", r)
    r = rc("POST", base, "/api/v1/users.create", {"username": "x"}, token="wrong")
    C.ok(r.status == 401, "RC wrong admin token → 401", r)
    r = rc("POST", base, "/api/v1/users.create", {"email": "a@example.com", "name": "A", "username": "alice"})
    C.ok(r.status == 400 and r.json() == {"success": False, "error": "must have required property 'password'", "errorType": "invalid-params"},
         "RC users.create without password → 400", r)
    r = rc("POST", base, "/api/v1/users.create", {"email": "a@example.com", "name": "A", "username": "alice", "password": "p", "auth": 1})
    C.ok(r.status == 400 and "additional properties" in r.json()["error"], "RC users.create with an unknown field → 400", r)
    r = rc("POST", base, "/api/v1/users.create", {"email": "Alice@Example.com", "name": "Alice L", "username": "Alice",
                                                  "password": "x", "setRandomPassword": True, "verified": True})
    alice = (r.json() or {}).get("user", {})
    C.ok(r.status == 200 and r.json()["success"] is True and alice.get("username") == "Alice" and "services" not in alice
         and alice.get("emails") == [{"address": "Alice@Example.com", "verified": True}] and alice.get("active") is True,
         "RC users.create → {success, user}", r)
    st = control(base, "GET", "state").json()
    C.ok(st["users"][alice["_id"]]["services"]["password"]["bcrypt"] != "", "RC random password stored")
    r = rc("POST", base, "/api/v1/users.create", {"email": "x@example.com", "name": "A", "username": "ALICE", "password": "p"})
    C.ok(r.status == 400 and r.json()["success"] is False and "already in use" in r.json()["error"], "RC duplicate username (case-insensitive) → 400", r)
    r = rc("POST", base, "/api/v1/users.create", {"email": "alice@example.com", "name": "A", "username": "alice9", "password": "p"})
    C.ok(r.status == 400 and "already in use" in r.json()["error"], "RC duplicate email → 400", r)
    r = rc("GET", base, "/api/v1/users.info?username=alice")
    C.ok(r.status == 200 and r.json()["user"]["_id"] == alice["_id"] and r.json()["success"] is True, "RC users.info?username=", r)
    r = rc("GET", base, f"/api/v1/users.info?userId={alice['_id']}")
    C.ok(r.status == 200 and r.json()["user"]["username"] == "Alice", "RC users.info?userId=", r)
    r = rc("GET", base, "/api/v1/users.info?username=nobody")
    C.ok(r.status == 400 and r.json()["success"] is False, "RC users.info unknown → success:false", r)
    r = rc("POST", base, "/api/v1/users.update", {"userId": alice["_id"], "data": {"name": "Alice Liddell", "email": "al@example.com"}})
    C.ok(r.status == 200 and r.json()["user"]["name"] == "Alice Liddell" and r.json()["user"]["emails"][0]["address"] == "al@example.com",
         "RC users.update", r)
    login = control(base, "POST", "sessions", {"user_id": alice["_id"]}).json()
    r = rc("GET", base, "/api/v1/me", token=login["authToken"], user_id=alice["_id"])
    C.ok(r.status == 200 and r.json()["_id"] == alice["_id"], "RC /me with a login token", r)
    r = rc("GET", base, "/api/v1/users.info?username=alice", token=login["authToken"], user_id=alice["_id"])
    C.ok(r.status == 403, "RC non-admin on admin endpoint → 403", r)
    r = rc("POST", base, "/api/v1/users.logout", {"userId": alice["_id"]})
    C.ok(r.status == 200 and r.json()["success"] is True, "RC users.logout {userId}", r)
    C.ok(rc("GET", base, "/api/v1/me", token=login["authToken"], user_id=alice["_id"]).status == 401, "RC login token gone after users.logout")
    login = control(base, "POST", "sessions", {"user_id": alice["_id"]}).json()
    r = rc("POST", base, "/api/v1/users.setActiveStatus", {"userId": alice["_id"], "activeStatus": False})
    C.ok(r.status == 200 and r.json() == {"user": {"_id": alice["_id"], "active": False}, "success": True}, "RC setActiveStatus false", r)
    C.ok(rc("GET", base, "/api/v1/me", token=login["authToken"], user_id=alice["_id"]).status == 401, "RC deactivation removes login tokens")
    r = rc("POST", base, "/api/v1/users.setActiveStatus", {"userId": alice["_id"], "activeStatus": "no"})
    C.ok(r.status == 400, "RC setActiveStatus with a non-boolean → 400", r)
    rc("POST", base, "/api/v1/users.setActiveStatus", {"userId": alice["_id"], "activeStatus": True})
    control(base, "POST", "down", {"seconds": 30})
    C.ok(rc("GET", base, "/api/v1/users.info?username=alice").status == 503, "RC down → 503")
    control(base, "POST", "up")
    C.ok(rc("GET", base, "/api/v1/users.info?username=alice").status == 200, "RC up → 200")
    calls = control(base, "GET", "calls?path_prefix=/api/v1/users.info").json()
    C.ok(len(calls) >= 5 and 503 in [c["status"] for c in calls], "RC calls log", calls)
    control(base, "POST", "reset")
    C.ok(control(base, "GET", "state").json()["users"] == {}, "RC reset")


def test_rc_listing(r_):
    """GET /api/v1/users.list (contract silent; Rocket.Chat's users.list) and the look-up indexes."""
    base = r_.base
    control(base, "POST", "reset")
    r = rc("GET", base, "/api/v1/users.list", token=None)
    C.ok(r.status == 401 and r.json().get("success") is False, "RC users.list without a token → 401", r)
    r = rc("GET", base, "/api/v1/users.list")
    C.ok(r.status == 200 and r.json() == {"users": [], "count": 0, "offset": 0, "total": 0, "success": True}, "RC users.list, no users", r)
    ids = {}
    for name in ["zoe", "Adam", "carl", "bob"]:
        ids[name] = rc("POST", base, "/api/v1/users.create", {"username": name, "email": f"{name.lower()}@example.com",
                                                              "name": name.title(), "password": "x"}).json()["user"]["_id"]
    rc("POST", base, "/api/v1/users.setActiveStatus", {"userId": ids["bob"], "activeStatus": False})
    login = control(base, "POST", "sessions", {"user_id": ids["carl"]}).json()
    r = rc("GET", base, "/api/v1/users.list", token=login["authToken"], user_id=ids["carl"])
    C.ok(r.status == 403 and r.json().get("errorType") == "error-unauthorized", "RC users.list by a non-admin → 403 as the other admin routes", r)
    r = rc("GET", base, "/api/v1/users.list")
    body = r.json() or {}
    users = body.get("users", [])
    C.ok(r.status == 200 and [u["username"] for u in users] == ["Adam", "bob", "carl", "zoe"]
         and body.get("count") == 4 and body.get("total") == 4 and body.get("offset") == 0 and body.get("success") is True,
         "RC users.list: username order (binary: capitals first), deactivated included, count/offset/total", body)
    bob = next((u for u in users if u["username"] == "bob"), {})
    C.ok(set(bob) == {"_id", "username", "name", "emails", "active", "type", "roles"} and bob["active"] is False
         and bob["emails"] == [{"address": "bob@example.com", "verified": False}] and bob["roles"] == ["user"] and bob["type"] == "user",
         "RC users.list: per user _id, username, name, emails, active, type, roles (no services)", bob)
    r = rc("GET", base, "/api/v1/users.list?count=2&offset=1")
    C.ok([u["username"] for u in r.json()["users"]] == ["bob", "carl"] and r.json()["count"] == 2 and r.json()["offset"] == 1
         and r.json()["total"] == 4, "RC users.list count=2 offset=1", r)
    r = rc("GET", base, "/api/v1/users.list?count=2&offset=9")
    C.ok(r.json()["users"] == [] and r.json()["count"] == 0 and r.json()["total"] == 4, "RC users.list past the end", r)
    for query in ("count=abc", "offset=-1", "count=-2"):
        r = rc("GET", base, "/api/v1/users.list?" + query)
        C.ok(r.status == 400 and r.json().get("errorType") == "invalid-params", f"RC users.list {query} → 400", r)
    r = rc("GET", base, "/api/v1/users.list?sort=%7B%22name%22%3A1%7D")
    C.ok(r.status == 501, "RC users.list: unmodelled sort → 501, not ignored", r)
    for n in range(110):
        control(base, "POST", "users", {"username": f"bulk{n:03d}", "email": f"bulk{n:03d}@example.com"})
    r = rc("GET", base, "/api/v1/users.list")
    C.ok(r.json()["count"] == 50 and r.json()["total"] == 114, "RC users.list: count defaults to 50 (API_Default_Count)", r.json()["count"])
    r = rc("GET", base, "/api/v1/users.list?count=500")
    C.ok(r.json()["count"] == 100, "RC users.list: count capped at 100 (API_Upper_Count_Limit)", r.json()["count"])
    r = rc("GET", base, "/api/v1/users.list?count=0")
    C.ok(r.json()["count"] == 114, "RC users.list: count=0 → all (API_Allow_Infinite_Count)", r.json()["count"])
    seen, offset = [], 0
    while True:
        page = rc("GET", base, f"/api/v1/users.list?count=100&offset={offset}").json()
        seen += [u["_id"] for u in page["users"]]
        offset += page["count"]
        if not page["users"] or offset >= page["total"]:
            break
    C.ok(len(seen) == 114 and len(set(seen)) == 114, "RC users.list: paging by offset sees every user once", len(seen))

    # indexes: username and email changes free the old values
    r = rc("POST", base, "/api/v1/users.update", {"userId": ids["zoe"], "data": {"username": "zoey", "email": "zoey@example.com"}})
    C.ok(r.status == 200, "RC index: zoe becomes zoey", r)
    C.ok(rc("GET", base, "/api/v1/users.info?username=zoe").status == 400
         and rc("GET", base, "/api/v1/users.info?username=ZOEY").json()["user"]["_id"] == ids["zoe"], "RC index: users.info by the new name only")
    r = rc("POST", base, "/api/v1/users.create", {"username": "Zoe", "email": "Zoe@Example.com", "name": "Z", "password": "x"})
    C.ok(r.status == 200, "RC index: the old username and email are free", r)
    r = rc("POST", base, "/api/v1/users.create", {"username": "zoey2", "email": "ZOEY@example.com", "name": "Z", "password": "x"})
    C.ok(r.status == 400 and "already in use" in r.json()["error"], "RC index: the new email is taken (case-insensitive)", r)
    r = rc("POST", base, "/api/v1/users.create", {"username": "ZOEY", "email": "z3@example.com", "name": "Z", "password": "x"})
    C.ok(r.status == 400 and "already in use" in r.json()["error"], "RC index: the new username is taken (case-insensitive)", r)
    names = [u["username"] for u in rc("GET", base, "/api/v1/users.list?count=0").json()["users"]]
    C.ok(names[:2] == ["Adam", "Zoe"] and names[-1] == "zoey", "RC users.list follows renames", names[:3] + names[-2:])
    control(base, "POST", "reset")


def rc_login(browser, base, redirect_url=None):
    q = "?redirectUrl=" + urllib.parse.quote(redirect_url, safe="") if redirect_url else ""
    start = browser.get(base + "/_contract_oauth_start/drawbridge" + q)
    if start.status != 302:
        return start, start
    at = browser.get(start.location)
    if at.status != 302:
        return start, at
    return start, browser.get(at.location)


def test_rc_sso(r_, p):
    base = r_.base
    cfg = {"url": p.base, "id": "rc-client", "secret": "rc-secret", "login_style": "redirect", "identity_path": "/me",
           "merge_users": True, "username_field": "username", "email_field": "email"}
    control(base, "POST", "config", cfg)
    p.reset({"id": 42, "username": "erin", "email": "erin@example.com", "name": "Erin Smith"})
    pre = rc("POST", base, "/api/v1/users.create", {"username": "erin", "email": "erin@example.com", "name": "Erin",
                                                    "password": "x", "setRandomPassword": True}).json()["user"]
    b = Browser()
    start, done = rc_login(b, base, base + "/home")
    loc = start.location or ""
    state_start = loc.index("&state=") + 7 if "&state=" in loc else 0
    expected_prefix = (p.base + "/oauth/authorize?client_id=rc-client&redirect_uri="
                       + urllib.parse.quote(base + "/_oauth/drawbridge", safe="") + "&response_type=code&state=")
    C.ok(start.status == 302 and loc.startswith(expected_prefix) and loc.endswith("&scope=openid"),
         "§4.2 authorize URL: client_id, redirect_uri=<ROOT>/_oauth/<name>, response_type, state, scope", loc)
    state = json.loads(base64.b64decode(urllib.parse.unquote(loc[state_start:loc.index("&scope=")])))
    C.ok(state.get("loginStyle") == "redirect" and state.get("credentialToken") and state.get("redirectUrl") == base + "/home",
         "§4.2 Meteor state: base64 JSON with loginStyle, credentialToken, redirectUrl", state)
    C.ok(done.status == 302 and done.location == base + "/home" and b.cookie("rc_uid") == pre["_id"],
         "§4.2 merge by username: login lands on the pre-provisioned account", done)
    tr = p.token_requests[-1]
    form = {k: v[0] for k, v in tr["form"].items()}
    hdr = {k.lower(): v for k, v in tr["headers"].items()}
    C.ok(list(tr["form"]) == ["code", "redirect_uri", "grant_type", "state", "client_secret", "client_id"]
         and form["redirect_uri"] == base + "/_oauth/drawbridge" and form["state"] and form["client_secret"] == "rc-secret",
         "§4.2 token form: code, redirect_uri, grant_type, state, client creds in the payload", tr["body"])
    C.ok(hdr.get("content-type") == "application/x-www-form-urlencoded" and hdr.get("accept") == "application/json"
         and hdr.get("user-agent", "").startswith("Meteor/") and "authorization" not in hdr, "§4.2 token headers (payload mode)", hdr)
    C.ok(p.user_requests[-1]["path"].startswith("/me?access_token=") and "authorization" not in
         {k.lower() for k in p.user_requests[-1]["headers"]}, "§4.1 identity token via payload = ?access_token=", p.user_requests[-1])
    u = control(base, "GET", "state").json()["users"][pre["_id"]]
    C.ok(u["services"]["drawbridge"]["id"] == 42 and u["emails"] == [{"address": "erin@example.com", "verified": True}]
         and u["name"] == "Erin Smith", "§4.2 merge sets services.<name>.id, the name, the email (verified)", u)
    me = rc("GET", base, "/api/v1/me", token=b.cookie("rc_token"), user_id=b.cookie("rc_uid"))
    C.ok(me.status == 200 and me.json()["_id"] == pre["_id"], "RC login token from the SSO works on /api/v1/me", me)
    _, again = rc_login(Browser(), base)
    C.ok(again.status == 302 and len(control(base, "GET", "state").json()["users"]) == 1, "second login: same user, no new one", again)

    # header modes
    control(base, "POST", "config", {"token_sent_via": "header", "identity_token_sent_via": "header"})
    rc_login(Browser(), base)
    hdr = {k.lower(): v for k, v in p.token_requests[-1]["headers"].items()}
    C.ok(hdr.get("authorization") == "Basic " + base64.b64encode(b"rc-client:rc-secret").decode()
         and "client_secret" not in p.token_requests[-1]["form"], "§4.1 token_sent_via=header → HTTP Basic, no secret in the body", hdr)
    C.ok({k.lower(): v for k, v in p.user_requests[-1]["headers"].items()}.get("authorization", "").startswith("Bearer ")
         and "?" not in p.user_requests[-1]["path"], "§4.1 identity_token_sent_via=header → Bearer")
    control(base, "POST", "config", {"token_sent_via": "payload", "identity_token_sent_via": "default"})

    # merge refused, distinct services, new users, registration off, inactive, field_not_found, sub as id, email key
    control(base, "POST", "config", {"merge_users": False})
    rc("POST", base, "/api/v1/users.create", {"username": "gus", "email": "gus@example.com", "name": "Gus", "password": "x"})
    p.reset({"id": 43, "username": "gus", "email": "gus@example.com", "name": "Gus"})
    _, done = rc_login(Browser(), base)
    C.ok(done.status == 403 and "User with username gus already exists" in done.text, "§4.2 merge_users false → 'User with username X already exists'", done)
    p.reset({"id": 42, "username": "erin", "email": "erin@example.com", "name": "Erin Smith"})
    _, done = rc_login(Browser(), base)
    C.ok(done.status == 302, "already linked, same name: login works with merge_users false (source early return)", done)
    control(base, "POST", "config", {"merge_users": True, "merge_users_distinct_services": False})
    p.reset({"id": 43, "username": "gus", "email": "gus@example.com", "name": "Gus"})
    _, done = rc_login(Browser(), base)
    C.ok(done.status == 403 and "Username already exists" in done.text,
         "merge_users_distinct_services=false: a password user is not found by the hook, creation collides", done)
    control(base, "POST", "config", {"merge_users_distinct_services": True})
    p.reset({"sub": "abc-7", "username": "hank", "email": "hank@example.com", "name": "Hank"})
    _, done = rc_login(Browser(), base)
    hank = next((u for u in control(base, "GET", "state").json()["users"].values() if u["username"] == "hank"), {})
    C.ok(done.status == 302 and hank.get("services", {}).get("drawbridge", {}).get("id") == "abc-7"
         and hank["emails"][0]["address"] == "hank@example.com", "§4.2 new user created; id from sub (a string)", hank)
    control(base, "POST", "config", {"registration_enabled": False})
    p.reset({"id": 44, "username": "ivy", "email": "ivy@example.com"})
    _, done = rc_login(Browser(), base)
    C.ok(done.status == 403 and "registration-disabled-authentication-services" in done.text, "§4.2 registration disabled", done)
    control(base, "POST", "config", {"registration_enabled": True})
    rc("POST", base, "/api/v1/users.setActiveStatus", {"userId": pre["_id"], "activeStatus": False})
    p.reset({"id": 42, "username": "erin", "email": "erin@example.com", "name": "Erin Smith"})
    _, done = rc_login(Browser(), base)
    C.ok(done.status == 403 and "not activated" in done.text, "inactive user is refused", done)
    rc("POST", base, "/api/v1/users.setActiveStatus", {"userId": pre["_id"], "activeStatus": True})
    control(base, "POST", "config", {"username_field": "preferred_username"})
    _, done = rc_login(Browser(), base)
    C.ok(done.status == 500 and "field_not_found" in done.text, "§4.2 configured field missing → field_not_found", done)
    control(base, "POST", "config", {"username_field": "{{/^([^@]+)@/::email}}", "key_field": "email"})
    rc("POST", base, "/api/v1/users.create", {"username": "judy.pw", "email": "Judy@Example.com", "name": "J", "password": "x"})
    p.reset({"ID": 45, "emails": [{"address": "judy@example.com"}], "nickname": "Judy N"})
    _, done = rc_login(Browser(), base)
    judy = next((u for u in control(base, "GET", "state").json()["users"].values() if u["username"] == "judy.pw"), {})
    C.ok(done.status == 302 and judy.get("services", {}).get("drawbridge", {}).get("id") == 45 and judy.get("name") == "judy",
         "§4.2 key_field=email merge (case-insensitive), id from ID, email from emails[0], regex template, name falls back to the username", judy)
    control(base, "POST", "config", {"username_field": "username", "key_field": "username"})
    p.reset({"id": 46, "username": "kim", "email": "kim@example.com", "name": "Kim"})
    p.token_override = (400, b'{"error":"invalid_grant"}')
    _, done = rc_login(Browser(), base)
    C.ok(done.status == 500 and "Failed to complete OAuth handshake" in done.text, "§4.2 non-2xx token response is an error", done)
    p.token_override = (200, b'{"error":"invalid_grant"}')
    _, done = rc_login(Browser(), base)
    C.ok(done.status == 500 and "invalid_grant" in done.text, "§4.2 JSON with an error field is an error", done)
    p.token_override = (200, b'{"access_token":"x","expires_in":"3600"}')
    _, done = rc_login(Browser(), base)
    kim = next((u for u in control(base, "GET", "state").json()["users"].values() if u["username"] == "kim"), {})
    C.ok(done.status == 302 and isinstance(kim.get("services", {}).get("drawbridge", {}).get("expiresAt"), int),
         "§4.2 expires_in as a string is parseInt'ed", kim)
    p.token_override = None
    p.user_override = (401, b'{}')
    _, done = rc_login(Browser(), base)
    C.ok(done.status == 500 and "Failed to fetch identity" in done.text, "§4.2 non-2xx identity is an error", done)


# ---------------------------------------------------------------------------------------------
# Through a real Drawbridge

class FormParser(HTMLParser):
    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)  # attribute values come HTML-unescaped
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "fields": {}})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""


def drawbridge_sign_in(browser, resp, args):
    """On Drawbridge's sign-in form: post csrf, step=login, request, username, password to /oauth/authorize."""
    parser = FormParser()
    parser.feed(resp.text)
    form = next((f for f in parser.forms if f["fields"].get("step") == "login"), None)
    if not C.ok(form is not None and form["fields"].get("csrf") and "request" in form["fields"], "Drawbridge shows its sign-in form", resp):
        return resp
    data = {"csrf": form["fields"]["csrf"], "step": "login", "request": form["fields"]["request"],
            "username": args.username, "password": args.password}
    posted = browser.send("POST", urllib.parse.urljoin(resp.url, "/oauth/authorize"), data)
    C.ok(posted.status in (302, 303), "sign-in accepted by Drawbridge", posted)
    return browser.get(urllib.parse.urljoin(resp.url, posted.location or "/"))


def test_drawbridge_mm(args):
    m = Server("mattermost_contract_server.py", ["--port", str(args.mm_port), "--admin-token", ADMIN, "--team", "main:general",
                                                 "--gitlab-url", args.drawbridge, "--gitlab-client-id", args.client_id,
                                                 "--gitlab-client-secret", args.client_secret])
    try:
        base = m.base
        b = Browser()
        start = b.get(base + "/oauth/gitlab/login")
        C.ok(start.status == 302 and start.location.startswith(args.drawbridge.rstrip("/") + "/oauth/authorize?response_type=code&client_id="),
             "MM → Drawbridge /oauth/authorize", start)
        resp = b.get(start.location)
        if resp.status == 200:
            resp = drawbridge_sign_in(b, resp, args)
        C.ok(resp.status in (302, 303) and (resp.location or "").startswith(base + "/signup/gitlab/complete?"),
             "Drawbridge redirects back to /signup/gitlab/complete with a code", resp)
        done = b.get(resp.location)
        C.ok(done.status == 307 and done.location == base, "MM callback completes: 307 to the site root", done)
        me = b.get(base + "/api/v4/users/me")
        C.ok(me.status == 200 and me.json().get("username") == args.username.lower(), "MM /api/v4/users/me works after the SSO login", me)
        user = control(base, "GET", "state").json()["users"].get((me.json() or {}).get("id", ""), {})

        # Independently: get a code the same way (silent SSO now) and ask Drawbridge for /api/v4/user ourselves.
        again = b.get(b.get(base + "/oauth/gitlab/login").location)
        C.ok(again.status == 302, "§8.7 silent SSO: second authorize answers with the redirect at once", again)
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(again.location or "").query).get("code", [""])[0]
        token = Browser().send("POST", args.drawbridge.rstrip("/") + "/oauth/token", {
            "client_id": args.client_id, "client_secret": args.client_secret, "code": code,
            "grant_type": "authorization_code", "redirect_uri": base + "/signup/gitlab/complete"},
            {"Accept": "application/json"}).json() or {}
        gl = Browser().get(args.drawbridge.rstrip("/") + "/api/v4/user", {"Authorization": "Bearer " + token.get("access_token", "")}).json() or {}
        C.ok(isinstance(gl.get("id"), int) and user.get("auth_data") == str(gl["id"]) and user.get("auth_service") == "gitlab",
             f"MM user auth_data = Drawbridge /api/v4/user id ({gl.get('id')})", user)

        # revoke → 401; deactivate → next SSO login reactivates (§1.11)
        mm("POST", base, f"/api/v4/users/{user.get('id')}/sessions/revoke/all")
        C.ok(b.get(base + "/api/v4/users/me").status == 401, "MM /users/me after revoke/all → 401")
        mm("DELETE", base, f"/api/v4/users/{user.get('id')}")
        _, done = b.get(base + "/oauth/gitlab/login"), None
        done = b.get(b.get(_.location).location)
        C.ok(done.status == 307 and mm("GET", base, f"/api/v4/users/{user.get('id')}").json()["delete_at"] == 0
             and b.get(base + "/api/v4/users/me").status == 200, "MM SSO login through Drawbridge reactivates", done)
    finally:
        m.stop()


def test_drawbridge_rc(args):
    r_ = Server("rocketchat_contract_server.py", [
        "--port", str(args.rc_port), "--admin-token", ADMIN, "--admin-user-id", RC_ADMIN_ID,
        "--oauth-name", "drawbridge", "--oauth-url", args.drawbridge.rstrip("/"), "--oauth-client-id", args.rc_client_id,
        "--oauth-client-secret", args.rc_client_secret, "--identity-path", "/oauth/userinfo", "--identity-token-sent-via", "header",
        "--scope", "openid profile email", "--username-field", "preferred_username", "--email-field", "email",
        "--merge-users", "true", "--login-style", "redirect"])
    try:
        base = r_.base
        pre = rc("POST", base, "/api/v1/users.create", {"username": args.username, "email": f"{args.username}@pre-provisioned.invalid",
                                                        "name": args.username, "password": "x", "setRandomPassword": True}).json()["user"]
        b = Browser()
        start = b.get(base + "/_contract_oauth_start/drawbridge?redirectUrl=" + urllib.parse.quote(base + "/home", safe=""))
        resp = b.get(start.location)
        if resp.status == 200:
            resp = drawbridge_sign_in(b, resp, args)
        C.ok(resp.status in (302, 303) and (resp.location or "").startswith(base + "/_oauth/drawbridge?"),
             "Drawbridge redirects back to /_oauth/drawbridge", resp)
        done = b.get(resp.location)
        C.ok(done.status == 302 and b.cookie("rc_uid") == pre["_id"], "RC login through Drawbridge lands on the pre-provisioned account", done)
        u = control(base, "GET", "state").json()["users"].get(pre["_id"], {})
        C.ok(u.get("services", {}).get("drawbridge", {}).get("id") and u["emails"][0]["verified"] is True,
             f"RC services.drawbridge.id = {u.get('services', {}).get('drawbridge', {}).get('id')!r}, email taken from Drawbridge", u.get("emails"))
        me = rc("GET", base, "/api/v1/me", token=b.cookie("rc_token"), user_id=b.cookie("rc_uid"))
        C.ok(me.status == 200, "RC /api/v1/me with the SSO login token", me)
    finally:
        r_.stop()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--drawbridge")
    parser.add_argument("--client-id")
    parser.add_argument("--client-secret")
    parser.add_argument("--username", default="alice")
    parser.add_argument("--password", default="drawbridge-demo")
    parser.add_argument("--mm-port", type=int, default=18065)
    parser.add_argument("--rc-client-id")
    parser.add_argument("--rc-client-secret")
    parser.add_argument("--rc-port", type=int, default=13000)
    args = parser.parse_args()

    provider = FakeProvider()
    m = Server("mattermost_contract_server.py", ["--port", "0", "--admin-token", ADMIN, "--team", "main:general,random",
                                                 "--gitlab-url", provider.base, "--gitlab-client-id", "mm-client",
                                                 "--gitlab-client-secret", "mm-secret", "--enable-api-user-deletion", "false"])
    r_ = Server("rocketchat_contract_server.py", ["--port", "0", "--admin-token", ADMIN, "--admin-user-id", RC_ADMIN_ID])
    try:
        test_mm_rest(m)
        control(m.base, "POST", "config", {"enable_api_user_deletion": True})
        test_mm_listing(m)
        test_mm_indexes(m)
        test_mm_sso(m, provider)
        test_rc_rest(r_)
        test_rc_listing(r_)
        test_rc_sso(r_, provider)
    finally:
        m.stop()
        r_.stop()

    def mm_create(base):
        return mm("POST", base, "/api/v4/users", {"username": "persist", "email": "persist@example.com",
                                                  "auth_service": "gitlab", "auth_data": "77"}).json()["id"]

    def mm_verify(base, ident):
        u = mm("GET", base, "/api/v4/users/username/persist").json() or {}
        return u.get("id") == ident and control(base, "GET", "state").json()["users"][ident]["auth_data"] == "77"

    def rc_create(base):
        return rc("POST", base, "/api/v1/users.create", {"username": "persist", "email": "p@example.com", "name": "P",
                                                         "password": "x"}).json()["user"]["_id"]

    def rc_verify(base, ident):
        return (rc("GET", base, "/api/v1/users.info?username=persist").json() or {}).get("user", {}).get("_id") == ident

    test_persistence("mattermost_contract_server.py", ["--team", "main"], mm_create, mm_verify, "MM")
    test_persistence("rocketchat_contract_server.py", ["--admin-user-id", RC_ADMIN_ID], rc_create, rc_verify, "RC")
    test_restore_indexes(5)
    test_restore_indexes(0)

    if args.drawbridge:
        if not (args.client_id and args.client_secret):
            parser.error("--drawbridge needs --client-id and --client-secret")
        test_drawbridge_mm(args)
        if args.rc_client_id and args.rc_client_secret:
            test_drawbridge_rc(args)

    print(f"selftest: {C.passed} passed, {C.failed} failed")
    return 1 if C.failed else 0


if __name__ == "__main__":
    sys.exit(main())
