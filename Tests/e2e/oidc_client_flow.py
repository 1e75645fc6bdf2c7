#!/usr/bin/python3
"""End-to-end OIDC check of a running Drawbridge gateway with a real client library (authlib).

Drives authorization code + PKCE (sign-in and consent through the HTML forms, using a
requests.Session as the user-agent), verifies the id_token against the JWKS, exercises
userinfo, refresh-token rotation, RFC 7009 revocation and a few negative cases.
Run with Debian's interpreter (python3-authlib, python3-requests):

  /usr/bin/python3 Tests/e2e/oidc_client_flow.py --issuer http://127.0.0.1:8080 \
      --client-id ID --client-secret S --redirect-uri http://127.0.0.1:9999/callback \
      --username alice --password drawbridge-demo [--inactive-username frank]
"""
import argparse
import base64
import hashlib
import secrets
import sys
import time
from html.parser import HTMLParser
from urllib.parse import parse_qs, urljoin, urlsplit

import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.jose import JsonWebKey, JsonWebToken

TIMEOUT = 10  # seconds, for every HTTP request
SCOPE = "openid profile email"


class CheckFailed(Exception):
    pass


class Checks:
    def __init__(self):
        self.passed = 0

    def ok(self, cond, message, detail=""):
        if not cond:
            raise CheckFailed(f"{message}{': ' + detail if detail else ''}")
        self.passed += 1
        print(f"ok: {message}", flush=True)


def describe(resp):
    """One-line summary of an HTTP response, for failure messages."""
    body = resp.text[:300].replace("\n", " ")
    loc = resp.headers.get("Location")
    return f"{resp.request.method} {resp.url} -> {resp.status_code}" + \
        (f" Location={loc}" if loc else "") + f" body={body!r}"


class FormParser(HTMLParser):
    """Collects <form>s: action, method, hidden/text inputs and submit buttons."""

    def __init__(self):
        super().__init__()
        self.forms = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)  # html.parser already unescapes attribute values
        if tag == "form":
            self.forms.append({"action": a.get("action", ""), "method": (a.get("method") or "get").lower(),
                               "fields": {}, "buttons": []})
        elif self.forms and tag == "input" and a.get("name"):
            self.forms[-1]["fields"][a["name"]] = a.get("value") or ""
        elif self.forms and tag == "button" and a.get("name"):
            self.forms[-1]["buttons"].append((a["name"], a.get("value") or ""))


def find_form(html, step):
    parser = FormParser()
    parser.feed(html)
    for form in parser.forms:
        if form["fields"].get("step") == step:
            return form
    return None


class Browser:
    """A cookie-keeping user-agent that never follows redirects on its own."""

    def __init__(self):
        self.http = requests.Session()

    def get(self, url):
        return self.http.get(url, allow_redirects=False, timeout=TIMEOUT)

    def submit(self, base_url, form, extra):
        data = dict(form["fields"])
        data.update(extra)
        return self.http.post(urljoin(base_url, form["action"]), data=data,
                              allow_redirects=False, timeout=TIMEOUT)


def sign_in_and_consent(checks, browser, auth_url, args):
    """Drive the authorization endpoint until it redirects to the client; return the callback URL."""
    resp = browser.get(auth_url)
    if resp.status_code == 200 and find_form(resp.text, "login"):
        form = find_form(resp.text, "login")
        checks.ok(form["action"].endswith("/oauth/authorize") and form["fields"].get("csrf")
                  and form["fields"].get("request"), "sign-in form has csrf and request fields", describe(resp))
        resp = browser.submit(resp.url, form, {"username": args.username, "password": args.password})
        checks.ok(resp.status_code == 303, f"sign-in as {args.username} -> 303", describe(resp))
        resp = browser.get(urljoin(resp.url, resp.headers["Location"]))
    if resp.status_code == 200 and find_form(resp.text, "consent"):
        form = find_form(resp.text, "consent")
        checks.ok(("decision", "allow") in form["buttons"], "consent page offers decision=allow", describe(resp))
        resp = browser.submit(resp.url, form, {"decision": "allow"})
        print("   (consent granted)")
    checks.ok(resp.status_code == 302 and resp.headers.get("Location", "").startswith(args.redirect_uri),
              "authorization endpoint redirects to redirect_uri", describe(resp))
    return resp.headers["Location"]


def new_client(args, meta, scope=SCOPE):
    client = OAuth2Session(args.client_id, args.client_secret, scope=scope, redirect_uri=args.redirect_uri,
                           code_challenge_method="S256", default_timeout=TIMEOUT,
                           token_endpoint=meta["token_endpoint"])
    last = {}

    def keep(resp):  # authlib raises OAuthError without the status; keep the response for asserts
        last["resp"] = resp
        return resp
    client.register_compliance_hook("access_token_response", keep)
    client.register_compliance_hook("refresh_token_response", keep)
    client.last = last
    return client


def authorize(checks, browser, client, meta, args):
    """Start a fresh code+PKCE flow; return (code, code_verifier, state, nonce)."""
    verifier = generate_token(64)
    state = f"st+{secrets.token_urlsafe(8)}/x=y=="
    nonce = secrets.token_urlsafe(16)
    url, _ = client.create_authorization_url(meta["authorization_endpoint"], state=state,
                                             code_verifier=verifier, nonce=nonce)
    callback = sign_in_and_consent(checks, browser, url, args)
    params = parse_qs(urlsplit(callback).query, keep_blank_values=True)
    checks.ok("code" in params and "error" not in params, "callback carries a code", callback)
    checks.ok(params.get("state") == [state], "returned state equals sent state exactly",
              f"sent {state!r}, got {params.get('state')!r} in {callback}")
    return params["code"][0], verifier, state, nonce, callback


def at_hash(access_token, alg):
    digest = hashlib.new("sha" + alg[2:], access_token.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:len(digest) // 2]).rstrip(b"=").decode("ascii")


def expect_invalid_grant(checks, client, what, **kwargs):
    try:
        token = client.fetch_token(grant_type="authorization_code", **kwargs)
        raise CheckFailed(f"{what}: expected invalid_grant, got tokens {sorted(token)}")
    except OAuthError as err:
        resp = client.last["resp"]
        checks.ok(resp.status_code == 400 and err.error == "invalid_grant",
                  f"{what} -> 400 invalid_grant", describe(resp))


def run(args, checks):
    # 1. Discovery
    disco = OAuth2Session(default_timeout=TIMEOUT)
    resp = disco.get(args.issuer.rstrip("/") + "/.well-known/openid-configuration", withhold_token=True)
    checks.ok(resp.status_code == 200, "discovery document fetched", describe(resp))
    meta = resp.json()
    checks.ok(meta.get("issuer") == args.issuer, "discovery issuer equals --issuer", repr(meta.get("issuer")))
    missing = [k for k in ("authorization_endpoint", "token_endpoint", "userinfo_endpoint", "jwks_uri")
               if not meta.get(k)]
    checks.ok(not missing, "discovery has authorization/token/userinfo endpoints and jwks_uri", f"missing {missing}")
    checks.ok("S256" in meta.get("code_challenge_methods_supported", []), "discovery supports PKCE S256")
    checks.ok("RS256" in meta.get("id_token_signing_alg_values_supported", []), "discovery lists RS256 for id_tokens")
    revocation_endpoint = meta.get("revocation_endpoint") or urljoin(args.issuer, "/oauth/revoke")

    # 2. Authorization code + PKCE
    browser = Browser()
    client = new_client(args, meta)
    code, verifier, state, nonce, callback = authorize(checks, browser, client, meta, args)
    token = client.fetch_token(authorization_response=callback, state=state, code_verifier=verifier)
    checks.ok(client.last["resp"].status_code == 200, "code exchanged for tokens (client_secret_basic)",
              describe(client.last["resp"]))

    # 3. Token response shape
    checks.ok(str(token.get("token_type", "")).lower() == "bearer", "token_type is Bearer", repr(token.get("token_type")))
    checks.ok(type(token.get("expires_in")) is int and token["expires_in"] > 0, "expires_in is a positive integer",
              repr(token.get("expires_in")))
    checks.ok(bool(token.get("refresh_token")), "refresh_token issued")
    checks.ok(bool(token.get("id_token")), "id_token issued")

    # 4. id_token verification against the JWKS
    jwks_resp = requests.get(meta["jwks_uri"], timeout=TIMEOUT)
    checks.ok(jwks_resp.status_code == 200 and jwks_resp.json().get("keys"), "JWKS fetched", describe(jwks_resp))
    keys = JsonWebKey.import_key_set(jwks_resp.json())
    algs = [a for a in meta["id_token_signing_alg_values_supported"] if a != "none"]
    claims = JsonWebToken(algs).decode(token["id_token"], keys, claims_options={
        "iss": {"essential": True, "value": args.issuer},
        "aud": {"essential": True, "value": args.client_id},
        "exp": {"essential": True}, "nonce": {"essential": True, "value": nonce},
        "sub": {"essential": True}})
    checks.ok(True, f"id_token signature verifies ({claims.header.get('alg')}, kid {claims.header.get('kid')})")
    claims.validate(now=int(time.time()))  # raises on iss/aud/exp/nonce mismatch, re-asserted below
    checks.ok(claims["iss"] == args.issuer, "id_token iss equals issuer", repr(claims["iss"]))
    aud = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
    checks.ok(args.client_id in aud and (len(aud) == 1 or claims.get("azp") == args.client_id),
              "id_token aud is the client_id", repr(claims["aud"]))
    checks.ok(isinstance(claims["exp"], int) and claims["exp"] > time.time(), "id_token exp is in the future",
              repr(claims["exp"]))
    checks.ok(claims.get("nonce") == nonce, "id_token nonce equals sent nonce", repr(claims.get("nonce")))
    expected = at_hash(token["access_token"], claims.header["alg"])
    checks.ok(claims.get("at_hash") == expected, "id_token at_hash matches access token",
              f"expected {expected!r}, got {claims.get('at_hash')!r}")
    checks.ok(isinstance(claims.get("sub"), str) and claims["sub"], "id_token sub is non-empty", repr(claims.get("sub")))

    # 5. userinfo
    resp = client.get(meta["userinfo_endpoint"])
    checks.ok(resp.status_code == 200, "userinfo with access token -> 200", describe(resp))
    info = resp.json()
    checks.ok(info.get("sub") == claims["sub"], "userinfo sub equals id_token sub",
              f"{info.get('sub')!r} vs {claims['sub']!r}")
    checks.ok(bool(info.get("preferred_username")) and bool(info.get("email")),
              f"userinfo has preferred_username ({info.get('preferred_username')}) and email", repr(info))

    # 6. Refresh with rotation
    old_access, old_refresh = token["access_token"], token["refresh_token"]
    new = client.refresh_token(meta["token_endpoint"], refresh_token=old_refresh)
    checks.ok(client.last["resp"].status_code == 200 and new["access_token"] != old_access,
              "refresh_token grant returns a new access token", describe(client.last["resp"]))
    checks.ok("refresh_token" in client.last["resp"].json() and new["refresh_token"] != old_refresh,
              "refresh token rotated (new refresh_token issued)", describe(client.last["resp"]))
    resp = client.get(meta["userinfo_endpoint"])
    checks.ok(resp.status_code == 200 and resp.json().get("sub") == claims["sub"],
              "refreshed access token works at userinfo", describe(resp))

    # 7. Revocation (RFC 7009)
    resp = client.revoke_token(revocation_endpoint, token=new["access_token"], token_type_hint="access_token")
    checks.ok(resp.status_code == 200, "revocation of the refreshed access token -> 200", describe(resp))
    resp = client.get(meta["userinfo_endpoint"])
    challenge = resp.headers.get("WWW-Authenticate", "")
    checks.ok(resp.status_code == 401 and challenge.lower().startswith("bearer")
              and 'error="invalid_token"' in challenge,
              "revoked token at userinfo -> 401 Bearer error=\"invalid_token\"",
              f"{describe(resp)} WWW-Authenticate={challenge!r}")

    # 8. Negative: code replay, wrong PKCE verifier
    replay = new_client(args, meta)
    expect_invalid_grant(checks, replay, "replayed authorization code", code=code, code_verifier=verifier)
    fresh = new_client(args, meta)
    code2, verifier2, _, _, _ = authorize(checks, browser, fresh, meta, args)
    wrong = generate_token(64)
    assert wrong != verifier2
    expect_invalid_grant(checks, fresh, "fresh code with wrong code_verifier", code=code2, code_verifier=wrong)

    # 9. Inactive user cannot sign in
    if args.inactive_username:
        other = Browser()
        url, _ = new_client(args, meta).create_authorization_url(
            meta["authorization_endpoint"], code_verifier=generate_token(64), nonce=secrets.token_urlsafe(16))
        resp = other.get(url)
        form = find_form(resp.text, "login")
        checks.ok(resp.status_code == 200 and form, "fresh user-agent gets the sign-in form", describe(resp))
        resp = other.submit(resp.url, form, {"username": args.inactive_username, "password": args.password})
        checks.ok(resp.status_code == 401 and "Location" not in resp.headers and find_form(resp.text, "login"),
                  f"inactive user {args.inactive_username} sign-in -> 401 with the sign-in form", describe(resp))
        resp = other.get(url)
        checks.ok(resp.status_code == 200 and find_form(resp.text, "login") and "Location" not in resp.headers,
                  "authorization URL still asks to sign in (no code issued)", describe(resp))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("issuer", "client-id", "client-secret", "redirect-uri", "username", "password"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--inactive-username")
    args = p.parse_args()
    checks = Checks()
    try:
        run(args, checks)
    except CheckFailed as err:
        print(f"FAIL: {err}", file=sys.stderr)
        return 1
    except OAuthError as err:
        print(f"FAIL: OAuth error {err.error}: {err.description}", file=sys.stderr)
        return 1
    except Exception as err:  # transport errors, JOSE validation errors, bad JSON …
        print(f"FAIL: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    print(f"passed: {checks.passed} checks")
    return 0


if __name__ == "__main__":
    sys.exit(main())
