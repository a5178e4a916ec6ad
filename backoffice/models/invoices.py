"""Invoices, their lines, credit notes, number series and payments.

An issued invoice, its lines and every credit note never change: guards.py refuses it in the ORM and installs the
database triggers (migration 0003 holds the same statements). Payment status is derived, never stored.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.money import from_cents
from ..domain.statuses import InvoiceStatus
from ..domain.texts import N_
from .base import Model, UtcDateTime, one_of, utcnow
from .patients import Patient
from .treatments import Treatment
from .users import User

INSURER_METHOD = "insurer"
# Labels in English (the message ids); shown translated (gettext) on screen.
PAYMENT_METHODS = {
    "bank_transfer": N_("Bank transfer"),
    "pin": N_("Debit card (pin)"),
    "cash": N_("Cash"),
    "ideal": N_("iDEAL"),
    "credit_card": N_("Credit card"),
    "other": N_("Other payment method"),
    # Direct billing: what the insurer paid on a claimed line, recorded from its outcome (never by hand).
    INSURER_METHOD: N_("Insurer (direct billing)"),
}
# The methods a payment or refund can be entered with at the desk (the insurer's payments come from its outcomes).
DESK_PAYMENT_METHODS = {key: label for key, label in PAYMENT_METHODS.items() if key != INSURER_METHOD}


class NumberSeries(Model):
    """One consecutive number series ("invoice-2026", "credit-2026"): the row is locked while a number is taken.

    A database sequence would leave a gap on every rollback; this counter rolls back with the transaction.
    """

    __tablename__ = "number_series"
    __table_args__ = (CheckConstraint("next_value >= 1", name="next_value_positive"),)

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    next_value: Mapped[int] = mapped_column(default=1)


class Invoice(Model):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint(one_of("status", InvoiceStatus), name="status_known"),
        CheckConstraint(
            f"(status = '{InvoiceStatus.DRAFT}' AND number IS NULL) OR (status = '{InvoiceStatus.ISSUED}' "
            "AND number IS NOT NULL "
            "AND issue_date IS NOT NULL AND due_date IS NOT NULL AND pdf_sha256 IS NOT NULL)",
            name="issued_complete",
        ),
        UniqueConstraint("series_year", "sequence", name="uq_invoices_series_year_sequence"),
        Index("ix_invoices_status_due_date", "status", "due_date"),
        # Covers the report's issued invoices of a period and their ages.
        Index("ix_invoices_report", "status", "issue_date", "due_date", "total_gross_cents"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"), index=True)
    status: Mapped[str] = mapped_column(String(10), default=InvoiceStatus.DRAFT.value)
    number: Mapped[str | None] = mapped_column(String(20), unique=True)
    series_year: Mapped[int | None]
    sequence: Mapped[int | None]
    issue_date: Mapped[date | None] = mapped_column(index=True)
    due_date: Mapped[date | None]
    total_gross_cents: Mapped[int] = mapped_column(default=0)
    total_net_cents: Mapped[int] = mapped_column(default=0)
    total_vat_cents: Mapped[int] = mapped_column(default=0)
    # The InvoiceDocument as printed (JSON), so the figures can be read without parsing the PDF.
    snapshot: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    pdf: Mapped[bytes | None] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str | None] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    issued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    patient: Mapped[Patient] = relationship()
    lines: Mapped[list[InvoiceLine]] = relationship(
        back_populates="invoice", order_by="InvoiceLine.id", cascade="all, delete-orphan"
    )
    credit_notes: Mapped[list[CreditNote]] = relationship(back_populates="invoice", order_by="CreditNote.id")
    payments: Mapped[list[Payment]] = relationship(back_populates="invoice", order_by="[Payment.paid_on, Payment.id]")
    settlements: Mapped[list[InsurerSettlement]] = relationship(
        back_populates="invoice", order_by="[InsurerSettlement.settled_on, InsurerSettlement.id]")
    created_by: Mapped[User | None] = relationship(foreign_keys=[created_by_id])
    issued_by: Mapped[User | None] = relationship(foreign_keys=[issued_by_id])

    @property
    def issued(self) -> bool:
        return self.status == InvoiceStatus.ISSUED

    @property
    def total_gross(self) -> Decimal:
        return from_cents(self.total_gross_cents)


class InvoiceLine(Model):
    """One treatment on an invoice, with every figure and name copied as printed."""

    __tablename__ = "invoice_lines"
    __table_args__ = (
        CheckConstraint("net_cents + vat_cents = gross_cents", name="amounts_add_up"),
        CheckConstraint("vat_rate >= 0", name="vat_rate_not_negative"),
        # The lines of an invoice with what the report sums (no visit to the table), and by treatment date.
        Index("ix_invoice_lines_report", "invoice_id", "medical", "vat_rate", "gross_cents", "net_cents", "vat_cents",
              "treatment_id"),
        Index("ix_invoice_lines_treatment_date", "treatment_date", "treatment_id"),
        # The lines with an insurer's share (direct billing), which the receivables subtract: few among many.
        Index("ix_invoice_lines_insurer_part", "invoice_id", "insurer_part_cents",
              sqlite_where=text("insurer_part_cents > 0"), postgresql_where=text("insurer_part_cents > 0")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"), index=True)
    treatment_date: Mapped[date]
    description: Mapped[str] = mapped_column(String(200))
    prestatiecode: Mapped[str] = mapped_column(String(10), default="")
    indication: Mapped[str] = mapped_column(String(100), default="")
    medical: Mapped[bool] = mapped_column(default=False)
    reimbursable: Mapped[bool] = mapped_column(default=False)
    quantity: Mapped[int] = mapped_column(default=1)
    gross_cents: Mapped[int]
    net_cents: Mapped[int]
    vat_cents: Mapped[int]
    vat_rate: Mapped[int] = mapped_column(default=0)
    vat_exemption: Mapped[str] = mapped_column(String(200), default="")  # legal ground when exempt
    therapist_name: Mapped[str] = mapped_column(String(200), default="")
    therapist_agb: Mapped[str] = mapped_column(String(8), default="")
    technique: Mapped[str] = mapped_column(String(100), default="")
    body_area: Mapped[str] = mapped_column(String(100), default="")
    referral: Mapped[str] = mapped_column(Text, default="")
    insurer_amount_cents: Mapped[int] = mapped_column(default=0)
    # Direct billing: the insurer's part (the assessment's insurer amount) that the clinic claims from the insurer
    # itself, so the patient is asked for the rest only; 0 under restitution (the patient pays all and sends the
    # declaration). Fixed at issue with the line, whatever the insurer's setting becomes later.
    insurer_part_cents: Mapped[int] = mapped_column(default=0, server_default="0")

    invoice: Mapped[Invoice] = relationship(back_populates="lines")
    treatment: Mapped[Treatment] = relationship()
    claim: Mapped[InvoicedTreatment | None] = relationship(
        back_populates="invoice_line", cascade="all, delete-orphan", uselist=False
    )
    credit_line: Mapped[CreditNoteLine | None] = relationship(back_populates="invoice_line", uselist=False)


class IssueRequest(Model):
    """A draft a user asked to issue while a print worker runs (PRINT_QUEUE_URL names a queue): the worker numbers
    it and renders its PDF after the request has answered, in that user's name (invoicing/services.py:
    request_issue, issue_requested). Deleted by the UPDATE's transaction that issues the draft, whichever path
    issues it; kept with `failed_at` when the worker could not, so the invoice page can say so.

    A row of its own, not columns on the invoice: the invoice row and its guards stay as they are."""

    __tablename__ = "invoice_issue_requests"

    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id", ondelete="CASCADE"), primary_key=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    failed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    requested_by: Mapped[User | None] = relationship()


class InvoicedTreatment(Model):
    """Which invoice line a treatment is on now (draft or issued, not credited). At most one: the primary key.

    Kept apart from the immutable line so crediting can free the treatment without touching the issued line.
    """

    __tablename__ = "invoiced_treatments"

    treatment_id: Mapped[int] = mapped_column(ForeignKey("treatments.id"), primary_key=True)
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"), unique=True)

    invoice_line: Mapped[InvoiceLine] = relationship(back_populates="claim")


class CreditNote(Model):
    """Reverses (part of) an issued invoice. Born numbered and printed; never changes afterwards."""

    __tablename__ = "credit_notes"
    __table_args__ = (
        UniqueConstraint("series_year", "sequence", name="uq_credit_notes_series_year_sequence"),
        CheckConstraint("total_gross_cents <= 0", name="total_not_positive"),
        Index("ix_credit_notes_invoice_id_issue_date", "invoice_id", "issue_date", "total_gross_cents"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    number: Mapped[str] = mapped_column(String(20), unique=True)
    series_year: Mapped[int]
    sequence: Mapped[int]
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    issue_date: Mapped[date] = mapped_column(index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    total_gross_cents: Mapped[int]
    total_net_cents: Mapped[int]
    total_vat_cents: Mapped[int]
    snapshot: Mapped[dict[str, Any]] = mapped_column(JSON)
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    invoice: Mapped[Invoice] = relationship(back_populates="credit_notes")
    lines: Mapped[list[CreditNoteLine]] = relationship(back_populates="credit_note", order_by="CreditNoteLine.id")
    created_by: Mapped[User | None] = relationship()


class CreditNoteLine(Model):
    """The exact negative of one invoice line; each invoice line is credited at most once."""

    __tablename__ = "credit_note_lines"
    __table_args__ = (CheckConstraint("net_cents + vat_cents = gross_cents", name="amounts_add_up"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    credit_note_id: Mapped[int] = mapped_column(ForeignKey("credit_notes.id"), index=True)
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"), unique=True)
    gross_cents: Mapped[int]
    net_cents: Mapped[int]
    vat_cents: Mapped[int]
    vat_rate: Mapped[int] = mapped_column(default=0)

    credit_note: Mapped[CreditNote] = relationship(back_populates="lines")
    invoice_line: Mapped[InvoiceLine] = relationship(back_populates="credit_line")


class Payment(Model):
    """Money received (positive) or refunded (negative) on an issued invoice. Never deleted and never edited: a
    wrong entry is reversed by a reversal entry, a payment row with the opposite amount that names the entry it
    reverses (`reverses_id`, at most one reversal each) and says why in `note`; who and when are its
    `recorded_by` and `created_at`. Both rows stay in the list, so the balance is the plain sum of all rows.

    `overpayment`: recorded knowingly above the open balance (the excess is to be refunded); without it a
    payment above the open balance is refused.

    Method "insurer" (direct billing): the insurer's payment on a claimed line, recorded with the claim's outcome
    and linked to the claim line; it settles the insurer's part, not the patient's balance (balance.py).
    """

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(one_of("method", PAYMENT_METHODS), name="method_known"),
        CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        Index("ix_payments_invoice_id_paid_on", "invoice_id", "paid_on", "amount_cents"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    paid_on: Mapped[date]
    method: Mapped[str] = mapped_column(String(20))
    amount_cents: Mapped[int]  # negative for a refund or for the reversal of a payment
    note: Mapped[str] = mapped_column(String(200), default="")  # of a reversal: the reason (required)
    overpayment: Mapped[bool] = mapped_column(default=False)
    reverses_id: Mapped[int | None] = mapped_column(ForeignKey("payments.id"), index=True, unique=True)
    # Method "insurer": the claim line whose outcome this payment records (at most one payment each).
    claim_line_id: Mapped[int | None] = mapped_column(ForeignKey("claim_lines.id"), index=True, unique=True)
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    invoice: Mapped[Invoice] = relationship(back_populates="payments")
    recorded_by: Mapped[User | None] = relationship()
    reverses: Mapped[Payment | None] = relationship(remote_side=[id], back_populates="reversal")
    reversal: Mapped[Payment | None] = relationship(back_populates="reverses", uselist=False)

    @property
    def is_reversal(self) -> bool:
        return self.reverses_id is not None

    @property
    def by_insurer(self) -> bool:
        return self.method == INSURER_METHOD

    @property
    def reversed(self) -> bool:
        return self.reversal is not None


SETTLEMENT_KINDS = {
    "to_patient": N_("Moved to the patient"),
    "written_off": N_("Written off"),
}


class InsurerSettlement(Model):
    """Direct billing: what the insurer did not pay of a line's insurer part (paid less than claimed, rejected,
    or never claimable), settled by the admin with a reason: moved to the patient (the patient's balance goes up)
    or written off (nobody pays it). Never changed or deleted; shown on the invoice and logged."""

    __tablename__ = "insurer_settlements"
    __table_args__ = (
        CheckConstraint(one_of("kind", SETTLEMENT_KINDS), name="kind_known"),
        CheckConstraint("amount_cents > 0", name="amount_positive"),
        Index("ix_insurer_settlements_invoice_id_settled_on", "invoice_id", "settled_on", "amount_cents"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    invoice_line_id: Mapped[int] = mapped_column(ForeignKey("invoice_lines.id"), index=True)
    kind: Mapped[str] = mapped_column(String(12))
    amount_cents: Mapped[int]
    reason: Mapped[str] = mapped_column(String(200))
    settled_on: Mapped[date]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)

    invoice: Mapped[Invoice] = relationship(back_populates="settlements")
    invoice_line: Mapped[InvoiceLine] = relationship()
    recorded_by: Mapped[User | None] = relationship()

    @property
    def to_patient(self) -> bool:
        return self.kind == "to_patient"
