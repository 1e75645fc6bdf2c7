"""The platform-to-chat flow of sso_browser_flow.py (--platform-chat), steps C1-C6.

The user signs in on the platform (platform_app.py on app.example.test, its own sign-in and
`web_sessions` table), clicks the platform's "Open chat" (Drawbridge's /launch/mattermost) and is in
Mattermost with no form: Drawbridge's `platform_session` bridge signs them in at /oauth/authorize.
Then they sign out of the platform and stay in chat. Without the browser ever coming back to
Drawbridge, chat's own session is revoked (Drawbridge's watcher asks the platform, ends its session and
revokes the chat sessions through the outbox), and chat's next sign-in asks for credentials on
Drawbridge's own form, which leads back into chat.

Mattermost is the contract server (Tests/contract-servers/mattermost_contract_server.py, written from
contracts/chat-servers.md §1 — a stand-in, because Mattermost cannot run here) behind the production
file's own chat server block.
"""
import time
from urllib.parse import urlsplit

from sso_browser_flow import CHAT, DOMAIN, SSO, authority


def signed_in_to_chat(h):
    """(status, body) of GET /api/v4/users/me from the chat page, with the browser's chat cookies."""
    return h.fetch_json("/api/v4/users/me")


def hops_on(h, hops, host, path):
    return [x for x in hops if urlsplit(x["url"]).hostname == host and urlsplit(x["url"]).path == path]


def flow_platform_chat(h):
    a = h.args
    chat = f"https://{authority(CHAT, h.port)}"
    launch = f"{h.sso}/launch/mattermost"

    h.step = "C1. sign in on the platform"
    h.platform_sign_in()
    h.ok(h.text_of("#platform-user") == a.username, f"C1. signed in to the platform as {a.username}",
         f"got {h.text_of('#platform-user')!r}")
    h.ok(len(h.platform_cookies()) == 1 and not h.session_cookies(),
         f"C1. the browser holds {a.platform_cookie_name} and no {a.cookie_name} yet", f"{h.cookies()}")

    h.step = "C2. open chat from the platform"
    h.navigation_hops()  # forget what the browser did so far
    h.go(launch)
    hops = h.navigation_hops()
    h.ok(urlsplit(h.driver.current_url).netloc == authority(CHAT, h.port),
         f"C2. {launch} (the platform's “Open chat”) ends in chat", f"{h.describe_page()}; hops: {h.hop_text(hops)}")
    h.ok(not hops_on(h, hops, SSO, "/login") and h.login_form() is None,
         "C2. Drawbridge's sign-in form was never shown", h.hop_text(hops))
    authorize = hops_on(h, hops, SSO, "/oauth/authorize")
    h.ok(len(authorize) == 1 and authorize[0]["status"] == 302
         and urlsplit(authorize[0]["location"] or "").netloc == authority(CHAT, h.port),
         "C2. Drawbridge's /oauth/authorize answered with a code straight away (the platform's cookie is the sign-in)",
         h.hop_text(hops))
    status, me = signed_in_to_chat(h)
    h.ok(status == 200 and isinstance(me, dict) and me.get("username") == a.expect_remote_user
         and me.get("auth_service") == "gitlab",
         f"C2. chat's /api/v4/users/me: signed in as {a.expect_remote_user}, a GitLab-SSO account", f"{status} {me}")
    found = h.session_cookies()
    h.ok(len(found) == 1 and found[0]["domain"] in (f".{DOMAIN}", DOMAIN) and found[0]["secure"]
         and found[0]["httpOnly"] and found[0].get("sameSite") == "Lax",
         f"C2. Drawbridge's {a.cookie_name} was set on the way: Domain={DOMAIN}, Secure, HttpOnly, SameSite=Lax",
         f"{found}")
    chat_user, first_session = me.get("id"), found[0]["value"]

    h.step = "C3. sign out of the platform, stay in chat"
    h.go(h.platform_url)
    h.wait(lambda: h.find("form#platform-logout"), "the platform's sign-out button")
    h.submit_and_wait(h.find("form#platform-logout button[type=submit]")[0])
    signed_out = time.monotonic()
    h.wait(lambda: h.at(f"{h.platform_url}login"), "the platform's sign-in form after signing out")
    h.ok(not h.platform_cookies(), f"C3. the platform's sign-out removed {a.platform_cookie_name}")
    h.go(f"{chat}/")
    h.navigation_hops()
    # Only chat from here on: the browser does not go near Drawbridge until chat's session is gone.
    limit = a.platform_signout_within
    while True:
        status, _ = signed_in_to_chat(h)
        elapsed = time.monotonic() - signed_out
        if status == 401 or elapsed > limit + 10:
            break
        time.sleep(0.1)
    hops = h.navigation_hops()
    h.ok(not [x for x in hops if urlsplit(x["url"]).hostname == SSO],
         "C3. meanwhile the browser made no request to Drawbridge", h.hop_text(hops))
    h.ok(status == 401, "C3. chat's session was revoked: /api/v4/users/me answers 401", f"still {status}")
    h.ok(elapsed <= limit, f"C3. within {limit:g}s of the platform sign-out (after {elapsed:.1f}s)",
         f"it took {elapsed:.1f}s; platform_session needs hash: sha256 and recheck_interval: 1s")
    sessions = h.mattermost_control("state").get("sessions", {})
    sessions = sessions.values() if isinstance(sessions, dict) else sessions
    h.ok(not [s for s in sessions if s.get("user_id") == chat_user],
         f"C3. Mattermost holds no session for {a.username} any more")

    h.step = "C4. chat's next sign-in"
    h.navigation_hops()
    h.go(f"{chat}/oauth/gitlab/login")
    hops = h.navigation_hops()
    on_drawbridge = urlsplit(h.driver.current_url).netloc == authority(SSO, h.port)
    h.ok(on_drawbridge and h.login_form() is not None,
         "C4. Mattermost's GitLab button now leads to Drawbridge's sign-in form: credentials are asked for",
         f"{h.describe_page()}; hops: {h.hop_text(hops)}")

    h.step = "C5. sign in on Drawbridge's own form"
    h.sign_in(a.username, a.wrong_password)
    h.ok(h.login_form() is not None and urlsplit(h.driver.current_url).netloc == authority(SSO, h.port),
         "C5. a wrong password keeps the browser on the form", h.describe_page())
    h.navigation_hops()
    h.sign_in(a.username, a.password)
    hops = h.navigation_hops()
    h.ok(urlsplit(h.driver.current_url).netloc == authority(CHAT, h.port),
         "C5. the right password leads back into chat", f"{h.describe_page()}; hops: {h.hop_text(hops)}")
    status, me = signed_in_to_chat(h)
    h.ok(status == 200 and isinstance(me, dict) and me.get("id") == chat_user,
         f"C5. signed in to chat as the same account ({chat_user})", f"{status} {me}")
    found = h.session_cookies()
    h.ok(len(found) == 1 and found[0]["value"] != first_session,
         f"C5. with a new {a.cookie_name} (the one the platform sign-out ended stays ended)", f"{found}")

    h.step = "C6. one account"
    accounts = [u for u in h.mattermost_accounts() if u.get("username") == a.expect_remote_user]
    h.ok(len(accounts) == 1 and accounts[0].get("id") == chat_user,
         f"C6. Mattermost has exactly one account for {a.username}", f"{accounts}")
