"""Sign-in checks with throttling: too many failures per address or per account pauses sign-in."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, or_, select

from ..extensions import db
from ..models import LoginAttempt, User


class TooManyAttempts(Exception):
    pass


def failures_in_window(email: str, ip: str, window_seconds: int) -> int:
    since = datetime.now(UTC) - timedelta(seconds=window_seconds)
    return db.session.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.at >= since, or_(LoginAttempt.email == email, LoginAttempt.ip_address == ip)
        )
    )


def authenticate(email: str, password: str, ip: str, max_failures: int, window_seconds: int) -> User | None:
    """The user for these credentials, or None; raises TooManyAttempts when sign-in is paused."""
    email = email.strip().lower()
    if failures_in_window(email, ip, window_seconds) >= max_failures:
        raise TooManyAttempts()
    user = db.session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None or not user.active or not user.check_password(password):
        db.session.add(LoginAttempt(email=email, ip_address=ip))
        return None
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.email == email))
    user.last_login_at = datetime.now(UTC)
    return user
