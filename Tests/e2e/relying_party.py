#!/usr/bin/env python3
"""A relying party's back-channel logout endpoint, for Drawbridge's logout tests.

Not any product: it records what OIDC Back-Channel Logout 1.0 §2.5 says an OP sends (a form POST with
`logout_token`) and answers as the spec says an RP does (200, `Cache-Control: no-store`), or with the
status the test asks for. Prints `LISTENING <port>` when ready, like the contract servers, and shows
what it received at GET /__contract__/state as {"requests": [{"path", "content_type", "form"}]}.
Arguments: --port N (0: any free port), --status N (the answer to every POST), --admin-token (ignored;
accepted so the test harness can start it like a contract server). Python 3 standard library only.
"""
import argparse
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

received = []
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    status = 200

    def log_message(self, *args):
        pass

    def answer(self, status, body=b"", content_type="text/plain"):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Cache-Control", "no-store")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length).decode("utf-8", "replace")
        form = {k: v[0] for k, v in urllib.parse.parse_qs(body, keep_blank_values=True).items()}
        with lock:
            received.append({"path": self.path, "content_type": self.headers.get("Content-Type", ""), "form": form})
        self.answer(Handler.status)

    def do_GET(self):
        if self.path == "/__contract__/state":
            with lock:
                state = json.dumps({"requests": received}).encode()
            return self.answer(200, state, "application/json")
        self.answer(404)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--status", type=int, default=200)
    parser.add_argument("--admin-token", default="")
    args = parser.parse_args()
    Handler.status = args.status
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    print(f"LISTENING {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    sys.exit(0)


if __name__ == "__main__":
    main()
