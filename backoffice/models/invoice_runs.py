"""Bulk invoicing runs: one invoice per patient for many patients at once, with what was left out and why."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Boolean, CheckConstraint, ForeignKey, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.statuses import InvoiceRunStatus
from .base import Model, UtcDateTime, one_of, utcnow
from .users import User


class InvoiceRun(Model):
    """One bulk invoicing run (backoffice/invoice_runs/): the selection, its progress and its outcome.

    The selection is either `up_to` (every treatment not yet invoiced up to that day) or `treatment_ids` (the
    ticked ones). Progress counts patients (`done_count` of `total_count`), then, when the invoices are sent by
    e-mail, sendings (`mail_done_count` of `mail_total_count`). `left_out` holds one entry per patient (or per
    treatment) that got no invoice, with the reason as a translatable text (domain/texts.py), shown in the
    reader's language: [{"patient_id": 7, "treatment_ids": [12], "reason": {"msgid": ..., "params": {...}}}].
    No names are stored here: the page reads them from the patients.
    """

    __tablename__ = "invoice_runs"
    __table_args__ = (
        CheckConstraint(one_of("status", InvoiceRunStatus), name="status_known"),
        CheckConstraint("done_count >= 0 AND total_count >= 0 AND mail_done_count >= 0 AND mail_total_count >= 0 "
                        "AND invoice_count >= 0", name="progress_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    status: Mapped[str] = mapped_column(String(10), default=InvoiceRunStatus.QUEUED.value)
    up_to: Mapped[date | None]
    treatment_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    send_email: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    issue_date: Mapped[date | None]  # the date the run's invoices carry (the clinic's day it ran)
    total_count: Mapped[int] = mapped_column(default=0)       # patients selected
    done_count: Mapped[int] = mapped_column(default=0)        # patients dealt with (invoiced or left out)
    invoice_count: Mapped[int] = mapped_column(default=0)
    total_gross_cents: Mapped[int] = mapped_column(default=0)  # the invoices' totals together
    mail_total_count: Mapped[int] = mapped_column(default=0)
    mail_done_count: Mapped[int] = mapped_column(default=0)
    invoice_ids: Mapped[list[Any]] = mapped_column(JSON, default=list)
    left_out: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of: Mapped[str] = mapped_column(String(200), default="")  # copied into the access log entries
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    progress_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the worker's last progress commit
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    requested_by: Mapped[User | None] = relationship()
