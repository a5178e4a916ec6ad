"""Sign-in checks with throttling: too many failures per address or per account pauses sign-in."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, or_, select

from ..clock import utc_now
from ..errors import ServiceError
from ..extensions import db
from ..models import LoginAttempt, User


class TooManyAttempts(ServiceError):
    """Sign-in is paused for this address or account. Nothing is stored: the pause is read from the failures."""

    status = 429


def failures_in_window(email: str, ip: str, window_seconds: int) -> int:
    since = utc_now() - timedelta(seconds=window_seconds)
    return db.session.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.at >= since, or_(LoginAttempt.email == email, LoginAttempt.ip_address == ip)
        )
    ) or 0


def authenticate(email: str, password: str, ip: str, max_failures: int, window_seconds: int) -> User | None:
    """The user for these credentials, or None; raises TooManyAttempts when sign-in is paused.

    A failure is not an exception: it returns None after adding a LoginAttempt, so the request's commit stores
    the failure that counts towards the pause, even though the sign-in is refused."""
    email = email.strip().lower()
    if failures_in_window(email, ip, window_seconds) >= max_failures:
        raise TooManyAttempts()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None or not user.active or not user.check_password(password):
        db.session.add(LoginAttempt(email=email, ip_address=ip))
        return None
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    user.last_login_at = utc_now()
    return user
