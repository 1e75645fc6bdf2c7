#!/usr/bin/python3
"""The protected apps behind nginx in the browser test (app.example.test and chat.example.test).

Knows nothing about sign-in: it shows, in a small HTML page, which host was asked for and the
identity headers nginx set from Drawbridge's /auth/verify answer (Remote-User, Remote-Email,
Remote-Name, Remote-Groups). A header nginx did not send is shown as "(none)".

    upstream_app.py --port N [--ready-file FILE]

Listens on 127.0.0.1 only; standard library only.
"""
import argparse
import html
import os
import signal
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

IDENTITY_HEADERS = ("Remote-User", "Remote-Email", "Remote-Name", "Remote-Groups")


class Handler(BaseHTTPRequestHandler):
    server_version = "drawbridge-browser-test-app"
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        host = self.headers.get("Host", "")
        rows = [("Host", host), ("Path", self.path)]
        rows += [(name, self.headers.get(name)) for name in IDENTITY_HEADERS]
        items = "\n".join(
            f'<dt>{html.escape(name)}</dt><dd id="{name.lower()}">'
            f'{html.escape(value) if value is not None else "(none)"}</dd>'
            for name, value in rows
        )
        app = host.split(".", 1)[0] or "app"
        body = (
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(app)} (protected test app)</title></head>\n"
            f"<body><h1 id=\"app-title\">Protected app: {html.escape(app)}</h1>\n<dl>\n{items}\n</dl>\n</body></html>\n"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def do_HEAD(self):
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, fmt, *args):
        sys.stderr.write("upstream_app: %s %s\n" % (self.address_string(), fmt % args))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--ready-file", help="written once the socket listens")
    args = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
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
