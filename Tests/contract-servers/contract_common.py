"""Shared plumbing for the chat contract servers used in Drawbridge's tests.

These are contract servers, not Mattermost and not Rocket.Chat: they follow
shared/contracts/chat-servers.md (§1, §3 for Mattermost; §4 for Rocket.Chat) and nothing else.
This module holds what both need: the threaded HTTP server, the request/response types, the
test-control API under /__contract__/, the down switch, the call log, --latency-ms, and
persistence of state to a JSON file. Python 3.11 standard library only.
"""
import argparse
import json
import signal
import os
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CONTROL_PREFIX = "/__contract__/"


# ---------------------------------------------------------------------------------------------
# Small helpers

def go_query_escape(value):
    """Go's url.QueryEscape: everything except A-Z a-z 0-9 - _ . ~ is %XX, and space is '+'."""
    return urllib.parse.quote_plus(value, safe="")


def go_query(query):
    """Go's url.Query(): '&'-separated, '+' means space; Get() returns the first value."""
    parsed = urllib.parse.parse_qs(query or "", keep_blank_values=True)
    return {name: values[0] for name, values in parsed.items()}


def bool_arg(text):
    lowered = str(text).strip().lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def now_ms():
    return int(time.time() * 1000)


def html_escape(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;").replace("'", "&#39;"))


def parse_cookies(header):
    """Cookie header → {name: value} (first occurrence wins, like Go's r.Cookie)."""
    cookies = {}
    for part in (header or "").split(";"):
        if "=" not in part:
            continue
        name, value = part.split("=", 1)
        name, value = name.strip(), value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        if name and name not in cookies:
            cookies[name] = value
    return cookies


def format_cookie(name, value, path="/", max_age=None, http_only=False, secure=False, domain=None, same_site=None):
    """A Set-Cookie value laid out the way Go's http.Cookie.String() does."""
    parts = [f"{name}={value}"]
    if path:
        parts.append(f"Path={path}")
    if domain:
        parts.append(f"Domain={domain}")
    if max_age is not None:
        if max_age > 0:
            expires = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + max_age))
            parts.append(f"Expires={expires}")
            parts.append(f"Max-Age={max_age}")
        else:
            parts.append("Max-Age=0")
    if http_only:
        parts.append("HttpOnly")
    if secure:
        parts.append("Secure")
    if same_site:
        parts.append(f"SameSite={same_site}")
    return "; ".join(parts)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http_call(method, url, headers=None, body=None, timeout=30, follow_redirects=True):
    """One outgoing HTTP request. Returns (status, headers, body bytes); raises OSError on transport failure."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    handlers = [] if follow_redirects else [NoRedirect()]
    opener = urllib.request.build_opener(*handlers)
    try:
        with opener.open(request, timeout=timeout) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        data = error.read() if error.fp else b""
        return error.code, error.headers, data


# ---------------------------------------------------------------------------------------------
# Request / response

class Request:
    def __init__(self, handler, method, raw_path, body):
        self.method = method
        split = urllib.parse.urlsplit(raw_path)
        self.path = split.path
        self.raw_query = split.query
        self.query = go_query(split.query)
        self.headers = handler.headers
        self.body = body
        self.cookies = parse_cookies(handler.headers.get("Cookie"))
        self.client = handler.client_address

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def json(self):
        """The body parsed as JSON; raises ValueError on anything else."""
        if not self.body:
            raise ValueError("empty body")
        return json.loads(self.body.decode("utf-8"))


class Response:
    def __init__(self, status=200, body=b"", content_type=None, headers=None):
        self.status = status
        self.headers = list(headers or [])
        if isinstance(body, str):
            body = body.encode("utf-8")
        self.body = body
        if content_type:
            self.headers.append(("Content-Type", content_type))

    def add(self, name, value):
        self.headers.append((name, value))
        return self


def json_response(value, status=200, headers=None):
    return Response(status, json.dumps(value, separators=(",", ":")) + "\n", "application/json", headers)


def html_response(html, status=200, headers=None):
    return Response(status, html, "text/html; charset=utf-8", headers)


def redirect(location, status=302, headers=None):
    response = Response(status, b"", None, headers)
    response.add("Location", location)
    return response


class Router:
    """(method, regex) → handler(request, **groups). Patterns are anchored; first match wins."""

    def __init__(self):
        self.routes = []

    def add(self, method, pattern, handler):
        self.routes.append((method, re.compile("^" + pattern + "$"), handler))

    def match(self, method, path):
        allowed = False
        for route_method, regex, handler in self.routes:
            found = regex.match(path)
            if found:
                if route_method == method:
                    return handler, found.groupdict(), True
                allowed = True
        return None, None, allowed


# ---------------------------------------------------------------------------------------------
# The application base: control API, down switch, call log, persistence

class ContractApp:
    """Subclasses define: build_routes(router), error(status, id, message), down_response(),
    fresh_data(), seed_user(body), create_session(body), public_config keys in self.config."""

    product = "chat"

    def __init__(self, args):
        self.args = args
        self.lock = threading.RLock()
        self.verbose = args.verbose
        self.site_url = (args.site_url or "").rstrip("/")
        self.calls = []
        self.down_until = 0.0
        self.clock_offset = 0.0
        self.config = self.initial_config()
        self.data = self.fresh_data()
        self.load_state()
        self.router = Router()
        self.build_routes(self.router)

    # -- time (the control API can move the clock forward to test expiry) --
    def now(self):
        return time.time() + self.clock_offset

    def now_ms(self):
        return int(self.now() * 1000)

    # -- persistence --
    def load_state(self):
        path = self.args.state
        if path and os.path.exists(path) and os.path.getsize(path) > 0:
            with open(path, "r", encoding="utf-8") as handle:
                saved = json.load(handle)
            self.restore(saved)

    def save(self):
        """Called (under the lock) after every change."""
        path = self.args.state
        if not path:
            return
        directory = os.path.dirname(os.path.abspath(path))
        fd, temporary = tempfile.mkstemp(prefix=".contract-state-", dir=directory)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(self.persisted(), handle, indent=1, sort_keys=True)
        os.replace(temporary, path)

    def persisted(self):
        return self.data

    def restore(self, saved):
        self.data.update(saved)

    # -- latency for benchmarks --
    def simulate_latency(self):
        latency = self.config.get("latency_ms", 0) or 0
        if latency > 0:
            time.sleep(latency / 1000.0)

    # -- control API --
    def control(self, request):
        path = request.path[len(CONTROL_PREFIX):].rstrip("/")
        method = request.method
        try:
            body = request.json() if request.body else {}
        except ValueError:
            return json_response({"error": "the body must be JSON"}, 400)
        with self.lock:
            if path == "state" and method == "GET":
                return json_response(self.state_view())
            if path == "down" and method == "POST":
                seconds = body.get("seconds", 3600) if isinstance(body, dict) else 3600
                self.down_until = time.time() + float(seconds)
                return json_response({"down_until": self.down_until})
            if path == "up" and method == "POST":
                self.down_until = 0.0
                return json_response({"down_until": 0})
            if path == "reset" and method == "POST":
                self.data = self.fresh_data()
                self.config = self.initial_config()
                self.calls = []
                self.down_until = 0.0
                self.clock_offset = 0.0
                self.save()
                return json_response({"reset": True})
            if path == "users" and method == "POST":
                if not isinstance(body, dict):
                    return json_response({"error": "expected a JSON object"}, 400)
                try:
                    user = self.seed_user(body)
                except ValueError as error:
                    return json_response({"error": str(error)}, 400)
                self.save()
                return json_response(user, 201)
            if path == "sessions" and method == "POST":
                try:
                    session = self.create_session(body if isinstance(body, dict) else {})
                except ValueError as error:
                    return json_response({"error": str(error)}, 400)
                self.save()
                return json_response(session, 201)
            if path == "calls" and method == "GET":
                prefix = request.query.get("path_prefix", "")
                return json_response([call for call in self.calls if call["path"].startswith(prefix)])
            if path == "calls" and method == "DELETE":
                self.calls = []
                return json_response({"cleared": True})
            if path == "clock" and method == "POST":
                self.clock_offset += float(body.get("advance_seconds", 0))
                return json_response({"clock_offset_seconds": self.clock_offset})
            if path == "config" and method == "GET":
                return json_response(self.config)
            if path == "config" and method == "POST":
                unknown = sorted(set(body) - set(self.config)) if isinstance(body, dict) else ["<not an object>"]
                if unknown:
                    return json_response({"error": f"unknown config keys: {unknown}", "known": sorted(self.config)}, 400)
                self.config.update(body)
                self.config_changed()
                return json_response(self.config)
        return json_response({"error": f"no control endpoint {method} {request.path}"}, 404)

    def config_changed(self):
        pass

    def state_view(self):
        view = json.loads(json.dumps(self.data))
        view["config"] = self.config
        view["down"] = self.is_down()
        return view

    def is_down(self):
        return time.time() < self.down_until

    # -- dispatch --
    def dispatch(self, request):
        # A SiteURL with a path (https://host/chat) serves its routes under that path, as Mattermost does.
        prefix = urllib.parse.urlsplit(self.site_url).path.rstrip("/")
        if prefix and (request.path == prefix or request.path.startswith(prefix + "/")):
            request.path = request.path[len(prefix):] or "/"
        if request.path.startswith(CONTROL_PREFIX):
            return self.control(request), False
        if self.is_down():
            return self.down_response(), True
        handler, params, allowed = self.router.match(request.method, request.path)
        if handler is None:
            return self.not_found(request, allowed), True
        params = {name: urllib.parse.unquote(value) for name, value in params.items()}  # path values are %-decoded
        try:
            return handler(request, **params), True
        except Exception as error:  # a bug in the contract server: report it loudly, as JSON
            import traceback
            traceback.print_exc(file=sys.stderr)
            return self.error(500, "contract.internal_error", f"contract server bug: {type(error).__name__}: {error}"), True

    def log_call(self, request, status):
        with self.lock:
            self.calls.append({"method": request.method, "path": request.path, "query": request.raw_query,
                               "status": status, "at": round(time.time(), 3)})


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # TCP_NODELAY, as Go's net/http (Mattermost) and Node (Rocket.Chat) set it: without it, a response written
    # as headers then body waits ~40 ms for the client's delayed ACK, and every call looks that slow.
    disable_nagle_algorithm = True
    def version_string(self):
        return "contract-server"

    def _read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size_line = self.rfile.readline().strip()
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline().strip():
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self):
        app = self.server.app
        body = self._read_body()
        request = Request(self, self.command, self.path, body)
        response, logged = app.dispatch(request)
        if logged:
            app.log_call(request, response.status)
        self.send_response(response.status)
        for name, value in response.headers:
            self.send_header(name, value)
        payload = b"" if self.command == "HEAD" else response.body
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle

    def log_message(self, format, *args):
        if self.server.app.verbose:
            sys.stderr.write("%s - %s\n" % (self.address_string(), format % args))


def common_arguments(parser):
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (printed as LISTENING <port>)")
    parser.add_argument("--admin-token", default="contract-admin-token", help="the admin credential the REST API accepts")
    parser.add_argument("--site-url", default="", help="the URL this server believes it is at (default http://127.0.0.1:<port>)")
    parser.add_argument("--latency-ms", type=int, default=0, help="sleep this long on every REST call under /api/")
    parser.add_argument("--state", default="", help="JSON file that keeps the data across restarts")
    parser.add_argument("--verbose", action="store_true", help="access log on stderr")


def serve(app_class, args):
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    server.daemon_threads = True
    port = server.server_address[1]
    if not args.site_url:
        args.site_url = f"http://127.0.0.1:{port}"
    server.app = app_class(args)
    # A parent (a test runner) may have left SIGTERM ignored, which children inherit: claim it back,
    # so the usual way of stopping a server works.
    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"LISTENING {port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
