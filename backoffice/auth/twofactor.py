"""Two-factor sign-in (TOTP, RFC 6238) and re-authentication before a full BSN is shown.

- **Who must**: admins and managers always, therapists when the practice setting says so (default on). In
  development the accounts `flask seed-demo` made (`User.demo`) are exempt, so a newcomer can look around with the
  printed demo logins; outside development no account is. `TWO_FACTOR_REQUIRED_ROLES` (a list of roles) replaces
  the rule; only the tests set it, so that signing in by password alone keeps working for them.
- **Enrolment**: a secret (stored encrypted, crypto.encrypt) shown as a QR code and as text; it is switched on
  only when the user confirms a code from their app. Then 10 one-time recovery codes are shown, once; only their
  SHA-256 is stored, and each is spent when used.
- **Codes**: a code is accepted for its own 30 s step and one step either side (clock drift), and only for a step
  later than the last one accepted (`User.totp_last_step`): a code seen over someone's shoulder cannot be replayed.
  The check-and-set is one conditional UPDATE, so two parallel requests cannot both spend the same code.
- **Wrong codes** are counted on the user row (not in the session cookie, which a guesser could replay); at
  `TWO_FACTOR_MAX_FAILURES` the pending sign-in ends and every session of the account is ended: back to the
  password, whose own throttling (services.py) then applies.
- **Re-authentication**: the full BSN is shown only within `BSN_REAUTH_MINUTES` of the password or a code being
  entered (signing in counts); the moment is kept in the signed session.

Services flush; the request commits (unit_of_work.py).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime

import pyotp
import segno
from flask import current_app, session
from sqlalchemy import delete, or_, select, update

from ..clock import utc_now
from ..crypto import decrypt, encrypt
from ..domain.roles import Role
from ..extensions import db
from ..models import Practice, RecoveryCode, User
from ..practice.services import access_settings

TOTP_INTERVAL = 30  # seconds per code: what every authenticator app uses
TOTP_DRIFT_STEPS = 1  # one step either side of now is accepted (a phone's clock a little off, a slow typist)
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_GROUPS = 4  # xxxx-xxxx-xxxx-xxxx: 16 characters of base32, 80 random bits
RECOVERY_ALPHABET = "abcdefghijklmnopqrstuvwxyz234567"
DEFAULT_ISSUER = "Backoffice"
PENDING_KEY = "two_factor_pending"
REAUTH_KEY = "reauthenticated_at"

_TOTP_CODE = re.compile(r"[0-9]{6}", re.ASCII)
_RECOVERY_CODE = re.compile(r"[a-z2-7]{16}", re.ASCII)


# --- who must ---------------------------------------------------------------------------------------------------

def demo_exempt(user: User) -> bool:
    """A demo account in development: it signs in by password alone."""
    return bool(user.demo) and current_app.config.get("BACKOFFICE_ENV") == "development"


def therapists_must() -> bool:
    return access_settings().therapists_two_factor  # no practice row yet: the default, on


def required(user: User) -> bool:
    """Whether `user`'s role requires a second factor."""
    if demo_exempt(user):
        return False
    roles = current_app.config.get("TWO_FACTOR_REQUIRED_ROLES")
    if roles is not None:
        return user.role in roles
    if user.role == Role.THERAPIST:
        return therapists_must()
    return True  # admins, managers, and any role added later unless it is exempted here on purpose


def enrolment_due(user: User) -> bool:
    """Signed in, but allowed no further than the enrolment page until a second factor is on."""
    return not user.two_factor_enabled and required(user)


# --- enrolment --------------------------------------------------------------------------------------------------

def pending_secret(user: User) -> str:
    """The secret being enrolled: kept while the user scans and confirms (a reload shows the same QR code); a
    secret that cannot be read any more (the key changed) is replaced."""
    if user.two_factor_enabled:
        raise ValueError("two-factor sign-in is already on")
    secret = decrypt(user.totp_secret) if user.totp_secret else None
    if not secret:
        secret = pyotp.random_base32()
        user.totp_secret = encrypt(secret)
        user.totp_last_step = None
    return secret


def issuer() -> str:
    name = db.session.scalar(select(Practice.name).order_by(Practice.id).limit(1))
    return (name or "").strip() or DEFAULT_ISSUER


def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret, interval=TOTP_INTERVAL).provisioning_uri(name=user.email, issuer_name=issuer())


def qr_data_uri(uri: str) -> str:
    """The QR code as an SVG data: URI for an <img> (the CSP allows img-src data:)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=4)


def grouped(secret: str) -> str:
    """The secret as typed by hand into an app: groups of four."""
    return " ".join(secret[i:i + 4] for i in range(0, len(secret), 4))


def enable(user: User, code: str) -> list[str] | None:
    """Switch two-factor sign-in on when `code` is right for the pending secret; the new recovery codes (shown
    once), or None for a wrong code."""
    if user.two_factor_enabled or not user.totp_secret or not verify_totp(user, code):
        return None
    user.two_factor_enabled_at = utc_now()
    user.two_factor_failures = 0
    codes = new_recovery_codes(user)
    db.session.flush()
    return codes


def reset(user: User) -> None:
    """Two-factor sign-in off, the secret and recovery codes gone, every session ended (an admin's reset for a
    lost phone; the user enrols again at the next sign-in when the role requires it)."""
    user.totp_secret = None
    user.two_factor_enabled_at = None
    user.totp_last_step = None
    user.two_factor_failures = 0
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    user.end_sessions()
    db.session.flush()


# --- recovery codes ---------------------------------------------------------------------------------------------

def _hash_recovery(normalised: str) -> str:
    return hashlib.sha256(normalised.encode()).hexdigest()


def normalise_recovery(typed: str) -> str:
    return re.sub(r"[\s-]", "", typed or "").lower()


def new_recovery_codes(user: User) -> list[str]:
    """Replace the user's recovery codes by 10 new ones; the plain codes are returned once and never stored."""
    db.session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = []
    for _ in range(RECOVERY_CODE_COUNT):
        raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(4 * RECOVERY_CODE_GROUPS))
        db.session.add(RecoveryCode(user_id=user.id, code_hash=_hash_recovery(raw)))
        codes.append("-".join(raw[i:i + 4] for i in range(0, len(raw), 4)))
    return codes


def recovery_codes_left(user: User) -> int:
    return len(db.session.scalars(select(RecoveryCode.id).where(
        RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))).all())


def use_recovery_code(user: User, typed: str) -> bool:
    """Spend one unused recovery code; False when it is unknown or spent (also by a parallel request)."""
    normalised = normalise_recovery(typed)
    if not _RECOVERY_CODE.fullmatch(normalised):
        return False
    result = db.session.execute(
        update(RecoveryCode)
        .where(RecoveryCode.user_id == user.id, RecoveryCode.code_hash == _hash_recovery(normalised),
               RecoveryCode.used_at.is_(None))
        .values(used_at=utc_now())
        .execution_options(synchronize_session=False)
    )
    return getattr(result, "rowcount", 0) == 1


# --- codes ------------------------------------------------------------------------------------------------------

def current_step(moment: datetime | None = None) -> int:
    return int((moment or utc_now()).timestamp()) // TOTP_INTERVAL


def verify_totp(user: User, typed: str) -> bool:
    """Whether `typed` is a code of the user's secret for now (± one step) not accepted before; spends it."""
    code = re.sub(r"\s", "", typed or "")
    if not _TOTP_CODE.fullmatch(code) or not user.totp_secret:
        return False
    secret = decrypt(user.totp_secret)
    if not secret:
        return False
    totp = pyotp.TOTP(secret, interval=TOTP_INTERVAL)
    now = current_step()
    matched = next((step for step in range(now - TOTP_DRIFT_STEPS, now + TOTP_DRIFT_STEPS + 1)
                    if hmac.compare_digest(totp.generate_otp(step), code)), None)
    if matched is None:
        return False
    # Accepted only for a step later than the last one accepted, checked and set in one statement.
    result = db.session.execute(
        update(User)
        .where(User.id == user.id, or_(User.totp_last_step.is_(None), User.totp_last_step < matched))
        .values(totp_last_step=matched)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) != 1:
        return False
    db.session.refresh(user, ["totp_last_step"])
    return True


def verify_second_factor(user: User, typed: str) -> bool:
    """A code from the app, or else one of the recovery codes."""
    if not user.two_factor_enabled:
        return False
    if _TOTP_CODE.fullmatch(re.sub(r"\s", "", typed or "")):
        return verify_totp(user, typed)
    return use_recovery_code(user, typed)


def max_failures() -> int:
    return int(current_app.config.get("TWO_FACTOR_MAX_FAILURES", 5))


def record_failure(user: User) -> bool:
    """Count a wrong code; True when that was one too many: the count starts again and every session of the
    account ends (a pending sign-in too), so the next try starts from the password."""
    db.session.execute(update(User).where(User.id == user.id)
                       .values(two_factor_failures=User.two_factor_failures + 1)
                       .execution_options(synchronize_session=False))
    db.session.refresh(user, ["two_factor_failures"])
    if user.two_factor_failures < max_failures():
        return False
    user.two_factor_failures = 0
    user.end_sessions()
    db.session.flush()
    return True


def record_success(user: User) -> None:
    if user.two_factor_failures:
        user.two_factor_failures = 0


# --- the pending sign-in (between password and code) -------------------------------------------------------------

def pending_seconds() -> int:
    return int(current_app.config.get("TWO_FACTOR_PENDING_SECONDS", 300))


def begin_pending(user: User) -> None:
    """After a right password: the session holds only this marker (nobody is signed in) until the code."""
    session.clear()
    session[PENDING_KEY] = {"user": user.get_id(), "at": int(utc_now().timestamp())}


def pending_user() -> User | None:
    """The user whose password was right, while the marker is fresh and their session version unchanged."""
    from ..security import load_user

    marker = session.get(PENDING_KEY)
    if not isinstance(marker, dict) or not isinstance(marker.get("user"), str) \
            or not isinstance(marker.get("at"), int):
        return None
    age = utc_now().timestamp() - marker["at"]
    if age < 0 or age > pending_seconds():
        return None
    return load_user(marker["user"])


def end_pending() -> None:
    session.pop(PENDING_KEY, None)


# --- re-authentication before a full BSN ------------------------------------------------------------------------

def reauth_seconds() -> int:
    return int(current_app.config.get("BSN_REAUTH_MINUTES", 5)) * 60


def mark_reauthenticated() -> None:
    session[REAUTH_KEY] = int(utc_now().timestamp())


def recently_reauthenticated() -> bool:
    at = session.get(REAUTH_KEY)
    if not isinstance(at, int):
        return False
    age = utc_now().timestamp() - at
    return 0 <= age <= reauth_seconds()


def check_password_or_code(user: User, typed: str) -> bool:
    """Re-authentication: the account's password, or (when on) a code from the app."""
    if user.two_factor_enabled and _TOTP_CODE.fullmatch(re.sub(r"\s", "", typed or "")) \
            and verify_totp(user, typed):
        return True
    return bool(typed) and user.check_password(typed)
