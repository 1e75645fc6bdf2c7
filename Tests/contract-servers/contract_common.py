"""Shared plumbing for the chat contract servers used in Drawbridge's tests.

These are contract servers, not Mattermost and not Rocket.Chat: they follow
shared/contracts/chat-servers.md (§1, §3 for Mattermost; §4 for Rocket.Chat) and nothing else.
This module holds what both need: the threaded HTTP server, the request/response types, the
test-control API under /__contract__/, the down switch, the call log, --latency-ms, persistence
of state to a JSON file, and the look-up indexes over the stored records (RecordIndexes).
Python 3.11 standard library only.
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


def go_atoi(text):
    """Go's strconv.Atoi: optional sign and ASCII digits only, in int64 range; None where Go returns an error."""
    if text is None or not re.fullmatch(r"[+-]?[0-9]+", text):
        return None
    value = int(text)
    return value if -2 ** 63 <= value < 2 ** 63 else None


def go_parse_bool(text):
    """Go's strconv.ParseBool, with the error case (anything else) read as false, as `x, _ := ParseBool(...)` does."""
    return text in ("1", "t", "T", "TRUE", "true", "True")


# ---------------------------------------------------------------------------------------------
# Look-up indexes

class MultiIndex:
    """key → the ids of the records that have that key (an insertion-ordered set: a dict with None values).
    Unhashable keys are not indexed, and looking one up answers None: the caller then scans, as before."""

    def __init__(self):
        self.buckets = {}

    def add(self, key, record_id):
        try:
            self.buckets.setdefault(key, {})[record_id] = None
        except TypeError:
            pass

    def discard(self, key, record_id):
        try:
            bucket = self.buckets.get(key)
        except TypeError:
            return
        if bucket is not None:
            bucket.pop(record_id, None)
            if not bucket:
                del self.buckets[key]

    def get(self, key):
        try:
            return self.buckets.get(key, {})
        except TypeError:
            return None


class RecordIndexes:
    """Indexes over one id → record dict (the users), kept in step by calling put(id) after every insert, change
    or removal of a record: each request then costs O(1) in the number of records instead of a scan.

    key_functions: {index name: record → iterable of keys}. Records are changed in place, so the keys each record
    was filed under are remembered and removed on the next put. Several records may share a key (the control API
    stores users without checks), so every record also has its rank in the dict's order, and ids() returns the
    ids in that order: the first is the record a scan of the dict would have found first."""

    def __init__(self, key_functions, records):
        self.key_functions = key_functions
        self.records = records
        self.indexes = {name: MultiIndex() for name in key_functions}
        self.keys_of = {}
        self.rank = {}
        self.next_rank = 0
        self.version = 0        # bumped on every put, for caches derived from the records (listing order)
        for record_id in records:
            self.put(record_id)

    def put(self, record_id):
        """Re-file record_id after it was added, changed or removed (a removed id is forgotten)."""
        self.version += 1
        old = self.keys_of.pop(record_id, None)
        if old:
            for name, keys in old.items():
                for key in keys:
                    self.indexes[name].discard(key, record_id)
        record = self.records.get(record_id)
        if record is None:
            self.rank.pop(record_id, None)
            return
        if record_id not in self.rank:      # a replaced record keeps its place, as a dict key does
            self.rank[record_id] = self.next_rank
            self.next_rank += 1
        keys = {name: list(function(record)) for name, function in self.key_functions.items()}
        for name, values in keys.items():
            for key in values:
                self.indexes[name].add(key, record_id)
        self.keys_of[record_id] = keys

    def ids(self, name, key):
        """The ids filed under key in the records' order, or None when the key cannot be hashed (scan instead)."""
        bucket = self.indexes[name].get(key)
        if bucket is None:
            return None
        if len(bucket) <= 1:
            return list(bucket)
        return sorted(bucket, key=self.rank.__getitem__)

    SCAN = object()   # first_id() / first(): "the key cannot be hashed: scan the records instead"

    def first_id(self, name, key, accept=lambda record: True):
        """The id of the first record (in the dict's order) filed under key that accept() takes, None if there is
        none, RecordIndexes.SCAN if the key cannot be hashed."""
        ids = self.ids(name, key)
        if ids is None:
            return RecordIndexes.SCAN
        return next((record_id for record_id in ids if accept(self.records[record_id])), None)

    def first(self, name, key, accept=lambda record: True):
        """As first_id, but the record itself."""
        record_id = self.first_id(name, key, accept)
        if record_id is None or record_id is RecordIndexes.SCAN:
            return record_id
        return self.records[record_id]

    def differences(self):
        """What differs from indexes built afresh over the same records ([] when in step)."""
        fresh = RecordIndexes(self.key_functions, self.records)
        problems = []
        for name in self.key_functions:
            mine = {k: set(v) for k, v in self.indexes[name].buckets.items()}
            theirs = {k: set(v) for k, v in fresh.indexes[name].buckets.items()}
            if mine != theirs:
                wrong = sorted(str(k) for k in set(mine) | set(theirs) if mine.get(k) != theirs.get(k))
                problems.append(f"index {name!r} out of step for keys {wrong[:5]}")
        if sorted(self.rank, key=self.rank.__getitem__) != list(self.records):
            problems.append("record order out of step")
        if set(self.keys_of) != set(self.records):
            problems.append("indexed ids differ from stored ids")
        return problems


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
        self.state_dirty = False
        self.state_write_seconds = 0.0
        self.state_writer = None
        self.state_wakeup = threading.Event()
        self.state_closed = False
        self.config = self.initial_config()
        self.data = self.fresh_data()
        self.load_state()
        self.rebuild_indexes()
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
        """Called (under the lock) after every change. Without --state it does nothing. With it, the whole state
        is written at once, as long as one write takes at most --state-sync-budget-ms (small states: every test).
        Past that, writing everything on every change would make each request O(number of users), so the writes
        are coalesced: a background thread writes at most once per ~10 write-times (≥ 0.2 s), and the last write
        is made when the server stops (SIGTERM/SIGINT). Only a SIGKILL can then lose the last changes."""
        if not self.args.state:
            return
        with self.lock:
            self.state_dirty = True
            if self.state_closed or self.state_write_seconds * 1000 <= getattr(self.args, "state_sync_budget_ms", 5.0):
                self.flush_state()
                return
            if self.state_writer is None:
                self.state_writer = threading.Thread(target=self._state_writer_loop, name="state-writer", daemon=True)
                self.state_writer.start()
        self.state_wakeup.set()

    def flush_state(self):
        """Write the state file now if anything changed since the last write."""
        path = self.args.state
        if not path:
            return
        with self.lock:
            if not self.state_dirty:
                return
            started = time.perf_counter()
            directory = os.path.dirname(os.path.abspath(path))
            fd, temporary = tempfile.mkstemp(prefix=".contract-state-", dir=directory)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.persisted(), handle, indent=1, sort_keys=True)
            os.replace(temporary, path)
            self.state_dirty = False
            self.state_write_seconds = time.perf_counter() - started

    def _state_writer_loop(self):
        while True:
            self.state_wakeup.wait()
            if self.state_closed:
                return
            time.sleep(max(0.2, 10 * self.state_write_seconds))
            self.state_wakeup.clear()
            self.flush_state()

    def close(self):
        """At shutdown: the last (coalesced) write."""
        with self.lock:
            self.state_closed = True
            self.flush_state()
        self.state_wakeup.set()

    def persisted(self):
        return self.data

    def restore(self, saved):
        self.data.update(saved)

    # -- indexes (subclasses keep theirs in step with self.data) --
    def rebuild_indexes(self):
        """Called whenever self.data is replaced as a whole (start, --state restore, reset)."""

    def index_problems(self):
        """With --check-indexes, checked after every request: [] when the indexes match a fresh build."""
        return []

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
                self.rebuild_indexes()
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
        response, logged = self._dispatch(request)
        if getattr(self.args, "check_indexes", False):
            with self.lock:
                problems = self.index_problems()
            if problems:
                print(f"{self.product}-contract: indexes out of step after {request.method} {request.path}: {problems}", file=sys.stderr)
                return self.error(500, "contract.index_mismatch", "contract server bug: " + "; ".join(problems)), logged
        return response, logged

    def _dispatch(self, request):
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
    parser.add_argument("--state-sync-budget-ms", type=float, default=5.0,
                        help="with --state: write the file on every change while one write takes at most this long; "
                             "past it, coalesce writes in the background (and write at shutdown)")
    parser.add_argument("--check-indexes", action="store_true",
                        help="after every request, check the look-up indexes against a fresh build (slow; for self-tests)")
    parser.add_argument("--verbose", action="store_true", help="access log on stderr")


class ContractHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: a client opening 16 connections at once while the accepting
    # thread waits for the GIL overflowed it (kernel "SYN flooding … Sending cookies", some connections reset).
    # Go's net/http listens with the system's somaxconn, Node with 511.
    request_queue_size = 128


def serve(app_class, args):
    server = ContractHTTPServer((args.host, args.port), Handler)
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
    # Blocked signals are inherited too: Foundation's Process started from a Dispatch thread (every Swift test)
    # passes on a mask with SIGTERM blocked, and terminate() then went unheard until the caller's SIGKILL.
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGTERM, signal.SIGINT})
    print(f"LISTENING {port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        server.app.close()
