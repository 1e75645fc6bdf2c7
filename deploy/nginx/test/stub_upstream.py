#!/usr/bin/env python3
"""Stub upstreams for the nginx test: one process, three loopback ports.

  --drawbridge PORT  GET/HEAD /auth/verify answers by cookie, as Drawbridge does:
                     drawbridge_session=good     -> 200 + Remote-User/-Email/-Name/-Groups (alice)
                     drawbridge_session=noemail  -> 200 + Remote-User/-Name/-Groups, no Remote-Email (bob)
                     app_session=platform (and no drawbridge_session)
                                                 -> 200 as for "good", plus the Set-Cookie of a session
                                                    just opened from the platform's cookie
                     anything else               -> 401, or with ?mode=redirect a 302 to
                                                    https://sso.example.com/login?rd=<encoded URL from
                                                    X-Forwarded-Proto/-Host/-Uri> (as Drawbridge does)
                     Every /auth/verify request is appended to --auth-log as one JSON line.
                     Any other path echoes the request and sets a cookie with Domain=example.com.
  --mattermost PORT  echoes the request
  --app PORT         echoes the request

An echo is plain text: `role=…`, `method=…`, `path=…`, `body-bytes=…`, then `h:<lower-case name>=<value>`
for every request header, so a shell test can grep it.
"""

import argparse
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, urlsplit


def make_handler(role, auth_log):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):  # quiet: the test reads the echo, not a log
            pass

        def _body(self):
            length = int(self.headers.get("Content-Length") or 0)
            return self.rfile.read(length) if length else b""

        def _send(self, status, headers, body=b""):
            self.send_response(status)
            for name, value in headers:
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _echo(self, extra_headers=()):
            body = self._body()
            lines = [f"role={role}", f"method={self.command}", f"path={self.path}", f"body-bytes={len(body)}"]
            lines += [f"h:{name.lower()}={value}" for name, value in self.headers.items()]
            self._send(200, [("Content-Type", "text/plain")] + list(extra_headers), ("\n".join(lines) + "\n").encode())

        def _verify(self):
            body = self._body()
            cookies = {}
            for part in (self.headers.get("Cookie") or "").split(";"):
                name, _, value = part.strip().partition("=")
                if name:
                    cookies[name] = value
            record = {
                "method": self.command,
                "path": self.path,
                "body_bytes": len(body),
                "headers": {name.lower(): value for name, value in self.headers.items()},
            }
            with open(auth_log, "a", encoding="utf-8") as log:
                log.write(json.dumps(record) + "\n")
            session = cookies.get("drawbridge_session")
            if session == "good":
                self._send(200, [("Cache-Control", "no-store"), ("Remote-User", "alice"), ("Remote-Email", "alice@example.com"),
                                 ("Remote-Name", "Alice Example"), ("Remote-Groups", "staff")])
            elif session is None and cookies.get("app_session") == "platform":
                self._send(200, [("Cache-Control", "no-store"), ("Remote-User", "alice"), ("Remote-Email", "alice@example.com"),
                                 ("Remote-Name", "Alice Example"), ("Remote-Groups", "staff"),
                                 ("Set-Cookie", "drawbridge_session=fromplatform; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax")])
            elif session == "noemail":
                self._send(200, [("Cache-Control", "no-store"), ("Remote-User", "bob"), ("Remote-Name", "Bob"), ("Remote-Groups", "")])
            elif parse_qs(urlsplit(self.path).query).get("mode") == ["redirect"]:
                original = "{}://{}{}".format(self.headers.get("X-Forwarded-Proto", "https"),
                                              self.headers.get("X-Forwarded-Host", ""), self.headers.get("X-Forwarded-Uri", "/"))
                self._send(302, [("Cache-Control", "no-store"),
                                 ("Location", "https://sso.example.com/login?rd=" + quote(original, safe=""))])
            else:
                self._send(401, [("Cache-Control", "no-store")])

        def _handle(self):
            if role == "drawbridge" and self.path.split("?")[0] == "/auth/verify":
                self._verify()
            elif role == "drawbridge":
                self._echo([("Set-Cookie", "drawbridge_session=abc; Domain=example.com; Path=/; HttpOnly; Secure; SameSite=Lax"),
                            ("Strict-Transport-Security", "max-age=1")])
            else:
                self._echo()

        do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = _handle

    return Handler


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--drawbridge", type=int, required=True)
    parser.add_argument("--mattermost", type=int, required=True)
    parser.add_argument("--app", type=int, required=True)
    parser.add_argument("--auth-log", required=True)
    parser.add_argument("--ready-file", required=True, help="written once every port listens")
    args = parser.parse_args()

    servers = [ThreadingHTTPServer(("127.0.0.1", port), make_handler(role, args.auth_log))
               for role, port in (("drawbridge", args.drawbridge), ("mattermost", args.mattermost), ("app", args.app))]
    threads = [threading.Thread(target=server.serve_forever, daemon=True) for server in servers]
    for thread in threads:
        thread.start()
    with open(args.ready_file, "w", encoding="utf-8") as ready:
        ready.write("ready\n")
    try:
        for thread in threads:
            thread.join()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
