"""Batch print jobs and month-end pack jobs: their progress and the files they produced."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.statuses import PrintJobStatus
from ..domain.texts import N_
from .base import Model, UtcDateTime, one_of, utcnow
from .users import User

# Labels in English (the message ids); shown translated.
PRINT_JOB_KINDS = {"invoices": N_("Invoices and credit notes"), "declarations": N_("Insurer declarations")}


class PrintJob(Model):
    """One batch print (all invoices or declarations of a period): its progress and the files it produced.

    The files live under the instance folder; the paths are stored relative to it.
    """

    __tablename__ = "print_jobs"
    __table_args__ = (
        CheckConstraint(one_of("kind", PRINT_JOB_KINDS), name="kind_known"),
        CheckConstraint(one_of("status", PrintJobStatus), name="status_known"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        CheckConstraint("done_count >= 0 AND total_count >= 0", name="progress_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    period_start: Mapped[date]
    period_end: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default=PrintJobStatus.QUEUED.value)
    done_count: Mapped[int] = mapped_column(default=0)
    total_count: Mapped[int] = mapped_column(default=0)
    document_count: Mapped[int] = mapped_column(default=0)  # documents in the files (skipped ones excluded)
    pdf_path: Mapped[str | None] = mapped_column(String(500))
    zip_path: Mapped[str | None] = mapped_column(String(500))
    notes: Mapped[str] = mapped_column(Text, default="")  # documents left out and why (missing data)
    # [[patient_id, "invoice 2026-00001"], ...]: whose data the files hold, for the access log on download.
    documents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of: Mapped[str] = mapped_column(String(200), default="")  # copied into the access log entries
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    progress_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the worker's last progress commit
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    requested_by: Mapped[User | None] = relationship()


class PackJob(Model):
    """One month-end pack built in the background (backoffice/reporting/jobs.py): its progress and its ZIP.

    Progress is the pack's steps (`step` names the last one done: report, claims, invoices, zip) and, while the
    invoices are copied, the documents (`done_count` of `total_count`). The ZIP lives under the instance folder
    (reporting/jobs.py `pack_dir`); its name is stored relative to it. Which patients' documents the ZIP holds
    (for the access log on download) is a file beside it (reporting/jobs.py `documents_list_path`: a chain's month holds
    thousands); `documents` held them in the row for the jobs finished before 7 December 2026 (read for their
    downloads, no longer filled).
    """

    __tablename__ = "pack_jobs"
    __table_args__ = (
        CheckConstraint(one_of("status", PrintJobStatus), name="status_known"),
        CheckConstraint("done_count >= 0 AND total_count >= 0 AND document_count >= 0", name="progress_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    month: Mapped[date]  # the first day of the month packed
    status: Mapped[str] = mapped_column(String(10), default=PrintJobStatus.QUEUED.value)
    step: Mapped[str] = mapped_column(String(10), default="")  # the last step done ("" before the first)
    done_count: Mapped[int] = mapped_column(default=0)
    total_count: Mapped[int] = mapped_column(default=0)
    document_count: Mapped[int] = mapped_column(default=0)
    zip_path: Mapped[str | None] = mapped_column(String(500))
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    notes: Mapped[str] = mapped_column(Text, default="")  # what is missing from the pack and why
    documents: Mapped[list[Any]] = mapped_column(JSON, default=list)
    error: Mapped[str] = mapped_column(Text, default="")
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    on_behalf_of: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    progress_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    requested_by: Mapped[User | None] = relationship()
