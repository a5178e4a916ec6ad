"""The NEN 7513 access log. Append-only: guards.py refuses changes in the ORM and in the database; each entry is
hash-chained to the one before (audit_chain.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, UtcDateTime, one_of, utcnow
from .patients import Patient
from .users import User

ACCESS_ACTIONS = ("view", "create", "update", "delete", "print", "export", "search")


class AccessLog(Model):
    """NEN 7513: who did what to which patient's record, when, for whom and from where. Append-only."""

    __tablename__ = "access_log"
    __table_args__ = (
        CheckConstraint(one_of("action", ACCESS_ACTIONS), name="action_known"),
        Index("ix_access_log_patient_id_at", "patient_id", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    # Copied so the entry keeps saying who it was even if the account is renamed later.
    user_email: Mapped[str] = mapped_column(String(200))
    user_role: Mapped[str] = mapped_column(String(20))
    on_behalf_of: Mapped[str] = mapped_column(String(200), default="")
    patient_id: Mapped[int | None] = mapped_column(ForeignKey("patients.id"))
    action: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))  # what was touched: "patient", "insurance 12", ...
    detail: Mapped[str] = mapped_column(Text, default="")
    ip_address: Mapped[str] = mapped_column(String(45), default="")
    # The hash chain (audit_chain.py): the entry before's row_hash, and this entry's HMAC over its fields and
    # prev_hash. The server default '' only lets a raw INSERT without them through, which `flask audit verify` flags.
    prev_hash: Mapped[str] = mapped_column(String(64), server_default="")
    row_hash: Mapped[str] = mapped_column(String(64), server_default="")

    user: Mapped[User | None] = relationship()
    patient: Mapped[Patient | None] = relationship()
