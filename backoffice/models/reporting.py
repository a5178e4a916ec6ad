"""The dashboard's summary table; the triggers that keep it true are in guards.py."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Model, UtcDateTime, one_of

REPORT_FAMILIES = ("revenue", "treatments", "claims", "receivables")


class ReportFacts(Model):
    """The dashboard's summary (backoffice/reporting/cache.py): one month's grouped facts of one kind, or the open
    receivables on one day of the invoices issued in one month. The triggers in guards.py empty a row in the same
    transaction as any write it was read from; the next dashboard view reads it afresh and keeps it again."""

    __tablename__ = "report_facts"
    __table_args__ = (
        UniqueConstraint("family", "month", "as_of", name="uq_report_facts_family_month_as_of"),
        CheckConstraint(one_of("family", REPORT_FAMILIES), name="family_known"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    family: Mapped[str] = mapped_column(String(12))
    month: Mapped[date]  # first day of the month the facts are of (receivables: the invoices' issue month)
    # The last day they cover: the month's last day (receivables: the day they are measured on). The triggers
    # empty the rows with as_of on or after the day a write concerns.
    as_of: Mapped[date] = mapped_column(index=True)
    facts: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # NULL: to be read afresh
    claim: Mapped[str | None] = mapped_column(String(32))  # the token of the view reading the row afresh now
    computed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
