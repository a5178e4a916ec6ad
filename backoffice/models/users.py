"""Accounts that sign in, and the failed sign-ins counted against guessing."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from flask import current_app
from flask_login import UserMixin
from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship
from werkzeug.security import check_password_hash, generate_password_hash

from ..domain.roles import Role, allows
from .base import Model, UtcDateTime, one_of, utcnow

if TYPE_CHECKING:
    from .therapists import Therapist


class User(UserMixin, Model):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint(one_of("role", Role), name="role_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(default=True)
    # Bumped on logout, password change and deactivation: every session cookie holding the old
    # number stops working, even one replayed from a copy.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    language: Mapped[str | None] = mapped_column(String(5))  # interface language (backoffice/i18n.py); None: Dutch
    # Two-factor sign-in (auth/twofactor.py). The TOTP secret is stored encrypted (crypto.encrypt); it is on only
    # once the user confirmed a code (two_factor_enabled_at). totp_last_step is the time step of the last code
    # accepted: a code is taken once, never replayed within its window.
    totp_secret: Mapped[str | None] = mapped_column(Text)
    two_factor_enabled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    # Wrong codes since the last right one; counted here, not in the (replayable) session cookie.
    two_factor_failures: Mapped[int] = mapped_column(default=0, server_default="0")
    # Made by `flask seed-demo`: in development such an account signs in without a second factor.
    demo: Mapped[bool] = mapped_column(default=False, server_default=false())

    therapist: Mapped[Therapist | None] = relationship(back_populates="user")
    recovery_codes: Mapped[list[RecoveryCode]] = relationship(back_populates="user", cascade="all, delete-orphan")

    def set_password(self, password: str) -> None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if current_app else "scrypt"
        self.password_hash = generate_password_hash(password, method=method)

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def end_sessions(self) -> None:
        self.session_version = (self.session_version or 0) + 1

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return bool(self.active)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version}"

    def can(self, permission: str) -> bool:
        return allows(self.role, permission)

    @property
    def two_factor_enabled(self) -> bool:
        return self.two_factor_enabled_at is not None and bool(self.totp_secret)


class RecoveryCode(Model):
    """One-time codes for signing in without the authenticator app: stored as a SHA-256 of the code (80 random
    bits, so a plain hash is enough), each spent when used."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    user: Mapped[User] = relationship(back_populates="recovery_codes")


class LoginAttempt(Model):
    """Failed sign-ins, counted per e-mail address and per client address to slow down guessing."""

    __tablename__ = "login_attempts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), index=True)
    ip_address: Mapped[str] = mapped_column(String(45), index=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
