#!/usr/bin/python3
"""Signs in to a real Synapse through its OpenID Connect SSO login, as a browser would, non-interactively.

Flow: GET /_matrix/client/v3/login/sso/redirect/oidc-<idp_id>?redirectUrl=<client URL> -> Drawbridge
/oauth/authorize (sign-in form, consent if asked) -> Synapse /_synapse/client/oidc/callback -> Synapse's
"Continue to your account" page (or a direct redirect for whitelisted clients) -> <client URL>?loginToken=…
(never fetched) -> POST /_matrix/client/v3/login m.login.token -> GET the user's displayname.

On success prints ONE JSON line on stdout and exits 0:
  {"user_id": …, "displayname": …, "device_id": …, "access_token": …}
On failure prints "FAIL: <step>: <what happened>" (with the page text) on stderr and exits 1. A username
picker or a new-user consent page from Synapse is a failure (the account mapping did not work), as is
Drawbridge refusing the sign-in or Synapse's "account deactivated" page. Progress goes to stderr.

Run with Debian's interpreter (python3-requests) or Synapse's venv python:
  /usr/bin/python3 Tests/e2e/synapse_sso_login.py --synapse http://127.0.0.1:8008 --idp-id drawbridge \
      --username alice --password 'correct horse battery staple'
"""
import argparse
import ipaddress
import json
import sys
from html.parser import HTMLParser
from urllib.parse import parse_qs, quote, urljoin, urlsplit

import requests

TIMEOUT = 15  # seconds, for every HTTP request
MAX_HOPS = 25
CLIENT_REDIRECT = "http://127.0.0.1:1/done"


class Failed(Exception):
    pass


def log(message):
    print(f"synapse_sso_login: {message}", file=sys.stderr, flush=True)


def allow_secure_cookies_on_loopback(jar):
    """Lets `Secure` cookies set by loopback hosts go back to them over plain http, as browsers do.

    Browsers treat http://127.0.0.1 and http://localhost as potentially trustworthy origins and send Secure
    cookies there; Python's cookiejar only sends them over https. Synapse always marks its oidc_session
    cookies Secure (synapse/handlers/oidc.py _SESSION_COOKIES), and Drawbridge marks its cookies Secure when
    public_url is https, so without this the callback fails with "No session cookie found". (A custom
    CookiePolicy on the Session does not help: requests copies the cookies into a fresh jar with the default
    policy for every request.) Called after every response.
    """
    for cookie in jar:
        if cookie.secure and is_loopback(cookie.domain.lstrip(".")):
            cookie.secure = False


def is_loopback(host):
    if not host:
        return False
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class PageParser(HTMLParser):
    """Collects <form>s (action, method, inputs, buttons), <a href>s, the <title> and the visible text."""

    def __init__(self):
        super().__init__()
        self.forms, self.links, self.text, self.title = [], [], [], ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)  # html.parser already unescapes attribute values
        if tag in ("script", "style"):
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag == "form":
            self.forms.append({"action": a.get("action") or "", "method": (a.get("method") or "get").lower(),
                               "fields": {}, "buttons": []})
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif tag == "button" and self.forms and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value") or ""))
        elif tag == "a" and a.get("href"):
            self.links.append(a["href"])

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False

    def handle_data(self, data):
        if self._in_title:
            self.title += data
        elif not self._skip and data.strip():
            self.text.append(" ".join(data.split()))

    def form_with_step(self, step):
        return next((f for f in self.forms if f["fields"].get("step") == step), None)


def parse(resp):
    parser = PageParser()
    if "html" in resp.headers.get("Content-Type", ""):
        parser.feed(resp.text)
    return parser


def page_text(resp, limit=600):
    """The readable text of a response, for failure messages."""
    if "html" in resp.headers.get("Content-Type", ""):
        page = parse(resp)
        text = (f"[{page.title.strip()}] " if page.title.strip() else "") + " | ".join(page.text)
    else:
        text = " ".join(resp.text.split())
    return text[:limit] + ("…" if len(text) > limit else "")


def describe(resp):
    loc = resp.headers.get("Location")
    return (f"{resp.request.method} {redact(resp.url)} -> {resp.status_code}" + (f" Location={redact(loc)}" if loc else "")
            + f" body: {page_text(resp)!r}")


def redact(url):
    """Hides one-time secrets (code, loginToken) in URLs that end up in logs."""
    if not url:
        return url
    parts = urlsplit(url)
    if not parts.query:
        return url
    query = "&".join(p.split("=", 1)[0] + "=…" if p.split("=", 1)[0] in ("code", "loginToken") else p
                     for p in parts.query.split("&"))
    return parts._replace(query=query).geturl()


def is_client_redirect(url):
    return url.startswith(CLIENT_REDIRECT)


def run(args):
    base = args.synapse.rstrip("/")
    idp = args.idp_id if args.idp_id.startswith(("oidc-", "saml", "cas")) or args.idp_id == "oidc" else f"oidc-{args.idp_id}"
    http = requests.Session()

    def get(url, step):
        try:
            resp = http.get(url, allow_redirects=False, timeout=TIMEOUT)
        except requests.RequestException as err:
            raise Failed(f"{step}: GET {redact(url)}: {type(err).__name__}: {err}")
        allow_secure_cookies_on_loopback(http.cookies)
        return resp

    def post(url, data, step):
        try:
            resp = http.post(url, data=data, allow_redirects=False, timeout=TIMEOUT)
        except requests.RequestException as err:
            raise Failed(f"{step}: POST {redact(url)}: {type(err).__name__}: {err}")
        allow_secure_cookies_on_loopback(http.cookies)
        return resp

    # 1. Synapse offers SSO with this identity provider.
    resp = get(f"{base}/_matrix/client/v3/login", "login flows")
    if resp.status_code != 200:
        raise Failed(f"login flows: {describe(resp)}")
    flows = resp.json().get("flows", [])
    sso = [f for f in flows if f.get("type") == "m.login.sso"]
    providers = [p.get("id") for f in sso for p in f.get("identity_providers", [])]
    if idp not in providers:
        raise Failed(f"login flows: Synapse offers no SSO identity provider {idp!r} (flows {flows})")
    if not any(f.get("type") == "m.login.token" for f in flows):
        raise Failed(f"login flows: Synapse does not offer m.login.token (flows {flows})")
    log(f"Synapse offers m.login.sso with {idp}")

    # 2. Drive the browser flow until Synapse sends us to the client redirect URL with a loginToken.
    url = f"{base}/_matrix/client/v3/login/sso/redirect/{quote(idp, safe='')}?redirectUrl={quote(CLIENT_REDIRECT, safe='')}"
    step = "SSO redirect"
    resp = get(url, step)
    if resp.status_code not in (302, 303, 307):
        raise Failed(f"{step}: expected a redirect to the identity provider: {describe(resp)}")
    signed_in = consented = False
    login_token = None
    for _ in range(MAX_HOPS):
        here = urlsplit(resp.url)
        if resp.status_code in (301, 302, 303, 307, 308):
            target = urljoin(resp.url, resp.headers.get("Location", ""))
            if is_client_redirect(target):
                login_token = parse_qs(urlsplit(target).query).get("loginToken", [None])[0]
                log("Synapse redirected straight to the client (whitelisted client)")
                break
            if urlsplit(target).path.endswith("/_synapse/client/oidc/callback"):
                query = parse_qs(urlsplit(target).query)
                if "error" in query:
                    raise Failed(f"Drawbridge authorize: returned an OAuth error to Synapse: {query}")
                step = "Synapse OIDC callback"
            elif urlsplit(target).path.startswith("/_synapse/client/pick_username"):
                step = "Synapse username picker"
            elif urlsplit(target).path.startswith("/_synapse/client/new_user_consent"):
                step = "Synapse new-user consent"
            elif urlsplit(target).path.endswith("/oauth/authorize"):
                step = "Drawbridge authorize"
            log(f"{resp.status_code} -> {redact(target)}")
            resp = get(target, step)
            continue
        if resp.status_code != 200:
            raise Failed(f"{step}: {describe(resp)}")
        page = parse(resp)
        if here.path.startswith("/_synapse/client/pick_username") or step == "Synapse username picker":
            raise Failed(f"Synapse username picker: Synapse could not map the SSO user to an account and asks "
                         f"for a username (localpart_template did not yield a free localpart): {describe(resp)}")
        if here.path.startswith("/_synapse/client/new_user_consent"):
            raise Failed(f"Synapse new-user consent: Synapse asks a new user to accept terms: {describe(resp)}")
        login_form = page.form_with_step("login")
        if login_form is not None:
            if signed_in:
                raise Failed(f"Drawbridge sign-in: refused for {args.username!r} (sign-in form shown again): "
                             f"{describe(resp)}")
            if not login_form["fields"].get("csrf"):
                raise Failed(f"Drawbridge sign-in: the form has no csrf field: {describe(resp)}")
            data = dict(login_form["fields"])
            data.update({"username": args.username, "password": args.password})
            log(f"submitting Drawbridge's sign-in form as {args.username}")
            step = "Drawbridge sign-in"
            resp = post(urljoin(resp.url, login_form["action"]), data, step)
            signed_in = True
            if resp.status_code not in (302, 303):
                raise Failed(f"Drawbridge sign-in: refused for {args.username!r}: {describe(resp)}")
            continue
        consent_form = page.form_with_step("consent")
        if consent_form is not None:
            if consented:
                raise Failed(f"Drawbridge consent: consent page shown twice: {describe(resp)}")
            if ("decision", "allow") not in consent_form["buttons"]:
                raise Failed(f"Drawbridge consent: no decision=allow button: {describe(resp)}")
            data = dict(consent_form["fields"])
            data["decision"] = "allow"
            log("granting consent on Drawbridge's consent page")
            step = "Drawbridge consent"
            resp = post(urljoin(resp.url, consent_form["action"]), data, step)
            consented = True
            continue
        continue_links = [urljoin(resp.url, href) for href in page.links if is_client_redirect(urljoin(resp.url, href))]
        if continue_links:
            login_token = parse_qs(urlsplit(continue_links[0]).query).get("loginToken", [None])[0]
            log(f"Synapse's confirmation page [{page.title.strip()}] links to the client; taking its loginToken")
            break
        raise Failed(f"{step}: unexpected page: {describe(resp)}")
    else:
        raise Failed(f"{step}: more than {MAX_HOPS} hops without reaching {CLIENT_REDIRECT}")
    if not login_token:
        raise Failed(f"{step}: Synapse sent the client to {CLIENT_REDIRECT} without a loginToken")

    # 3. Exchange the login token, as the Matrix client at redirectUrl would.
    try:
        resp = http.post(f"{base}/_matrix/client/v3/login", json={"type": "m.login.token", "token": login_token},
                         timeout=TIMEOUT)
    except requests.RequestException as err:
        raise Failed(f"m.login.token: POST /_matrix/client/v3/login: {err}")
    if resp.status_code != 200:
        raise Failed(f"m.login.token: {describe(resp)}")
    login = resp.json()
    user_id = login.get("user_id")
    if not user_id or not login.get("access_token"):
        raise Failed(f"m.login.token: no user_id/access_token in {login}")
    log(f"logged in as {user_id} (device {login.get('device_id')})")

    # 4. The user's display name.
    try:
        resp = http.get(f"{base}/_matrix/client/v3/profile/{quote(user_id, safe='')}/displayname",
                        headers={"Authorization": f"Bearer {login['access_token']}"}, timeout=TIMEOUT)
    except requests.RequestException as err:
        raise Failed(f"displayname: GET profile: {err}")
    if resp.status_code == 200:
        displayname = resp.json().get("displayname")
    elif resp.status_code == 404:
        displayname = None
    else:
        raise Failed(f"displayname: {describe(resp)}")
    return {"user_id": user_id, "displayname": displayname, "device_id": login.get("device_id"),
            "access_token": login["access_token"]}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--synapse", required=True, help="Synapse base URL, e.g. http://127.0.0.1:8008")
    p.add_argument("--idp-id", default="drawbridge", help="idp_id from oidc_providers (oidc- is prefixed)")
    p.add_argument("--username", required=True)
    p.add_argument("--password", required=True)
    args = p.parse_args()
    try:
        result = run(args)
    except Failed as err:
        print(f"FAIL: {err}", file=sys.stderr)
        return 1
    except Exception as err:  # bad JSON and the like
        print(f"FAIL: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
