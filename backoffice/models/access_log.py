"""The NEN 7513 access log. Append-only: guards.py refuses changes in the ORM and in the database; each entry is
hash-chained to the one before (audit_chain.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Model, UtcDateTime, one_of, utcnow
from .patients import Patient
from .users import User

ACCESS_ACTIONS = ("view", "create", "update", "delete", "print", "export", "search")
# care/services.py's BREAK_GLASS_SUBJECT, spelled out for the partial index below (tests/test_access_log_scale.py
# checks they agree).
BREAK_GLASS_SUBJECT = "break the glass"


class AccessLog(Model):
    """NEN 7513: who did what to which patient's record, when, for whom and from where. Append-only."""

    __tablename__ = "access_log"
    __table_args__ = (
        CheckConstraint(one_of("action", ACCESS_ACTIONS), name="action_known"),
        # The fastest-growing table (every view writes a row): each index serves one reading's WHERE + ORDER BY
        # as one range in the pages' order (at, id), so a page costs the same at 10 thousand and 10 million rows
        # (bench/access_log.py; README "The access log at scale"), and none is there that no query needs (each
        # costs on every insert). Newest first, a date range, retention by age:
        Index("ix_access_log_at_id", "at", "id"),
        # One patient's log (and the filter by patient); also serves the foreign key's checks.
        Index("ix_access_log_patient_id_at_id", "patient_id", "at", "id"),
        # The filter by user; also serves the foreign key's checks.
        Index("ix_access_log_user_id_at_id", "user_id", "at", "id"),
        # The filter by action: a rare action (delete, export) would otherwise be looked for row by row.
        Index("ix_access_log_action_at_id", "action", "at", "id"),
        # The break-the-glass page and the admins' 7-day count: a handful of rows among millions.
        Index("ix_access_log_break_glass_at_id", "at", "id",
              sqlite_where=text(f"subject = '{BREAK_GLASS_SUBJECT}'"),
              postgresql_where=text(f"subject = '{BREAK_GLASS_SUBJECT}'")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
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
