#!/usr/bin/python3
"""Rocket.Chat contract server for Drawbridge's tests.

This is a contract server, not Rocket.Chat: it follows shared/contracts/chat-servers.md §4 (§4.1 Custom
OAuth settings, §4.2 the flow and the merge rules, §4.3 the admin REST API). Where the contract is silent,
a comment says so, and says where the behaviour chosen comes from: "source" means the Rocket.Chat file
the contract cites (apps/meteor/app/custom-oauth/server/custom_oauth_server.ts @52e31402 and its
transform_helpers.ts), anything else is a choice of this stand-in. Python 3.11 standard library only.

    /usr/bin/python3 rocketchat_contract_server.py --port 13000 --admin-token T --admin-user-id U \
        --oauth-name drawbridge --oauth-url http://127.0.0.1:8080 --oauth-client-id ID --oauth-client-secret S \
        --identity-path /oauth/userinfo --identity-token-sent-via header --scope "openid profile email" \
        --username-field preferred_username --email-field email --merge-users true

Prints `LISTENING <port>` once ready. Test control API: /__contract__/ (see README.md).

The Meteor login start is browser-side code (§4.2 "client side, CustomOAuth.requestCredential"), so this
server offers it as GET /_contract_oauth_start/<name>?redirectUrl=… (a stand-in path, not a Rocket.Chat
route). The callback is the real path, /_oauth/<name>.
"""
import argparse
import base64
import hashlib
import json
import re
import secrets
import time
import urllib.parse
from datetime import datetime, timezone

from contract_common import (ContractApp, RecordIndexes, bool_arg, common_arguments, format_cookie, html_escape,
                             html_response, http_call, json_response, redirect, serve)

_METEOR_ID_CHARS = "23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz"
USER_AGENT = "Meteor/METEOR@3.0.4"  # §4.2 "User-Agent: Meteor/<ver>"; the version is not given


def random_id(length=17):
    """Meteor's Random.id()."""
    return "".join(secrets.choice(_METEOR_ID_CHARS) for _ in range(length))


def random_secret():
    """Meteor's Random.secret(): 43 characters."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii").rstrip("=")


def hash_login_token(token):
    """Accounts._hashLoginToken: base64(sha256(token))."""
    return base64.b64encode(hashlib.sha256(token.encode("utf-8")).digest()).decode("ascii")


def iso_now(offset_seconds=0.0):
    return datetime.fromtimestamp(time.time() + offset_seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def is_url(text):
    """lib/utils/isURL."""
    return bool(re.match(r"^(https?://|data:)", text or ""))


# ---------------------------------------------------------------------------------------------
# JavaScript semantics the identity handling depends on

_UNDEFINED = object()


def js_truthy(value):
    if value is _UNDEFINED or value is None or value is False:
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0
    if isinstance(value, str):
        return value != ""
    return True  # objects and arrays, even empty ones, are truthy in JavaScript


def js_str(value):
    if value is _UNDEFINED:
        return "undefined"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, dict):
        return "[object Object]"
    if isinstance(value, list):
        return ",".join("" if v is None or v is _UNDEFINED else js_str(v) for v in value)
    return str(value)


def js_parse_int(value):
    """parseInt(x, 10); None for NaN."""
    found = re.match(r"^\s*([+-]?\d+)", js_str(value))
    return int(found.group(1)) if found else None


def get(obj, key):
    if isinstance(obj, dict):
        return obj.get(key, _UNDEFINED)
    if isinstance(obj, list) and key.isdigit() and int(key) < len(obj):
        return obj[int(key)]
    return _UNDEFINED


def get_nested_value(path, source):
    """transform_helpers getNestedValue: path.split('.').reduce((prev, curr) => prev ? prev[curr] : undefined)."""
    value = source
    for part in path.split("."):
        value = get(value, part) if js_truthy(value) else _UNDEFINED
    return value


_REGEXP_FROM_FORMULA = re.compile(r"^/((?:(?!/::).)*)/::(.+)", re.S)
_TEMPLATE = re.compile(r"{{((?:(?!}}).)+)}}")


def get_regexp_match(formula, data):
    found = _REGEXP_FROM_FORMULA.match(formula)
    if not found:
        return get_nested_value(formula, data)
    regex, path = found.group(1), found.group(2)
    match = re.search(regex, js_str(get_nested_value(path, data)))
    if not match:
        return _UNDEFINED
    return match.group(1) if match.groups() and match.group(1) is not None else _UNDEFINED


def from_template(template, data):
    """§4.1 field paths: `a.b.c`, `{{a.b}}`, `{{/regex(.)/::path}}` (transform_helpers fromTemplate)."""
    if not _TEMPLATE.search(template):
        return get_nested_value(template, data)
    return _TEMPLATE.sub(lambda m: js_str(get_regexp_match(m.group(1), data)), template)


def rename_invalid_properties(value):
    """§4.2: property names containing '.' are renamed with '_' (recursively)."""
    if isinstance(value, list):
        return [rename_invalid_properties(v) for v in value]
    if isinstance(value, dict):
        return {k.replace(".", "_"): rename_invalid_properties(v) for k, v in value.items()}
    return value


def normalize_ids(identity):
    """§4.2 id fallbacks, in the order of the source's normalizers; `emails[0].address` gives email.
    The source also has a 'reddit' normalizer (`result` unwrapping) the contract does not list: not applied."""
    def missing_id():
        return not js_truthy(identity.get("id", _UNDEFINED))
    if js_truthy(identity.get("_id")) and missing_id():
        identity["id"] = identity["_id"]
    if js_truthy(identity.get("ID")) and missing_id():
        identity["id"] = identity["ID"]
    if js_truthy(identity.get("user_id")) and missing_id():
        identity["id"] = identity["user_id"]
    if js_truthy(identity.get("CharacterID")) and missing_id():
        identity["id"] = identity["CharacterID"]
    user = identity.get("user") if isinstance(identity.get("user"), dict) else {}
    if js_truthy(user.get("userid")) and missing_id():   # dataporten
        sec = user.get("userid_sec")
        identity["id"] = sec[0] if isinstance(sec, list) and sec and js_truthy(sec[0]) else user["userid"]
        identity["email"] = user.get("email")
    if js_truthy(user.get("user_id")) and missing_id():  # xenforo
        identity["id"] = user["user_id"]
        identity["email"] = user.get("user_email")
    if js_truthy(identity.get("phid")) and missing_id():
        identity["id"] = identity["phid"]
    if js_truthy(identity.get("sub")) and missing_id():
        identity["id"] = identity["sub"]
    metadata = identity.get("metadata")
    if missing_id() and isinstance(metadata, dict) and js_truthy(metadata.get("uid")):  # openshift
        identity["id"] = metadata["uid"]
        identity["name"] = identity.get("fullName")
    if js_truthy(identity.get("userid")) and missing_id():
        identity["id"] = identity["userid"]
    ocs = identity.get("ocs")
    if missing_id() and isinstance(ocs, dict) and isinstance(ocs.get("data"), dict) and js_truthy(ocs["data"].get("id")):
        identity["id"] = ocs["data"]["id"]
        identity["name"] = ocs["data"].get("displayname")
        identity["email"] = ocs["data"].get("email")
    emails = identity.get("emails")
    if not js_truthy(identity.get("email")) and isinstance(emails, list) and emails:
        first = emails[0] if isinstance(emails[0], dict) else {}
        identity["email"] = first.get("address") if js_truthy(first.get("address")) else None
    return identity


class LoginError(Exception):
    """A Meteor.Error(error, reason): message 'reason [error]'."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status, self.message = status, message


class ApiError(Exception):
    def __init__(self, status, message, error_type=None):
        super().__init__(message)
        self.status, self.message, self.error_type = status, message, error_type


USERNAME_RE = re.compile(r"^[0-9a-zA-Z\-_.]+$")  # contract silent: Rocket.Chat's UTF8_User_Names_Validation default
EMAIL_RE = re.compile(r"^[^\s@]+@[^\s@]+$")
CREATE_SCHEMA = {  # packages/rest-typings/src/v1/users/UserCreateParamsPOST.ts (§4.3), additionalProperties: false
    "email": str, "name": str, "password": str, "username": str, "active": bool, "bio": str, "nickname": str,
    "statusText": str, "roles": list, "joinDefaultChannels": bool, "requirePasswordChange": bool,
    "setRandomPassword": bool, "sendWelcomeEmail": bool, "verified": bool, "customFields": dict, "fields": str,
    "freeSwitchExtension": str, "phones": list,
}
NULLABLE = {"active", "bio", "nickname", "statusText", "joinDefaultChannels", "requirePasswordChange",
            "setRandomPassword", "sendWelcomeEmail", "verified", "fields", "freeSwitchExtension", "phones"}
PUBLIC_FIELDS = ("_id", "createdAt", "username", "emails", "type", "status", "active", "name", "roles",
                 "requirePasswordChange", "nickname", "bio", "statusText", "customFields", "lastLogin", "_updatedAt")
LIST_FIELDS = ("_id", "username", "name", "emails", "active", "type", "roles")   # users.list, per user
# Rocket.Chat's default settings (group General, section REST API) API_Default_Count = 50 and
# API_Upper_Count_Limit = 100 (count is capped there); API_Allow_Infinite_Count defaults to true, so count=0 means
# "no limit" (apps/meteor/app/api/server/helpers/getPaginationItems.ts). An admin can change all three.
API_DEFAULT_COUNT, API_UPPER_COUNT_LIMIT = 50, 100


def _lower_text(value):
    return value.lower() if isinstance(value, str) else str(value).lower()


# The user indexes (see RecordIndexes), with the keys the scans they replace compared: the lower-cased username,
# each lower-cased email address, and (service name, services.<name>.id) for every linked service.
USER_KEYS = {
    "username": lambda user: [_lower_text(user.get("username") or "")],
    "email": lambda user: [_lower_text(e.get("address") or "") for e in user.get("emails") or [] if isinstance(e, dict)],
    "service_id": lambda user: [(name, service["id"]) for name, service in (user.get("services") or {}).items()
                                if isinstance(service, dict) and "id" in service],
}


def _mongo_sort_key(value):
    """MongoDB's order for one field without a collation: missing/null, then numbers, then strings (binary, which
    for Python strings is code-point order), then anything else."""
    if value is None:
        return (0, 0)
    if isinstance(value, bool):
        return (4, value)
    if isinstance(value, (int, float)):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (3, json.dumps(value, sort_keys=True))


class RocketChatApp(ContractApp):
    product = "rocketchat"

    def initial_config(self):
        a = self.args
        return {
            "latency_ms": a.latency_ms,
            "name": re.sub(r"[^a-z0-9_]", "", a.oauth_name.lower()),
            "url": a.oauth_url.rstrip("/") if a.oauth_url else "",
            "token_path": a.token_path, "token_sent_via": a.token_sent_via,
            "identity_token_sent_via": a.identity_token_sent_via, "identity_path": a.identity_path,
            "authorize_path": a.authorize_path, "scope": a.scope, "access_token_param": a.access_token_param,
            "id": a.oauth_client_id, "secret": a.oauth_client_secret, "login_style": a.login_style,
            "key_field": a.key_field, "username_field": a.username_field.strip(), "email_field": a.email_field.strip(),
            "name_field": a.name_field.strip(), "avatar_field": a.avatar_field.strip(), "merge_users": a.merge_users,
            "merge_users_distinct_services": a.merge_users_distinct_services,
            "registration_enabled": a.registration_enabled,   # Accounts_Registration_AuthenticationServices_Enabled
        }

    def fresh_data(self):
        return {"users": {}}

    def restore(self, saved):
        if "users" in saved:
            self.data["users"] = saved["users"]

    # -- indexes: every look-up a request makes is O(1) in the number of users --

    def rebuild_indexes(self):
        self.user_index = RecordIndexes(USER_KEYS, self.data["users"])
        self.listing_cache = {}

    def user_changed(self, user_id):
        """After a user was added, or their username, emails or services.<name>.id changed, or removed."""
        self.user_index.put(user_id)

    def index_problems(self):
        problems = self.user_index.differences()
        if self.listing_cache.get("version") == self.user_index.version and "ids" in self.listing_cache \
                and self.listing_cache["ids"] != self._sorted_user_ids():
            problems.append("cached listing out of step")
        return problems

    # -- responses --

    def error(self, status, error_id, message=""):
        return json_response({"success": False, "error": message or error_id, "errorType": error_id}, status)

    def fail(self, error):
        body = {"success": False, "error": error.message}
        if error.error_type:
            body["errorType"] = error.error_type
        return json_response(body, error.status)

    def down_response(self):
        return json_response({"success": False, "error": "The contract server is switched off (POST /__contract__/up)."}, 503)

    def not_found(self, request, allowed):
        if request.path.startswith("/api/"):
            return json_response({"success": False, "error": f"API endpoint \"{request.path}\" does not exist!"}, 404)
        return html_response(f"<!doctype html><title>Not found</title><p>404: {html_escape(request.path)}</p>", 404)

    def page(self, status, message, headers=()):
        html = ("<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>Rocket.Chat contract server</title></head>\n"
                f"<body><h1>Login failed</h1>\n<p class=\"error\">{html_escape(message)}</p></body></html>\n")
        response = html_response(html, status, list(headers))
        response.add("X-Contract-Error", message.encode("ascii", "replace").decode("ascii")[:300])
        return response

    # -- users --

    def public(self, user):
        return {k: user[k] for k in PUBLIC_FIELDS if k in user}

    def find_username(self, username):
        """The first user (in store order) whose username equals this one, ignoring case."""
        return self.user_index.first("username", str(username).lower())

    def find_email(self, email):
        """The first user (in store order) with this email address among theirs, ignoring case."""
        return self.user_index.first("email", str(email or "").strip().lower())

    def find_service_user(self, name, service_id):
        """The first user (in store order) whose services.<name>.id equals service_id."""
        user = self.user_index.first("service_id", (name, service_id))
        if user is RecordIndexes.SCAN:  # an id that cannot be hashed (a JSON object or array): scan
            user = next((u for u in self.data["users"].values()
                         if u["services"].get(name, {}).get("id", _UNDEFINED) == service_id), None)
        return user

    def new_user(self, username, email, name, verified=False, active=True, roles=None):
        now = iso_now(self.clock_offset)
        return {"_id": random_id(), "createdAt": now, "username": username,
                "emails": [{"address": email, "verified": bool(verified)}] if email else [],
                "type": "user", "status": "offline", "active": active, "name": name,
                "roles": roles or ["user"], "services": {}, "_updatedAt": now}

    def set_password(self, user, password):
        user["services"]["password"] = {"bcrypt": "$contract$" + hashlib.sha256(password.encode()).hexdigest()}

    def seed_user(self, body):
        if not body.get("username") and not body.get("email"):
            raise ValueError("username or email is required")
        user = self.new_user(body.get("username"), body.get("email"), body.get("name", body.get("username")),
                             body.get("verified", False), body.get("active", True), body.get("roles"))
        if body.get("_id"):
            user["_id"] = body["_id"]
        if body.get("password"):
            self.set_password(user, body["password"])
        if isinstance(body.get("services"), dict):
            user["services"].update(body["services"])
        self.data["users"][user["_id"]] = user
        self.user_changed(user["_id"])
        return user

    def create_session(self, body):
        user = self.data["users"].get(body.get("user_id", ""))
        if user is None:
            raise ValueError("user_id is unknown")
        return {"userId": user["_id"], "authToken": self.new_login_token(user)}

    def new_login_token(self, user):
        token = random_secret()
        resume = user["services"].setdefault("resume", {})
        resume.setdefault("loginTokens", []).append({"when": iso_now(self.clock_offset), "hashedToken": hash_login_token(token)})
        return token

    def unset_login_tokens(self, user):
        if "resume" in user["services"]:
            user["services"]["resume"]["loginTokens"] = []

    # -- auth (§4.3 X-Auth-Token / X-User-Id) --

    def caller(self, request):
        token, user_id = request.header("X-Auth-Token") or "", request.header("X-User-Id") or ""
        if (token and user_id and secrets.compare_digest(token.encode(), self.args.admin_token.encode())
                and user_id == self.args.admin_user_id):
            return "admin", None
        user = self.data["users"].get(user_id)
        if user and token:
            hashed = hash_login_token(token)
            if any(t.get("hashedToken") == hashed for t in user["services"].get("resume", {}).get("loginTokens", [])):
                return "user", user
        # contract silent on the failure shape; Rocket.Chat's message
        raise ApiError(401, "You must be logged in to do this.")

    def require_admin(self, request):
        kind, user = self.caller(request)
        if kind != "admin":
            # contract silent; Rocket.Chat's wording
            raise ApiError(403, "User does not have the permissions required for this action [error-unauthorized]", "error-unauthorized")
        return kind, user

    # -- routes --

    def build_routes(self, r):
        r.add("POST", r"/api/v1/users\.create", self.api(self.users_create))
        r.add("GET", r"/api/v1/users\.info", self.api(self.users_info))
        r.add("GET", r"/api/v1/users\.list", self.api(self.users_list))
        r.add("POST", r"/api/v1/users\.update", self.api(self.users_update))
        r.add("POST", r"/api/v1/users\.setActiveStatus", self.api(self.users_set_active_status))
        r.add("POST", r"/api/v1/users\.logout", self.api(self.users_logout))
        r.add("GET", r"/api/v1/me", self.api(self.me))
        r.add("GET", r"/_contract_oauth_start/(?P<name>[^/]+)", self.oauth_start)
        r.add("GET", r"/_oauth/(?P<name>[^/]+)", self.oauth_callback)
        r.add("GET", r"/", self.root)
        r.add("GET", r"/home", self.root)

    def api(self, handler):
        def wrapped(request, **params):
            self.simulate_latency()
            with self.lock:
                try:
                    return handler(request, **params)
                except ApiError as error:
                    return self.fail(error)
        return wrapped

    def body(self, request):
        try:
            value = request.json()
        except (ValueError, UnicodeDecodeError):
            raise ApiError(400, "The body must be a JSON object", "invalid-params")
        if not isinstance(value, dict):
            raise ApiError(400, "must be object", "invalid-params")
        return value

    def root(self, request):
        return html_response("<!doctype html><title>Rocket.Chat contract server</title>"
                             "<p>Rocket.Chat contract server (not Rocket.Chat).</p>")

    def check_username(self, username, exclude=None):
        # contract silent on validation and on these messages; Rocket.Chat's saveUser wording
        if not USERNAME_RE.match(username):
            raise ApiError(400, f"{username} is not a valid username, use only letters, numbers, dots, hyphens and underscores [error-input-is-not-a-valid-field]", "error-input-is-not-a-valid-field")
        other = self.find_username(username)
        if other is not None and other["_id"] != exclude:
            raise ApiError(400, f"{username} is already in use :( [error-field-unavailable]", "error-field-unavailable")

    def check_email(self, email, exclude=None):
        if not EMAIL_RE.match(email):
            raise ApiError(400, f"Invalid email {email} [error-invalid-email]", "error-invalid-email")
        other = self.find_email(email)
        if other is not None and other["_id"] != exclude:
            raise ApiError(400, f"{email} is already in use :( [error-field-unavailable]", "error-field-unavailable")

    def users_create(self, request):
        """§4.3 users.create: email, name, password, username required; additionalProperties false."""
        self.require_admin(request)
        body = self.body(request)
        for field in ("email", "name", "password", "username"):
            if field not in body:
                raise ApiError(400, f"must have required property '{field}'", "invalid-params")
        for field, value in body.items():
            if field not in CREATE_SCHEMA:
                raise ApiError(400, "must NOT have additional properties", "invalid-params")
            if value is None and field in NULLABLE:
                continue
            expected = CREATE_SCHEMA[field]
            if not isinstance(value, expected) or (expected is not bool and isinstance(value, bool)):
                raise ApiError(400, f"/{field} must be {'string' if expected is str else expected.__name__.replace('dict', 'object').replace('list', 'array').replace('bool', 'boolean')}", "invalid-params")
        self.check_username(body["username"])
        self.check_email(body["email"])
        password = body["password"]
        if body.get("setRandomPassword"):
            password = random_secret()  # §4.3 setRandomPassword; what else Rocket.Chat does with it: contract silent
        active = body.get("active")
        user = self.new_user(body["username"], body["email"].strip(), body["name"], body.get("verified") or False,
                             True if active is None else active, body.get("roles") or ["user"])
        for field in ("nickname", "bio", "statusText", "customFields"):
            if body.get(field) is not None:
                user[field] = body[field]
        if body.get("requirePasswordChange"):
            user["requirePasswordChange"] = True
        self.set_password(user, password)
        self.data["users"][user["_id"]] = user
        self.user_changed(user["_id"])
        self.save()
        return json_response({"user": self.public(user), "success": True})

    def user_from_params(self, params):
        user_id, username = params.get("userId"), params.get("username")
        if not user_id and not username:
            raise ApiError(400, 'The required "userId" or "username" param was not provided [error-user-param-not-provided]', "error-user-param-not-provided")
        user = self.data["users"].get(user_id) if user_id else self.find_username(username)
        if user is None:
            raise ApiError(400, "User not found.", "error-invalid-user")  # contract silent on the wording
        return user

    def users_info(self, request):
        self.require_admin(request)
        return json_response({"user": self.public(self.user_from_params(request.query)), "success": True})

    def users_list(self, request):
        """GET /api/v1/users.list?count=&offset= → {users, count, offset, total, success}.

        Contract silent: §4.3 names no listing route. The behaviour is Rocket.Chat's own, from its source
        (RocketChat/Rocket.Chat apps/meteor/app/api/server/v1/users.ts 'users.list' @7bf6c349 and
        apps/meteor/app/api/server/helpers/getPaginationItems.ts):
        sorted by username ascending (the default sort), `offset` skipped, then at most `count`; `count` is the
        number returned, `total` the number of all users. count defaults to API_Default_Count (50) and is capped at
        API_Upper_Count_Limit (100); both are Rocket.Chat's *default* settings, which a server can change. count=0
        means no limit (API_Allow_Infinite_Count, default true). Per user: _id, username, name, emails, active, type,
        roles (the fields an admin sees; a stored user without one of them goes without it, as MongoDB's projection).
        Chosen here: only the admin may call it, answered like the other admin routes (Rocket.Chat lets any user with
        `view-d-room`, ordinary users by default, list users, and shows them fewer fields); a count or offset that
        is not a number or is negative is a 400 invalid-params; the query/fields/sort parameters are not modelled
        (501); the stand-in's admin is not a stored user and so is not listed (Rocket.Chat would list the admin,
        and its rocket.cat bot, too)."""
        self.require_admin(request)
        q = request.query
        unmodelled = [name for name in ("query", "fields", "sort") if q.get(name)]
        if unmodelled:
            raise ApiError(501, f"users.list: {', '.join(unmodelled)} not modelled by the contract server", "contract-unsupported-parameter")
        offset = js_parse_int(q["offset"]) if q.get("offset") else 0           # params.offset ? parseInt(…) : 0
        count = js_parse_int(q["count"] or "0") if "count" in q else API_DEFAULT_COUNT
        for name, value in (("offset", offset), ("count", count)):
            if value is None or value < 0:
                raise ApiError(400, f"{name} must be a non-negative integer", "invalid-params")
        count = min(count, API_UPPER_COUNT_LIMIT)
        ids = self.sorted_user_ids()
        page = ids[offset:] if count == 0 else ids[offset:offset + count]
        users = [{k: self.data["users"][i][k] for k in LIST_FIELDS if k in self.data["users"][i]} for i in page]
        return json_response({"users": users, "count": len(users), "offset": offset, "total": len(ids), "success": True})

    def sorted_user_ids(self):
        """User ids in username order, cached until the next change to a user."""
        cache = self.listing_cache
        if cache.get("version") != self.user_index.version or "ids" not in cache:
            cache.clear()
            cache["version"] = self.user_index.version
            cache["ids"] = self._sorted_user_ids()
        return cache["ids"]

    def _sorted_user_ids(self):
        users, rank = self.data["users"], self.user_index.rank
        return sorted(users, key=lambda i: (_mongo_sort_key(users[i].get("username")), rank[i]))

    def users_update(self, request):
        """§4.3 users.update {userId, data:{…}}."""
        self.require_admin(request)
        body = self.body(request)
        data = body.get("data")
        if not isinstance(body.get("userId"), str) or not isinstance(data, dict):
            raise ApiError(400, "must have required property 'userId' and object 'data'", "invalid-params")
        user = self.data["users"].get(body["userId"])
        if user is None:
            raise ApiError(400, "User not found.", "error-invalid-user")
        if "username" in data:
            self.check_username(str(data["username"]), exclude=user["_id"])
        if "email" in data:
            self.check_email(str(data["email"]).strip(), exclude=user["_id"])
        if "username" in data:
            user["username"] = data["username"]
        if "email" in data:
            user["emails"] = [{"address": str(data["email"]).strip(), "verified": bool(data.get("verified", False))}]
        elif "verified" in data and user["emails"]:
            user["emails"][0]["verified"] = bool(data["verified"])
        for field in ("name", "nickname", "bio", "statusText", "roles", "customFields", "requirePasswordChange"):
            if field in data:
                user[field] = data[field]
        if data.get("password"):
            self.set_password(user, str(data["password"]))
        if "active" in data:
            self.apply_active(user, bool(data["active"]))
        user["_updatedAt"] = iso_now(self.clock_offset)
        self.user_changed(user["_id"])
        self.save()
        return json_response({"user": self.public(user), "success": True})

    def apply_active(self, user, active):
        user["active"] = active
        if not active:
            # contract silent: like Rocket.Chat's setUserActiveStatus, deactivation removes the login tokens
            self.unset_login_tokens(user)

    def users_set_active_status(self, request):
        """§4.3 users.setActiveStatus {userId, activeStatus}."""
        self.require_admin(request)
        body = self.body(request)
        if not isinstance(body.get("userId"), str):
            raise ApiError(400, "must have required property 'userId'", "invalid-params")
        if not isinstance(body.get("activeStatus"), bool):
            raise ApiError(400, "must have required property 'activeStatus'", "invalid-params")
        user = self.data["users"].get(body["userId"])
        if user is None:
            raise ApiError(400, "User not found.", "error-invalid-user")
        self.apply_active(user, body["activeStatus"])
        user["_updatedAt"] = iso_now(self.clock_offset)
        self.save()
        return json_response({"user": {"_id": user["_id"], "active": user["active"]}, "success": True})

    def users_logout(self, request):
        """Ending a user's sessions. §4.3 names no endpoint for this (contract silent); this stand-in offers
        Rocket.Chat's POST /api/v1/users.logout {userId}, which removes all of that user's login tokens."""
        kind, caller = self.caller(request)
        try:
            body = self.body(request) if request.body else {}
        except ApiError:
            body = {}
        user_id = body.get("userId") or (caller["_id"] if caller else None)
        if kind != "admin" and user_id != caller["_id"]:
            raise ApiError(403, "User does not have the permissions required for this action [error-unauthorized]", "error-unauthorized")
        user = self.data["users"].get(user_id or "")
        if user is None:
            raise ApiError(400, "User not found.", "error-invalid-user")
        self.unset_login_tokens(user)
        self.save()
        return json_response({"message": f"User {user_id} has been logged out!", "success": True})

    def me(self, request):
        """GET /api/v1/me (contract silent; offered so tests can check a login token)."""
        kind, user = self.caller(request)
        if kind == "admin":
            return json_response({"_id": self.args.admin_user_id, "username": "contract-admin", "roles": ["admin"], "success": True})
        body = self.public(user)
        body["success"] = True
        return json_response(body)

    # -------------------------------------------------------------------------------------
    # Custom OAuth (§4.1, §4.2)

    def endpoints(self):
        c = self.config
        authorize = c["authorize_path"] if is_url(c["authorize_path"]) else c["url"] + c["authorize_path"]
        token = c["token_path"] if is_url(c["token_path"]) else c["url"] + c["token_path"]
        identity = c["identity_path"] if is_url(c["identity_path"]) else c["url"] + c["identity_path"]
        return authorize, token, identity

    def redirect_uri(self):
        return self.site_url + "/_oauth/" + self.config["name"]  # §4.2 OAuth._redirectUri

    def oauth_start(self, request, name):
        """Stand-in for the browser-side CustomOAuth.requestCredential (§4.2)."""
        c = self.config
        if name != c["name"] or not c["url"]:
            return self.page(400, "Service not configured [Accounts.ConfigError]")
        credential_token = random_secret()
        style = request.query.get("loginStyle") or c["login_style"]
        state = {"loginStyle": style, "credentialToken": credential_token, "isCordova": False}
        if style == "redirect":
            state["redirectUrl"] = request.query.get("redirectUrl") or self.site_url + "/home"
        state_param = base64.b64encode(json.dumps(state, separators=(",", ":")).encode("utf-8")).decode("ascii")
        authorize, _, _ = self.endpoints()
        separator = "&" if "?" in authorize else "?"
        q = lambda s: urllib.parse.quote(s, safe="-_.!~*'()")  # encodeURIComponent
        url = (f"{authorize}{separator}client_id={c['id']}&redirect_uri={q(self.redirect_uri())}"
               f"&response_type=code&state={q(state_param)}&scope={q(c['scope'])}")
        return redirect(url, 302)

    def oauth_callback(self, request, name):
        c = self.config
        if name != c["name"] or not c["url"]:
            return self.page(404, f"Unknown service {name} [Accounts.ConfigError]")
        q = request.query
        try:
            state = json.loads(base64.b64decode(q.get("state", ""), validate=False).decode("utf-8"))
            if not isinstance(state, dict) or not state.get("credentialToken") or not state.get("loginStyle"):
                raise ValueError
        except (ValueError, UnicodeDecodeError):
            return self.page(400, f"Unable to parse state from OAuth query: {q.get('state', '')}")
        # Contract silent on binding the state to the browser; Meteor does not: any parsable state is accepted.
        redirect_url = state.get("redirectUrl") or self.site_url + "/home"
        if state["loginStyle"] == "redirect":
            origin = urllib.parse.urlsplit(self.site_url)
            target = urllib.parse.urlsplit(urllib.parse.urljoin(self.site_url + "/", redirect_url))
            if (target.scheme, target.netloc) != (origin.scheme, origin.netloc):
                return self.page(400, f"redirectUrl ({redirect_url}) is not on the same host as the app ({self.site_url})")
        if q.get("error"):
            # contract silent on an error callback
            return self.page(403, f"Failed to complete OAuth handshake with {name}: {q['error']}")
        try:
            service_data, profile_name = self.handshake(q.get("code", "undefined"), q.get("state", ""))
        except LoginError as error:
            return self.page(error.status, error.message)
        with self.lock:
            try:
                user = self.update_or_create_user(service_data, profile_name)
                if user.get("active") is not True:
                    # contract silent; Rocket.Chat's validateLoginAttempt refuses inactive users
                    raise LoginError(403, "User is not activated [error-user-is-not-activated]")
            except LoginError as error:
                self.save()
                return self.page(error.status, error.message)
            token = self.new_login_token(user)
            user["lastLogin"] = iso_now(self.clock_offset)
            self.save()
        # Contract silent on what the browser keeps: the Meteor client stores the login token in localStorage.
        # The stand-in hands it over as cookies rc_uid / rc_token (also headers X-User-Id / X-Auth-Token).
        headers = [("Set-Cookie", format_cookie("rc_uid", user["_id"], "/")),
                   ("Set-Cookie", format_cookie("rc_token", token, "/")),
                   ("X-User-Id", user["_id"]), ("X-Auth-Token", token)]
        if state["loginStyle"] == "redirect":
            return redirect(urllib.parse.urljoin(self.site_url + "/", redirect_url), 302, headers)
        return html_response(f"<!doctype html><title>Login completed</title><p class=\"user\">{html_escape(user['_id'])}</p>",
                             200, headers)

    def handshake(self, code, state_param):
        """§4.2 getAccessToken + getIdentity + normalizeIdentity → (serviceData, profile name)."""
        c = self.config
        name = c["name"]
        _, token_url, identity_url = self.endpoints()
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": USER_AGENT, "Accept": "application/json"}
        params = [("code", code), ("redirect_uri", self.redirect_uri()), ("grant_type", "authorization_code"), ("state", state_param)]
        if c["token_sent_via"] == "header":
            headers["Authorization"] = "Basic " + base64.b64encode(f"{c['id']}:{c['secret']}".encode()).decode("ascii")
        else:
            params += [("client_secret", c["secret"]), ("client_id", c["id"] or "")]
        failure = f"Failed to complete OAuth handshake with {name} at {token_url}."
        try:
            status, _, raw = http_call("POST", token_url, headers, urllib.parse.urlencode(params).encode("ascii"))
        except OSError as error:
            raise LoginError(500, f"{failure} {error}")
        if not 200 <= status < 300:
            raise LoginError(500, f"{failure} status {status}: {raw[:300]!r}")
        try:
            response = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise LoginError(500, f"{failure} {error}")
        if not isinstance(response, dict):
            raise LoginError(500, f"{failure} No response received")
        if js_truthy(response.get("error")):
            raise LoginError(500, f"{failure} {js_str(response['error'])}")
        access_token = js_str(response.get("access_token", _UNDEFINED))

        via = c["identity_token_sent_via"]
        if via in (None, "", "default"):
            via = c["token_sent_via"]
        id_headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        url = identity_url
        if via == "header":
            id_headers["Authorization"] = "Bearer " + access_token
        else:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode({c["access_token_param"]: access_token})
        failure = f"Failed to fetch identity from {name} at {identity_url}."
        try:
            status, _, raw = http_call("GET", url, id_headers, None)
        except OSError as error:
            raise LoginError(500, f"{failure} {error}")
        if not 200 <= status < 300:
            raise LoginError(500, f"{failure} status {status}: {raw[:300]!r}")
        try:
            identity = json.loads(raw.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as error:
            raise LoginError(500, f"{failure} {error}")
        if not isinstance(identity, dict):
            raise LoginError(500, f"{failure} the identity is not an object")
        identity = self.normalize_identity(identity, failure)

        expires = js_parse_int(response.get("expires_in", _UNDEFINED))
        service_data = {"_OAuthCustom": True, "serverURL": c["url"], "accessToken": access_token,
                        "idToken": response.get("id_token"),
                        "expiresAt": None if expires is None else int(self.now() * 1000) + 1000 * expires}
        if js_truthy(response.get("refresh_token")):
            service_data["refreshToken"] = response["refresh_token"]
        service_data.update(identity)
        return service_data, identity.get("name")

    def normalize_identity(self, identity, failure):
        c = self.config
        identity = normalize_ids(identity)
        for field, key, label in (("username_field", "username", "Username"), ("email_field", "email", "Email")):
            if c[field]:
                value = from_template(c[field], identity)
                if not js_truthy(value):
                    raise LoginError(500, f"{failure} CustomOAuth: Failed to extract {key} "
                                          f"(field_not_found: {label} field \"{c[field]}\" not found in data)")
                identity[key] = value
        if c["avatar_field"]:
            value = from_template(c["avatar_field"], identity)
            identity["avatarUrl"] = None if value is _UNDEFINED else value
        name = _UNDEFINED
        if c["name_field"]:
            name = from_template(c["name_field"], identity)
        if not js_truthy(name):
            user = identity.get("user") if isinstance(identity.get("user"), dict) else {}
            name = next((identity.get(k) for k in ("name", "username", "nickname", "CharacterName", "userName", "preferred_username")
                         if js_truthy(identity.get(k))), user.get("name"))
        identity["name"] = None if name is _UNDEFINED else name
        return rename_invalid_properties(identity)

    def update_or_create_user(self, service_data, profile_name):
        """The pre-hook (§4.2 merge rules) then Meteor's Accounts.updateOrCreateUserFromExternalService."""
        c = self.config
        name = c["name"]
        service_id = service_data.get("id", _UNDEFINED)
        username, email = service_data.get("username"), service_data.get("email")
        if service_id is _UNDEFINED:
            # Meteor: "Service data for service X must include id". Checked before the pre-hook here (the source
            # checks it after), so that a merge never stores an undefined id.
            raise LoginError(500, f"Service data for service {name} must include id")
        # The pre-hook runs only when serviceData.username is set (source; contract silent).
        if js_truthy(username):
            user = None
            if c["key_field"] == "username":
                # §4.2: "finds an existing user by key_field (username or email, case-insensitive)". That is the
                # source's lookup with merge_users_distinct_services=true. With false (Rocket.Chat's registry
                # default), the source only finds a user whose services.<name>.id already equals the id.
                user = self.find_username(username)
                if user is not None and not c["merge_users_distinct_services"] and \
                        user["services"].get(name, {}).get("id", _UNDEFINED) != service_id:
                    user = None
            elif c["key_field"] == "email":
                user = self.find_email(email)
                if user is not None and not c["merge_users_distinct_services"] and \
                        user["services"].get(name, {}).get("id", _UNDEFINED) != service_id:
                    user = None
            if user is not None:
                linked = user["services"].get(name)
                same = (isinstance(linked, dict) and linked.get("id", _UNDEFINED) == service_id
                        and user.get("name") == service_data.get("name")
                        and (c["key_field"] == "email" or not js_truthy(email)
                             or any(e.get("address") == email for e in user.get("emails") or [])))
                # "User already created or merged and has identical name as before" → nothing to do (source;
                # the contract is silent on later logins).
                if not same:
                    if c["merge_users"] is not True:
                        raise LoginError(403, f"User with username {user.get('username')} already exists [CustomOAuth]")
                    if c["key_field"] == "username" and js_truthy(email):
                        user["emails"] = [{"address": email, "verified": True}]
                    user["services"].setdefault(name, {})["id"] = service_id
                    user["name"] = service_data.get("name")
                    user["_updatedAt"] = iso_now(self.clock_offset)
                    self.user_changed(user["_id"])

        # Meteor accounts-base (contract: "creates the user on first login"; the lookup key is services.<name>.id)
        user = self.find_service_user(name, service_id)
        if user is not None:
            user["services"].setdefault(name, {}).update(service_data)
            self.user_changed(user["_id"])
            return user
        # New user. Contract silent on everything below except registration-disabled: choices marked.
        if self.config["registration_enabled"] is False:
            raise LoginError(403, "User registration is disabled for authentication services [registration-disabled-authentication-services]")
        new_username = username if c["username_field"] else None  # source validateNewUser; else Rocket.Chat would suggest one (not modelled)
        if new_username and self.find_username(new_username) is not None:
            raise LoginError(403, "Username already exists. [403]")  # Meteor accounts-base wording
        if js_truthy(email) and self.find_email(email) is not None:
            raise LoginError(403, "Email already exists. [403]")
        user = self.new_user(new_username, email if js_truthy(email) else None,
                             service_data.get("name") if c["name_field"] else profile_name, verified=True)
        user["services"][name] = dict(service_data)
        self.data["users"][user["_id"]] = user
        self.user_changed(user["_id"])
        return user


def main():
    parser = argparse.ArgumentParser(description="Rocket.Chat contract server (not Rocket.Chat): contracts/chat-servers.md §4")
    common_arguments(parser)
    parser.add_argument("--admin-user-id", default="contractAdminId01", help="the X-User-Id that goes with --admin-token")
    parser.add_argument("--oauth-name", default="drawbridge", help="Custom OAuth name (lowercased, [a-z0-9_])")
    parser.add_argument("--oauth-url", default="", help="url (serverURL): Drawbridge base URL")
    parser.add_argument("--oauth-client-id", default="")
    parser.add_argument("--oauth-client-secret", default="")
    parser.add_argument("--token-path", default="/oauth/token")
    parser.add_argument("--token-sent-via", default="payload", choices=["payload", "header"])
    parser.add_argument("--identity-token-sent-via", default="default", choices=["default", "payload", "header"])
    parser.add_argument("--identity-path", default="/me")
    parser.add_argument("--authorize-path", default="/oauth/authorize")
    parser.add_argument("--scope", default="openid")
    parser.add_argument("--access-token-param", default="access_token")
    parser.add_argument("--login-style", default="popup", choices=["popup", "redirect"])
    parser.add_argument("--key-field", default="username", choices=["username", "email"])
    parser.add_argument("--username-field", default="")
    parser.add_argument("--email-field", default="")
    parser.add_argument("--name-field", default="")
    parser.add_argument("--avatar-field", default="")
    parser.add_argument("--merge-users", type=bool_arg, default=False)
    parser.add_argument("--merge-users-distinct-services", type=bool_arg, default=True,
                        help="default true = the lookup §4.2 describes; false = Rocket.Chat's registry default, where only "
                             "users already linked to this service are found")
    parser.add_argument("--registration-enabled", type=bool_arg, default=True,
                        help="Accounts_Registration_AuthenticationServices_Enabled")
    serve(RocketChatApp, parser.parse_args())


if __name__ == "__main__":
    main()
