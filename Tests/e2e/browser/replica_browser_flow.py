#!/usr/bin/python3
"""Two Drawbridge replicas behind one nginx, proved with a real browser: a sign-out on one is refused by the
other within a second.

Everything sso_browser_flow.py sets up (nginx serving deploy/nginx/drawbridge.conf on 127.0.0.1:--nginx-port
for sso./app./chat.example.test, upstream_app.py behind auth_request, headless chromium) is reused from it;
the one difference in the site is the `drawbridge` upstream, which lists BOTH replicas
(127.0.0.1:--drawbridge-port and 127.0.0.1:--second-drawbridge-port; nginx's round robin alternates them).
Both replicas are started by the caller over one Postgres, with

  public_url: https://sso.example.test:<nginx port>
  session: { cookie_domain: example.test }
  trusted_proxies: [127.0.0.1/32]
  cache: { lifetime: 30s }    # so that only NOTIFY, not the cache lifetime, can explain a refusal within 1 s

The flow:

  R1. app.example.test sends the browser to the sign-in form; signing in there lands back on the app,
      which sees Remote-User.
  R2. More loads of the app through nginx: each replica's /metrics (scraped on its loopback port, as the
      production file says) shows it answered /auth/verify with 200, so both replicas hold the session.
  R3. The browser signs out on replica A only: POST /logout with its cookie and CSRF token, straight to A's
      loopback port (nginx and replica B are not involved).
  R4. Measured from the end of that sign-out: the browser's next load of app.example.test through nginx
      lands on the sign-in form, and loads go on until replica B's /metrics shows B itself refused one
      (401 to a GET of /auth/verify, which is what nginx's auth_request sends). Both must happen within
      --refuse-within seconds (default 1). A probe straight to B (HEAD /auth/verify with the old cookie,
      every 10 ms in the background; HEAD so that B's GET count stays the browser's) times B alone.

Run with Debian's interpreter (python3-selenium, chromium, chromium-driver, nginx, openssl):

  /usr/bin/python3 Tests/e2e/browser/replica_browser_flow.py --drawbridge-port 8080 --second-drawbridge-port 8081 \\
      --nginx-port 8443 --work-dir /tmp/replica-e2e --username alice --password 'correct horse battery staple'

Output as sso_browser_flow.py's: `ok: ...` per check, `passed: N checks ...`, and lines `measured: ...`.
"""
import argparse
import os
import re
import shutil
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sso_browser_flow as flow  # noqa: E402
from sso_browser_flow import APP, CheckFailed, Harness, SetupFailed  # noqa: E402

VERIFY_ROUTE = 'route="/auth/verify"'
# nginx's auth_request subrequests are GETs; the driver's own probe of B uses HEAD, so it is not counted as B
# answering the browser.
VERIFY_METHOD = 'method="GET"'


def with_both_replicas(render_site, first_port, second_port):
    """render_site(), then the `drawbridge` upstream lists both replicas (nothing else changes)."""
    def render(args, *rest, **keywords):
        text = render_site(args, *rest, **keywords)
        pattern = re.compile(rf"(upstream\s+drawbridge\s*\{{[^}}]*?)server\s+127\.0\.0\.1:{first_port};")
        text, replaced = pattern.subn(rf"\g<1>server 127.0.0.1:{first_port};\n    server 127.0.0.1:{second_port};",
                                      text, count=1)
        if replaced != 1:
            raise SetupFailed(f"{args.nginx_site}: no `server 127.0.0.1:{first_port};` in the rendered "
                              f"`upstream drawbridge` block; update with_both_replicas() in {__file__}")
        return text
    return render


class ReplicaHarness(Harness):
    def __init__(self, args):
        super().__init__(args)
        self.replicas = {"A": args.drawbridge_port, "B": args.second_drawbridge_port}

    def preflight(self):
        super().preflight()
        for name, port in self.replicas.items():
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as r:
                    ready = r.status == 200
            except (urllib.error.URLError, OSError) as e:
                raise SetupFailed(f"replica {name} is not answering on 127.0.0.1:{port}/readyz ({e}); start it first")
            if not ready:
                raise SetupFailed(f"replica {name} on 127.0.0.1:{port} is not ready")

    # ---- the replicas, straight on their loopback ports -------------------------------------------

    def direct(self, replica, method, path, cookie=None, form=None):
        """(status, headers, body) of a request straight to a replica, never following redirects."""
        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):
                return None
        headers = {"Host": f"{flow.SSO}:{self.port}"}
        if cookie is not None:
            headers["Cookie"] = f"{self.args.cookie_name}={cookie}"
        data = None
        if form is not None:
            data = urllib.parse.urlencode(form).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        request = urllib.request.Request(f"http://127.0.0.1:{self.replicas[replica]}{path}", data=data,
                                         headers=headers, method=method)
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(request, timeout=self.args.timeout) as r:
                return r.status, r.headers, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode("utf-8", "replace")

    def verify_counts(self, replica):
        """{status: count} of this replica's /auth/verify answers so far (its Prometheus counters)."""
        status, _, body = self.direct(replica, "GET", "/metrics")
        if status != 200:
            raise CheckFailed(f"replica {replica}'s /metrics answered {status}")
        counts = {}
        for line in body.splitlines():
            if line.startswith("drawbridge_http_requests_total{") and VERIFY_ROUTE in line and VERIFY_METHOD in line:
                code = re.search(r'status="(\d+)"', line)
                if code:
                    counts[code.group(1)] = counts.get(code.group(1), 0) + float(line.rsplit(" ", 1)[1])
        return counts

    def all_counts(self):
        return {name: self.verify_counts(name) for name in self.replicas}

    @staticmethod
    def rose(before, after, status):
        return {name: after[name].get(status, 0) - before[name].get(status, 0) for name in before}

    # ---- the flow ---------------------------------------------------------------------------------

    def run(self):
        a = self.args
        began = self.start(f"{flow.SSO}, {APP}, {flow.CHAT}, the drawbridge upstream listing replicas A "
                           f"(127.0.0.1:{a.drawbridge_port}) and B (127.0.0.1:{a.second_drawbridge_port})")
        self.flow_replicas()
        self.finish(began)

    def load_app(self):
        self.go(self.app_url)
        self.wait(lambda: self.at(self.app_url) or self.on_login_page(), f"{self.app_url} to settle")

    def flow_replicas(self):
        a = self.args
        self.step = "R1. sign in"
        self.load_app()
        self.ok(self.on_login_page() and self.login_form() is not None,
                f"R1. {self.app_url} sends the browser to the sign-in form at {flow.SSO}")
        self.sign_in(a.username, a.password)
        self.wait(lambda: self.at(self.app_url), f"the browser to come back to {self.app_url}")
        self.ok(self.text_of("#remote-user") == a.expect_remote_user,
                f"R1. signed in; the app sees Remote-User: {a.expect_remote_user}", f"got {self.text_of('#remote-user')!r}")
        if a.expect_email is not None:
            self.ok(self.text_of("#remote-email") == a.expect_email, f"R1. and Remote-Email: {a.expect_email}",
                    f"got {self.text_of('#remote-email')!r}")
        cookies = self.session_cookies()
        self.ok(len(cookies) == 1, f"R1. one {a.cookie_name} cookie", f"{cookies}")
        cookie = cookies[0]["value"]

        self.step = "R2. both replicas answer"
        before = self.all_counts()
        loads = 0
        while loads < 12:
            self.load_app()
            loads += 1
            self.ok(self.at(self.app_url) and self.text_of("#remote-user") == a.expect_remote_user,
                    f"R2. load {loads} of {self.app_url} through nginx: signed in as {a.expect_remote_user}")
            served = self.rose(before, self.all_counts(), "200")
            if loads >= 4 and all(count > 0 for count in served.values()):
                break
        self.ok(all(count > 0 for count in served.values()),
                "R2. both replicas answered nginx's auth_request with 200 (their /metrics counters)", f"{served}")
        self.note(f"R2. /auth/verify 200s over {loads} loads: A {served['A']:.0f}, B {served['B']:.0f}")
        self.ok(self.backend_get(flow.SSO, "/healthz") == 200, f"R2. {flow.SSO}/healthz through nginx answers 200 "
                "(R4 sends it to move nginx's round robin on)")
        # Straight to B as well: B holds the session in its cache (cache.lifetime 30s) when A signs out.
        status, headers, _ = self.direct("B", "HEAD", "/auth/verify", cookie=cookie)
        self.ok(status == 200 and headers.get("Remote-User") == a.expect_remote_user,
                "R2. replica B, asked directly, knows the session", f"status {status}")

        self.step = "R3. sign out on A"
        status, _, page = self.direct("A", "GET", "/logout", cookie=cookie)
        csrf = re.search(r'name="csrf"\s+value="([^"]+)"', page) or re.search(r'value="([^"]+)"\s+name="csrf"', page)
        self.ok(status == 200 and csrf is not None, "R3. replica A's sign-out page has a CSRF token", f"status {status}")
        probe = {"refused_after": None, "stop": False}
        before = self.all_counts()
        status, headers, _ = self.direct("A", "POST", "/logout", cookie=cookie, form={"csrf": csrf.group(1)})
        signed_out = time.monotonic()
        self.ok(status == 303, "R3. POST /logout straight to replica A (127.0.0.1, not through nginx) signs out",
                f"status {status}")

        def probe_b():
            while not probe["stop"] and time.monotonic() - signed_out < 10:
                code, _, _ = self.direct("B", "HEAD", "/auth/verify", cookie=cookie)
                if code == 401:
                    probe["refused_after"] = time.monotonic() - signed_out
                    return
                time.sleep(0.01)
        prober = threading.Thread(target=probe_b, daemon=True)
        # The browser goes first; the probe starts once its first load is under way (it only reads).
        self.step = "R4. refused everywhere"
        first_refusal = b_refusal = None
        loads = 0
        refused_by = {"A": 0, "B": 0}
        while loads < 8 and b_refusal is None:
            if loads == 0:
                prober.start()
            self.load_app()
            loads += 1
            elapsed = time.monotonic() - signed_out
            self.ok(self.on_login_page() and self.login_form() is not None,
                    f"R4. load {loads} of {self.app_url} after the sign-out lands on the sign-in form",
                    f"after {elapsed:.3f}s at {self.driver.current_url}")
            if first_refusal is None:
                first_refusal = elapsed
            refused_by = self.rose(before, self.all_counts(), "401")
            if refused_by["B"] > 0:
                b_refusal = elapsed
            elif loads % 2 == 1:
                # nginx's round robin sends each load's requests (auth_request, the sign-in page, favicons) to the
                # replicas in turn; one extra request to Drawbridge through nginx moves the next auth_request over.
                self.backend_get(flow.SSO, "/healthz")
        probe["stop"] = True
        prober.join(timeout=12)
        self.ok(b_refusal is not None, "R4. replica B refused the session (its /auth/verify 401 counter rose)",
                f"401s: {refused_by}")
        self.ok(first_refusal < a.refuse_within,
                f"R4. the browser's first load after the sign-out was sent to the sign-in form within {a.refuse_within}s",
                f"{first_refusal:.3f}s")
        self.ok(b_refusal < a.refuse_within, f"R4. a load that replica B answered was refused within {a.refuse_within}s",
                f"{b_refusal:.3f}s")
        if probe["refused_after"] is not None:
            self.ok(probe["refused_after"] < a.refuse_within, f"R4. B, asked directly, refused within {a.refuse_within}s",
                    f"{probe['refused_after']:.3f}s")
        print(f"measured: browser's first load refused {first_refusal:.3f}s after the sign-out on A; "
              f"a load refused by B itself {b_refusal:.3f}s after ({loads} loads; /auth/verify 401s A {refused_by['A']:.0f}, "
              f"B {refused_by['B']:.0f}); B probed directly refused within "
              f"{'%.3fs' % probe['refused_after'] if probe['refused_after'] is not None else '(probe did not finish)'}",
              flush=True)

    def backend_get(self, host, path):
        """A GET through nginx (TLS, SNI `host`), outside the browser."""
        import http.client
        import socket
        import ssl
        context = ssl.create_default_context(cafile=self.certificate)
        port = self.port

        class Loopback(http.client.HTTPSConnection):
            def connect(conn):
                sock = socket.create_connection(("127.0.0.1", port), conn.timeout)
                conn.sock = context.wrap_socket(sock, server_hostname=conn.host)

        connection = Loopback(host, port, context=context, timeout=self.args.timeout)
        try:
            connection.request("GET", path)
            return connection.getresponse().status
        finally:
            connection.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drawbridge-port", type=int, required=True, help="replica A's http.port on 127.0.0.1")
    parser.add_argument("--second-drawbridge-port", type=int, required=True, help="replica B's http.port on 127.0.0.1")
    parser.add_argument("--nginx-port", type=int, required=True,
                        help="free port for nginx's TLS listener; public_url must be https://sso.example.test:PORT")
    parser.add_argument("--work-dir", required=True, help="nginx's files, the browser profile, logs, failure screenshots")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--expect-remote-user", help="default: --username")
    parser.add_argument("--expect-email", help="the Remote-Email the app must see (default: not checked)")
    parser.add_argument("--cookie-name", default="drawbridge_session")
    parser.add_argument("--refuse-within", type=float, default=1.0,
                        help="seconds the other replica may take to refuse the ended session (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=20, help="seconds to wait for any one page (default %(default)s)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    parser.add_argument("--nginx-site", default=os.path.join(flow.REPO, "deploy", "nginx", "drawbridge.conf"))
    args = parser.parse_args()
    args.expect_remote_user = args.expect_remote_user or args.username
    os.makedirs(args.work_dir, exist_ok=True)
    # Harness.start_nginx() renders the site through the module's render_site: that is the one hook.
    flow.render_site = with_both_replicas(flow.render_site, args.drawbridge_port, args.second_drawbridge_port)

    flow.unblock_signals()
    flow.run_to_the_end(ReplicaHarness(args))


if __name__ == "__main__":
    main()
