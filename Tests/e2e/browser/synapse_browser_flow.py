#!/usr/bin/python3
"""Opening Matrix through Drawbridge's launch link, in a real browser, against a real Synapse.

Reuses sso_browser_flow.py's Harness (nginx with the production site file, chromium through
chromedriver, the platform stand-in) and adds two server blocks to the rendered nginx site file:

  matrix.example.test   Synapse (127.0.0.1:--synapse-port), proxied as Synapse's reverse-proxy guide
                        has it (only /_matrix and /_synapse/client; Host with the port, since
                        public_baseurl has one; X-Forwarded-Proto)
  element.example.test  the Matrix client Synapse hands the login to: a static page served by nginx
                        (Drawbridge's synapse connector has client_url https://element.example.test:PORT/)

Two flows, each in a browser of its own:

  M. platform-first: signed in on the platform (app.example.test, platform_app.py), the browser opens
     https://sso.example.test:PORT/launch/synapse -> Synapse's SSO redirect -> Drawbridge's
     /oauth/authorize, which answers at once from the platform's cookie (no form) -> Synapse's OIDC
     callback -> Synapse's "Continue to your account" page, whose button is clicked -> the client URL
     with a loginToken, which the driver exchanges at Synapse (m.login.token) for @USER:SERVER_NAME.
  F. Drawbridge's own form: a fresh browser opens the same launch link, gets Drawbridge's sign-in form at
     /oauth/authorize, signs in, and lands in Matrix the same way.

Each flow also checks, through Synapse's admin API on loopback, that Synapse has exactly one account
for the user, the one Drawbridge provisioned: external_ids [{auth_provider: oidc-IDP_ID, external_id:
the platform id}].

Synapse must run (scripts/synapse.sh) with
  --public-baseurl https://matrix.example.test:PORT/   (Secure oidc_session cookies need https)
  --oidc-issuer https://sso.example.test:PORT --oidc-server-url http://127.0.0.1:DRAWBRIDGE_PORT
Drawbridge as sso_browser_flow.py --platform-first needs it, plus a synapse connector (url the loopback
Synapse, public_url https://matrix.example.test:PORT, client_url https://element.example.test:PORT/)
and a trusted OAuth client with the redirect URI https://matrix.example.test:PORT/_synapse/client/oidc/callback.

Prints `ok: ...` per check and `passed: N checks ...`; on the first failure `FAIL: ...` (what was
expected, what happened, the browser's URL and page text), failure.png and failure.html in the work
directory, exit 1. Bad arguments, a missing tool or a misconfigured Drawbridge: exit 2.
"""
import argparse
import json
import os
import re
import shutil
import signal
import sys
import time
import urllib.error
import urllib.request
from urllib.parse import parse_qs, quote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sso_browser_flow as base  # noqa: E402
from sso_browser_flow import (APP, DOMAIN, SSO, CheckFailed, Harness, SetupFailed,  # noqa: E402
                              authority, stop_process)

MATRIX, ELEMENT = f"matrix.{DOMAIN}", f"element.{DOMAIN}"
CLIENT_TITLE = "Matrix client (test stand-in)"


def matrix_server_blocks(site, nginx_port, synapse_port, cert, key):
    """The two server blocks this test adds to the rendered production file (which has no Matrix host).
    They listen exactly as the file's sso. block does (same address, same options)."""
    blocks, masked = base._top_level_blocks(site)
    sso = [masked[s:e] for s, e in blocks if re.search(rf"^\s*server_name\s+{re.escape(SSO)}\s*;", masked[s:e], re.M)]
    if len(sso) != 1:
        raise SetupFailed(f"the rendered site file has {len(sso)} server blocks for {SSO}, expected one; "
                          f"update matrix_server_blocks() in {__file__}")
    listens = "\n".join("    " + line.strip() for line in re.findall(r"^\s*listen\s[^;]*;", sso[0], re.M))
    if f":{nginx_port} " not in listens:
        raise SetupFailed(f"the {SSO} block does not listen on port {nginx_port}: {listens!r}")
    page = (f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{CLIENT_TITLE}</title></head>"
            f"<body><h1 id=client>{CLIENT_TITLE}</h1><p>Synapse sends the browser here with ?loginToken=...</p>"
            "</body></html>")
    return f"""

# ---------------------------------------------------------------------------------------------
# Test (synapse_browser_flow.py): {MATRIX} is Synapse, as Synapse's reverse-proxy documentation sets it
# up (only /_matrix and /_synapse/client; the admin API stays on loopback), except that Host keeps the
# port: public_baseurl has one, and Synapse sends an SSO start on any other host back to public_baseurl.
server {{
{listens}
    server_name {MATRIX};

    ssl_certificate     {cert};
    ssl_certificate_key {key};

    location ~ ^(/_matrix|/_synapse/client) {{
        proxy_pass http://127.0.0.1:{synapse_port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $http_host;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_set_header X-Forwarded-Proto $scheme;
        client_max_body_size 50m;
    }}

    location / {{
        return 404;
    }}
}}

# Test: {ELEMENT}, the Matrix client (client_url) Synapse hands the login to, as a static page.
server {{
{listens}
    server_name {ELEMENT};

    ssl_certificate     {cert};
    ssl_certificate_key {key};

    location = / {{
        default_type text/html;
        add_header Cache-Control no-store always;
        return 200 '{page}';
    }}

    location / {{
        return 404;
    }}
}}
"""


class SynapseHarness(Harness):
    """sso_browser_flow's Harness with Synapse behind nginx and the two launch-link flows."""

    def __init__(self, args):
        super().__init__(args)
        self.matrix = f"https://{authority(MATRIX, self.port)}"
        self.client_url = f"https://{authority(ELEMENT, self.port)}/"
        self.launch = f"{self.sso}/launch/synapse"
        self.synapse_admin = f"http://127.0.0.1:{args.synapse_port}"
        self.callback = f"{self.matrix}/_synapse/client/oidc/callback"
        self.auth_provider = args.idp_id if args.idp_id == "oidc" or args.idp_id.startswith("oidc-") else f"oidc-{args.idp_id}"
        with open(args.synapse_admin_token_file) as f:
            self.admin_token = f.read().strip()

    # ---- set-up -----------------------------------------------------------------------------------

    def preflight(self):
        super().preflight()
        a = self.args
        try:
            status, health = self.synapse("GET", "/health", token=None, raw=True)
        except OSError as e:
            raise SetupFailed(f"Synapse is not answering on {self.synapse_admin} (--synapse-port): {e}")
        if status != 200:
            raise SetupFailed(f"Synapse's {self.synapse_admin}/health answers {status} {health!r}")
        status, whoami = self.synapse("GET", "/_matrix/client/v3/account/whoami")
        if status != 200:
            raise SetupFailed(f"the token in --synapse-admin-token-file is refused by Synapse: {status} {whoami}")
        # Drawbridge's launch link must name this Synapse, this idp and this client (the connector's settings).
        request = urllib.request.Request(f"http://127.0.0.1:{a.drawbridge_port}/launch/synapse")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *_args, **_kwargs):
                return None
        try:
            with urllib.request.build_opener(NoRedirect).open(request, timeout=5) as r:
                status, location = r.status, r.headers.get("Location")
        except urllib.error.HTTPError as e:
            status, location = e.code, e.headers.get("Location")
        expected = (f"{self.matrix}/_matrix/client/v3/login/sso/redirect/{self.auth_provider}"
                    f"?redirectUrl={self.client_url}")
        if status != 302 or location != expected:
            raise SetupFailed(f"Drawbridge's /launch/synapse must redirect (302) to {expected} (a synapse connector with "
                              f"public_url {self.matrix}, client_url {self.client_url}, idp_id {a.idp_id}); "
                              f"it answers {status} Location={location!r}")

    def start_nginx(self):
        """The base harness's nginx, with the production file rendered as for --platform-first plus this
        test's matrix. and element. server blocks (render_site is wrapped for this one call)."""
        render = base.render_site
        a = self.args

        def render_with_matrix(args, work, http_port, app_port, cert, key, *rest):
            site = render(args, work, http_port, app_port, cert, key, *rest)
            return site + matrix_server_blocks(site, a.nginx_port, a.synapse_port, cert, key)
        base.render_site = render_with_matrix
        try:
            super().start_nginx()
        finally:
            base.render_site = render

    def start_browser(self):
        # The base harness keeps chromium's performance log (CDP Network events: every hop of a redirect
        # chain) only for --handoff-launch, which it reads in start_browser alone; these flows need it too.
        self.args.handoff_launch = True
        try:
            super().start_browser()
        finally:
            self.args.handoff_launch = False

    def restart_browser(self):
        """A fresh browser (new profile: no cookies, no cache), as another user's machine would be."""
        if self.driver is not None:
            try:
                self.driver.quit()
            except Exception as e:
                self.note(f"driver.quit() failed: {e}")
            self.driver = None
            stop_process(getattr(getattr(self, "service", None), "process", None), "chromedriver")
        for pid in base.pids_with_argument(f"--user-data-dir={self.profile}"):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.reaper is not None:
            self.reaper.stdin.close()
            self.reaper.wait(timeout=10)
            self.reaper = None
        for sub in (self.profile, os.path.join(self.work, "home")):
            if os.path.exists(sub):
                shutil.rmtree(sub)
        self.start_browser()

    # ---- Synapse ----------------------------------------------------------------------------------

    def synapse(self, method, path, body=None, token="admin", raw=False):
        """Synapse on loopback (the admin API is not behind nginx): (status, parsed JSON or text)."""
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {self.admin_token if token == 'admin' else token}"
        request = urllib.request.Request(self.synapse_admin + path, method=method, headers=headers,
                                         data=None if body is None else json.dumps(body).encode())
        try:
            with urllib.request.urlopen(request, timeout=self.args.timeout) as r:
                status, text = r.status, r.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as e:
            status, text = e.code, e.read().decode("utf-8", "replace")
        if raw:
            return status, text
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def matrix_client_request(self, method, path, body=None, token=None):
        """What the Matrix client does: https://matrix.example.test:PORT through nginx (TLS with that name,
        the test certificate as the only trusted one). (status, parsed JSON or text)."""
        status, _, text = self.backend_request(method, MATRIX, path, body, token)
        try:
            return status, json.loads(text)
        except ValueError:
            return status, text

    def mxid(self, username):
        return f"@{username}:{self.args.synapse_server_name}"

    def synapse_accounts(self, username):
        """Every Matrix account whose localpart is the user's or starts with it (alice, alice1, ...)."""
        status, listing = self.synapse("GET", f"/_synapse/admin/v2/users?guests=false&deactivated=true&limit=1000"
                                               f"&name={quote(username)}")
        if status != 200:
            raise CheckFailed(f"Synapse's admin API GET /_synapse/admin/v2/users answers {status}: {listing}")
        return [u["name"] for u in listing.get("users", [])
                if re.fullmatch(rf"@{re.escape(username)}[0-9]*:{re.escape(self.args.synapse_server_name)}", u["name"])]

    def platform_id(self, username):
        rows = self.platform_sql("SELECT id FROM public.accounts WHERE login = :'login';", login=username)
        if len(rows) != 1:
            raise CheckFailed(f"the platform has {len(rows)} accounts with login {username!r}, expected one")
        return rows[0][0]

    # ---- the flows --------------------------------------------------------------------------------

    def run(self):
        a = self.args
        t2 = self.start(f"{SSO}, {APP} (the platform), {MATRIX} (Synapse on 127.0.0.1:{a.synapse_port}) and {ELEMENT}")
        self.flow_platform_first()
        t3 = time.monotonic()
        self.restart_browser()
        t4 = time.monotonic()
        self.flow_drawbridge_form()
        t5 = time.monotonic()
        self.timings.update({"browser start": self.timings["browser start"] + (t4 - t3), "platform-first": t3 - t2,
                             "form": t5 - t4, "total": t5 - self.started_at})

    def expect_no_account_yet(self, label, username):
        found = self.synapse_accounts(username)
        self.ok(not found, f"{label} Synapse has no account for {username} yet", f"it has {found}")

    def open_launch_link(self, label):
        """Opens the launch link; returns the hops up to the page the browser stops on."""
        self.navigation_hops()  # forget what the browser did so far
        self.go(self.launch)
        self.wait(lambda: self.driver.current_url.startswith(self.client_url)
                  or (self.driver.current_url.startswith(self.callback) and self.find("a.primary-button"))
                  or (self.driver.current_url.startswith(f"{self.sso}/") and self.login_form() is not None),
                  f"{label} the launch link to end on Synapse's confirmation page, Drawbridge's form or the client")
        return self.navigation_hops()

    def check_start_of_chain(self, label, hops):
        """launch link 302 -> Synapse's SSO redirect 302 -> Drawbridge's /oauth/authorize (its answer checked by the caller)."""
        got = [(urlsplit(h["url"]).netloc, urlsplit(h["url"]).path, h["status"]) for h in hops]
        redirect_path = f"/_matrix/client/v3/login/sso/redirect/{self.auth_provider}"
        expected = [(authority(SSO, self.port), "/launch/synapse", 302), (authority(MATRIX, self.port), redirect_path, 302),
                    (authority(SSO, self.port), "/oauth/authorize")]
        self.ok(len(got) >= 3 and all(g[:len(e)] == e for g, e in zip(got, expected))
                and all(urlsplit(h["url"]).scheme == "https" and urlsplit(h["url"]).port == self.port for h in hops),
                f"{label} {self.launch} 302 -> Synapse's {redirect_path} 302 -> Drawbridge's /oauth/authorize, "
                "all https through nginx", self.hop_text(hops))
        start = parse_qs(urlsplit(hops[1]["url"]).query)
        self.ok(start.get("redirectUrl") == [self.client_url], f"{label} Synapse's SSO start carries redirectUrl={self.client_url}",
                hops[1]["url"])
        authorize = parse_qs(urlsplit(hops[2]["url"]).query)
        self.ok(authorize.get("redirect_uri") == [self.callback] and authorize.get("response_type") == ["code"]
                and "openid" in (authorize.get("scope") or [""])[0].split() and authorize.get("state") and authorize.get("nonce"),
                f"{label} Synapse asks Drawbridge for a code (scope openid, state, nonce) with redirect_uri {self.callback}",
                hops[2]["url"])
        return authorize

    def through_synapse_to_the_client(self, label, hops_so_far):
        """From Synapse's callback: its confirmation page, clicked through, to the client with a loginToken."""
        hops = hops_so_far
        callback_hops = [h for h in hops if h["url"].split("?")[0] == self.callback]
        self.ok(len(callback_hops) == 1, f"{label} Drawbridge sends the browser to Synapse's OIDC callback {self.callback}",
                f"{self.describe_page()}; hops: {self.hop_text(hops)}")
        params = parse_qs(urlsplit(callback_hops[0]["url"]).query)
        self.ok("code" in params and "state" in params and "error" not in params,
                f"{label} with a code and Synapse's state, no error", callback_hops[0]["url"])
        if self.driver.current_url.startswith(self.client_url):
            self.note(f"{label} Synapse showed no confirmation page (the client is in sso.client_whitelist)")
        else:
            # Synapse's own page at the callback URL: "Continue to your account", a link to the client with
            # the loginToken (sso_redirect_confirm.html; skipped only for clients in sso.client_whitelist).
            self.ok(self.driver.current_url.split("?")[0] == self.callback and hops[-1]["status"] == 200,
                    f"{label} Synapse answers the callback with a page of its own (200)", self.describe_page())
            self.ok(self.text_of("h1") == "Continue to your account",
                    f"{label} Synapse's confirmation page: “Continue to your account”", self.describe_page())
            page_text = self.driver.execute_script("return document.body.innerText") or ""
            self.ok(f"{ELEMENT}" in page_text, f"{label} naming the client it grants access to ({ELEMENT})",
                    re.sub(r"\s+", " ", page_text)[:300])
            buttons = [b for b in self.find("a.primary-button") if b.text.strip() == "Continue"]
            self.ok(len(buttons) == 1, f"{label} with a “Continue” button", self.describe_page())
            href = buttons[0].get_attribute("href") or ""
            self.ok(href.startswith(self.client_url + "?") and "loginToken" in parse_qs(urlsplit(href).query),
                    f"{label} which links to {self.client_url} with a loginToken", f"href={href!r}")
            self.note(f"{label} Synapse's confirmation page is clicked through, as a user would")
            self.navigation_hops()
            page = self.find("html")[0]
            buttons[0].click()
            from selenium.webdriver.support import expected_conditions as EC
            self.wait(lambda: EC.staleness_of(page)(self.driver) and self.loaded(), "the page after “Continue”")
        self.wait(lambda: self.driver.current_url.startswith(self.client_url) and self.text_of("#client") == CLIENT_TITLE,
                  f"the Matrix client at {self.client_url}")
        landed = self.driver.current_url
        tokens = parse_qs(urlsplit(landed).query).get("loginToken", [])
        self.ok(urlsplit(landed)._replace(query="").geturl() == self.client_url and len(tokens) == 1 and tokens[0],
                f"{label} the browser lands on the client_url {self.client_url} with a loginToken",
                f"url={landed}")
        return tokens[0]

    def exchange_and_check_account(self, label, username, login_token):
        """The client's part (m.login.token through nginx), then the account through the admin API."""
        expected = self.mxid(username)
        status, login = self.matrix_client_request("POST", "/_matrix/client/v3/login",
                                                   {"type": "m.login.token", "token": login_token,
                                                    "initial_device_display_name": "synapse_browser_flow.py"})
        self.ok(status == 200 and isinstance(login, dict) and login.get("access_token"),
                f"{label} POST {self.matrix}/_matrix/client/v3/login (m.login.token) answers 200 with an access token",
                f"{status} {login}")
        self.ok(login.get("user_id") == expected, f"{label} as {expected}", f"user_id={login.get('user_id')!r}")
        status, whoami = self.matrix_client_request("GET", "/_matrix/client/v3/account/whoami", token=login["access_token"])
        self.ok(status == 200 and whoami.get("user_id") == expected, f"{label} the access token works: whoami says {expected}",
                f"{status} {whoami}")
        status, again = self.matrix_client_request("POST", "/_matrix/client/v3/login",
                                                   {"type": "m.login.token", "token": login_token})
        self.ok(status == 403, f"{label} the loginToken is spent: a second exchange is refused (403)", f"{status} {again}")

        found = self.synapse_accounts(username)
        self.ok(found == [expected], f"{label} Synapse has exactly one account for {username}: {expected}", f"it has {found}")
        status, user = self.synapse("GET", f"/_synapse/admin/v2/users/{quote(expected)}")
        self.ok(status == 200, f"{label} the admin API shows {expected}", f"{status} {user}")
        platform_id = self.platform_id(username)
        external = [(e.get("auth_provider"), e.get("external_id")) for e in user.get("external_ids", [])]
        self.ok(external == [(self.auth_provider, platform_id)],
                f"{label} its external_ids are exactly [{self.auth_provider} = {platform_id}] (the platform id: the "
                "account Drawbridge provisioned, which Synapse's OIDC login looked up)", f"external_ids={external}")
        self.ok(not user.get("deactivated"), f"{label} and it is active", f"{user}")
        if user.get("displayname"):
            self.note(f"{label} display name {user['displayname']!r}")

    def flow_platform_first(self):
        a = self.args
        self.step = "M1. signed in on the platform"
        self.expect_no_account_yet("M1.", a.username)
        self.ok(not self.cookies(), "M1. the browser starts with no cookies", f"{self.cookies()}")
        self.platform_sign_in()
        self.ok(self.text_of("#platform-user") == a.username, f"M1. signed in on the platform {self.platform_url} as {a.username}",
                f"got {self.text_of('#platform-user')!r}")
        self.ok(len(self.platform_cookies()) == 1 and not self.session_cookies(),
                f"M1. the browser has the platform's {a.platform_cookie_name} and no {a.cookie_name} yet", f"{self.cookies()}")

        self.step = "M2. the launch link"
        hops = self.open_launch_link("M2.")
        self.check_start_of_chain("M2.", hops)
        self.ok(hops[2]["status"] == 302 and (hops[2]["location"] or "").split("?")[0] == self.callback,
                "M2. Drawbridge's /oauth/authorize answers at once with a redirect to Synapse's callback: no page, "
                "no sign-in form (the session comes from the platform's cookie)",
                f"status={hops[2]['status']} Location={hops[2]['location']!r}; hops: {self.hop_text(hops)}")
        self.ok(not any(urlsplit(h["url"]).netloc == authority(SSO, self.port) and urlsplit(h["url"]).path == "/login"
                        for h in hops) and self.login_form() is None,
                "M2. Drawbridge's sign-in form was never shown", self.hop_text(hops))
        found = self.session_cookies()
        self.ok(len(found) == 1 and found[0]["domain"] in (f".{DOMAIN}", DOMAIN) and found[0]["secure"] and found[0]["httpOnly"],
                f"M2. Drawbridge opened a session from the platform's: one {a.cookie_name} cookie, Domain={DOMAIN}, "
                "Secure, HttpOnly", f"{found}")

        self.step = "M3. Synapse's callback and confirmation page"
        token = self.through_synapse_to_the_client("M3.", hops)

        self.step = "M4. the Matrix login"
        self.exchange_and_check_account("M4.", a.username, token)

    def flow_drawbridge_form(self):
        a = self.args
        username, password = a.form_username, a.form_password
        self.step = "F1. a fresh browser opens the launch link"
        if username != a.username:
            self.expect_no_account_yet("F1.", username)
        self.ok(not self.cookies(), f"F1. a fresh browser: no cookies (no {a.platform_cookie_name}, no {a.cookie_name})",
                f"{self.cookies()}")
        hops = self.open_launch_link("F1.")
        self.check_start_of_chain("F1.", hops)
        form = self.login_form()
        self.ok(form is not None and len(hops) == 3 and self.driver.current_url == hops[2]["url"]
                and hops[2]["status"] == 200,
                "F1. Drawbridge's /oauth/authorize shows its sign-in form (200, at the authorize URL itself)",
                f"{self.describe_page()}; hops: {self.hop_text(hops)}")
        self.ok(all(form[k] is not None for k in ("username", "password", "csrf", "submit")),
                "F1. the form has user name, password, CSRF token and a submit button")
        self.ok(not self.session_cookies(), f"F1. no {a.cookie_name} cookie yet",
                f"{self.session_cookies()}")

        self.step = "F2. sign in on Drawbridge's form"
        self.navigation_hops()
        self.sign_in(username, password)
        self.wait(lambda: self.find("a.primary-button") or self.driver.current_url.startswith(self.client_url)
                  or self.login_form() is not None, "the page after signing in")
        hops = self.navigation_hops()
        self.ok(self.login_form() is None, f"F2. signing in as {username} leaves Drawbridge's form",
                f"{self.describe_page()}; hops: {self.hop_text(hops)}")
        got = [(urlsplit(h["url"]).netloc, urlsplit(h["url"]).path, h["status"]) for h in hops]
        self.ok(len(got) >= 3 and got[0][:2] == (authority(SSO, self.port), "/oauth/authorize") and got[0][2] == 303
                and got[1][:3] == (authority(SSO, self.port), "/oauth/authorize", 302)
                and (hops[1]["location"] or "").split("?")[0] == self.callback,
                "F2. the form's POST answers 303 back to /oauth/authorize, which now answers 302 to Synapse's callback",
                self.hop_text(hops))
        found = self.session_cookies()
        self.ok(len(found) == 1 and found[0]["domain"] in (f".{DOMAIN}", DOMAIN) and found[0]["secure"] and found[0]["httpOnly"],
                f"F2. one {a.cookie_name} cookie, Domain={DOMAIN}, Secure, HttpOnly", f"{found}")
        self.ok(not self.platform_cookies(), f"F2. and still no {a.platform_cookie_name}: the platform played no part")

        self.step = "F3. Synapse's callback and confirmation page"
        token = self.through_synapse_to_the_client("F3.", hops)

        self.step = "F4. the Matrix login"
        self.exchange_and_check_account("F4.", username, token)
        if username != a.username:
            found = self.synapse_accounts(a.username)
            self.ok(found == [self.mxid(a.username)], f"F4. and {a.username} still has exactly one account", f"{found}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--drawbridge-port", type=int, required=True, help="Drawbridge's http.port on 127.0.0.1")
    parser.add_argument("--nginx-port", type=int, required=True,
                        help="free port for nginx's TLS listener; Drawbridge's public_url must be https://sso.example.test:PORT")
    parser.add_argument("--work-dir", required=True, help="nginx's files, the browser profile, logs and failure screenshots")
    parser.add_argument("--username", required=True, help="the platform-first flow's user (a platform login)")
    parser.add_argument("--password", required=True)
    parser.add_argument("--form-username", help="the user of the flow through Drawbridge's form (default: --username)")
    parser.add_argument("--form-password", help="default: --password")
    parser.add_argument("--platform-database-url", required=True, help="the platform's database (public.accounts and "
                        "public.web_sessions), as psql takes it")
    parser.add_argument("--synapse-port", type=int, required=True,
                        help="Synapse's plain HTTP listener on 127.0.0.1 (nginx's matrix.example.test passes requests to it)")
    parser.add_argument("--synapse-server-name", required=True, help="Synapse's server_name (user ids are @user:NAME)")
    parser.add_argument("--synapse-admin-token-file", required=True, help="a Synapse admin's access token (scripts/synapse.sh "
                        "writes DIR/admin_token)")
    parser.add_argument("--idp-id", default="drawbridge", help="Drawbridge's idp_id in Synapse's oidc_providers (default %(default)s)")
    parser.add_argument("--cookie-name", default="drawbridge_session", help="session.cookie_name (default %(default)s)")
    parser.add_argument("--platform-cookie-name", default="app_session", help="the platform's cookie (default %(default)s)")
    parser.add_argument("--timeout", type=float, default=20, help="seconds to wait for any one page (default %(default)s)")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--chromedriver", default="/usr/bin/chromedriver")
    parser.add_argument("--nginx", default=shutil.which("nginx") or "/usr/sbin/nginx")
    parser.add_argument("--nginx-site", default=os.path.join(base.REPO, "deploy", "nginx", "drawbridge.conf"),
                        help="the production nginx site file (default %(default)s)")
    args = parser.parse_args()
    args.form_username = args.form_username or args.username
    args.form_password = args.form_password if args.form_password is not None else args.password
    # What the base harness reads: nginx and the platform stand-in as for --platform-first.
    args.platform_first = True
    args.expect_remote_user, args.expect_email = args.username, None
    os.makedirs(args.work_dir, exist_ok=True)

    base.unblock_signals()
    try:
        harness = SynapseHarness(args)
    except OSError as e:
        print(f"FAIL: setup: --synapse-admin-token-file: {e}", file=sys.stderr, flush=True)
        sys.exit(2)

    def summary(h):
        t = h.timings
        return (f"{t['total']:.1f}s (nginx {t['nginx']:.1f}s, browser starts {t['browser start']:.1f}s, "
                f"platform-first flow {t['platform-first']:.1f}s, form flow {t['form']:.1f}s)")

    base.run_to_the_end(harness, summary)


if __name__ == "__main__":
    main()
