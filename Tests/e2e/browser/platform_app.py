#!/usr/bin/python3
"""The platform in the browser test's platform-first flow (app.example.test, not behind auth_request).

A stand-in for the platform Drawbridge serves: its own sign-in against its own tables in its own
Postgres database, and its own session cookie on the shared parent domain, as a real platform has them.

  GET  /         who is signed in (by the app_session cookie and the web_sessions table), with a
                 "Sign out" button; not signed in: 303 to /login
  GET  /login    the platform's sign-in form (username, password)
  POST /login    checks the password against public.accounts (crypt(3): bcrypt, yescrypt, ... via
                 libcrypt), then INSERTs a row into public.web_sessions (session_key = hex SHA-256
                 of a new random cookie value, account_id, expires_at = now() + 1 hour) and sets
                 `app_session=<value>; Domain=<domain>; Path=/; Secure; HttpOnly; SameSite=Lax`;
                 303 to /. A wrong password: the form again, 401.
  POST /logout   DELETEs this cookie's row from public.web_sessions and expires the cookie; 303 to /login

The tables (the caller creates them in the platform database):

  public.accounts(id bigint, login text, password_hash text, is_active boolean)
  public.web_sessions(session_key text, account_id bigint, expires_at timestamptz)

    platform_app.py --port N --database-url postgres://... [--cookie-domain example.test] [--ready-file F]

Talks to Postgres through psql (every SQL value a psql variable, quoted by psql); standard library
otherwise. Listens on 127.0.0.1 only. No CSRF protection: it is a test stand-in, not a platform.
"""
import argparse
import ctypes
import hashlib
import html
import os
import secrets
import signal
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

COOKIE = "app_session"

_crypt_lock = threading.Lock()
_libcrypt = None


def password_matches(password, stored):
    """crypt(3) from libxcrypt (every format Debian's libcrypt knows), constant-time comparison."""
    global _libcrypt
    if not stored or not stored.startswith("$"):
        return False
    with _crypt_lock:  # crypt() returns a static buffer
        if _libcrypt is None:
            _libcrypt = ctypes.CDLL("libcrypt.so.1")
            _libcrypt.crypt.restype = ctypes.c_char_p
            _libcrypt.crypt.argtypes = [ctypes.c_char_p, ctypes.c_char_p]
        result = _libcrypt.crypt(password.encode(), stored.encode())
    return result is not None and secrets.compare_digest(result, stored.encode())


class Platform:
    def __init__(self, database_url, cookie_domain):
        self.database_url = database_url
        self.cookie_domain = cookie_domain

    def sql(self, statement, **variables):
        """Rows of `statement` (psql variables as :'name'), each a list of text fields."""
        command = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", self.database_url]
        for name, value in variables.items():
            command += ["-v", f"{name}={value}"]
        result = subprocess.run(command, input=statement, capture_output=True, text=True, timeout=20)
        if result.returncode != 0:
            raise RuntimeError(f"psql failed: {result.stderr.strip()}")
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    @staticmethod
    def key(cookie):
        return hashlib.sha256(cookie.encode()).hexdigest()

    def sign_in(self, login, password):
        """A new session's cookie value, or None."""
        rows = self.sql("SELECT id, coalesce(password_hash, ''), is_active FROM public.accounts "
                        "WHERE lower(login) = lower(:'login');", login=login)
        if len(rows) != 1 or rows[0][2] != "t" or not password_matches(password, rows[0][1]):
            return None
        cookie = secrets.token_urlsafe(32)
        self.sql("INSERT INTO public.web_sessions (session_key, account_id, expires_at) "
                 "VALUES (:'key', :'account', now() + interval '1 hour');", key=self.key(cookie), account=rows[0][0])
        return cookie

    def who(self, cookie):
        if not cookie:
            return None
        rows = self.sql("SELECT a.login FROM public.web_sessions s JOIN public.accounts a ON a.id = s.account_id "
                        "WHERE s.session_key = :'key' AND s.expires_at > now();", key=self.key(cookie))
        return rows[0][0] if rows else None

    def sign_out(self, cookie):
        if cookie:
            self.sql("DELETE FROM public.web_sessions WHERE session_key = :'key';", key=self.key(cookie))

    def set_cookie(self, value, max_age):
        return (f"{COOKIE}={value}; Domain={self.cookie_domain}; Path=/; Max-Age={max_age}; Secure; HttpOnly; "
                "SameSite=Lax")


def page(title, body):
    return ("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title></head>\n<body><h1 id=\"platform-title\">{html.escape(title)}</h1>\n"
            f"{body}\n</body></html>\n").encode()


def login_page(error=None, username=""):
    alert = f'<p role="alert" id="platform-error">{html.escape(error)}</p>\n' if error else ""
    return page("Platform sign-in", alert + (
        '<form id="platform-login" method="post" action="/login">\n'
        f'<label>User name <input name="username" autocomplete="username" value="{html.escape(username, quote=True)}"></label>\n'
        '<label>Password <input name="password" type="password" autocomplete="current-password"></label>\n'
        '<button type="submit">Sign in to the platform</button>\n</form>'))


def make_handler(platform):
    class Handler(BaseHTTPRequestHandler):
        server_version = "drawbridge-browser-test-platform"
        protocol_version = "HTTP/1.1"

        def cookie(self):
            for part in (self.headers.get("Cookie") or "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == COOKIE:
                    return value
            return None

        def send(self, status, body=b"", headers=()):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            if body:
                self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def form(self):
            length = int(self.headers.get("Content-Length") or 0)
            fields = parse_qs(self.rfile.read(length).decode(), keep_blank_values=True)
            return {name: values[0] for name, values in fields.items()}

        def do_GET(self):
            path = self.path.split("?", 1)[0]
            if path == "/login":
                self.send(200, login_page())
            elif path == "/":
                login = platform.who(self.cookie())
                if login is None:
                    self.send(303, headers=[("Location", "/login")])
                    return
                self.send(200, page("Platform home", (
                    f'<p>Signed in to the platform as <span id="platform-user">{html.escape(login)}</span>.</p>\n'
                    '<form id="platform-logout" method="post" action="/logout">'
                    '<button type="submit">Sign out</button></form>')))
            else:
                self.send(404, page("Not found", ""))

        def do_POST(self):
            path = self.path.split("?", 1)[0]
            try:
                if path == "/login":
                    fields = self.form()
                    username = fields.get("username", "")
                    cookie = platform.sign_in(username, fields.get("password", ""))
                    if cookie is None:
                        self.send(401, login_page("Wrong user name or password.", username))
                    else:
                        self.send(303, headers=[("Location", "/"), ("Set-Cookie", platform.set_cookie(cookie, 3600))])
                elif path == "/logout":
                    self.form()
                    platform.sign_out(self.cookie())
                    self.send(303, headers=[("Location", "/login"), ("Set-Cookie", platform.set_cookie("", 0))])
                else:
                    self.send(404, page("Not found", ""))
            except Exception as e:  # shown to the driver, which prints the page on failure
                sys.stderr.write(f"platform_app: {e}\n")
                self.send(500, page("Platform error", f"<pre>{html.escape(str(e))}</pre>"))

        def log_message(self, fmt, *args):
            sys.stderr.write("platform_app: %s %s\n" % (self.address_string(), fmt % args))

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--database-url", required=True, help="the platform's Postgres database (psql conninfo or URL)")
    parser.add_argument("--cookie-domain", default="example.test")
    parser.add_argument("--ready-file", help="written once the socket listens")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), make_handler(Platform(args.database_url, args.cookie_domain)))
    server.daemon_threads = True
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    if args.ready_file:
        with open(args.ready_file + ".tmp", "w") as f:
            f.write(str(os.getpid()))
        os.replace(args.ready_file + ".tmp", args.ready_file)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
