#!/usr/bin/env python3
"""Scripted OAuth code flows against Drawbridge, for scripts/bench/oauth.sh.

    oauth-flow.py sessions URL FIRST COUNT PASSWORD        > sessions.txt
        sign in as userFIRST..user(FIRST+COUNT-1) (GET /login for the csrf pair, POST /login);
        prints one drawbridge_session cookie value per line.
    oauth-flow.py tokens URL CLIENT_ID SECRET REDIRECT SCOPE SESSIONS COUNT > tokens.tsv
        COUNT code flows (authorize with a session, round-robin over the SESSIONS file, then
        POST /oauth/token); prints "access_token<TAB>refresh_token" per line.
    oauth-flow.py flows URL CLIENT_ID SECRET REDIRECT SCOPE SESSIONS COUNT [GAP_SECONDS]
        COUNT full flows, one after another: authorize -> token -> GET /api/v4/user, each
        with the next session of the file (so with COUNT <= sessions, a different user each
        time); GAP_SECONDS pause between the three requests of a flow (default 0). Prints
        the number of flows done, the seconds taken, and exits non-zero on any surprise.

One keep-alive connection, standard library only, no redirects followed.
"""
import http.client
import json
import re
import sys
import time
import urllib.parse


def connect(url):
    u = urllib.parse.urlsplit(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=30)


def call(conn, method, path, headers=None, body=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    data = r.read()
    return r.status, r, data


def cookie(resp, name):
    for k, v in resp.getheaders():
        if k.lower() == "set-cookie" and v.startswith(name + "="):
            return v.split(";", 1)[0].split("=", 1)[1]
    return None


def die(msg):
    sys.stderr.write("oauth-flow.py: " + msg + "\n")
    sys.exit(1)


def sessions(url, first, count, password):
    conn = connect(url)
    st, r, body = call(conn, "GET", "/login")
    if st != 200:
        die(f"GET /login -> {st}")
    csrf_cookie = cookie(r, "drawbridge_csrf")
    m = re.search(rb'name="csrf" value="([^"]*)"', body)
    if not csrf_cookie or not m:
        die("no drawbridge_csrf cookie / csrf field in GET /login")
    csrf = m.group(1).decode()
    for n in range(first, first + count):
        form = urllib.parse.urlencode({"username": f"user{n}", "password": password, "csrf": csrf, "rd": "/"})
        st, r, _ = call(conn, "POST", "/login", {"Cookie": "drawbridge_csrf=" + csrf_cookie,
                                                 "Content-Type": "application/x-www-form-urlencoded"}, form)
        s = cookie(r, "drawbridge_session")
        if st != 303 or not s:
            die(f"POST /login as user{n} -> {st} (session cookie: {bool(s)})")
        print(s)


class Client:
    def __init__(self, url, client_id, secret, redirect, scope):
        self.conn = connect(url)
        self.client_id, self.secret, self.redirect, self.scope = client_id, secret, redirect, scope

    def authorize(self, session):
        q = urllib.parse.urlencode({"response_type": "code", "client_id": self.client_id,
                                    "redirect_uri": self.redirect, "scope": self.scope, "state": "x"},
                                   quote_via=urllib.parse.quote)
        st, r, _ = call(self.conn, "GET", "/oauth/authorize?" + q, {"Cookie": "drawbridge_session=" + session})
        loc = r.getheader("Location") or ""
        code = urllib.parse.parse_qs(urllib.parse.urlsplit(loc).query).get("code", [None])[0]
        if st != 302 or not code:
            die(f"authorize -> {st}, Location {loc!r}")
        return code

    def token(self, code):
        form = urllib.parse.urlencode({"grant_type": "authorization_code", "code": code,
                                       "redirect_uri": self.redirect, "client_id": self.client_id,
                                       "client_secret": self.secret})
        st, _, body = call(self.conn, "POST", "/oauth/token",
                           {"Content-Type": "application/x-www-form-urlencoded"}, form)
        if st != 200:
            die(f"token -> {st}: {body[:300]!r}")
        return json.loads(body)

    def user(self, access):
        st, _, body = call(self.conn, "GET", "/api/v4/user", {"Authorization": "Bearer " + access})
        if st != 200:
            die(f"/api/v4/user -> {st}: {body[:300]!r}")
        return json.loads(body)


def read_lines(path):
    with open(path) as f:
        return [line.strip() for line in f if line.strip()]


def main():
    a = sys.argv[1:]
    if not a:
        die("usage: see the docstring")
    if a[0] == "sessions":
        sessions(a[1], int(a[2]), int(a[3]), a[4])
        return
    client = Client(*a[1:6])
    sess = read_lines(a[6])
    count = int(a[7])
    if a[0] == "tokens":
        for i in range(count):
            t = client.token(client.authorize(sess[i % len(sess)]))
            if not t.get("access_token") or not t.get("refresh_token"):
                die(f"token response without access/refresh token: {t}")
            print(t["access_token"] + "\t" + t["refresh_token"])
    elif a[0] == "flows":
        gap = float(a[8]) if len(a) > 8 else 0.0
        start = time.monotonic()
        for i in range(count):
            code = client.authorize(sess[i % len(sess)])
            if gap: time.sleep(gap)
            t = client.token(code)
            if gap: time.sleep(gap)
            u = client.user(t["access_token"])
            if not u.get("username"):
                die(f"/api/v4/user without username: {u}")
            if gap: time.sleep(gap)
        print(f"flows {count} seconds {time.monotonic() - start:.2f}")
    else:
        die("unknown command " + a[0])


if __name__ == "__main__":
    main()
