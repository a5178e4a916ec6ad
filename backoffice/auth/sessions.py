"""How long a sign-in lasts, and the browsers an account signed in from before.

A session ends `SESSION_IDLE_SECONDS` after its last request and `SESSION_ABSOLUTE_SECONDS` after sign-in, however
busy: active use alone must not keep a stolen cookie alive forever. Both moments live in the signed session cookie
(the client cannot change them) and are read from backoffice/clock.py. This sits beside the per-user
`session_version` (security.load_user), which ends every copy of a session on sign-out and password change.

The device cookie is a signed note "this browser signed in to account N": that account skips the progressive delay
of sign-in throttling from this browser (services.py), so an outsider guessing at the account does not make its
owner wait. It holds only the account id and is sent to the sign-in page only.
"""

from __future__ import annotations

from flask import current_app, flash, redirect, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import current_user, logout_user
from itsdangerous import BadSignature, URLSafeTimedSerializer
from werkzeug.wrappers import Response

from ..clock import utc_now
from ..models import User
from ..security import EXTENSION_PUBLIC_ENDPOINTS

SIGNED_IN_AT = "signed_in_at"
LAST_SEEN_AT = "last_seen_at"
DEVICE_COOKIE = "backoffice_device"
DEVICE_DAYS = 90


def _now() -> int:
    return int(utc_now().timestamp())


def start() -> None:
    """Call at sign-in, after `session.clear()`."""
    session.permanent = True  # the cookie expires with PERMANENT_SESSION_LIFETIME (= the absolute lifetime)
    session[SIGNED_IN_AT] = session[LAST_SEEN_AT] = _now()


def expired(now: int) -> bool:
    started, seen = session.get(SIGNED_IN_AT), session.get(LAST_SEEN_AT)
    if not isinstance(started, int) or not isinstance(seen, int):
        return True  # a session from before these checks, or not started by `start`
    config = current_app.config
    return now - started >= config["SESSION_ABSOLUTE_SECONDS"] or now - seen >= config["SESSION_IDLE_SECONDS"]


def check() -> ResponseReturnValue | None:
    """before_request: sign out a session past either lifetime; otherwise note this request as its last."""
    if request.endpoint is None or request.endpoint in EXTENSION_PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return None
    now = _now()
    if expired(now):
        language = session.get("language")
        logout_user()
        session.clear()
        if language:
            session["language"] = language  # the sign-in page keeps speaking the user's language
        flash(_("Your session has ended. Please sign in again."), "info")
        target = request.full_path.rstrip("?") if request.method == "GET" else None
        return redirect(url_for("auth.login", next=target))
    if session.get(LAST_SEEN_AT) != now:
        session[LAST_SEEN_AT] = now
    return None


def _serializer() -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(current_app.secret_key, salt="known-device")  # type: ignore[arg-type]


def remember_device(response: Response, user: User) -> None:
    response.set_cookie(DEVICE_COOKIE, _serializer().dumps(user.id), max_age=DEVICE_DAYS * 86400,
                        path=url_for("auth.login"), httponly=True, samesite="Lax",
                        secure=bool(current_app.config.get("SESSION_COOKIE_SECURE")))


def known_device_user_id() -> int | None:
    """The account this browser signed in to before, from its device cookie; None without a valid one."""
    token = request.cookies.get(DEVICE_COOKIE)
    if not token:
        return None
    try:
        value = _serializer().loads(token, max_age=DEVICE_DAYS * 86400)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None
