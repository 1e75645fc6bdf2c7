#!/usr/bin/python3
"""Mattermost contract server for Drawbridge's tests.

This is a contract server, not Mattermost: it follows shared/contracts/chat-servers.md §1 (Mattermost
as a GitLab-SSO client: §1.2-§1.12, error ids of §1.14) and §3 (REST API v4 for provisioning), and
§8 is its checklist. Where the contract is silent, the behaviour chosen here is marked
"contract silent" in a comment. Python 3.11 standard library only.

    /usr/bin/python3 mattermost_contract_server.py --port 18065 --admin-token T \
        --gitlab-url http://127.0.0.1:8080 --gitlab-client-id ID --gitlab-client-secret S \
        --team main:general,random

Prints `LISTENING <port>` once ready. Test control API: /__contract__/ (see README.md).
"""
import argparse
import base64
import hashlib
import json
import re
import secrets
import sys
import time
import unicodedata
import urllib.parse

from contract_common import (ContractApp, RecordIndexes, bool_arg, common_arguments, format_cookie, go_atoi,
                             go_parse_bool, go_query_escape, html_escape, html_response, http_call, json_response,
                             redirect, serve)

VERSION_ID = "10.11.0.0.contract.false"  # X-Version-Id; contract §8.23 only says it is read, not its value

# ---------------------------------------------------------------------------------------------
# model.NewId, CleanUsername, IsValidUsername, IsValidEmail (§1.9)

_ID_ALPHABET = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "ybndrfg8ejkmcpqxot1uwisza345h769")


def new_id():
    """model.NewId: 16 random bytes, base32 with Mattermost's alphabet, 26 characters."""
    return base64.b32encode(secrets.token_bytes(16)).decode("ascii").rstrip("=").translate(_ID_ALPHABET)


def new_random_string(length=64):
    """model.NewRandomString (used for the OAuth state token)."""
    return base64.b32encode(secrets.token_bytes(length)).decode("ascii").translate(_ID_ALPHABET)[:length]


RESERVED_NAMES = {"admin", "api", "channel", "claim", "error", "files", "help", "landing", "login", "mfa", "oauth",
                  "plug", "plugins", "post", "signup", "boards", "playbooks"}  # §1.9 step 2 (CleanUsername only)
RESTRICTED_USERNAMES = {"all", "channel", "matterbot", "system"}  # §1.9 step 4 (IsValidUsername)
_USERNAME_RE = re.compile(r"^[a-z0-9\.\-_]+$")
_USERNAME_CHAR_RE = re.compile(r"^[a-z0-9\.\-_]$")


def is_valid_username(name):
    return 1 <= len(name) <= 64 and bool(_USERNAME_RE.match(name)) and name not in RESTRICTED_USERNAMES


def clean_username(username):
    """§1.9 CleanUsername."""
    s = username.replace(" ", "-").lower()
    if s in RESERVED_NAMES:
        s = ""
    s = s.strip()
    s = "".join(ch if _USERNAME_CHAR_RE.match(ch) else "-" for ch in s)
    s = s.strip("-")
    if not is_valid_username(s):
        print(f"mattermost-contract: CleanUsername({username!r}) is not valid; generating a random one", file=sys.stderr)
        s = "a" + new_id()
    return s


_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_EMAIL_RE = re.compile(r"^" + _ATOM + r"(\." + _ATOM + r")*@" + _ATOM + r"(\." + _ATOM + r")*$")


def is_valid_email(email):
    """§1.9: ≤ 128, net/mail address without a display name, exactly one '@', lowercase.
    net/mail is approximated by dot-atom local part and domain (quoted local parts are refused here)."""
    return (0 < len(email) <= 128 and email == email.lower() and email.count("@") == 1
            and bool(_EMAIL_RE.match(email)))


# ---------------------------------------------------------------------------------------------
# Go encoding/json, strictly (§1.6, §1.8): typed fields, case-insensitive keys, first value only

class GoDecodeError(Exception):
    pass


class _GoFloat(str):
    """A JSON number with a fraction or exponent: Go refuses it for integer fields."""


def _no_constants(name):
    raise GoDecodeError(f"invalid character {name[0]!r} looking for beginning of value")


_GO_DECODER = json.JSONDecoder(parse_float=_GoFloat, parse_constant=_no_constants, object_pairs_hook=list)
_INT_RANGES = {"int32": (-2 ** 31, 2 ** 31 - 1), "int64": (-2 ** 63, 2 ** 63 - 1)}


def go_decode(body, fields):
    """json.NewDecoder(r).Decode(&v) into a struct whose fields are {json name: "string"|"int32"|"int64"}.
    Returns {name: value} with Go zero values for absent fields; raises GoDecodeError like Go would."""
    result = {name: ("" if kind == "string" else 0) for name, kind in fields.items()}
    try:
        text = body.decode("utf-8", errors="replace")
    except AttributeError:
        text = body
    text = text.lstrip(" \t\r\n")
    if not text:
        raise GoDecodeError("EOF")
    try:
        value, _ = _GO_DECODER.raw_decode(text)
    except json.JSONDecodeError as error:
        raise GoDecodeError(f"invalid JSON: {error}")
    if value is None:
        return result  # `null` into a struct is a no-op in Go
    if not isinstance(value, list) or (value and not isinstance(value[0], tuple)):
        raise GoDecodeError(f"cannot unmarshal {type(value).__name__} into Go value of type struct")
    first_error = None
    for key, item in value:
        name = key if key in fields else next((f for f in fields if f.lower() == key.lower()), None)
        if name is None:
            continue  # unknown fields are ignored
        kind = fields[name]
        if item is None:
            continue  # null leaves the field alone
        if kind == "string":
            if isinstance(item, str) and not isinstance(item, _GoFloat):
                result[name] = item
            else:
                first_error = first_error or GoDecodeError(f"cannot unmarshal {_go_kind(item)} into Go struct field .{key} of type string")
        else:
            low, high = _INT_RANGES[kind]
            if isinstance(item, int) and not isinstance(item, bool) and low <= item <= high:
                result[name] = item
            else:
                first_error = first_error or GoDecodeError(f"cannot unmarshal {_go_kind(item)} into Go struct field .{key} of type {kind}")
    if first_error:
        raise first_error
    return result


def _go_kind(item):
    if isinstance(item, bool):
        return "bool"
    if isinstance(item, (int, _GoFloat)):
        return "number " + str(item)
    if isinstance(item, str):
        return "string"
    if isinstance(item, list):
        return "object" if item and isinstance(item[0], tuple) else "array"
    return type(item).__name__


def go_json_map(props):
    """json.Marshal(map[string]string): sorted keys, compact, HTML characters escaped."""
    text = json.dumps(props, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(raw, escaped)
    return text.encode("utf-8")


def url_encode_scope(scope):
    """utils.URLEncode: QueryEscape each space-separated part, joined with %20 (§1.3)."""
    return "%20".join(go_query_escape(part) for part in scope.split(" "))


# ---------------------------------------------------------------------------------------------

class AppError(Exception):
    def __init__(self, status, error_id, message=""):
        super().__init__(error_id)
        self.status, self.id, self.message = status, error_id, message or error_id


USER_FIELDS = ("id", "create_at", "update_at", "delete_at", "username", "auth_data", "auth_service", "email",
               "email_verified", "nickname", "first_name", "last_name", "position", "roles", "locale", "props",
               "notify_props", "timezone", "is_bot", "last_password_update", "mfa_active", "disable_welcome_email")
PATCH_FIELDS = ("username", "nickname", "first_name", "last_name", "position", "email", "props", "notify_props",
                "locale", "timezone")  # §3 UserPatch
OAUTH_SERVICES = {"gitlab", "google", "office365", "openid"}  # §1.11 IsOAuthUser
# GET /api/v4/users filters of Mattermost's getUsers that this stand-in does not model (answered 501, not ignored)
LIST_UNMODELLED = ("in_team", "not_in_team", "in_channel", "not_in_channel", "in_group", "not_in_group",
                   "group_constrained", "without_team", "role", "roles", "channel_roles", "team_roles", "sort")
PER_PAGE_DEFAULT, PER_PAGE_MAXIMUM = 60, 200   # server/channels/web/params.go PerPageDefault, PerPageMaximum

# The user indexes (see RecordIndexes). Emails are stored lowercased (PreSave, §1.9), so the email index is the
# lower-cased-email index; look-ups pass lowercased values, as the scans they replace compared exact values.
USER_KEYS = {
    "email": lambda user: [user.get("email")],
    "username": lambda user: [user.get("username")],
    "auth_data": lambda user: [user["auth_data"]] if user.get("auth_data") else [],  # empty auth_data never clashes
}


class MattermostApp(ContractApp):
    product = "mattermost"

    def initial_config(self):
        a = self.args
        base = (a.gitlab_url or "").rstrip("/")
        return {
            "latency_ms": a.latency_ms,
            "enable_user_creation": a.enable_user_creation,           # TeamSettings.EnableUserCreation
            "gitlab_enable": bool(a.gitlab_enable if a.gitlab_enable is not None else base),
            "gitlab_id": a.gitlab_client_id or "",
            "gitlab_secret": a.gitlab_client_secret or "",
            "gitlab_scope": a.gitlab_scope or "",
            "gitlab_auth_endpoint": a.gitlab_auth_endpoint or (base + "/oauth/authorize" if base else ""),
            "gitlab_token_endpoint": a.gitlab_token_endpoint or (base + "/oauth/token" if base else ""),
            "gitlab_user_api_endpoint": a.gitlab_user_api_endpoint or (base + "/api/v4/user" if base else ""),
            "restrict_creation_to_domains": a.restrict_creation_to_domains or "",
            "allow_cookies_for_subdomains": a.allow_cookies_for_subdomains,
            "session_length_web_hours": 720,   # contract silent on the values; Mattermost's defaults
            "session_length_sso_hours": 720,
            "enable_api_user_deletion": a.enable_api_user_deletion,
        }

    def fresh_data(self):
        data = {"users": {}, "sessions": {}, "teams": {}, "team_members": [], "channels": {}, "channel_members": []}
        self.states = {}  # OAuth state tokens (type "oauth"), not persisted
        self._seed_teams(data)
        return data

    def restore(self, saved):
        for key in ("users", "sessions", "teams", "team_members", "channels", "channel_members"):
            if key in saved:
                self.data[key] = saved[key]
        self._seed_teams(self.data)

    def _seed_teams(self, data):
        """--team NAME[:channel,channel]. Contract silent on default channels: like Mattermost, every team
        gets town-square and off-topic (and members join them, see add_team_member)."""
        for spec in self.args.team or []:
            name, _, channels = spec.partition(":")
            name = name.strip().lower()
            team = next((t for t in data["teams"].values() if t["name"] == name), None)
            if team is None:
                now = now_ms_wall()
                team = {"id": new_id(), "create_at": now, "update_at": now, "delete_at": 0, "display_name": name,
                        "name": name, "description": "", "email": "", "type": "O", "company_name": "",
                        "allowed_domains": "", "invite_id": new_id(), "allow_open_invite": False,
                        "scheme_id": None, "group_constrained": None, "policy_id": None}
                data["teams"][team["id"]] = team
            wanted = ["town-square", "off-topic"] + [c.strip().lower() for c in channels.split(",") if c.strip()]
            for channel_name in wanted:
                if not any(c["team_id"] == team["id"] and c["name"] == channel_name for c in data["channels"].values()):
                    now = now_ms_wall()
                    channel = {"id": new_id(), "create_at": now, "update_at": now, "delete_at": 0, "team_id": team["id"],
                               "type": "O", "display_name": channel_name.replace("-", " ").title(), "name": channel_name,
                               "header": "", "purpose": "", "creator_id": ""}
                    data["channels"][channel["id"]] = channel

    def state_view(self):
        view = super().state_view()
        view["oauth_states"] = self.states
        return view

    # -------------------------------------------------------------------------------------
    # indexes: every look-up a request makes is O(1) in the number of users, members and sessions

    def rebuild_indexes(self):
        self.user_index = RecordIndexes(USER_KEYS, self.data["users"])
        self.listing_cache = {}
        (self.team_member, self.members_of_user, self.channel_member,
         self.sessions_of_user) = self._member_and_session_indexes()

    def _member_and_session_indexes(self):
        """(team_id, user_id) → the first such member, user_id → all their team members in list order,
        (channel_id, user_id) → the first such member, user_id → {session token: None} in session order."""
        team_member, members_of_user, channel_member, sessions_of_user = {}, {}, {}, {}
        for member in self.data["team_members"]:
            team_member.setdefault((member["team_id"], member["user_id"]), member)
            members_of_user.setdefault(member["user_id"], []).append(member)
        for member in self.data["channel_members"]:
            channel_member.setdefault((member["channel_id"], member["user_id"]), member)
        for token, session in self.data["sessions"].items():
            sessions_of_user.setdefault(session["user_id"], {})[token] = None
        return team_member, members_of_user, channel_member, sessions_of_user

    def index_problems(self):
        problems = self.user_index.differences()
        fresh = self._member_and_session_indexes()
        identity = [lambda d: {k: id(v) for k, v in d.items()},
                    lambda d: {k: [id(m) for m in v] for k, v in d.items()},
                    lambda d: {k: id(v) for k, v in d.items()},
                    lambda d: {k: list(v) for k, v in d.items() if v}]
        mine = (self.team_member, self.members_of_user, self.channel_member, self.sessions_of_user)
        for name, view, current, built in zip(("team members", "team members by user", "channel members", "sessions by user"),
                                              identity, mine, fresh):
            if view(current) != view(built):
                problems.append(f"{name} index out of step")
        for which, ids in self.listing_cache.items():
            if which != "version" and self.listing_cache.get("version") == self.user_index.version \
                    and ids != self._sorted_user_ids(which):
                problems.append(f"cached listing {which!r} out of step")
        return problems

    def user_changed(self, user_id):
        """After a user was added, changed (username, email, auth_data, delete_at) or removed."""
        self.user_index.put(user_id)

    # -------------------------------------------------------------------------------------
    # responses

    def error(self, status, error_id, message=""):
        """Mattermost's AppError JSON."""
        return self._stamp(json_response({"id": error_id, "message": message or error_id, "detailed_error": "",
                                          "request_id": new_id(), "status_code": status}, status))

    def app_error(self, error):
        return self.error(error.status, error.id, error.message)

    def ok(self, value, status=200):
        return self._stamp(json_response(value, status))

    def _stamp(self, response):
        response.add("X-Version-Id", VERSION_ID)
        return response

    def down_response(self):
        return self.error(503, "contract.down", "The contract server is switched off (POST /__contract__/up).")

    def not_found(self, request, allowed):
        if allowed:
            return self.error(405, "api.context.405.app_error", "Method not allowed.")
        if request.path.startswith("/api/"):
            return self.error(404, "api.context.404.app_error", "Sorry, we could not find the page.")
        return html_response(f"<!doctype html><title>Not found</title><p>404: {html_escape(request.path)}</p>", 404)

    def error_page(self, status, error_id, message="", extra_headers=()):
        """SSO errors render a small HTML page that names the error id (tests grep for it)."""
        html = ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Mattermost contract server: error</title></head>\n"
                f"<body><h1>Error</h1>\n<p class=\"error-id\">{html_escape(error_id)}</p>\n"
                f"<p class=\"error-message\">{html_escape(message or error_id)}</p></body></html>\n")
        response = html_response(html, status, list(extra_headers))
        response.add("X-Contract-Error-Id", error_id)
        return self._stamp(response)

    # -------------------------------------------------------------------------------------
    # users

    def sanitize(self, user):
        """User.Sanitize for a system admin: no password, auth_data always blanked (§3)."""
        out = {field: user.get(field) for field in USER_FIELDS}
        out["auth_data"] = ""
        return out

    def user_or_404(self, user_id):
        if not re.fullmatch(r"[a-z0-9]{26}", user_id or ""):
            # contract silent: Mattermost's RequireUserId
            raise AppError(400, "api.context.invalid_url_param.app_error", "Invalid or missing user_id parameter in request URL.")
        user = self.data["users"].get(user_id)
        if user is None:
            # contract silent on unknown ids; Mattermost's store error id
            raise AppError(404, "app.user.missing_account.const", "Unable to find the user.")
        return user

    def find_user(self, **criteria):
        """The first user (in store order) that matches every criterion: an index look-up when auth_data,
        email or username is among them, else a scan."""
        def matches(user):
            return all(user.get(k) == v for k, v in criteria.items())
        for field in ("auth_data", "email", "username"):
            if field in criteria and (field != "auth_data" or criteria[field]):
                found = self.user_index.first(field, criteria[field], matches)
                if found is not RecordIndexes.SCAN:
                    return found
                break
        for user in self.data["users"].values():
            if matches(user):
                return user
        return None

    def validate_user(self, user):
        """§1.9 / §3 User.IsValid (the checks the contract names, in Mattermost's order)."""
        if not is_valid_username(user["username"]):
            raise AppError(400, "model.user.is_valid.username.app_error", "Username must begin with a letter and contain between 1 and 64 lowercase characters made up of numbers, letters, and the symbols '.', '-', and '_'.")
        if not is_valid_email(user["email"]):
            raise AppError(400, "model.user.is_valid.email.app_error", "Invalid email.")
        if len(user.get("first_name") or "") > 64:
            raise AppError(400, "model.user.is_valid.first_name.app_error", "Invalid first name.")
        if len(user.get("last_name") or "") > 64:
            raise AppError(400, "model.user.is_valid.last_name.app_error", "Invalid last name.")
        auth_data = user.get("auth_data") or ""
        if len(auth_data) > 128:
            raise AppError(400, "model.user.is_valid.auth_data.app_error", "Invalid auth data.")
        if auth_data and not user.get("auth_service"):
            raise AppError(400, "model.user.is_valid.auth_data_type.app_error", "Invalid user, auth data must be set with auth type.")
        if user.get("password") and auth_data:
            raise AppError(400, "model.user.is_valid.auth_data_pwd.app_error", "Invalid user, password and auth data cannot both be set.")

    def check_unique(self, user, exclude_id=None):
        """sqlstore Save/Update unique constraints: email, username (400), auth_data (generic 500, §1.10).
        As a scan of the users in order would: the first other user with the same email or username decides
        which of the two errors it is (email if both)."""
        index = self.user_index
        def other(o):
            return o["id"] != exclude_id
        by_email = index.first_id("email", user["email"], other)
        by_username = index.first_id("username", user["username"], other)
        if RecordIndexes.SCAN in (by_email, by_username):
            by_email = by_username = None
            for other_id, o in self.data["users"].items():
                if other(o) and (o["email"] == user["email"] or o["username"] == user["username"]):
                    by_email, by_username = (other_id, None) if o["email"] == user["email"] else (None, other_id)
                    break
        if by_email is not None and (by_username is None or index.rank[by_email] <= index.rank[by_username]):
            raise AppError(400, "app.user.save.email_exists.app_error", "An account with that email already exists.")
        if by_username is not None:
            raise AppError(400, "app.user.save.username_exists.app_error", "An account with that username already exists.")
        auth_data = user.get("auth_data") or ""
        if auth_data and self.auth_data_taken(auth_data, exclude_id):
            raise AppError(500, "app.user.save.app_error", "Unable to save the account.")

    def auth_data_taken(self, auth_data, exclude_id):
        """Another user (id ≠ exclude_id) already has this (non-empty) auth_data."""
        found = self.user_index.first_id("auth_data", auth_data, lambda o: o["id"] != exclude_id)
        if found is RecordIndexes.SCAN:
            return any(o["id"] != exclude_id and (o.get("auth_data") or "") == auth_data for o in self.data["users"].values())
        return found is not None

    def check_domain(self, email):
        allowed = [d.strip().lower() for d in self.config["restrict_creation_to_domains"].split(",") if d.strip()]
        if allowed and email.rsplit("@", 1)[-1] not in allowed:
            raise AppError(400, "api.user.create_user.accepted_domain.app_error", "The email you provided does not belong to an accepted domain. Please contact your administrator or sign up with a different email.")

    def new_user(self, body):
        now = self.now_ms()
        auth_data = body.get("auth_data")
        return {
            "id": new_id(), "create_at": now, "update_at": now, "delete_at": 0,
            "username": str(body.get("username") or "").lower(),      # PreSave lowercases
            "password": str(body.get("password") or ""),
            "auth_data": str(auth_data) if auth_data not in (None, "") else None,
            "auth_service": str(body.get("auth_service") or ""),
            "email": str(body.get("email") or "").lower(),
            "email_verified": bool(body.get("email_verified", False)),
            "nickname": str(body.get("nickname") or ""), "first_name": str(body.get("first_name") or ""),
            "last_name": str(body.get("last_name") or ""), "position": str(body.get("position") or ""),
            "roles": "system_user", "locale": str(body.get("locale") or "en"),
            "props": body.get("props") or {}, "notify_props": body.get("notify_props") or {},
            "timezone": body.get("timezone") or {}, "is_bot": False, "last_password_update": now if body.get("password") else 0,
            "mfa_active": False, "disable_welcome_email": bool(body.get("disable_welcome_email", False)),
        }

    def insert_user(self, user):
        """CreateUser: the first user of an empty server becomes system_admin (§1.10 step 5)."""
        if not self.data["users"]:
            user["roles"] = "system_admin system_user"
        if user["password"]:
            user["password"] = "$contract$" + hashlib.sha256(user["password"].encode()).hexdigest()
        self.data["users"][user["id"]] = user
        self.user_changed(user["id"])
        self.save()
        return user

    def seed_user(self, body):
        """POST /__contract__/users: stored as given (no validation), e.g. a password account that will clash."""
        user = self.new_user(body)
        if body.get("id"):
            user["id"] = body["id"]
        if "delete_at" in body:
            user["delete_at"] = int(body["delete_at"])
        if body.get("roles"):
            user["roles"] = body["roles"]
        if not user["username"] or not user["email"]:
            raise ValueError("username and email are required")
        if user["password"]:
            user["password"] = "$contract$" + hashlib.sha256(user["password"].encode()).hexdigest()
        self.data["users"][user["id"]] = user
        self.user_changed(user["id"])
        return user

    def create_session(self, body, sso=False):
        user = self.data["users"].get(body.get("user_id", ""))
        if user is None:
            raise ValueError("user_id is unknown")
        now = self.now_ms()
        hours = self.config["session_length_sso_hours"] if sso else self.config["session_length_web_hours"]
        session = {"id": new_id(), "token": new_id(), "create_at": now, "expires_at": now + hours * 3600 * 1000,
                   "last_activity_at": now, "user_id": user["id"], "roles": user["roles"], "device_id": "",
                   "is_oauth": False, "props": {"csrf": new_id(), "is_oauth_user": "true" if sso else "false"}}
        self.data["sessions"][session["token"]] = session
        self.sessions_of_user.setdefault(user["id"], {})[session["token"]] = None
        return session

    def revoke_sessions(self, user_id):
        for token in self.sessions_of_user.pop(user_id, {}):
            del self.data["sessions"][token]

    def remove_session(self, token):
        session = self.data["sessions"].pop(token)
        tokens = self.sessions_of_user.get(session["user_id"], {})
        tokens.pop(token, None)
        if not tokens:
            self.sessions_of_user.pop(session["user_id"], None)

    # -------------------------------------------------------------------------------------
    # authentication (§1.12 ParseAuthTokenFromRequest order; §3 Bearer admin token)

    def token_from(self, request):
        if "MMAUTHTOKEN" in request.cookies:
            return request.cookies["MMAUTHTOKEN"]
        header = request.header("Authorization") or ""
        if len(header) > 6 and header[:6].upper() == "BEARER":
            return header[6:].strip()
        if len(header) > 5 and header[:5].lower() == "token":
            return header[5:].strip()
        return request.query.get("access_token") or None

    def caller(self, request):
        """("admin", None) | ("user", session) | raises 401."""
        token = self.token_from(request)
        if token and secrets.compare_digest(token.encode(), self.args.admin_token.encode()):
            return "admin", None
        session = self.data["sessions"].get(token or "")
        if session and session["expires_at"] > self.now_ms():
            user = self.data["users"].get(session["user_id"])
            if user and user["delete_at"] == 0:
                session["last_activity_at"] = self.now_ms()
                return "user", session
        raise AppError(401, "api.context.session_expired.app_error", "Invalid or expired session, please login again.")

    def require_admin(self, request, self_id=None):
        kind, session = self.caller(request)
        if kind == "admin" or (self_id is not None and session["user_id"] == self_id):
            return kind, session
        raise AppError(403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")

    # -------------------------------------------------------------------------------------
    # routes

    def build_routes(self, r):
        uid = r"(?P<user_id>[^/]+)"
        r.add("GET", r"/api/v4/system/ping", self.ping)
        r.add("GET", r"/api/v4/users/me", self.get_me)
        r.add("POST", r"/api/v4/users", self.api(self.create_user))
        r.add("GET", r"/api/v4/users", self.api(self.list_users))
        r.add("POST", r"/api/v4/users/usernames", self.api(self.get_by_usernames))
        r.add("POST", r"/api/v4/users/ids", self.api(self.get_by_ids))
        r.add("GET", r"/api/v4/users/username/(?P<username>[^/]+)", self.api(self.get_by_username))
        r.add("GET", r"/api/v4/users/email/(?P<email>[^/]+)", self.api(self.get_by_email))
        r.add("GET", rf"/api/v4/users/{uid}", self.api(self.get_user))
        r.add("PUT", rf"/api/v4/users/{uid}/patch", self.api(self.patch_user))
        r.add("PUT", rf"/api/v4/users/{uid}", self.api(self.update_user))
        r.add("PUT", rf"/api/v4/users/{uid}/auth", self.api(self.update_user_auth))
        r.add("DELETE", rf"/api/v4/users/{uid}", self.api(self.delete_user))
        r.add("PUT", rf"/api/v4/users/{uid}/active", self.api(self.update_active))
        r.add("POST", rf"/api/v4/users/{uid}/sessions/revoke/all", self.api(self.revoke_all))
        r.add("POST", rf"/api/v4/users/{uid}/sessions/revoke", self.api(self.revoke_one))
        r.add("GET", rf"/api/v4/users/{uid}/teams", self.api(self.user_teams))
        r.add("GET", r"/api/v4/teams/name/(?P<name>[^/]+)", self.api(self.team_by_name))
        r.add("POST", r"/api/v4/teams/(?P<team_id>[^/]+)/members", self.api(self.add_team_member))
        r.add("GET", r"/api/v4/teams/(?P<team_id>[^/]+)/channels/name/(?P<name>[^/]+)", self.api(self.channel_by_name))
        r.add("POST", r"/api/v4/channels/(?P<channel_id>[^/]+)/members", self.api(self.add_channel_member))
        # §1.2 entry points
        r.add("GET", r"/oauth/(?P<service>[^/]+)/login", self.oauth_login)
        for callback in (r"/signup/(?P<service>[^/]+)/complete", r"/login/(?P<service>[^/]+)/complete",
                         r"/oauth/(?P<service>[^/]+)/complete", r"/api/v3/oauth/(?P<service>[^/]+)/complete"):
            r.add("GET", callback, self.complete_oauth)
        r.add("GET", r"/", self.root)

    def api(self, handler):
        """Wraps an /api/v4 handler: latency, the lock, AppError → JSON."""
        def wrapped(request, **params):
            self.simulate_latency()
            with self.lock:
                try:
                    return handler(request, **params)
                except AppError as error:
                    return self.app_error(error)
        return wrapped

    def body_json(self, request, what):
        try:
            return request.json()
        except (ValueError, UnicodeDecodeError):
            raise AppError(400, "api.context.invalid_body_param.app_error", f"Invalid or missing {what} in request body.")

    def root(self, request):
        return html_response("<!doctype html><title>Mattermost contract server</title>"
                             "<p>Mattermost contract server (not Mattermost).</p>")

    def ping(self, request):
        # contract §8.23: the version is read from /api/v4/system/ping or X-Version-Id. No auth (contract silent).
        self.simulate_latency()
        return self.ok({"status": "OK"})

    def get_me(self, request):
        self.simulate_latency()
        with self.lock:
            try:
                kind, session = self.caller(request)
            except AppError as error:
                return self.app_error(error)
            if kind == "admin":
                # contract silent: the admin token is not a stored user here; a synthetic admin is returned
                return self.ok({"id": "contractadmin0000000000000", "username": "contract-admin", "auth_data": "",
                                "auth_service": "", "email": "admin@contract.invalid", "roles": "system_admin system_user",
                                "delete_at": 0})
            return self.ok(self.sanitize(self.data["users"][session["user_id"]]))

    # -- create / get --

    def create_user(self, request):
        self.require_admin(request)
        body = self.body_json(request, "user")
        if not isinstance(body, dict):
            raise AppError(400, "api.context.invalid_body_param.app_error", "Invalid or missing user in request body.")
        # contract §3: `?t=` / `?iid=` are optional and not modelled here.
        user = self.new_user(body)
        self.check_domain(user["email"])
        if user["auth_service"] == "":
            # contract: the password is validated only when auth_service is empty; the rules are not given.
            # Chosen: Mattermost's default length rule (8..72) with its id.
            if not (8 <= len(user["password"]) <= 72):
                raise AppError(400, "model.user.is_valid.pwd.app_error", "Your password must contain between 8 and 72 characters.")
        self.validate_user(user)
        self.check_unique(user)
        self.insert_user(user)
        return self.ok(self.sanitize(user), 201)

    def get_user(self, request, user_id):
        self.require_admin(request, self_id=user_id)
        return self.ok(self.sanitize(self.user_or_404(user_id)))

    def get_by_username(self, request, username):
        self.require_admin(request)
        user = self.find_user(username=username.lower())
        if user is None:
            raise AppError(404, "app.user.get_by_username.app_error", "Unable to find an existing account matching your username for this team.")
        return self.ok(self.sanitize(user))

    def get_by_email(self, request, email):
        self.require_admin(request)
        user = self.find_user(email=email.lower())
        if user is None:
            raise AppError(404, "app.user.missing_account.const", "Unable to find the user.")
        return self.ok(self.sanitize(user))

    def get_by_usernames(self, request):
        self.require_admin(request)
        names = self.body_json(request, "usernames")
        if not isinstance(names, list):
            raise AppError(400, "api.context.invalid_body_param.app_error", "Invalid or missing usernames in request body.")
        wanted = {str(n).lower() for n in names}
        found = set()
        for name in wanted:
            found.update(self.user_index.ids("username", name))
        return self.ok([self.sanitize(self.data["users"][i]) for i in sorted(found, key=self.user_index.rank.__getitem__)])

    def list_users(self, request):
        """GET /api/v4/users?page=&per_page=[&active=true | &inactive=true].

        Contract silent: §3 names no listing route. The behaviour is Mattermost's own, from its source
        (mattermost/mattermost): server/channels/api4/user.go @004cacd4 (the version §3 cites) getUsers, with
        none of its in_team/in_channel/… filters, goes to App.GetUsersPage → sqlstore user_store.go
        GetAllProfiles: ORDER BY Username ASC, OFFSET page*per_page LIMIT per_page; `inactive` → DeleteAt != 0,
        else `active` → DeleteAt = 0, else all users (deactivated ones included). Paging from
        server/channels/web/params.go @022fa192: page is 0-based (a bad or negative one reads as 0), per_page
        defaults to 60 (also when bad or negative; `pageSize` is read when per_page does not parse) and is capped
        at 200. The route needs a session (APISessionRequired), no admin role; users come out sanitized as on
        the other user routes here (no password, auth_data blanked); with Mattermost's default privacy settings
        a non-admin sees the same fields.
        Chosen here: inactive=true together with active=true is a 400 (Mattermost's handler flags the `inactive`
        URL parameter but carries on); usernames sort by code point (Mattermost sorts in the database's
        collation); the other filters of getUsers are answered 501 rather than ignored."""
        self.caller(request)
        q = request.query
        unmodelled = [name for name in LIST_UNMODELLED if q.get(name)]
        if unmodelled:
            raise AppError(501, "contract.unsupported_parameter", f"GET /api/v4/users: {', '.join(unmodelled)} not modelled by the contract server")
        page = go_atoi(q.get("page"))
        if page is None or page < 0:
            page = 0
        per_page = go_atoi(q.get("per_page"))
        if per_page is None:
            per_page = go_atoi(q.get("pageSize"))
        if per_page is None or per_page < 0:
            per_page = PER_PAGE_DEFAULT
        per_page = min(per_page, PER_PAGE_MAXIMUM)
        inactive, active = go_parse_bool(q.get("inactive")), go_parse_bool(q.get("active"))
        if inactive and active:
            raise AppError(400, "api.context.invalid_url_param.app_error", "Invalid or missing inactive parameter in request URL.")
        ids = self.sorted_user_ids("inactive" if inactive else "active" if active else "all")
        start = page * per_page
        return self.ok([self.sanitize(self.data["users"][i]) for i in ids[start:start + per_page]])

    def sorted_user_ids(self, which):
        """User ids in username order ("all", "active" or "inactive"), cached until the next change to a user."""
        cache = self.listing_cache
        if cache.get("version") != self.user_index.version:
            cache.clear()
            cache["version"] = self.user_index.version
        if which not in cache:
            cache[which] = self._sorted_user_ids(which)
        return cache[which]

    def _sorted_user_ids(self, which):
        users, rank = self.data["users"], self.user_index.rank
        def key(user_id):
            name = users[user_id].get("username")
            return (name if isinstance(name, str) else str(name or ""), rank[user_id])
        ids = sorted(users, key=key)
        if which == "active":
            return [i for i in ids if users[i]["delete_at"] == 0]
        if which == "inactive":
            return [i for i in ids if users[i]["delete_at"] != 0]
        return ids

    def get_by_ids(self, request):
        self.require_admin(request)
        ids = self.body_json(request, "user_ids")
        if not isinstance(ids, list):
            raise AppError(400, "api.context.invalid_body_param.app_error", "Invalid or missing user_ids in request body.")
        return self.ok([self.sanitize(self.data["users"][i]) for i in ids if i in self.data["users"]])

    # -- patch / update (§1.11 CheckProviderAttributes, §3) --

    def check_provider_attributes(self, user, patch):
        def changing(field):
            return field in patch and patch[field] is not None and patch[field] != user.get(field)
        if user["auth_service"] and changing("username"):
            return "username"
        if user["auth_service"] in OAUTH_SERVICES:
            for field in ("first_name", "last_name"):
                if changing(field):
                    return field
        return ""

    def apply_patch(self, user, patch):
        conflict = self.check_provider_attributes(user, patch)
        if conflict:
            raise AppError(409, "api.user.patch_user.login_provider_attribute_set.app_error",
                           f"Field must be set through a user's login provider ({conflict}).")
        updated = dict(user)
        for field in PATCH_FIELDS:
            if field in patch and patch[field] is not None:
                updated[field] = patch[field]
        updated["username"] = str(updated["username"]).lower()
        updated["email"] = str(updated["email"]).lower()
        self.validate_user(updated)
        self.check_unique(updated, exclude_id=user["id"])
        updated["update_at"] = self.now_ms()
        user.update(updated)
        self.user_changed(user["id"])
        self.save()
        return user

    def patch_user(self, request, user_id):
        self.require_admin(request)
        user = self.user_or_404(user_id)
        patch = self.body_json(request, "user")
        if not isinstance(patch, dict):
            raise AppError(400, "api.context.invalid_body_param.app_error", "Invalid or missing user in request body.")
        return self.ok(self.sanitize(self.apply_patch(user, patch)))

    def update_user(self, request, user_id):
        """PUT /api/v4/users/{id}: body id must equal the path id (§3); the same provider lock applies."""
        self.require_admin(request)
        user = self.user_or_404(user_id)
        body = self.body_json(request, "user")
        if not isinstance(body, dict) or body.get("id") != user_id:
            raise AppError(400, "api.context.invalid_body_param.app_error", "Invalid or missing user in request body.")
        return self.ok(self.sanitize(self.apply_patch(user, {k: body[k] for k in PATCH_FIELDS if k in body})))

    def update_user_auth(self, request, user_id):
        """§3 PUT /users/{id}/auth: both fields required; Password='' and the new auth set; clash → 400."""
        self.require_admin(request)
        body = self.body_json(request, "user_auth")
        if not isinstance(body, dict) or not body.get("auth_data") or not body.get("auth_service"):
            raise AppError(400, "api.user.update_user_auth.invalid_request", "Invalid request: auth_data and auth_service are both required.")
        user = self.user_or_404(user_id)  # contract silent on unknown ids: 404 as everywhere else here
        auth_data, auth_service = str(body["auth_data"]), str(body["auth_service"])
        if self.auth_data_taken(auth_data, user_id):
            raise AppError(400, "app.user.update_auth_data.email_exists.app_error", "Unable to switch the account: an account with that auth data or email already exists.")
        user.update({"password": "", "auth_data": auth_data, "auth_service": auth_service, "update_at": self.now_ms()})
        self.user_changed(user_id)
        self.save()
        # contract silent on the response body: Mattermost writes back the UserAuth it received (without password)
        return self.ok({"auth_data": auth_data, "auth_service": auth_service})

    # -- deactivate / activate / sessions --

    def set_active(self, user, active):
        """UpdateActive: deactivation sets delete_at and revokes all sessions (§3)."""
        now = self.now_ms()
        if active:
            user["delete_at"] = 0
        else:
            user["delete_at"] = user["delete_at"] or now
            self.revoke_sessions(user["id"])
        user["update_at"] = now
        self.user_changed(user["id"])
        self.save()

    def delete_user(self, request, user_id):
        self.require_admin(request)
        user = self.user_or_404(user_id)
        if request.query.get("permanent") == "true":
            if not self.config["enable_api_user_deletion"]:
                # contract: ?permanent=true needs ServiceSettings.EnableAPIUserDeletion; the error id is not given there
                raise AppError(401, "api.user.delete_user.not_enabled.app_error", "Permanent user deletion feature is not enabled.")
            self.revoke_sessions(user_id)
            del self.data["users"][user_id]
            self.user_changed(user_id)
            # O(members), but only for this rare call; the indexes lose the user's entries.
            self.data["team_members"] = [m for m in self.data["team_members"] if m["user_id"] != user_id]
            self.data["channel_members"] = [m for m in self.data["channel_members"] if m["user_id"] != user_id]
            for member in self.members_of_user.pop(user_id, []):
                self.team_member.pop((member["team_id"], user_id), None)
            self.channel_member = {k: m for k, m in self.channel_member.items() if k[1] != user_id}
            self.save()
            return self.ok({"status": "OK"})
        self.set_active(user, False)
        return self.ok({"status": "OK"})

    def update_active(self, request, user_id):
        self.require_admin(request)
        body = self.body_json(request, "active")
        if not isinstance(body, dict) or not isinstance(body.get("active"), bool):
            raise AppError(400, "api.context.invalid_body_param.app_error", "Invalid or missing active in request body.")
        self.set_active(self.user_or_404(user_id), body["active"])
        return self.ok({"status": "OK"})

    def revoke_all(self, request, user_id):
        self.require_admin(request, self_id=user_id)
        self.user_or_404(user_id)
        self.revoke_sessions(user_id)
        self.save()
        return self.ok({"status": "OK"})

    def revoke_one(self, request, user_id):
        self.require_admin(request, self_id=user_id)
        self.user_or_404(user_id)
        body = self.body_json(request, "session_id")
        session_id = body.get("session_id") if isinstance(body, dict) else None
        token = next((t for t in self.sessions_of_user.get(user_id, {}) if self.data["sessions"][t]["id"] == session_id), None)
        if not session_id or token is None:
            # contract silent on an unknown session id
            raise AppError(400, "api.context.invalid_body_param.app_error", "Invalid or missing session_id in request body.")
        self.remove_session(token)
        self.save()
        return self.ok({"status": "OK"})

    # -- teams and channels --

    def team_or_404(self, team_id):
        team = self.data["teams"].get(team_id)
        if team is None:
            raise AppError(404, "app.team.get.find.app_error", "Unable to find the existing team.")  # id: contract silent
        return team

    def team_by_name(self, request, name):
        self.require_admin(request)
        team = next((t for t in self.data["teams"].values() if t["name"] == name), None)
        if team is None:
            raise AppError(404, "app.team.get_by_name.missing.app_error", "Unable to find the existing team.")  # id: contract silent
        return self.ok(team)

    def user_teams(self, request, user_id):
        self.require_admin(request, self_id=user_id)
        self.user_or_404(user_id)
        ids = [m["team_id"] for m in self.members_of_user.get(user_id, []) if m["delete_at"] == 0]
        return self.ok([self.data["teams"][i] for i in ids if i in self.data["teams"]])

    def join_team(self, team, user):
        member = self.team_member.get((team["id"], user["id"]))
        if member is None:
            member = {"team_id": team["id"], "user_id": user["id"], "roles": "", "delete_at": 0, "scheme_guest": False,
                      "scheme_user": True, "scheme_admin": False, "explicit_roles": "", "create_at": self.now_ms()}
            self.data["team_members"].append(member)
            self.team_member[(team["id"], user["id"])] = member
            self.members_of_user.setdefault(user["id"], []).append(member)
        member["delete_at"] = 0
        # contract silent: like Mattermost, a new team member joins the team's default channels
        for channel in self.data["channels"].values():
            if channel["team_id"] == team["id"] and channel["name"] in ("town-square", "off-topic"):
                self.join_channel(channel, user)
        self.save()
        return member

    def join_channel(self, channel, user):
        member = self.channel_member.get((channel["id"], user["id"]))
        if member is None:
            member = {"channel_id": channel["id"], "user_id": user["id"], "roles": "", "last_viewed_at": 0,
                      "msg_count": 0, "mention_count": 0, "notify_props": {}, "last_update_at": self.now_ms(),
                      "scheme_guest": False, "scheme_user": True, "scheme_admin": False, "explicit_roles": ""}
            self.data["channel_members"].append(member)
            self.channel_member[(channel["id"], user["id"])] = member
        return member

    def add_team_member(self, request, team_id):
        self.require_admin(request)
        body = self.body_json(request, "team_member")
        if not isinstance(body, dict) or body.get("team_id") != team_id:
            raise AppError(400, "api.context.invalid_body_param.app_error", "Invalid or missing team_id in request body.")
        team = self.team_or_404(team_id)
        user = self.user_or_404(str(body.get("user_id") or ""))
        return self.ok(self.join_team(team, user), 201)

    def channel_by_name(self, request, team_id, name):
        self.require_admin(request)
        channel = next((c for c in self.data["channels"].values() if c["team_id"] == team_id and c["name"] == name), None)
        if channel is None:
            raise AppError(404, "app.channel.get_by_name.missing.app_error", "Channel does not exist.")  # id: contract silent
        return self.ok(channel)

    def add_channel_member(self, request, channel_id):
        """§3 names only the route. Contract silent on the rest; chosen here (as Mattermost does) that the
        user must already be a member of the channel's team (403 otherwise). Error ids are not from the contract."""
        self.require_admin(request)
        body = self.body_json(request, "user_id")
        if not isinstance(body, dict) or not body.get("user_id"):
            raise AppError(400, "api.context.invalid_body_param.app_error", "Invalid or missing user_id in request body.")
        channel = self.data["channels"].get(channel_id)
        if channel is None:
            raise AppError(404, "app.channel.get.existing.app_error", "Unable to find the existing channel.")
        user = self.user_or_404(str(body["user_id"]))
        if not any(m["team_id"] == channel["team_id"] and m["delete_at"] == 0 for m in self.members_of_user.get(user["id"], [])):
            raise AppError(403, "api.channel.add_user.to.channel.failed.app_error", "Failed to add user to channel: not a member of the team.")
        member = self.join_channel(channel, user)
        self.save()
        return self.ok(member, 201)

    # -------------------------------------------------------------------------------------
    # GitLab SSO client side (§1.2 - §1.12)

    def sso_provider_check(self, service):
        """getSSOProvider (§1.1)."""
        if service != "gitlab" or not self.config["gitlab_enable"]:
            raise AppError(501, "api.user.authorize_oauth_user.unsupported.app_error", "Unsupported OAuth service provider.")
        if "openid" in self.config["gitlab_scope"]:
            raise AppError(501, "api.user.login_by_oauth.not_available.app_error", f"{service} SSO through OAuth 2.0 not available on this server.")

    def subpath(self):
        path = urllib.parse.urlsplit(self.site_url).path.rstrip("/")
        return path or "/"

    def secure(self, request):
        """§1.3/§1.12: Secure only when the request came over https (this server speaks plain HTTP, so only
        `X-Forwarded-Proto: https` from a proxy counts)."""
        return request.header("X-Forwarded-Proto", "").lower() == "https"

    @staticmethod
    def valid_web_auth_redirect(redirect_to, site_url):
        """utils.IsValidWebAuthRedirectURL: http(s) URLs must start with the SiteURL; anything else is allowed."""
        scheme = redirect_to.split(":", 1)[0].lower() if ":" in redirect_to else ""
        if scheme in ("http", "https"):
            return redirect_to.lower().startswith(site_url.lower())
        return True

    def oauth_login(self, request, service):
        """§1.2/§1.3 GET /oauth/{service}/login → MMOAUTH cookie, state token, 302 to the AuthEndpoint."""
        with self.lock:
            try:
                self.sso_provider_check(service)
            except AppError as error:
                return self.error_page(error.status, error.id, error.message)
            redirect_to = request.query.get("redirect_to", "")
            if redirect_to and not self.valid_web_auth_redirect(redirect_to, self.site_url):
                # contract: "checked by utils.ValidateWebAuthRedirectUrl"; the error id is not in the contract
                return self.error_page(400, "api.invalid_redirect_url", "Invalid redirect_to.")
            props = {"action": "login", "isMobile": "false"}
            if redirect_to:
                props["redirect_to"] = redirect_to
            if request.query.get("t"):
                props["invite_token"] = request.query["t"]
            elif request.query.get("id"):
                props["invite_id"] = request.query["id"]
            if request.query.get("desktop_token"):
                props["desktop_token"] = request.query["desktop_token"]
            cookie_value = new_id()
            token = new_random_string(64)
            email = ""
            self.states[token] = {"type": "oauth", "extra": f"{email}:{props['action']}:{cookie_value}", "create_at": self.now_ms()}
            props["token"] = token
            state = base64.b64encode(go_json_map(props)).decode("ascii")
            c = self.config
            redirect_uri = self.site_url + "/signup/" + service + "/complete"
            url = (c["gitlab_auth_endpoint"] + "?response_type=code&client_id=" + c["gitlab_id"]
                   + "&redirect_uri=" + go_query_escape(redirect_uri) + "&state=" + go_query_escape(state))
            if c["gitlab_scope"]:
                url += "&scope=" + url_encode_scope(c["gitlab_scope"])
            if request.query.get("login_hint"):
                url += "&login_hint=" + go_query_escape(request.query["login_hint"])
            response = redirect(url, 302)
            response.add("Set-Cookie", format_cookie("MMOAUTH", cookie_value, path=self.subpath(), max_age=1800,
                                                     http_only=True, secure=self.secure(request)))
            return self._stamp(response)

    def complete_oauth(self, request, service):
        """§1.4 - §1.12 the callback."""
        q = request.query
        if q.get("error") == "access_denied":
            return self.error_page(400, "oauth_access_denied", "You denied access.")  # status: contract silent
        code = q.get("code", "")
        if not code:
            return self.error_page(400, "oauth_missing_code", "The OAuth provider did not send a code.")  # status: contract silent
        try:
            props = json.loads(base64.b64decode(q.get("state", ""), validate=True).decode("utf-8"))
            if not isinstance(props, dict):
                raise ValueError("state is not an object")
        except (ValueError, UnicodeDecodeError):
            return self.error_page(400, "api.user.authorize_oauth_user.invalid_state.app_error", "Invalid state")
        clear_cookie = None
        with self.lock:
            try:
                self.sso_provider_check(service)
                # §1.4 state checks; any failure is invalid_state; the token is deleted only once they pass
                state_key = str(props.get("token", ""))
                stored = self.states.get(state_key)
                cookie = request.cookies.get("MMOAUTH")
                action = str(props.get("action", ""))
                expected = f"{props.get('email', '')}:{action}:{cookie}"
                if (stored is None or stored["type"] != "oauth" or cookie is None or stored["extra"] != expected
                        or self.now_ms() - stored["create_at"] > 1800 * 1000):
                    raise AppError(400, "api.user.authorize_oauth_user.invalid_state.app_error", "Invalid state")
                del self.states[state_key]
                clear_cookie = format_cookie("MMOAUTH", "", path=self.subpath(), max_age=-1, http_only=True, secure=self.secure(request))
            except AppError as error:
                return self.error_page(error.status, error.id, error.message)
        extra = [("Set-Cookie", clear_cookie)]
        try:
            body = self.exchange_and_fetch_user(code, service)
        except AppError as error:
            return self.error_page(error.status, error.id, error.message, extra)
        with self.lock:
            try:
                if action == "login":
                    user = self.login_by_oauth(body, props)
                elif action == "signup":
                    user = self.create_oauth_user(body, props, during_signup=True)
                else:
                    # contract lists other actions (mobile, email_to_sso, sso_to_email); not modelled here
                    raise AppError(501, "contract.unsupported_action", f"action {action!r} is not modelled by the contract server")
            except AppError as error:
                return self.error_page(error.status, error.id, error.message, extra)
            session = self.create_session({"user_id": user["id"]}, sso=True)
            self.save()
        return self.finish_login(request, session, user, props, extra)

    def exchange_and_fetch_user(self, code, service):
        """§1.5 token request, §1.6 strict checks, §1.7 user call. Returns the raw user body."""
        c = self.config
        redirect_uri = self.site_url + "/signup/" + service + "/complete"
        form = {"client_id": c["gitlab_id"], "client_secret": c["gitlab_secret"], "code": code,
                "grant_type": "authorization_code", "redirect_uri": redirect_uri}
        encoded = "&".join(go_query_escape(k) + "=" + go_query_escape(form[k]) for k in sorted(form))  # url.Values.Encode
        headers = {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json",
                   "User-Agent": "mattermost-contract-server"}  # User-Agent: contract silent
        try:
            status, _, raw = http_call("POST", c["gitlab_token_endpoint"], headers, encoded.encode("ascii"))
        except OSError as error:
            raise AppError(500, "api.user.authorize_oauth_user.token_failed.app_error", f"Token request failed: {error}")
        try:
            access = go_decode(raw, {"access_token": "string", "token_type": "string", "expires_in": "int32",
                                     "scope": "string", "refresh_token": "string", "id_token": "string",
                                     "audience": "string"})
        except GoDecodeError as error:
            access, decode_error = None, error
        else:
            decode_error = None
        if decode_error is not None or status != 200:
            raise AppError(500, "api.user.authorize_oauth_user.bad_response.app_error",
                           f"Bad response from token request (status {status}; {decode_error or 'not 200'}): {raw[:300]!r}")
        if access["token_type"].lower() != "bearer":
            raise AppError(500, "api.user.authorize_oauth_user.bad_token.app_error", f"Bad token type: {access['token_type']!r}")
        if access["access_token"] == "":
            raise AppError(500, "api.user.authorize_oauth_user.missing.app_error", "Missing access token")
        # §1.6: an id_token is handed to GitLab's GetUserFromIdToken, which returns nil: ignored.
        headers = {"Authorization": "Bearer " + access["access_token"], "Accept": "application/json",
                   "Content-Type": "application/x-www-form-urlencoded", "User-Agent": "mattermost-contract-server"}
        try:
            status, _, raw = http_call("GET", c["gitlab_user_api_endpoint"], headers, None)
        except OSError as error:
            # contract silent on a transport failure of the user call; the user-endpoint id is used
            raise AppError(500, "api.user.authorize_oauth_user.response.app_error", f"Received invalid response from OAuth service provider: {error}")
        if status != 200:
            if status == 403 and b"Terms of Service" in raw:
                raise AppError(400, "oauth.gitlab.tos.error", "GitLab's Terms of Service have been updated.")  # status: contract silent
            raise AppError(500, "api.user.authorize_oauth_user.response.app_error",
                           f"Received invalid response from OAuth service provider (status {status}): {raw[:300]!r}")
        return raw

    def parse_gitlab_user(self, raw):
        """§1.8 GitLabUser + IsValid, §1.9 userFromGitLabUser. Raises GoDecodeError."""
        glu = go_decode(raw, {"id": "int64", "username": "string", "login": "string", "email": "string", "name": "string"})
        if glu["id"] == 0:
            raise GoDecodeError("user id can't be 0")
        if glu["email"] == "":
            raise GoDecodeError("user e-mail should not be empty")
        username = glu["username"] or glu["login"]
        parts = glu["name"].split(" ")
        if len(parts) == 2:
            first, last = parts[0], parts[1]
        elif len(parts) > 2:
            first, last = parts[0], " ".join(parts[1:])
        else:
            first, last = glu["name"], ""
        return {"username": clean_username(username), "first_name": unicodedata.normalize("NFC", first),
                "last_name": unicodedata.normalize("NFC", last), "email": glu["email"].lower(),
                "auth_data": str(glu["id"]), "auth_service": "gitlab"}

    def login_by_oauth(self, raw, props):
        """§1.10 LoginByOAuth."""
        try:
            oauth_user = self.parse_gitlab_user(raw)
        except GoDecodeError as error:
            raise AppError(400, "api.user.login_by_oauth.parse.app_error", f"Could not parse auth data out of gitlab user object: {error}")
        user = self.find_user(auth_data=oauth_user["auth_data"], auth_service="gitlab")
        if user is None:
            return self.create_oauth_user(raw, props, parsed=oauth_user)
        if user.get("is_bot"):
            raise AppError(403, "api.user.login_by_oauth.bot_login_forbidden.app_error", "Bot login is forbidden.")
        self.update_oauth_user_attrs(user, oauth_user)
        self.add_user_to_team_by_invite(user, props)
        return user

    def update_oauth_user_attrs(self, user, oauth_user):
        """§1.11 UpdateOAuthUserAttrs: username/email only when free, names, and reactivation."""
        changed = False
        if oauth_user["username"] != user["username"] and self.find_user(username=oauth_user["username"]) is None:
            user["username"] = oauth_user["username"]
            changed = True

        def full(u):
            return " ".join(p for p in (u["first_name"], u["last_name"]) if p)
        if full(oauth_user) != full(user):
            user["first_name"], user["last_name"] = oauth_user["first_name"], oauth_user["last_name"]
            changed = True
        if oauth_user["email"] != user["email"] and self.find_user(email=oauth_user["email"]) is None:
            user["email"] = oauth_user["email"]
            changed = True
        if user["delete_at"] > 0:
            user["delete_at"] = 0
            changed = True
        if changed:
            self.user_changed(user["id"])  # before the check below: a failing check leaves the changes in place
            self.validate_user(user)  # contract silent on an invalid update: the IsValid error is shown
            user["update_at"] = self.now_ms()
            self.save()

    def create_oauth_user(self, raw, props, parsed=None, during_signup=False):
        """§1.10 CreateOAuthUser."""
        if not self.config["enable_user_creation"]:
            raise AppError(501, "api.user.create_user.disabled.app_error", "User creation is disabled.")
        if parsed is None:
            try:
                parsed = self.parse_gitlab_user(raw)
            except GoDecodeError as error:
                raise AppError(500, "api.user.create_oauth_user.create.app_error", f"Could not create user out of gitlab user object: {error}")
        user = self.new_user(parsed)
        count = 0
        while is_valid_username(user["username"]) and self.find_user(username=user["username"]) is not None:
            user["username"] = user["username"] + str(count)   # cumulative: alice, alice0, alice01, …
            count += 1
        existing = self.find_user(auth_data=parsed["auth_data"], auth_service="gitlab")
        if existing is not None:
            return existing
        if self.find_user(email=user["email"]) is not None:
            raise AppError(400, "api.user.create_oauth_user.already_attached.app_error",
                           "There is already an account associated with that email address using a sign in method other than gitlab.")
        user["email_verified"] = True
        self.check_domain(user["email"])
        self.validate_user(user)
        self.check_unique(user)
        self.insert_user(user)
        self.add_user_to_team_by_invite(user, props)
        return user

    def add_user_to_team_by_invite(self, user, props):
        """AddUserToTeamByInviteIfNeeded: invite_id from the state; errors are only logged (§1.10)."""
        invite_id = props.get("invite_id")
        if props.get("invite_token"):
            print("mattermost-contract: invite tokens (t=) are not modelled; ignored", file=sys.stderr)
        if not invite_id:
            return
        team = next((t for t in self.data["teams"].values() if t["invite_id"] == invite_id), None)
        if team is None:
            print(f"mattermost-contract: no team with invite_id {invite_id!r}; not joined", file=sys.stderr)
            return
        self.join_team(team, user)

    def finish_login(self, request, session, user, props, extra):
        """§1.12 cookies and the 307."""
        secure = self.secure(request)
        path = self.subpath()
        domain = None
        if self.config["allow_cookies_for_subdomains"]:
            domain = urllib.parse.urlsplit(self.site_url).hostname
        max_age = self.config["session_length_web_hours"] * 3600
        target = self.fully_qualified_redirect(props.get("redirect_to", ""))
        response = redirect(target, 307, extra)
        response.add("Token", session["token"])
        response.add("Set-Cookie", format_cookie("MMAUTHTOKEN", session["token"], path, max_age, http_only=True, secure=secure, domain=domain))
        response.add("Set-Cookie", format_cookie("MMUSERID", user["id"], path, max_age, secure=secure, domain=domain))
        response.add("Set-Cookie", format_cookie("MMCSRF", session["props"]["csrf"], path, max_age, secure=secure, domain=domain))
        return self._stamp(response)

    def fully_qualified_redirect(self, target):
        """Relative redirect_to → SiteURL + path; absolute (or empty) → SiteURL (§1.12)."""
        if not target or "://" in target or target.startswith("//") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*:", target):
            return self.site_url or "/"
        if not target.startswith("/"):
            target = "/" + target
        return self.site_url + target


def now_ms_wall():
    return int(time.time() * 1000)


def main():
    parser = argparse.ArgumentParser(description="Mattermost contract server (not Mattermost): contracts/chat-servers.md §1, §3")
    common_arguments(parser)
    parser.add_argument("--gitlab-url", default="", help="Drawbridge base URL; endpoints /oauth/authorize, /oauth/token, /api/v4/user")
    parser.add_argument("--gitlab-client-id", default="")
    parser.add_argument("--gitlab-client-secret", default="")
    parser.add_argument("--gitlab-scope", default="", help="GitLabSettings.Scope (default empty: no scope parameter)")
    parser.add_argument("--gitlab-enable", type=bool_arg, default=None, help="GitLabSettings.Enable (default: true when --gitlab-url is set)")
    parser.add_argument("--gitlab-auth-endpoint", default="")
    parser.add_argument("--gitlab-token-endpoint", default="")
    parser.add_argument("--gitlab-user-api-endpoint", default="")
    parser.add_argument("--enable-user-creation", type=bool_arg, default=True, help="TeamSettings.EnableUserCreation")
    parser.add_argument("--restrict-creation-to-domains", default="", help="email domains allowed to create accounts, comma list (Mattermost TeamSettings: restrict creation to domains)")
    parser.add_argument("--allow-cookies-for-subdomains", type=bool_arg, default=False, help="ServiceSettings.AllowCookiesForSubdomains")
    parser.add_argument("--enable-api-user-deletion", type=bool_arg, default=False, help="ServiceSettings.EnableAPIUserDeletion")
    parser.add_argument("--team", action="append", default=[], metavar="NAME[:channel,channel]", help="seed a team (repeatable)")
    serve(MattermostApp, parser.parse_args())


if __name__ == "__main__":
    main()
