"""Insurer claim batches and their lines, remittance files, patient-submitted claims and per-insurer settings.

The rules are in domain/claims.py; the use cases in backoffice/claims/ gather the facts and store the answers.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.claims import BatchStatus, LineStatus
from ..domain.statuses import RemittanceStatus
from .base import Model, UtcDateTime, one_of, utcnow
from .insurers import Insurer
from .invoices import InvoiceLine
from .users import User

REMITTANCE_FIELDS = ("reference", "paid", "reason_code", "reason_text")


class InsurerClaimSettings(Model):
    """How the clinic claims from one insurer: directly (claim batches) or through the patient (restitution),
    the claim workbook's columns, the claim deadline, and how the insurer's remittance file is laid out."""

    __tablename__ = "insurer_claim_settings"
    __table_args__ = (CheckConstraint("deadline_months >= 1", name="deadline_positive"),)

    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), primary_key=True)
    direct_billing: Mapped[bool] = mapped_column(default=True)  # False: patients send the declaration themselves
    deadline_months: Mapped[int] = mapped_column(default=12)
    bsn_required: Mapped[bool] = mapped_column(default=False)
    # ClaimTemplate.to_config(): [{"key": "patient_name", "header": "Naam"}, ...]; None: the default template.
    template: Mapped[list[Any] | None] = mapped_column(JSON)
    # {"reference": "Claimreferentie", "paid": "Betaald", "reason_code": "Code", "reason_text": "Reden"}
    remittance_mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    insurer: Mapped[Insurer] = relationship()


class ClaimBatch(Model):
    """One claim to one insurer for one period: draft, exported, submitted, closed (or cancelled)."""

    __tablename__ = "claim_batches"
    __table_args__ = (
        CheckConstraint(one_of("status", BatchStatus), name="status_known"),
        CheckConstraint("period_end >= period_start", name="period_ordered"),
        Index("ix_claim_batches_insurer_id_status", "insurer_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"))
    number: Mapped[str] = mapped_column(String(30), unique=True)
    period_start: Mapped[date]
    period_end: Mapped[date]
    status: Mapped[str] = mapped_column(String(10), default=BatchStatus.DRAFT.value)
    claim_date: Mapped[date]  # the day the lines were last validated on (deadline)
    validated_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    exported_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    exported_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    cancelled_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # Written at the first export and reused, so exporting again gives the same bytes: header and template.
    export_snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    file_path: Mapped[str | None] = mapped_column(String(500))  # relative to CLAIMS_DIR (instance/claims)
    file_sha256: Mapped[str | None] = mapped_column(String(64))

    insurer: Mapped[Insurer] = relationship()
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    lines: Mapped[list[ClaimLine]] = relationship(back_populates="batch", order_by="ClaimLine.id")


class ClaimLine(Model):
    """One invoice line in one batch: included (claimed) or excluded with its reasons, and the insurer's outcome.

    `live` is TRUE while the line counts as claimed (included, batch not cancelled, not rejected) and NULL
    otherwise: the unique constraint on (invoice_line_id, live) keeps an invoice line in at most one live claim
    on every database (NULLs never collide). A resubmission is a new line pointing at the rejected one.
    """

    __tablename__ = "claim_lines"
    __table_args__ = (
        UniqueConstraint("invoice_line_id", "live", name="uq_claim_lines_invoice_line_id_live"),
        UniqueConstraint("batch_id", "invoice_line_id", name="uq_claim_lines_batch_id_invoice_line_id"),
        CheckConstraint("live IS NULL OR live = true", name="live_true_or_null"),
        CheckConstraint(one_of("status", LineStatus), name="status_known"),
        CheckConstraint("claimed_cents >= 0 AND paid_cents >= 0 AND paid_cents <= claimed_cents",
                        name="amounts_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    batch_id: Mapped[int] = mapped_column(ForeignKey("claim_batches.id"))
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"))
    included: Mapped[bool] = mapped_column(default=False)
    live: Mapped[bool | None]
    status: Mapped[str] = mapped_column(String(12), default=LineStatus.PENDING.value)
    amount_cents: Mapped[int] = mapped_column(default=0)      # charged to the patient (VAT-inclusive)
    expected_cents: Mapped[int] = mapped_column(default=0)    # the assessment's insurer amount
    claimed_cents: Mapped[int] = mapped_column(default=0)     # expected, limited by what is left of the cap
    paid_cents: Mapped[int] = mapped_column(default=0)
    reasons: Mapped[list[Any]] = mapped_column(JSON, default=list)  # [{"code": ..., "nl": ..., "en": ...}]
    rejection_code: Mapped[str] = mapped_column(String(40), default="")
    rejection_text: Mapped[str] = mapped_column(Text, default="")
    sequence: Mapped[int | None]
    claim_reference: Mapped[str | None] = mapped_column(String(40), unique=True)
    resubmission_of_id: Mapped[int | None] = mapped_column(ForeignKey("claim_lines.id"))
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # the workbook row as exported (BSN encrypted)
    outcome_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    outcome_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    batch: Mapped[ClaimBatch] = relationship(back_populates="lines")
    invoice_line: Mapped[InvoiceLine] = relationship()
    resubmission_of: Mapped[ClaimLine | None] = relationship(remote_side=[id])


class PatientClaim(Model):
    """Restitution: the patient sent the declaration to an insurer the clinic does not bill, and told us the
    outcome. Counted beside the batch claims in the outcome statistics."""

    __tablename__ = "patient_claims"
    __table_args__ = (
        CheckConstraint(one_of("status", LineStatus), name="status_known"),
        CheckConstraint("claimed_cents >= 0 AND paid_cents >= 0 AND paid_cents <= claimed_cents",
                        name="amounts_in_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"), unique=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), index=True)
    submitted_on: Mapped[date]
    status: Mapped[str] = mapped_column(String(12), default=LineStatus.PENDING.value)
    claimed_cents: Mapped[int] = mapped_column(default=0)
    paid_cents: Mapped[int] = mapped_column(default=0)
    paid_on: Mapped[date | None]
    rejection_code: Mapped[str] = mapped_column(String(40), default="")
    rejection_text: Mapped[str] = mapped_column(Text, default="")
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    invoice_line: Mapped[InvoiceLine] = relationship()
    insurer: Mapped[Insurer] = relationship()


class RemittanceImport(Model):
    """An insurer's reply file: previewed first (stored under the instance folder), then applied once."""

    __tablename__ = "remittance_imports"
    __table_args__ = (CheckConstraint(one_of("status", RemittanceStatus), name="status_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    insurer_id: Mapped[int] = mapped_column(ForeignKey("insurers.id"), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    stored_path: Mapped[str] = mapped_column(String(500))  # relative to CLAIMS_DIR (instance/claims)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int]
    status: Mapped[str] = mapped_column(String(10), default=RemittanceStatus.PREVIEWED.value)
    row_count: Mapped[int] = mapped_column(default=0)
    matched_count: Mapped[int] = mapped_column(default=0)
    unmatched_count: Mapped[int] = mapped_column(default=0)
    disputed_count: Mapped[int] = mapped_column(default=0)
    paid_cents: Mapped[int] = mapped_column(default=0)
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # chosen for this file; saved for the insurer on apply
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    applied_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    applied_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    insurer: Mapped[Insurer] = relationship()
