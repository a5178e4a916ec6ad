"""Password checks that slow guessing down without letting an outsider lock anyone out.

Every limit is read from the stored failures (`LoginAttempt`), never from a stored "locked until" an outsider could
keep pushing out:

- **Per e-mail typed, a progressive delay.** After `delay_after` failures in the window, the next attempt must wait
  2^(n - delay_after) seconds after the last failure, at most `delay_max_seconds`. An attempt refused as too early
  checks no password and stores nothing, so hammering does not lengthen the wait: the worst an outsider can do is
  keep it at the cap. A browser the account signed in from before (the device cookie, see views.py) skips it.
- **Per (e-mail, address), a hard limit** of `pair_max` failures in the window: one address cannot keep guessing.
- **Per address, counting only failures for e-mails that are no account**: beyond `address_max_unknown` in the
  window that address is refused for every e-mail (refusing only the unknown ones would say which accounts exist).
  Failures against real accounts do not count here, so a clinic behind one NAT address is not locked out by them.

The delay follows the e-mail typed, account or not, and an unknown e-mail costs the same password hash as a known
one (a dummy hash made with PASSWORD_HASH_METHOD): neither the answers nor their timing say which accounts exist.

The checks for one e-mail run one at a time (`_serialise`), so parallel requests see each other's failures: 40 wrong
passwords at once check at most `delay_after` of them.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, text
from werkzeug.security import check_password_hash, generate_password_hash

from .. import audit
from ..clock import utc_now
from ..errors import ServiceError
from ..extensions import db
from ..models import LoginAttempt, User

# Access-log actions for sign-in events, within the log's fixed set (models.ACCESS_ACTIONS): signing in creates a
# session, signing out deletes it, a failure creates a LoginAttempt. The subject names the event.
AUDIT_SIGN_IN, AUDIT_SIGN_OUT, AUDIT_FAILURE = "create", "delete", "create"


@dataclass(frozen=True)
class LoginLimits:
    window_seconds: int = 900
    delay_after: int = 3
    delay_max_seconds: int = 30
    pair_max: int = 10
    address_max_unknown: int = 20

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LoginLimits:
        return cls(
            window_seconds=int(config["LOGIN_FAILURE_WINDOW_SECONDS"]),
            delay_after=int(config["LOGIN_DELAY_AFTER_FAILURES"]),
            delay_max_seconds=int(config["LOGIN_DELAY_MAX_SECONDS"]),
            pair_max=int(config["LOGIN_PAIR_MAX_FAILURES"]),
            address_max_unknown=int(config["LOGIN_ADDRESS_MAX_UNKNOWN"]),
        )


class TooManyAttempts(ServiceError):
    """Too early for another password check; `retry_after` says how many seconds to wait. Nothing is stored."""

    status = 429

    def __init__(self, retry_after: float):
        super().__init__("too many failed sign-ins")
        self.retry_after = max(1, math.ceil(retry_after))


def normalise_email(email: str) -> str:
    # No account has a longer e-mail (User.email); the cut keeps an overlong one within LoginAttempt.email.
    return (email or "").strip().lower()[:200]


def _serialise(email: str, now: datetime, limits: LoginLimits) -> None:
    """Hold the checks for `email` until the transaction ends. PostgreSQL: an advisory lock on the e-mail (unknown
    e-mails have no row to lock). SQLite has no row locks: a write takes the database write lock first, like
    `lock_patient_caps`; removing failures too old to count is that write (and keeps the table small)."""
    if db.session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(b"sign-in:" + email.encode()).digest()[:8], "big", signed=True)
        db.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.at <= now - timedelta(seconds=limits.window_seconds)))


def _seconds(moment: datetime, now: datetime) -> float:
    return (moment - now).total_seconds()


def wait_seconds(email: str, ip: str, limits: LoginLimits, now: datetime, skip_delay: bool = False) -> float | None:
    """Seconds until a password may be checked for `email` from `ip`, or None when it may be checked now."""
    since = now - timedelta(seconds=limits.window_seconds)
    window = timedelta(seconds=limits.window_seconds)
    recent = LoginAttempt.at > since  # a failure counts for exactly the window
    count, first = db.session.execute(
        select(func.count(LoginAttempt.id), func.min(LoginAttempt.at))
        .where(recent, LoginAttempt.email == email, LoginAttempt.ip_address == ip)).one()
    if count >= limits.pair_max:
        return _seconds(first + window, now)
    accounts = select(func.lower(User.email)).scalar_subquery()
    count, first = db.session.execute(
        select(func.count(LoginAttempt.id), func.min(LoginAttempt.at))
        .where(recent, LoginAttempt.ip_address == ip, LoginAttempt.email.not_in(accounts))).one()
    if count >= limits.address_max_unknown:
        return _seconds(first + window, now)
    if skip_delay:
        return None
    count, last = db.session.execute(
        select(func.count(LoginAttempt.id), func.max(LoginAttempt.at))
        .where(recent, LoginAttempt.email == email)).one()
    if count >= limits.delay_after:
        ready = last + timedelta(seconds=min(2 ** (count - limits.delay_after), limits.delay_max_seconds))
        if now < ready:
            return _seconds(ready, now)
    return None


_dummy_hashes: dict[str, str] = {}


def _dummy_hash(method: str) -> str:
    """A hash of a random password, made like real ones: checking it costs what checking a real one costs."""
    if method not in _dummy_hashes:
        _dummy_hashes[method] = generate_password_hash(secrets.token_urlsafe(16), method=method)
    return _dummy_hashes[method]


def _verified(user: User | None, password: str, hash_method: str) -> User | None:
    """`user` when the password is theirs and the account active, else None (after the same work)."""
    if user is None or not user.active:
        check_password_hash(_dummy_hash(hash_method), password)  # the same work as for an account
        return None
    return user if user.check_password(password) else None


def _find(email: str) -> User | None:
    return db.session.scalar(select(User).where(func.lower(User.email) == email))


def authenticate(email: str, password: str, ip: str, limits: LoginLimits, hash_method: str = "scrypt",
                 known_device_user_id: int | None = None) -> User | None:
    """The user for these credentials, or None; raises TooManyAttempts when it is too early to check.

    A failure is not an exception: it returns None after adding a LoginAttempt and an access-log entry, so the
    request's commit stores them although the sign-in is refused. `known_device_user_id`: the account this browser
    signed in to before (device cookie); that account skips the progressive delay here, not the other limits."""
    email = normalise_email(email)
    now = utc_now()
    _serialise(email, now, limits)
    user = _find(email)
    skip_delay = user is not None and known_device_user_id == user.id
    wait = wait_seconds(email, ip, limits, now, skip_delay=skip_delay)
    if wait is not None:
        raise TooManyAttempts(wait)
    signed_in = _verified(user, password, hash_method)
    if signed_in is None:
        db.session.add(LoginAttempt(email=email, ip_address=ip, at=now))
        # Never the e-mail typed for an unknown account: people type their password into the e-mail field.
        audit.record(AUDIT_FAILURE, None, "failed sign-in", "" if user else "unknown e-mail address",
                     user=user if user is not None else None)
        return None
    # This address's own typing errors no longer count; failures from elsewhere still do.
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email, LoginAttempt.ip_address == ip))
    signed_in.last_login_at = now
    return signed_in


def check_current_password(user: User, password: str, ip: str, limits: LoginLimits) -> bool:
    """Whether `password` is the user's own (the password-change page), throttled like sign-in: a stolen session
    cannot be used to guess the password. Raises TooManyAttempts when it is too early to check."""
    email = normalise_email(user.email)
    now = utc_now()
    _serialise(email, now, limits)
    wait = wait_seconds(email, ip, limits, now)
    if wait is not None:
        raise TooManyAttempts(wait)
    if user.check_password(password):
        return True
    db.session.add(LoginAttempt(email=email, ip_address=ip, at=now))
    audit.record(AUDIT_FAILURE, None, "failed password check", user=user)
    return False
