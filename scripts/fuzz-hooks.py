"""Schemathesis hooks for `npm run test:fuzz` (scripts/fuzz.ts): keep one live cookie session under the fuzzer.

scripts/fuzz.ts logs in and hands over the session's cookies and CSRF token; this auth provider sends them on every
request (as schemathesis's own auth, so its ignored_auth check can take them away to see a 401). The fuzzer calls
/auth/refresh (which rotates every cookie), /auth/logout and /auth/logout-all (which end the session), and a
replayed refresh token revokes the whole session family (RFC 9700 §4.14.2). So after each response of those routes
the hook applies the Set-Cookie lines to its jar, as a browser would, and the provider logs in again when the
session is gone, also when a route that clears no cookie ended it (admin revoke-all, ending a user's sessions): a
401 token_invalid/token_expired to the jar's own access cookie. Its own logins come from a documentation address
(X-Forwarded-For, the server runs with TRUST_PROXY) so the fuzzer's failed logins from 127.0.0.1 never throttle it.
"""

import json
import os
import threading
import urllib.request

import schemathesis

BASE_URL = os.environ["SENTINEL_FUZZ_URL"]
USERNAME = os.environ["SENTINEL_FUZZ_USER"]
PASSWORD = os.environ["SENTINEL_FUZZ_PASSWORD"]
COOKIE_NAMES = json.loads(os.environ["SENTINEL_FUZZ_COOKIES"])
CSRF_HEADER = os.environ.get("SENTINEL_FUZZ_CSRF_HEADER", "X-CSRF-Token")
# The session routes whose responses change the browser's cookies.
SESSION_PATHS = {"/auth/login", "/auth/refresh", "/auth/logout", "/auth/logout-all"}

_lock = threading.Lock()
_jar: dict[str, str] = {}
_csrf: list[str] = []
_logins = [0]


def _parse_initial() -> None:
    for part in os.environ.get("SENTINEL_FUZZ_COOKIE", "").split(";"):
        name, _, value = part.strip().partition("=")
        if name:
            _jar[name] = value
    token = os.environ.get("SENTINEL_FUZZ_CSRF")
    if token:
        _csrf[:] = [token]


def _apply_set_cookie(lines: list[str]) -> None:
    for line in lines:
        pair, *attributes = [part.strip() for part in line.split(";")]
        # Every cookie the server sets, as a browser keeps them; COOKIE_NAMES[0], the access cookie, marks a session.
        name, _, value = pair.partition("=")
        cleared = any(a.lower().startswith("max-age=") and int(a.split("=", 1)[1] or "0") <= 0 for a in attributes)
        if cleared:
            _jar.pop(name, None)
        else:
            _jar[name] = value


def _login() -> None:
    _logins[0] += 1
    request = urllib.request.Request(
        f"{BASE_URL}/auth/login",
        data=json.dumps({"username": USERNAME, "password": PASSWORD}).encode(),
        headers={
            "Content-Type": "application/json",
            "Origin": BASE_URL,
            # TEST-NET-2 (RFC 5737), one address per login: never throttled by the fuzzer's failures.
            "X-Forwarded-For": f"198.51.100.{_logins[0] % 250 + 1}",
        },
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        _jar.clear()
        _apply_set_cookie(response.headers.get_all("Set-Cookie") or [])
        _csrf[:] = [json.load(response)["csrfToken"]]


_parse_initial()


@schemathesis.auth(refresh_interval=None, retry_on=[])
class SessionAuth:
    """The jar's cookies and CSRF token on every request; a new login when the session is gone."""

    def get(self, case, context):
        with _lock:
            if COOKIE_NAMES[0] not in _jar:
                _login()
            return dict(_jar), (_csrf[0] if _csrf else None)

    def set(self, case, data, context):
        cookies, token = data
        case.cookies = {**(case.cookies or {}), **cookies}
        if token:
            case.headers = {**(case.headers or {}), CSRF_HEADER: token}


def _session_ended_elsewhere(case, response) -> bool:
    """A 401 token_invalid/token_expired to a request that carried the jar's own access cookie: the session was ended
    by a route that clears no cookie (admin revoke-all, ending a user's sessions, a password change), so the jar holds
    a dead cookie and every later request would be refused."""
    sent = (case.cookies or {}).get(COOKIE_NAMES[0])
    if response.status_code != 401 or not sent or sent != _jar.get(COOKIE_NAMES[0]):
        return False
    try:
        code = (json.loads(response.content or b"{}").get("error") or {}).get("code")
    except (ValueError, AttributeError):
        return False
    return code in ("token_invalid", "token_expired")


@schemathesis.hook
def after_call(context, case, response):
    with _lock:
        if _session_ended_elsewhere(case, response):
            # The provider logs in again before the next request.
            _jar.pop(COOKIE_NAMES[0], None)
    if case.operation.path not in SESSION_PATHS:
        return
    with _lock:
        # A login by the fuzzer itself (a real account is unlikely, but possible) replaces the session just the same.
        lines = [value for name, value in response.headers.items() if name.lower() == "set-cookie"]
        flat = []
        for value in lines:
            flat.extend(value if isinstance(value, list) else [value])
        _apply_set_cookie(flat)
        if response.status_code == 200:
            try:
                token = json.loads(response.content or b"{}").get("csrfToken")
            except ValueError:
                token = None
            if isinstance(token, str):
                _csrf[:] = [token]
