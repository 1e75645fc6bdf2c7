#!/usr/bin/python3
"""Cookie SSO across subdomains, proved with a real browser through a real reverse proxy.

Starts, under --work-dir, a private nginx serving deploy/nginx/drawbridge.conf (rendered by
deploy/nginx/test/render.sh, adapted as render_site() describes) with TLS on 127.0.0.1:--nginx-port
for three hosts:

  sso.example.test   -> Drawbridge (127.0.0.1:--drawbridge-port), started by the caller
  app.example.test   -> upstream_app.py behind auth_request to Drawbridge's /auth/verify
  chat.example.test  -> the same app, the same auth_request (a stand-in for the chat subdomain)

then drives Debian's chromium (headless, fresh profile, every *.example.test mapped to 127.0.0.1,
nothing else resolvable) with Selenium through sign-in, the shared-domain cookie, a second
subdomain, sign-out and open-redirect attempts. Drawbridge must run with

  public_url: https://sso.example.test:<nginx port>
  session: { cookie_domain: example.test }
  trusted_proxies: [127.0.0.1/32]

Run with Debian's interpreter (python3-selenium, chromium, chromium-driver, nginx, openssl):

  /usr/bin/python3 Tests/e2e/browser/sso_browser_flow.py --drawbridge-port 8080 --nginx-port 8443 \\
      --work-dir /tmp/browser-e2e --username alice --password 'correct horse battery staple'

With --platform-first (and --platform-database-url) it runs the platform-first flow instead:
app.example.test is the platform (platform_app.py, its own sign-in, its own web_sessions table and
app_session cookie, no auth_request), and Drawbridge, configured with platform_session (cookie_name
app_session, hash sha256, recheck_interval 1s), must open chat.example.test with no form and follow
the platform's sign-out.

With --handoff-launch (and --service-token, --mattermost-port) it runs the hand-off flow instead: the
driver, as the platform's backend, asks POST /api/v1/handoff (through nginx) for a one-time URL whose
redirect is the Mattermost launch link; chat.example.test is the production chat block passing requests
to the Mattermost contract server (a stand-in), and the browser that opens the URL must end in chat,
signed in, without any form, through exactly the expected redirect chain; a second browser gets the
"expired" page and no cookie.

Prints `ok: ...` per check and `passed: N checks ...`; on the first failure `FAIL: ...` with the
browser's URL and page text, a screenshot (failure.png) and the page (failure.html) in the work
directory, exit 1. Bad arguments or a missing tool: exit 2. nginx, the app, chromedriver and
chromium are always stopped before exiting (also on failure, Ctrl-C and SIGTERM; on SIGKILL,
nginx, the app and chromedriver still go, through PR_SET_PDEATHSIG).
"""
import argparse
import ctypes
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, quote, urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.normpath(os.path.join(HERE, "..", "..", ".."))
DOMAIN = "example.test"
SSO, APP, CHAT = f"sso.{DOMAIN}", f"app.{DOMAIN}", f"chat.{DOMAIN}"
# The production file's hosts, and the name the test uses instead.
HOUSE_DOMAIN = "example.com"


def authority(host, port):
    """host[:port] as browsers write it: no port when it is https's default."""
    return host if port == 443 else f"{host}:{port}"


class CheckFailed(Exception):
    pass


class SetupFailed(Exception):
    pass


# --------------------------------------------------------------------------------------------------
# Processes

def _die_with_parent():
    """In the child before exec: SIGTERM when the driver dies, even by SIGKILL (Linux)."""
    try:
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def free_ports(count):
    """`count` different loopback ports nothing listens on (all bound at once, then released)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def port_open(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def children_of(pid):
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
            # pid (comm) state ppid ...: comm may contain spaces and parentheses
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == pid:
            kids.append(int(entry))
    return kids


def pids_with_argument(argument):
    """Processes whose command line contains `argument` exactly (our unique profile directory)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if argument.encode() in args:
            found.append(int(entry))
    return found


# Runs beside the driver: when the driver's end of the pipe closes (normal exit, crash, SIGKILL), it
# kills whatever still runs with the driver's chromium profile or home directory in an argument.
# chromium is started by chromedriver, not by us, so PR_SET_PDEATHSIG cannot reach it.
REAPER = r"""
import os, signal, sys
markers = [m.encode() for m in sys.argv[1:]]
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sys.stdin.buffer.read()
for entry in os.listdir("/proc"):
    if entry.isdigit() and int(entry) != os.getpid():
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                args = f.read().split(b"\0")
            if any(m in a for m in markers for a in args):
                os.kill(int(entry), signal.SIGKILL)
        except OSError:
            pass
"""


def stop_process(proc, name, first_signal=signal.SIGTERM, grace=5.0):
    """Stops a child we started (and, for nginx, its workers) by process id."""
    if proc is None or proc.poll() is not None:
        return
    kids = children_of(proc.pid)
    try:
        proc.send_signal(first_signal)
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        print(f"note: {name} (pid {proc.pid}) ignored {first_signal.name}; killing it", file=sys.stderr)
        proc.kill()
        proc.wait(timeout=5)
    except ProcessLookupError:
        pass
    for kid in kids:
        try:
            os.kill(kid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# --------------------------------------------------------------------------------------------------
# nginx configuration

def _comment_mask(text):
    """`text` with every comment replaced by spaces (same length, same offsets)."""
    out, i, quote_char, n = list(text), 0, None, len(text)
    while i < n:
        c = text[i]
        if quote_char:
            if c == "\\":
                i += 2
                continue
            if c == quote_char:
                quote_char = None
        elif c in "\"'":
            quote_char = c
        elif c == "#":
            while i < n and text[i] != "\n":
                out[i] = " "
                i += 1
            continue
        i += 1
    return "".join(out)


def _top_level_blocks(text):
    """(start, end) of every top-level `name ... { ... }` block, end exclusive, comments ignored."""
    masked = _comment_mask(text)
    blocks, depth, statement_start, quote_char = [], 0, None, None
    for i, c in enumerate(masked):
        if quote_char:
            if c == quote_char and masked[i - 1] != "\\":
                quote_char = None
            continue
        if c in "\"'":
            quote_char = c
        if depth == 0 and statement_start is None and not c.isspace():
            statement_start = i
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                blocks.append((statement_start, i + 1))
                statement_start = None
        elif c == ";" and depth == 0:
            statement_start = None
    return blocks, masked


def _block_end(masked, open_brace):
    """The offset just past the `}` that closes the `{` at `open_brace` (comments already masked)."""
    depth = 0
    for i in range(open_brace, len(masked)):
        if masked[i] == "{":
            depth += 1
        elif masked[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
    raise SetupFailed("unbalanced braces in the rendered nginx site file")


# --platform-first: what app.example.test's `location /` becomes. The platform has its own sign-in, so
# nginx only passes requests on (no auth_request); the production file's app block is a protected app.
PLATFORM_LOCATION = """location / {
        # Test (--platform-first): app.example.test is the platform itself (platform_app.py), which has
        # its own sign-in and its own session cookie: no auth_request here.
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
        proxy_set_header X-Forwarded-Proto $scheme;
        proxy_set_header X-Forwarded-Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_pass http://internal_app;
    }"""


def render_site(args, work, http_port, app_port, cert, key, platform_port=None, mattermost_port=None):
    """deploy/nginx/drawbridge.conf for this test, changed only where a test on loopback must differ.

    1. deploy/nginx/test/render.sh substitutes listen ports, upstream ports, certificate paths and the
       ACME root (no IPv6 listeners); the Mattermost upstream points at the test app (with
       --handoff-launch: at `mattermost_port`, the Mattermost contract server).
    2. example.com becomes example.test (a name reserved for tests, RFC 2606).
    3. The login URL nginx redirects to gets the test's port (https://sso.example.test:PORT/login...),
       since the browser does not reach nginx on 443.
    4. The chat server block (Mattermost, which signs in through OAuth itself) is replaced by a copy of
       the app server block with server_name chat.example.test: a second app behind auth_request,
       passing requests to the `mattermost` upstream (the test app). Not with --handoff-launch
       (`mattermost_port` given): there the production chat block stays as it is (no auth_request;
       Mattermost signs in through Drawbridge's OAuth itself) and passes requests to the contract server.
    5. Only with --platform-first (`platform_port` given): the `internal_app` upstream is the platform
       (platform_app.py), and the app block's `location /` only passes requests on (PLATFORM_LOCATION):
       app.example.test is the platform, which has its own sign-in.
    """
    rendered = os.path.join(work, "site.render-sh.conf")
    cmd = [os.path.join(REPO, "deploy", "nginx", "test", "render.sh"), "--out", rendered,
           "--http-port", str(http_port), "--https-port", str(args.nginx_port),
           "--drawbridge-port", str(args.drawbridge_port), "--mattermost-port", str(mattermost_port or app_port),
           "--app-port", str(platform_port or app_port), "--cert", cert, "--key", key,
           "--acme-root", os.path.join(work, "acme"), "--ipv6", "no", "--source", args.nginx_site]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise SetupFailed(f"deploy/nginx/test/render.sh failed: {result.stderr.strip()}")
    with open(rendered) as f:
        text = f.read()

    text = text.replace(HOUSE_DOMAIN, DOMAIN)
    sso_origin = f"https://{authority(SSO, args.nginx_port)}"
    text = text.replace(f"https://{SSO}/", f"{sso_origin}/")

    blocks, masked = _top_level_blocks(text)

    def server_block(host):
        found = [(s, e) for s, e in blocks
                 if re.match(r"server\s*\{", masked[s:e])
                 and re.search(rf"^\s*server_name\s+{re.escape(host)}\s*;", masked[s:e], re.M)]
        if len(found) != 1:
            raise SetupFailed(f"{args.nginx_site}: expected one server block with `server_name {host};`, "
                              f"found {len(found)}; update render_site() in {__file__}")
        return found[0]

    app_start, app_end = server_block(APP)
    chat_start, chat_end = server_block(CHAT)
    app_block, app_masked = text[app_start:app_end], masked[app_start:app_end]
    if mattermost_port is not None:
        # --handoff-launch, --platform-chat: the production chat block, untouched: Mattermost behind nginx,
        # no auth_request.
        chat_masked = masked[chat_start:chat_end]
        if "auth_request " in chat_masked or "proxy_pass http://mattermost;" not in chat_masked:
            raise SetupFailed(f"{args.nginx_site}: the {CHAT} server block no longer passes requests to the "
                              f"`mattermost` upstream without auth_request; update render_site() in {__file__}")
        if platform_port is None:
            return text
        chat_block = text[chat_start:chat_end]
    else:
        chat_block = test_chat_block(args, text[app_start:app_end], app_masked, sso_origin)
    if platform_port is not None:
        found = [m for m in re.finditer(r"^\s*location\s+/\s*\{", app_masked, re.M)]
        if len(found) != 1:
            raise SetupFailed(f"{args.nginx_site}: expected one `location / {{` in the {APP} block, found {len(found)}; "
                              f"update render_site() in {__file__}")
        start = found[0].start() + len(found[0].group(0)) - len(found[0].group(0).lstrip())
        end = _block_end(app_masked, found[0].end() - 1)
        app_block = app_block[:start] + PLATFORM_LOCATION + app_block[end:]
    # The blocks do not overlap: replace the later one first so the earlier one's offsets still hold.
    for (start, end), block in sorted([((app_start, app_end), app_block), ((chat_start, chat_end), chat_block)],
                                      reverse=True):
        text = text[:start] + block + text[end:]
    return text


def test_chat_block(args, app_block, app_masked, sso_origin):
    """A copy of the app block as chat.example.test, passing requests to the test app (step 4 above)."""
    for needle in ("auth_request ", "error_page 401", f"{sso_origin}/login?rd="):
        if needle not in app_masked:
            raise SetupFailed(f"{args.nginx_site}: the {APP} server block has no `{needle}` any more; "
                              f"update render_site() in {__file__}")
    chat_block, renamed = re.subn(rf"(^\s*server_name\s+){re.escape(APP)}(\s*;)", rf"\g<1>{CHAT}\g<2>", app_block,
                                  flags=re.M)
    if renamed != 1:
        raise SetupFailed(f"{args.nginx_site}: could not rename the copy of the {APP} block; update render_site()")
    chat_block, repointed = re.subn(r"proxy_pass http://internal_app;", "proxy_pass http://mattermost;", chat_block)
    if repointed != 1:
        raise SetupFailed(f"{args.nginx_site}: expected one `proxy_pass http://internal_app;` in the {APP} block, "
                          f"found {repointed}; update render_site() in {__file__}")
    return (f"# Test: {CHAT} is a copy of the {APP} block (the production file sends it to Mattermost), "
            "passing requests to the test app.\n" + chat_block)


def nginx_module_missing(nginx, module):
    result = subprocess.run([nginx, "-V"], capture_output=True, text=True)
    return f"--without-{module}" in (result.stdout + result.stderr)


# --------------------------------------------------------------------------------------------------
# The harness

class Harness:
    def __init__(self, args):
        # Drivers that build their own arguments (synapse_browser_flow.py, replica_browser_flow.py) need not
        # name every flow flag of this one.
        for flag, default in (("platform_first", False), ("handoff_launch", False), ("platform_chat", False),
                              ("mattermost_port", None)):
            if not hasattr(args, flag):
                setattr(args, flag, default)
        self.args = args
        self.work = os.path.abspath(args.work_dir)
        self.nginx_dir = os.path.join(self.work, "nginx")
        self.profile = os.path.join(self.work, "chromium-profile")
        self.port = args.nginx_port
        self.sso = f"https://{authority(SSO, self.port)}"
        self.app_url = f"https://{authority(APP, self.port)}/start?from=e2e"
        self.chat_url = f"https://{authority(CHAT, self.port)}/"
        self.platform_url = f"https://{authority(APP, self.port)}/"
        self.nginx = self.app = self.platform = self.driver = self.reaper = None
        self.certificate = None
        self.passed = 0
        self.step = "preflight"
        self.timings = {}

    # ---- output -----------------------------------------------------------------------------------

    def ok(self, cond, message, detail=""):
        if not cond:
            raise CheckFailed(message + (f": {detail}" if detail else ""))
        self.passed += 1
        print(f"ok: {message}", flush=True)

    def note(self, message):
        print(f"note: {message}", flush=True)

    # ---- set-up -----------------------------------------------------------------------------------

    def preflight(self):
        a = self.args
        for tool, path in (("chromium", a.chromium), ("chromedriver", a.chromedriver), ("nginx", a.nginx),
                           ("openssl", shutil.which("openssl"))):
            if not path or not os.access(path, os.X_OK):
                raise SetupFailed(f"{tool} not found ({path}); apt-get install chromium chromium-driver nginx-light openssl")
        if not os.path.isfile(a.nginx_site):
            raise SetupFailed(f"nginx site file not found: {a.nginx_site}")
        try:
            import selenium  # noqa: F401
        except ImportError:
            raise SetupFailed(f"selenium is not importable by {sys.executable}; apt-get install python3-selenium "
                              "and run with /usr/bin/python3")
        version = subprocess.run([a.nginx, "-V"], capture_output=True, text=True)
        if "--with-http_auth_request_module" not in version.stdout + version.stderr:
            raise SetupFailed("this nginx lacks ngx_http_auth_request_module (Debian's nginx-light, -full, -extras have it)")
        base = f"http://127.0.0.1:{a.drawbridge_port}"
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=5) as r:
                ready = r.status == 200
        except (urllib.error.URLError, OSError) as e:
            raise SetupFailed(f"Drawbridge is not answering on {base}/readyz ({e}); start it first")
        if not ready:
            raise SetupFailed(f"Drawbridge on {base} is not ready")
        try:
            with urllib.request.urlopen(base + "/.well-known/openid-configuration", timeout=5) as r:
                issuer = json.load(r).get("issuer", "")
        except (urllib.error.URLError, OSError, ValueError):
            issuer = None
        if issuer is not None and issuer.rstrip("/") != self.sso:
            raise SetupFailed(f"Drawbridge's public_url is {issuer!r}, but this test needs {self.sso!r} "
                              f"(public_url: {self.sso}, session.cookie_domain: {DOMAIN}, trusted_proxies: [127.0.0.1/32])")
        if port_open(self.port):
            raise SetupFailed(f"something already listens on 127.0.0.1:{self.port} (--nginx-port)")
        if a.handoff_launch or a.platform_chat:
            try:
                config = self.mattermost_control("config")
            except (urllib.error.URLError, OSError, ValueError) as e:
                raise SetupFailed(f"the Mattermost contract server is not answering on 127.0.0.1:{a.mattermost_port} "
                                  f"(--mattermost-port): {e}")
            authorize = f"{self.sso}/oauth/authorize"
            if not config.get("gitlab_enable") or config.get("gitlab_auth_endpoint") != authorize:
                raise SetupFailed(f"the Mattermost contract server's GitLab settings must send browsers to {authorize} "
                                  f"(gitlab_enable, gitlab_auth_endpoint); they are {config.get('gitlab_enable')!r}, "
                                  f"{config.get('gitlab_auth_endpoint')!r}")
        if a.platform_first or a.platform_chat:
            if not shutil.which("psql"):
                raise SetupFailed("psql not found (the platform stand-in uses it); apt-get install postgresql-client")
            try:
                self.platform_sql("SELECT count(*) FROM public.web_sessions;")
                self.platform_sql("SELECT count(*) FROM public.accounts WHERE password_hash IS NOT NULL AND is_active;")
            except RuntimeError as e:
                raise SetupFailed(f"--platform-database-url: the platform tables are not there: {e}")

    def platform_sql(self, statement, **variables):
        """Rows of `statement` on the platform's database (psql variables as :'name')."""
        command = ["psql", "-X", "-q", "-A", "-t", "-F", "\t", "-v", "ON_ERROR_STOP=1", "-d", self.args.platform_database_url]
        for name, value in variables.items():
            command += ["-v", f"{name}={value}"]
        result = subprocess.run(command, input=statement, capture_output=True, text=True, timeout=20)
        if result.returncode != 0:
            raise RuntimeError(f"psql: {result.stderr.strip()}")
        return [line.split("\t") for line in result.stdout.splitlines() if line]

    def platform_rows(self, cookie_value):
        """How many live web_sessions rows the platform has for this app_session cookie value."""
        key = hashlib.sha256(cookie_value.encode()).hexdigest()
        return int(self.platform_sql("SELECT count(*) FROM public.web_sessions WHERE session_key = :'key' "
                                     "AND expires_at > now();", key=key)[0][0])

    def make_certificate(self, tls):
        os.makedirs(tls, mode=0o700)
        cert, key = os.path.join(tls, "cert.pem"), os.path.join(tls, "key.pem")
        result = subprocess.run(
            ["openssl", "req", "-x509", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-days", "2", "-subj", f"/CN=*.{DOMAIN}",
             "-addext", f"subjectAltName=DNS:*.{DOMAIN},DNS:{DOMAIN}",
             "-addext", "extendedKeyUsage=serverAuth",
             "-keyout", key, "-out", cert], capture_output=True, text=True)
        if result.returncode != 0:
            raise SetupFailed(f"openssl req failed: {result.stderr.strip()[-400:]}")
        return cert, key

    def start_app(self, app_port):
        ready = os.path.join(self.nginx_dir, "app.ready")
        log = open(os.path.join(self.nginx_dir, "app.log"), "w")
        self.app = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "upstream_app.py"), "--port", str(app_port), "--ready-file", ready],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        log.close()
        self.wait_for_process(self.app, "the test app", lambda: os.path.exists(ready),
                              os.path.join(self.nginx_dir, "app.log"))

    def start_platform(self, platform_port):
        ready = os.path.join(self.nginx_dir, "platform.ready")
        log = open(os.path.join(self.nginx_dir, "platform.log"), "w")
        self.platform = subprocess.Popen(
            [sys.executable, os.path.join(HERE, "platform_app.py"), "--port", str(platform_port),
             "--database-url", self.args.platform_database_url, "--cookie-domain", DOMAIN, "--ready-file", ready],
            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        log.close()
        self.wait_for_process(self.platform, "the platform stand-in", lambda: os.path.exists(ready),
                              os.path.join(self.nginx_dir, "platform.log"))

    def start_nginx(self):
        a, d = self.args, self.nginx_dir
        for sub in ("acme", "temp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        http_port, app_port, platform_port = free_ports(3)
        if not (a.platform_first or a.platform_chat):
            platform_port = None
        cert, key = self.make_certificate(os.path.join(d, "tls"))
        self.certificate = cert
        self.start_app(app_port)
        if platform_port is not None:
            self.start_platform(platform_port)

        with open(os.path.join(d, "site.conf"), "w") as f:
            f.write(render_site(a, d, http_port, app_port, cert, key, platform_port,
                                a.mattermost_port if a.handoff_launch or a.platform_chat else None))
        with open(os.path.join(HERE, "nginx.conf.template")) as f:
            conf = f.read()
        conf = conf.replace("@USER_DIRECTIVE@", "user root;" if os.geteuid() == 0 else "")
        conf = conf.replace("@WORK@", d)
        # Temp paths of modules this nginx was built without would be unknown directives.
        for module in ("fastcgi", "uwsgi", "scgi"):
            if nginx_module_missing(a.nginx, f"http_{module}_module"):
                conf = re.sub(rf"^\s*{module}_temp_path .*\n", "", conf, flags=re.M)
        leftover = re.findall(r"@[A-Z_]+@", _comment_mask(conf))
        if leftover:
            raise SetupFailed(f"nginx.conf.template: placeholders left over: {leftover}")
        conf_path = os.path.join(d, "nginx.conf")
        with open(conf_path, "w") as f:
            f.write(conf)

        error_log = os.path.join(d, "error.log")
        base = [a.nginx, "-p", d + "/", "-e", error_log, "-c", conf_path]
        test = subprocess.run(base + ["-t", "-q"], capture_output=True, text=True)
        if test.returncode != 0:
            raise SetupFailed(f"nginx -t rejects {conf_path}: {test.stderr.strip()}")
        stderr_log = open(os.path.join(d, "nginx.stderr"), "w")
        self.nginx = subprocess.Popen(base + ["-g", "daemon off;"], stdout=stderr_log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)
        stderr_log.close()
        self.wait_for_process(self.nginx, "nginx", lambda: port_open(self.port), error_log)

    def wait_for_process(self, proc, name, ready, log, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        tail = ""
        try:
            with open(log) as f:
                tail = " | ".join(f.read().strip().splitlines()[-5:])
        except OSError:
            pass
        raise SetupFailed(f"{name} did not start (exit status {proc.poll()}): {tail}")

    def start_browser(self):
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service

        options = webdriver.ChromeOptions()
        options.binary_location = self.args.chromium
        for argument in (
            "--headless=new",
            "--no-sandbox",                      # root in a container: no user namespaces
            "--disable-dev-shm-usage",
            "--disable-gpu",
            f"--user-data-dir={self.profile}",   # fresh profile: no cookies, no HSTS, no cache
            "--ignore-certificate-errors",       # the certificate is self-signed, made just now
            # Every *.example.test is nginx; nothing else resolves (no traffic off this machine, and a
            # redirect to evil.test would show as such instead of reaching anything).
            f"--host-resolver-rules=MAP *.{DOMAIN} 127.0.0.1, MAP * ~NOTFOUND",
            "--no-proxy-server",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-crash-reporter",
            "--disable-breakpad",
            "--password-store=basic",
            "--window-size=1280,900",
        ):
            options.add_argument(argument)
        options.set_capability("acceptInsecureCerts", True)
        logging_prefs = {"browser": "ALL"}  # console, CSP violations
        if self.args.handoff_launch or self.args.platform_chat:
            logging_prefs["performance"] = "ALL"  # CDP Network events: every hop of a redirect chain
        options.set_capability("goog:loggingPrefs", logging_prefs)
        home = os.path.join(self.work, "home")
        self.reaper = subprocess.Popen([sys.executable, "-c", REAPER, self.profile, home],
                                       stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, start_new_session=True)
        # chromium's crash reporter and caches follow HOME/XDG: keep them in the work directory too.
        env = dict(os.environ, HOME=home, XDG_CONFIG_HOME=os.path.join(home, ".config"),
                   XDG_CACHE_HOME=os.path.join(home, ".cache"))
        service = Service(self.args.chromedriver, log_path=os.path.join(self.work, "chromedriver.log"), env=env,
                          popen_kw={"preexec_fn": _die_with_parent})
        self.service = service
        self.driver = webdriver.Chrome(service=service, options=options)
        self.driver.set_page_load_timeout(self.args.timeout)
        self.note(f"chromium {self.driver.capabilities.get('browserVersion')} via chromedriver "
                  f"{self.driver.capabilities.get('chrome', {}).get('chromedriverVersion', '?').split(' ')[0]}")

    def cleanup(self):
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception as e:  # the browser may already be gone
                print(f"note: driver.quit() failed: {e}", file=sys.stderr)
            self.driver = None
            proc = getattr(getattr(self, "service", None), "process", None)
            stop_process(proc, "chromedriver")
        # Anything still running with our profile directory is a chromium of ours (crashed chromedriver).
        for pid in pids_with_argument(f"--user-data-dir={self.profile}"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.reaper is not None:
            self.reaper.stdin.close()  # the reaper's last sweep
            try:
                self.reaper.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.reaper.kill()
            self.reaper = None
        stop_process(self.nginx, "nginx")
        self.nginx = None
        stop_process(self.app, "the test app")
        self.app = None
        stop_process(self.platform, "the platform stand-in")
        self.platform = None

    # ---- browser helpers --------------------------------------------------------------------------

    def wait(self, condition, what, timeout=None):
        from selenium.webdriver.support.ui import WebDriverWait
        from selenium.common.exceptions import (NoSuchElementException, StaleElementReferenceException,
                                                TimeoutException)
        try:
            # A page replaced mid-check (navigation) is not an answer yet: ask again.
            return WebDriverWait(self.driver, timeout or self.args.timeout, poll_frequency=0.05,
                                 ignored_exceptions=(NoSuchElementException, StaleElementReferenceException)).until(
                lambda d: condition())
        except TimeoutException:
            raise CheckFailed(f"timed out after {timeout or self.args.timeout}s waiting for {what}")

    def find(self, css):
        from selenium.webdriver.common.by import By
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def text_of(self, css):
        found = self.find(css)
        return found[0].text.strip() if found else None

    def loaded(self):
        return self.driver.execute_script("return document.readyState") == "complete"

    def go(self, url):
        self.driver.get(url)
        self.wait(self.loaded, f"{url} to load")

    def at(self, url):
        return self.driver.current_url == url

    def login_form(self):
        """The sign-in form's elements, or None if the page has none."""
        forms = [f for f in self.find("form") if f.find_elements("css selector", "input[name=password]")]
        if not forms:
            return None
        form = forms[0]
        get = lambda css: (form.find_elements("css selector", css) or [None])[0]  # noqa: E731
        return {"form": form, "username": get("input[name=username]"), "password": get("input[name=password]"),
                "csrf": get("input[name=csrf]"), "rd": get("input[name=rd]"), "submit": get("button[type=submit]")}

    def submit_and_wait(self, button):
        from selenium.webdriver.support import expected_conditions as EC
        page = self.find("html")[0]
        button.click()
        try:
            self.wait(lambda: EC.staleness_of(page)(self.driver), "the next page after submitting the form")
        except CheckFailed as e:
            # A form whose navigation (or the redirect after it) the page's CSP blocks just stays put.
            blocked = [entry.get("message", "") for entry in self.driver.get_log("browser")
                       if "Content Security Policy" in entry.get("message", "")]
            raise CheckFailed(f"{e}; the browser blocked it: {blocked[-1]}" if blocked else str(e))
        self.wait(self.loaded, "the next page to load")

    def sign_in(self, username, password):
        from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
        for attempt in range(3):
            form = self.login_form()
            if form is None:
                raise CheckFailed("no sign-in form on the page")
            try:
                form["username"].clear()
                form["username"].send_keys(username)
                form["password"].clear()
                form["password"].send_keys(password)
                break
            except (StaleElementReferenceException, WebDriverException) as e:
                # Chromium now and then swaps the document once more just after a form's answer loaded
                # ("Node with given id does not belong to the document"): find the form again and refill it.
                stale = isinstance(e, StaleElementReferenceException) or "does not belong to the document" in str(e)
                if not stale or attempt == 2:
                    raise
                time.sleep(0.2)
                self.wait(self.loaded, "the sign-in page to settle")
        self.submit_and_wait(form["submit"])

    def cookies(self):
        """Every cookie in the browser (CDP), including HttpOnly ones and those of other hosts."""
        return self.driver.execute_cdp_cmd("Network.getAllCookies", {})["cookies"]

    def session_cookies(self):
        return [c for c in self.cookies() if c["name"] == self.args.cookie_name]

    def on_login_page(self):
        parts = urlsplit(self.driver.current_url)
        return f"{parts.scheme}://{parts.netloc}" == self.sso and parts.path == "/login"

    def query_rd(self):
        values = parse_qs(urlsplit(self.driver.current_url).query).get("rd")
        return values[0] if values else None

    def describe_page(self):
        try:
            url = self.driver.current_url
            title = self.driver.title
            text = self.driver.execute_script("return document.body ? document.body.innerText : ''") or ""
        except Exception as e:
            return f"(the browser could not be asked: {e})"
        text = re.sub(r"\s+", " ", text).strip()
        return f"url={url} title={title!r} text={text[:600]!r}"

    def save_failure_artifacts(self):
        if self.driver is None:
            return
        saved = []
        try:
            path = os.path.join(self.work, "failure.png")
            if self.driver.save_screenshot(path):
                saved.append(path)
            path = os.path.join(self.work, "failure.html")
            with open(path, "w") as f:
                f.write(self.driver.page_source)
            saved.append(path)
        except Exception as e:
            print(f"note: could not save the failure screenshot: {e}", file=sys.stderr)
        if saved:
            print(f"saved: {' '.join(saved)}", file=sys.stderr)
        try:
            for entry in self.driver.get_log("browser")[-10:]:
                print(f"browser console: {entry.get('level')}: {entry.get('message', '')[:500]}", file=sys.stderr)
        except Exception:
            pass

    # ---- the flow ---------------------------------------------------------------------------------

    def start(self, serving):
        """Preflight, a clean work directory, nginx (`serving` says what it serves, for the report) and the
        browser; records their timings and returns when the flows may begin (time.monotonic())."""
        self.started_at = time.monotonic()
        self.preflight()
        self.step = "setup"
        for sub in (self.nginx_dir, self.profile, os.path.join(self.work, "home")):
            if os.path.exists(sub):
                shutil.rmtree(sub)
        os.makedirs(self.nginx_dir)
        for stale in ("failure.png", "failure.html"):
            if os.path.exists(os.path.join(self.work, stale)):
                os.remove(os.path.join(self.work, stale))
        self.start_nginx()
        self.ok(True, f"nginx serves {serving} on 127.0.0.1:{self.port}")
        nginx_up = time.monotonic()
        self.start_browser()
        browser_up = time.monotonic()
        self.timings["nginx"] = nginx_up - self.started_at
        self.timings["browser start"] = browser_up - nginx_up
        return browser_up

    def finish(self, flows_began):
        ended = time.monotonic()
        self.timings["flow"] = ended - flows_began
        self.timings["total"] = ended - self.started_at

    def run(self):
        a = self.args
        began = self.start(f"{SSO}, {APP}, {CHAT} ({os.path.relpath(a.nginx_site, REPO)} rendered into {self.nginx_dir})")
        if a.platform_first:
            self.flow_platform_first()
        elif a.handoff_launch:
            self.flow_handoff_launch()
        elif a.platform_chat:
            from platform_chat_flow import flow_platform_chat
            flow_platform_chat(self)
        else:
            self.flow_cookie_sso()
        self.finish(began)

    def flow_cookie_sso(self):
        """Steps 1-7: sign in through Drawbridge's form, the shared cookie, sign-out, open redirects."""
        a = self.args
        self.step = "1. app without a session"
        self.go(self.app_url)
        self.wait(lambda: self.on_login_page() and self.login_form() is not None,
                  f"the sign-in form at {self.sso}/login")
        self.ok(True, f"1. {self.app_url} sends the browser to the sign-in page at {SSO}")
        self.ok(self.query_rd() == self.app_url, "1. the sign-in URL carries the original URL in rd",
                f"rd={self.query_rd()!r}")
        form = self.login_form()
        self.ok(all(form[k] is not None for k in ("username", "password", "csrf", "submit")),
                "1. the form has user name, password, CSRF token and a submit button")
        self.ok(form["rd"] is not None and form["rd"].get_attribute("value") == self.app_url,
                "1. the form will send rd on", f"rd field={form['rd'] and form['rd'].get_attribute('value')!r}")
        self.ok(not self.session_cookies(), "1. no session cookie yet")

        self.step = "2. wrong password"
        self.sign_in(a.username, a.wrong_password)
        self.ok(self.on_login_page() and self.login_form() is not None, "2. a wrong password stays on the sign-in form")
        error = self.find("[role=alert]")
        self.ok(bool(error) and error[0].text.strip() != "", "2. with an error message (role=alert)",
                "no [role=alert] element")
        self.note(f"2. the error reads {error[0].text.strip()!r}")
        self.ok(self.login_form()["username"].get_attribute("value") == a.username,
                "2. the user name is kept in the form")
        self.ok(not self.session_cookies(), "2. no session cookie after a wrong password",
                f"cookies: {self.session_cookies()}")

        self.step = "3. right password"
        self.sign_in(a.username, a.password)
        self.wait(lambda: self.at(self.app_url), f"the browser to come back to {self.app_url}")
        self.ok(True, f"3. signing in lands back on the original URL {self.app_url}")
        self.ok(self.text_of("#host") == APP, f"3. the page is the app's (Host: {APP}, nginx's $host)",
                f"Host={self.text_of('#host')!r}")
        self.ok(self.text_of("#remote-user") == a.expect_remote_user,
                f"3. the app sees Remote-User: {a.expect_remote_user}", f"got {self.text_of('#remote-user')!r}")
        if a.expect_email is not None:
            self.ok(self.text_of("#remote-email") == a.expect_email,
                    f"3. the app sees Remote-Email: {a.expect_email}", f"got {self.text_of('#remote-email')!r}")
        else:
            self.note(f"3. Remote-Email: {self.text_of('#remote-email')!r}")
        self.note(f"3. Remote-Name: {self.text_of('#remote-name')!r}")

        self.step = "4. the session cookie"
        found = self.session_cookies()
        self.ok(len(found) == 1, f"4. exactly one {a.cookie_name} cookie", f"cookies: {found}")
        cookie = found[0]
        self.ok(cookie["domain"] in (f".{DOMAIN}", DOMAIN), f"4. {a.cookie_name} has Domain={DOMAIN}",
                f"domain={cookie['domain']!r}")
        self.ok(cookie["path"] == "/", "4. Path=/", f"path={cookie['path']!r}")
        self.ok(cookie["secure"] is True, "4. Secure")
        self.ok(cookie["httpOnly"] is True, "4. HttpOnly")
        self.ok(cookie.get("sameSite") == "Lax", "4. SameSite=Lax", f"sameSite={cookie.get('sameSite')!r}")
        self.ok(not cookie.get("session", False) and cookie.get("expires", -1) > time.time() + 60,
                "4. persistent (Max-Age), not a browser-session cookie", f"expires={cookie.get('expires')}")
        self.ok(a.cookie_name not in (self.driver.execute_script("return document.cookie") or ""),
                "4. page scripts on the app cannot read it (document.cookie)")
        csrf = [c for c in self.cookies() if c["name"].startswith("__Host-")]
        self.ok(len(csrf) == 1 and csrf[0]["domain"] == SSO and csrf[0]["secure"] and csrf[0]["path"] == "/",
                f"4. the pre-sign-in CSRF cookie is a host-only __Host- cookie of {SSO}", f"{csrf}")
        session_value = cookie["value"]

        self.step = "5. chat"
        self.go(self.chat_url)
        self.wait(lambda: self.at(self.chat_url) or self.on_login_page(), f"{self.chat_url} to settle")
        self.ok(self.at(self.chat_url) and self.login_form() is None,
                f"5. {self.chat_url} opens at once, no sign-in form")
        self.ok(self.text_of("#host") == CHAT and self.text_of("#remote-user") == a.expect_remote_user,
                f"5. the chat app sees Remote-User: {a.expect_remote_user}",
                f"Host={self.text_of('#host')!r} Remote-User={self.text_of('#remote-user')!r}")

        self.step = "6. sign-out"
        self.go(f"{self.sso}/logout")
        self.note(f"6. GET {self.sso}/logout (a typed URL) shows {self.driver.title!r}; session cookie still there: "
                  f"{bool(self.session_cookies())} (sign-out is POST /logout with a CSRF token)")
        self.go(f"{self.sso}/")
        self.wait(lambda: self.at(f"{self.sso}/"), f"the Drawbridge start page {self.sso}/")
        page_text = self.driver.execute_script("return document.body.innerText") or ""
        self.ok("Signed in" in page_text and a.username in page_text,
                f"6. {self.sso}/ says who is signed in", re.sub(r"\s+", " ", page_text)[:200])
        buttons = [b for b in self.find("form[method=post] button[type=submit]")
                   if (b.find_element("xpath", "./ancestor::form").get_attribute("action") or "").endswith("/logout")]
        self.ok(len(buttons) == 1, "6. with a sign-out button")
        self.ok(buttons[0].text.strip() == "Sign out", "6. labelled “Sign out”", f"label={buttons[0].text!r}")
        self.submit_and_wait(buttons[0])
        self.ok(self.on_login_page() and self.login_form() is not None, "6. signing out lands on the sign-in form",
                self.driver.current_url)
        self.ok(not self.session_cookies(), "6. the session cookie is gone from the browser",
                f"{self.session_cookies()}")
        self.go(self.chat_url)
        self.wait(lambda: self.on_login_page() and self.login_form() is not None,
                  f"{self.chat_url} to ask for the sign-in form")
        self.ok(self.query_rd() == self.chat_url, f"6. {self.chat_url} asks for the sign-in form again (rd = chat)",
                f"rd={self.query_rd()!r}")
        self.go(self.app_url)
        self.wait(lambda: self.on_login_page() and self.login_form() is not None,
                  f"{self.app_url} to ask for the sign-in form")
        self.ok(True, f"6. so does {self.app_url}")
        # The old cookie value, put back: the session must be over on the server, not only in the browser.
        self.driver.execute_cdp_cmd("Network.setCookie", {
            "name": a.cookie_name, "value": session_value, "domain": f".{DOMAIN}", "path": "/",
            "secure": True, "httpOnly": True, "sameSite": "Lax"})
        self.go(self.chat_url)
        self.wait(lambda: self.at(self.chat_url) or self.on_login_page(), f"{self.chat_url} to settle")
        self.ok(self.on_login_page() and self.login_form() is not None,
                "6. the signed-out session's cookie, put back by hand, is refused (revoked on the server)",
                self.describe_page())
        self.driver.execute_cdp_cmd("Network.deleteCookies", {"name": a.cookie_name, "domain": f".{DOMAIN}"})

        self.step = "7. open redirect"
        evil = "https://evil.test/"
        self.go(f"{self.sso}/login?rd={quote(evil, safe='')}")
        self.wait(lambda: self.login_form() is not None, "the sign-in form")
        rd_field = self.login_form()["rd"]
        self.ok(rd_field is None or rd_field.get_attribute("value") in ("", None),
                "7. /login?rd=https://evil.test/ does not put evil.test into the form",
                f"rd field={rd_field and rd_field.get_attribute('value')!r}")
        self.sign_in(a.username, a.password)
        self.wait(lambda: urlsplit(self.driver.current_url).path != "/login" or self.login_form() is None,
                  "the page after signing in")
        self.ok(urlsplit(self.driver.current_url).hostname != "evil.test" and self.at(f"{self.sso}/"),
                f"7. signing in with rd={evil} ends on Drawbridge's start page, not at evil.test",
                self.driver.current_url)
        for bad in (evil, "//evil.test/", f"https://{DOMAIN}.evil.test/", f"https://{authority(APP + '.evil.test', self.port)}/",
                    f"https://{authority(APP, self.port)}@evil.test/", f"http://{APP}:{self.port}/", "javascript:alert(1)"):
            self.go(f"{self.sso}/login?rd={quote(bad, safe='')}")
            self.wait(lambda: not self.on_login_page(), "the signed-in browser to be sent on")
            self.ok(self.at(f"{self.sso}/"), f"7. signed in, /login?rd={bad} goes to the start page",
                    self.driver.current_url)
        good = f"https://{authority(CHAT, self.port)}/deep/link?x=1"
        self.go(f"{self.sso}/login?rd={quote(good, safe='')}")
        self.wait(lambda: not self.on_login_page(), "the signed-in browser to be sent on")
        self.ok(self.at(good), f"7. while rd={good} (inside {DOMAIN}) is followed", self.driver.current_url)

    # ---- the platform-first flow (--platform-first) ---------------------------------------------

    def platform_cookies(self):
        return [c for c in self.cookies() if c["name"] == self.args.platform_cookie_name]

    def platform_sign_in(self):
        a = self.args
        self.go(self.platform_url)
        self.wait(lambda: self.at(f"{self.platform_url}login") and self.find("form#platform-login"),
                  f"the platform's sign-in form at {self.platform_url}login")
        form = self.find("form#platform-login")[0]
        form.find_element("css selector", "input[name=username]").send_keys(a.username)
        form.find_element("css selector", "input[name=password]").send_keys(a.password)
        self.submit_and_wait(form.find_element("css selector", "button[type=submit]"))
        self.wait(lambda: self.at(self.platform_url) and self.text_of("#platform-user") is not None,
                  f"the platform's home page {self.platform_url} after signing in")

    def open_chat_signed_in(self, label):
        """Opens chat and checks the app shows at once with the right Remote-User, no Drawbridge form."""
        a = self.args
        self.go(self.chat_url)
        self.wait(lambda: self.at(self.chat_url) or self.on_login_page(), f"{self.chat_url} to settle")
        self.ok(self.at(self.chat_url) and self.login_form() is None,
                f"{label} {self.chat_url} opens at once: no Drawbridge sign-in form", self.describe_page())
        self.ok(self.text_of("#host") == CHAT and self.text_of("#remote-user") == a.expect_remote_user,
                f"{label} the chat app sees Remote-User: {a.expect_remote_user}",
                f"Host={self.text_of('#host')!r} Remote-User={self.text_of('#remote-user')!r}")

    def wait_for_chat_to_ask_for_the_form(self, label, since):
        """Opens chat again and again until it sends the browser to Drawbridge's form; checks how long it took."""
        a = self.args
        limit = a.platform_signout_within
        while True:
            self.go(self.chat_url)
            self.wait(lambda: self.at(self.chat_url) or self.on_login_page(), f"{self.chat_url} to settle")
            elapsed = time.monotonic() - since
            if self.on_login_page():
                break
            if elapsed > limit + 5:
                break
            time.sleep(0.1)
        self.ok(self.on_login_page() and self.login_form() is not None and self.query_rd() == self.chat_url,
                f"{label} {self.chat_url} asks for Drawbridge's sign-in form again (rd = chat)", self.describe_page())
        self.ok(elapsed <= limit, f"{label} within {limit:g}s (after {elapsed:.1f}s)",
                f"it took {elapsed:.1f}s; platform_session.recheck_interval must be 1s for this test")

    def flow_platform_first(self):
        """Steps P1-P7: sign in on the platform, then chat opens through the platform session bridge."""
        a = self.args

        self.step = "P1. the platform, signed out"
        self.go(self.platform_url)
        self.wait(lambda: self.at(f"{self.platform_url}login") and self.find("form#platform-login"),
                  f"the platform's sign-in form at {self.platform_url}login")
        self.ok(self.login_form() is not None and not self.on_login_page(),
                f"P1. {self.platform_url} is the platform, with a sign-in form of its own (not Drawbridge's)")
        self.ok(not self.platform_cookies() and not self.session_cookies(),
                f"P1. no {a.platform_cookie_name} and no {a.cookie_name} cookie yet", f"{self.cookies()}")

        self.step = "P2. sign in on the platform"
        self.platform_sign_in()
        self.ok(self.text_of("#platform-user") == a.username, f"P2. signed in to the platform as {a.username}",
                f"got {self.text_of('#platform-user')!r}")
        found = self.platform_cookies()
        self.ok(len(found) == 1, f"P2. exactly one {a.platform_cookie_name} cookie", f"{found}")
        platform_cookie = found[0]
        self.ok(platform_cookie["domain"] in (f".{DOMAIN}", DOMAIN) and platform_cookie["secure"]
                and platform_cookie["httpOnly"], f"P2. {a.platform_cookie_name} has Domain={DOMAIN}, Secure, HttpOnly",
                f"{platform_cookie}")
        self.ok(self.platform_rows(platform_cookie["value"]) == 1,
                "P2. the platform wrote its session into public.web_sessions (SHA-256 of the cookie)")
        self.ok(not self.session_cookies(), f"P2. still no {a.cookie_name} cookie: Drawbridge was not involved")

        self.step = "P3. chat, signed in on the platform only"
        self.open_chat_signed_in("P3.")
        if a.expect_email is not None:
            self.ok(self.text_of("#remote-email") == a.expect_email, f"P3. the chat app sees Remote-Email: {a.expect_email}",
                    f"got {self.text_of('#remote-email')!r}")

        self.step = "P4. Drawbridge's session cookie"
        found = self.session_cookies()
        self.ok(len(found) == 1, f"P4. the browser now has exactly one {a.cookie_name} cookie "
                                 "(nginx passed on the Set-Cookie of the auth_request answer)", f"cookies: {self.cookies()}")
        cookie = found[0]
        self.ok(cookie["domain"] in (f".{DOMAIN}", DOMAIN), f"P4. Domain={DOMAIN}", f"domain={cookie['domain']!r}")
        self.ok(cookie["path"] == "/", "P4. Path=/", f"path={cookie['path']!r}")
        self.ok(cookie["secure"] is True, "P4. Secure")
        self.ok(cookie["httpOnly"] is True, "P4. HttpOnly")
        self.ok(cookie.get("sameSite") == "Lax", "P4. SameSite=Lax", f"sameSite={cookie.get('sameSite')!r}")
        self.open_chat_signed_in("P4. again:")
        again = self.session_cookies()
        self.ok(len(again) == 1 and again[0]["value"] == cookie["value"],
                "P4. the next request keeps that session (the cookie is unchanged: no new session per request)",
                f"{again}")
        self.go(f"{self.sso}/")
        self.wait(lambda: self.at(f"{self.sso}/"), f"the Drawbridge start page {self.sso}/")
        page_text = self.driver.execute_script("return document.body.innerText") or ""
        self.ok("Signed in" in page_text and a.username in page_text,
                f"P4. {self.sso}/ shows {a.username} signed in too", re.sub(r"\s+", " ", page_text)[:200])

        self.step = "P5. sign out of the platform"
        self.go(self.platform_url)
        self.wait(lambda: self.find("form#platform-logout"), "the platform's sign-out button")
        self.submit_and_wait(self.find("form#platform-logout button[type=submit]")[0])
        signed_out = time.monotonic()
        self.wait(lambda: self.at(f"{self.platform_url}login"), "the platform's sign-in form after signing out")
        self.ok(not self.platform_cookies(), f"P5. signing out of the platform removes {a.platform_cookie_name}",
                f"{self.platform_cookies()}")
        self.ok(self.platform_rows(platform_cookie["value"]) == 0, "P5. and deletes its row from public.web_sessions")
        self.wait_for_chat_to_ask_for_the_form("P5.", signed_out)

        self.step = "P6. the platform ends the session on its side"
        self.platform_sign_in()
        platform_cookie = self.platform_cookies()[0]
        self.open_chat_signed_in("P6. signed in on the platform again:")
        self.platform_sql("DELETE FROM public.web_sessions WHERE session_key = :'key';",
                          key=hashlib.sha256(platform_cookie["value"].encode()).hexdigest())
        ended = time.monotonic()
        self.ok(len(self.platform_cookies()) == 1 and self.platform_rows(platform_cookie["value"]) == 0,
                f"P6. the platform deletes the session's row (signed out elsewhere); the browser keeps "
                f"{a.platform_cookie_name}")
        self.wait_for_chat_to_ask_for_the_form("P6. even so,", ended)

    # ---- the hand-off flow (--handoff-launch) ----------------------------------------------------

    def mattermost_control(self, path):
        """The Mattermost contract server's test control API (/__contract__/…), straight on loopback."""
        url = f"http://127.0.0.1:{self.args.mattermost_port}/__contract__/{path}"
        with urllib.request.urlopen(url, timeout=10) as r:
            return json.load(r)

    def mattermost_accounts(self):
        users = self.mattermost_control("state").get("users", {})
        return list(users.values()) if isinstance(users, dict) else list(users)

    def backend_request(self, method, host, path, body=None, token=None):
        """A server-side client (the platform's backend, a Matrix client) calling https://HOST:PORT through
        nginx (TLS with SNI HOST, the test's certificate as the only trusted one): (status, headers, body)."""
        context = ssl.create_default_context(cafile=self.certificate)
        port = self.port

        class Loopback(http.client.HTTPSConnection):
            def connect(conn):  # every *.example.test is nginx on 127.0.0.1, as for the browser
                sock = socket.create_connection(("127.0.0.1", port), conn.timeout)
                conn.sock = context.wrap_socket(sock, server_hostname=conn.host)

        connection = Loopback(host, port, context=context, timeout=self.args.timeout)
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        try:
            connection.request(method, path, body=None if body is None else json.dumps(body).encode(), headers=headers)
            response = connection.getresponse()
            return response.status, response.headers, response.read().decode("utf-8", "replace")
        finally:
            connection.close()

    def navigation_hops(self):
        """The top-level document requests since the last call, in order, from chromium's performance log
        (CDP Network events): [{"url", "status", "location"}], one per hop of a redirect chain."""
        hops, by_request = [], {}
        for entry in self.driver.get_log("performance"):
            try:
                message = json.loads(entry["message"])["message"]
            except (KeyError, ValueError):
                continue
            method, params = message.get("method"), message.get("params", {})
            if params.get("type") != "Document":
                continue
            if method == "Network.requestWillBeSent":
                redirect = params.get("redirectResponse")
                previous = by_request.get(params.get("requestId"))
                if redirect is not None and previous is not None and previous["status"] is None:
                    previous["status"] = redirect.get("status")
                    headers = {k.lower(): v for k, v in (redirect.get("headers") or {}).items()}
                    previous["location"] = headers.get("location")
                hop = {"url": params["request"]["url"], "status": None, "location": None}
                hops.append(hop)
                by_request[params.get("requestId")] = hop
            elif method == "Network.responseReceived":
                hop = by_request.get(params.get("requestId"))
                if hop is not None and hop["status"] is None:
                    hop["status"] = params["response"].get("status")
        return hops

    @staticmethod
    def hop_text(hops):
        return " -> ".join(f"{h['url']} [{h['status']}]" for h in hops)

    def fetch_json(self, path):
        """GET `path` from the current page with fetch() (the page's cookies): (status, parsed body or None)."""
        result = self.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch(arguments[0], {credentials: "same-origin", headers: {"X-Requested-With": "XMLHttpRequest"}})
                .then(r => r.text().then(t => done([r.status, t])))
                .catch(e => done([0, String(e)]));""", path)
        status, text = result
        try:
            return status, json.loads(text)
        except ValueError:
            return status, None

    def flow_handoff_launch(self):
        """Steps H1-H6: the platform's backend hands the user over, the browser opens the one-time URL,
        which leads through the Mattermost launch link into chat, signed in, with no form."""
        a = self.args
        chat = f"https://{authority(CHAT, self.port)}"
        redirect_to = f"/{a.launch_team}/channels/town-square"
        launch = f"{self.sso}/launch/mattermost?redirect_to={quote(redirect_to, safe='')}"
        final = chat + redirect_to
        callback = f"{chat}/signup/gitlab/complete"

        self.step = "H1. the platform's backend asks for a one-time URL"
        teams = self.mattermost_control("state").get("teams", {})
        teams = teams.values() if isinstance(teams, dict) else teams
        town = [t for t in teams if t.get("name") == a.launch_team]
        self.ok(len(town) == 1 and town[0].get("invite_id"), f"H1. Mattermost has the team {a.launch_team!r} with an invite id",
                f"teams: {[t.get('name') for t in teams]}")
        invite, team_id = town[0]["invite_id"], town[0]["id"]

        def accounts():
            return [u for u in self.mattermost_accounts()
                    if u.get("username") == a.expect_remote_user
                    or (a.expect_email is not None and (u.get("email") or "").lower() == a.expect_email.lower())]
        self.ok(not accounts(), f"H1. no Mattermost account for {a.username} yet", f"{accounts()}")

        status, headers, body = self.backend_request("POST", SSO, "/api/v1/handoff",
                                                     {"user": a.username, "redirect": launch}, a.service_token)
        self.ok(status == 201, f"H1. POST {self.sso}/api/v1/handoff (through nginx, Bearer service token) answers 201",
                f"{status} {body[:300]}")
        issued = json.loads(body)
        one_time = issued.get("url") or ""
        self.ok(re.fullmatch(re.escape(f"{self.sso}/handoff/") + r"[A-Za-z0-9_-]{20,}", one_time) is not None,
                f"H1. with a one-time URL on {authority(SSO, self.port)} (what the browser reaches; nothing to rewrite)",
                f"url={one_time!r}")
        self.ok(issued.get("expires_in") == 60 and issued.get("user_id"), "H1. for 60 seconds, naming the user's id",
                f"{issued}")
        self.ok(headers.get("Cache-Control") == "no-store", "H1. Cache-Control: no-store",
                f"Cache-Control={headers.get('Cache-Control')!r}")

        self.step = "H2. the browser opens the one-time URL"
        self.ok(not self.cookies(), "H2. the browser starts with no cookies at all", f"{self.cookies()}")
        self.navigation_hops()  # forget what the browser did so far
        self.go(one_time)
        hops = self.navigation_hops()
        self.ok(self.at(final), f"H2. the browser ends on {final} (Mattermost's page from redirect_to)",
                f"{self.describe_page()}; hops: {self.hop_text(hops)}")
        self.ok(not any(urlsplit(h["url"]).netloc == authority(SSO, self.port) and urlsplit(h["url"]).path == "/login"
                        for h in hops) and self.login_form() is None,
                "H2. Drawbridge's sign-in form was never shown (no hop to /login)", self.hop_text(hops))
        expected = [(SSO, urlsplit(one_time).path, 303), (SSO, "/launch/mattermost", 302),
                    (CHAT, "/oauth/gitlab/login", 302), (SSO, "/oauth/authorize", 302),
                    (CHAT, "/signup/gitlab/complete", 307), (CHAT, redirect_to, None)]
        got = [(urlsplit(h["url"]).hostname, urlsplit(h["url"]).path, h["status"]) for h in hops]
        self.ok(len(got) == len(expected) and all(g[:2] == e[:2] and (e[2] is None or g[2] == e[2])
                                                  for g, e in zip(got, expected))
                and all(urlsplit(h["url"]).port == self.port and urlsplit(h["url"]).scheme == "https" for h in hops),
                "H2. one redirect chain, all https through nginx: hand-off 303 -> launch link 302 -> Mattermost's "
                "/oauth/gitlab/login 302 -> Drawbridge's /oauth/authorize 302 (no page) -> "
                "/signup/gitlab/complete 307 -> the chat page", self.hop_text(hops))
        launch_hop, start_hop, authorize_hop = hops[1], hops[2], hops[3]
        self.ok(launch_hop["url"] == launch, f"H2. the hand-off sent the browser to the launch link {launch}",
                launch_hop["url"])
        start = parse_qs(urlsplit(start_hop["url"]).query)
        self.ok(start.get("id") == [invite], f"H2. the launch link carries id={invite} (the invite id of team "
                                             f"{a.launch_team!r})", start_hop["url"])
        self.ok(start.get("redirect_to") == [redirect_to], f"H2. and redirect_to={redirect_to}", start_hop["url"])
        authorize = parse_qs(urlsplit(authorize_hop["url"]).query)
        self.ok(authorize.get("client_id") == [a.oauth_client_id] and authorize.get("redirect_uri") == [callback]
                and authorize.get("response_type") == ["code"],
                f"H2. Mattermost asked Drawbridge for a code for client {a.oauth_client_id} with redirect_uri {callback}",
                authorize_hop["url"])
        self.ok(urlsplit(authorize_hop["location"] or "").netloc == authority(CHAT, self.port)
                and "code" in parse_qs(urlsplit(authorize_hop["location"] or "").query),
                "H2. and got one at once, without any page", f"Location={authorize_hop['location']!r}")

        self.step = "H3. cookies"
        found = self.session_cookies()
        self.ok(len(found) == 1, f"H3. exactly one {a.cookie_name} cookie (set by the one-time URL)", f"{self.cookies()}")
        cookie = found[0]
        self.ok(cookie["domain"] in (f".{DOMAIN}", DOMAIN), f"H3. {a.cookie_name} has Domain={DOMAIN}",
                f"domain={cookie['domain']!r}")
        self.ok(cookie["path"] == "/", "H3. Path=/", f"path={cookie['path']!r}")
        self.ok(cookie["secure"] is True, "H3. Secure")
        self.ok(cookie["httpOnly"] is True, "H3. HttpOnly")
        self.ok(cookie.get("sameSite") == "Lax", "H3. SameSite=Lax", f"sameSite={cookie.get('sameSite')!r}")
        self.ok(not cookie.get("session", False) and cookie.get("expires", -1) > time.time() + 60,
                "H3. persistent (Max-Age), not a browser-session cookie", f"expires={cookie.get('expires')}")
        mm = {c["name"]: c for c in self.cookies() if c["name"] in ("MMAUTHTOKEN", "MMUSERID", "MMOAUTH")}
        self.ok("MMAUTHTOKEN" in mm and "MMUSERID" in mm and "MMOAUTH" not in mm,
                "H3. Mattermost signed the browser in: MMAUTHTOKEN and MMUSERID set (MMOAUTH spent)", f"{mm}")
        self.ok(all(mm[n]["domain"] == CHAT and mm[n]["secure"] for n in ("MMAUTHTOKEN", "MMUSERID"))
                and mm["MMAUTHTOKEN"]["httpOnly"],
                f"H3. both host-only on {CHAT} and Secure (nginx's X-Forwarded-Proto: https), MMAUTHTOKEN HttpOnly",
                f"{mm}")
        scripts_see = self.driver.execute_script("return document.cookie") or ""
        self.ok(a.cookie_name not in scripts_see and "MMAUTHTOKEN" not in scripts_see,
                f"H3. page scripts on chat see neither {a.cookie_name} nor MMAUTHTOKEN", scripts_see)

        self.step = "H4. signed in to chat"
        status, me = self.fetch_json("/api/v4/users/me")
        self.ok(status == 200 and isinstance(me, dict), f"H4. GET {chat}/api/v4/users/me in the browser answers 200",
                f"{status} {me}")
        self.ok(me.get("username") == a.expect_remote_user and me.get("auth_service") == "gitlab",
                f"H4. as {a.expect_remote_user}, a GitLab-SSO account", f"{me}")
        if a.expect_email is not None:
            self.ok((me.get("email") or "").lower() == a.expect_email.lower(), f"H4. with email {a.expect_email}", f"{me}")
        self.ok(me.get("id") == mm["MMUSERID"]["value"], "H4. the account MMUSERID names",
                f"id={me.get('id')!r} MMUSERID={mm['MMUSERID']['value']!r}")
        found = accounts()
        self.ok(len(found) == 1 and found[0]["id"] == me["id"], "H4. Mattermost has exactly one account for the user",
                f"{[(u.get('id'), u.get('username'), u.get('email')) for u in found]}")
        self.ok(found[0].get("auth_data") == str(issued["user_id"]),
                f"H4. linked to the platform user (auth_data {issued['user_id']}, the hand-off's user_id)",
                f"auth_data={found[0].get('auth_data')!r}")
        members = self.mattermost_control("state").get("team_members", [])
        self.ok(any(m.get("user_id") == me["id"] and m.get("team_id") == team_id for m in members),
                f"H4. and is a member of team {a.launch_team!r}")

        self.step = "H5. the same browser opens the one-time URL again"
        session_value = cookie["value"]
        self.navigation_hops()
        self.go(one_time)
        hops = self.navigation_hops()
        self.ok(self.at(final) and hops and hops[0]["status"] == 303 and self.login_form() is None,
                "H5. a reload by the browser it signed in goes on to chat again (303, no form)",
                f"{self.describe_page()}; hops: {self.hop_text(hops)}")
        again = self.session_cookies()
        self.ok(len(again) == 1 and again[0]["value"] == session_value,
                f"H5. with the same {a.cookie_name} (no second session)", f"{again}")
        self.ok(len(accounts()) == 1, "H5. and still one Mattermost account")

        self.step = "H6. the one-time URL in a fresh browser"
        self.driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
        self.ok(not self.cookies(), "H6. every cookie cleared (another browser, as far as Drawbridge can tell)",
                f"{self.cookies()}")
        self.navigation_hops()
        self.go(one_time)
        hops = self.navigation_hops()
        self.ok(self.at(one_time) and len(hops) == 1 and hops[0]["status"] == 400,
                "H6. the one-time URL answers 400 and sends the browser nowhere",
                f"{self.describe_page()}; hops: {self.hop_text(hops)}")
        self.ok(self.text_of("h1") == "This sign-in link has expired",
                "H6. the page says “This sign-in link has expired”", f"h1={self.text_of('h1')!r}")
        self.ok(not self.cookies(), "H6. and sets no cookie", f"{self.cookies()}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drawbridge-port", type=int, required=True, help="Drawbridge's http.port on 127.0.0.1")
    parser.add_argument("--nginx-port", type=int, required=True,
                        help="free port for nginx's TLS listener; Drawbridge's public_url must be https://sso.example.test:PORT")
    parser.add_argument("--work-dir", required=True,
                        help="nginx's files, the browser profile, logs and failure screenshots go here (created if missing)")
    parser.add_argument("--username", required=True, help="a platform login whose password is --password")
    parser.add_argument("--password", help="required except with --handoff-launch (which signs in without a form)")
    parser.add_argument("--wrong-password", help="default: --password with '-wrong' appended")
    parser.add_argument("--expect-remote-user", help="the Remote-User the apps must see (default: --username; "
                        "Drawbridge sends the chat-safe username: lowercased, [a-z0-9._-])")
    parser.add_argument("--expect-email", help="the Remote-Email the apps must see (default: not checked)")
    parser.add_argument("--cookie-name", default="drawbridge_session", help="session.cookie_name (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=20, help="seconds to wait for any one page (default %(default)s)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    parser.add_argument("--nginx-site", default=os.path.join(REPO, "deploy", "nginx", "drawbridge.conf"),
                        help="the production nginx site file to test (default %(default)s)")
    parser.add_argument("--platform-first", action="store_true",
                        help="run the platform-first flow instead (app.example.test is the platform, platform_app.py; "
                        "Drawbridge needs platform_session with cookie_name --platform-cookie-name, hash sha256, "
                        "recheck_interval 1s)")
    parser.add_argument("--platform-database-url", help="with --platform-first: the platform's database "
                        "(public.accounts and public.web_sessions), as psql takes it")
    parser.add_argument("--platform-cookie-name", default="app_session", help="the platform's cookie (default %(default)s)")
    parser.add_argument("--platform-signout-within", type=float, default=3.0,
                        help="with --platform-first: seconds a platform sign-out may take to reach chat (default %(default)s)")
    parser.add_argument("--handoff-launch", action="store_true",
                        help="run the hand-off flow instead: the platform's backend asks POST /api/v1/handoff for a "
                        "one-time URL to /launch/mattermost, the browser opens it and must end in Mattermost (the "
                        "contract server on --mattermost-port, behind the production chat block), signed in, no form")
    parser.add_argument("--platform-chat", action="store_true",
                        help="run the platform-to-chat flow instead (platform_chat_flow.py): sign in on the platform, "
                        "open Mattermost (the contract server on --mattermost-port) through /launch/mattermost with no "
                        "form, sign out of the platform and see chat's session revoked, then sign in again on "
                        "Drawbridge's form; needs what --platform-first and --handoff-launch need, but no service token")
    parser.add_argument("--service-token", help="with --handoff-launch: a Drawbridge service token (dbt_…)")
    parser.add_argument("--mattermost-port", type=int, help="with --handoff-launch: the Mattermost contract server "
                        "(Tests/contract-servers/mattermost_contract_server.py) on 127.0.0.1, started with "
                        "--site-url https://chat.example.test:NGINX_PORT and GitLab SSO pointing at Drawbridge")
    parser.add_argument("--launch-team", default="town", help="with --handoff-launch: the Mattermost team whose invite "
                        "id the launch link must carry (the connector's launch_team or first team; default %(default)s)")
    parser.add_argument("--oauth-client-id", default="mattermost-sso",
                        help="with --handoff-launch: Mattermost's OAuth client id at Drawbridge (default %(default)s)")
    args = parser.parse_args()
    if sum((args.platform_first, args.handoff_launch, args.platform_chat)) > 1:
        parser.error("--platform-first, --handoff-launch and --platform-chat are different flows; pick one")
    if args.platform_chat and (not args.mattermost_port or not args.platform_database_url):
        parser.error("--platform-chat needs --mattermost-port and --platform-database-url")
    if args.handoff_launch and (not args.service_token or not args.mattermost_port):
        parser.error("--handoff-launch needs --service-token and --mattermost-port")
    if not args.handoff_launch and args.password is None:
        parser.error("--password is required (except with --handoff-launch)")
    if args.password is None:
        args.password = ""
    args.wrong_password = args.wrong_password if args.wrong_password is not None else args.password + "-wrong"
    args.expect_remote_user = args.expect_remote_user or args.username
    if args.wrong_password == args.password and not args.handoff_launch:
        parser.error("--wrong-password must differ from --password")
    if args.platform_first and not args.platform_database_url:
        parser.error("--platform-first needs --platform-database-url")
    os.makedirs(args.work_dir, exist_ok=True)

    unblock_signals()
    run_to_the_end(Harness(args))


def unblock_signals():
    """Lets SIGTERM and SIGHUP stop the driver cleanly (as KeyboardInterrupt).

    A parent may start the driver with signals blocked: Foundation's Process (the Swift tests) passes on
    the signal mask of the thread that spawns it, where nearly every signal is blocked. The mask would
    be inherited by nginx's and the apps' processes too, so SIGTERM would reach none of them."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)


def standard_summary(harness):
    t = harness.timings
    return (f"{t['total']:.1f}s (nginx {t['nginx']:.1f}s, browser start {t['browser start']:.1f}s, "
            f"flow {t['flow']:.1f}s)")


def run_to_the_end(harness, summary=standard_summary):
    """Runs the harness, reports how it ended, always cleans up, and exits: 0 passed, 1 a failed check,
    2 a setup problem found in preflight, 130 interrupted. Every driver of this directory ends here."""
    status = 0
    try:
        harness.run()
        print(f"passed: {harness.passed} checks in {summary(harness)}", flush=True)
    except SetupFailed as e:
        print(f"FAIL: setup: {e}", file=sys.stderr, flush=True)
        status = 2 if harness.step == "preflight" else 1
    except CheckFailed as e:
        print(f"FAIL: {e}", file=sys.stderr)
        print(f"FAIL: at step {harness.step!r}; browser: {harness.describe_page()}", file=sys.stderr, flush=True)
        harness.save_failure_artifacts()
        status = 1
    except KeyboardInterrupt as e:
        print(f"FAIL: interrupted ({e or 'SIGINT'}) at step {harness.step!r}", file=sys.stderr, flush=True)
        status = 130
    except Exception as e:  # WebDriver errors and the like: same report as a failed check
        print(f"FAIL: {type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}", file=sys.stderr)
        if harness.driver is not None:
            print(f"FAIL: at step {harness.step!r}; browser: {harness.describe_page()}", file=sys.stderr, flush=True)
            harness.save_failure_artifacts()
        status = 1
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        harness.cleanup()
    sys.exit(status)


if __name__ == "__main__":
    main()
