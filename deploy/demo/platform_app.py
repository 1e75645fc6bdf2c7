#!/usr/bin/env python3
"""The quickstart's demo platform: a stand-in for *your* web platform's backend, showing the hand-off.

It lists the platform's demo users and, for one you pick, does what a real platform backend does for its
signed-in user: POST /api/v1/handoff to Drawbridge with its service token, asking for a one-time URL that
ends on Drawbridge's launch link for chat, then redirects the browser there. The browser gets Drawbridge's
session cookie and lands in chat signed in, with no second form. "Sign out" does what the platform's
sign-out does: POST /api/v1/logout, which ends the user's Drawbridge sessions and their chat sessions.

This demo signs nobody in itself ("pretend you are signed in as ..."): a real platform only hands over the
user its own login has already verified. Standard library only.

  deploy/demo/platform_app.py --port 8081 --drawbridge http://127.0.0.1:8080 --token-file FILE [--launch mattermost]
"""
import argparse
import html
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USERS = [("alice", "bcrypt"), ("bob", "Django pbkdf2_sha256"), ("carol", "argon2id"), ("dave", "sha512-crypt"),
         ("erin", "yescrypt"), ("frank", "inactive: Drawbridge refuses the hand-off")]


def page(body):
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Demo platform</title>
<style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}}
button{{font-size:1rem;margin:.2rem 0}} .note{{color:#555}} pre{{background:#f4f4f4;padding:.6rem;white-space:pre-wrap}}</style>
</head><body>{body}</body></html>""".encode()


class Handler(BaseHTTPRequestHandler):
    server_version = "demo-platform"

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

    def do_GET(self):
        if urllib.parse.urlsplit(self.path).path != "/":
            return self.send(404, page("<p>Not found.</p>"))
        buttons = "".join(
            f'<form method="post" action="/open-chat"><input type="hidden" name="user" value="{u}">'
            f'<button>Open chat as {u}</button> <button formaction="/sign-out">Sign out {u}</button>'
            f' <span class="note">({html.escape(note)})</span></form>'
            for u, note in USERS)
        self.send(200, page(f"""<h1>Demo platform</h1>
<p>This stands in for your web platform. Pretend you are signed in to it as one of its users, then press
<em>Open chat</em>: the platform's backend asks Drawbridge (<code>POST /api/v1/handoff</code>) for a one-time
sign-in URL that ends on <code>/launch/{html.escape(self.server.launch)}</code>, and sends your browser there.
<em>Sign out</em> tells Drawbridge (<code>POST /api/v1/logout</code>) that the user signed out of the
platform: chat signs them out too.</p>
{buttons}"""))

    def do_POST(self):
        if self.path not in ("/open-chat", "/sign-out"):
            return self.send(404, page("<p>Not found.</p>"))
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(min(length, 4096)).decode())
        user = (form.get("user") or [""])[0]
        if self.path == "/sign-out":
            answer = self.call("/api/v1/logout", {"user": user}, "sign-out")
            if isinstance(answer, dict):
                self.send(200, page(f"<h1>{html.escape(user)} signed out</h1><p>Drawbridge answered:</p>"
                                    f"<pre>{html.escape(json.dumps(answer))}</pre><p><a href='/'>Back</a></p>"))
            return
        answer = self.call("/api/v1/handoff", {"user": user, "redirect": "/launch/" + self.server.launch}, "hand-off")
        if isinstance(answer, dict):
            # The one-time URL is built from Drawbridge's public_url; send the browser to it.
            self.send(303, headers=[("Location", answer["url"])])

    def call(self, path, body, what):
        """POSTs to Drawbridge's service API with the token; the JSON answer, or None once an error page went out."""
        request = urllib.request.Request(
            self.server.drawbridge + path, method="POST", data=json.dumps(body).encode(),
            headers={"Authorization": "Bearer " + self.server.token, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            self.send(error.code, page(f"<h1>Drawbridge refused the {what}</h1><pre>{error.code} {html.escape(detail)}</pre><p><a href='/'>Back</a></p>"))
        except OSError as error:
            self.send(502, page(f"<h1>Drawbridge did not answer</h1><pre>{html.escape(str(error))}</pre>"))
        return None

    def log_message(self, fmt, *args):
        sys.stderr.write("demo-platform: " + fmt % args + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081)
    parser.add_argument("--drawbridge", required=True, help="Drawbridge's base URL as the backend reaches it")
    parser.add_argument("--token-file", required=True, help="file holding the service token (drawbridge tokens add)")
    parser.add_argument("--launch", default="mattermost", help="connector whose launch link the hand-off ends on")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.drawbridge = args.drawbridge.rstrip("/")
    server.launch = args.launch
    with open(args.token_file, encoding="utf-8") as handle:
        server.token = handle.read().strip()
    print(f"demo platform on http://{args.host}:{args.port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
