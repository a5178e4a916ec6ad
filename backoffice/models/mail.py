"""E-mail to patients: each document sent (and each failed try) and the practice's own message templates.

A sending is its own row, never a change to the document: an issued invoice and a credit note never change
(guards.py), and a reminder or a retry only adds to what happened.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..domain.patient_mail import MessageKind, SendingKind, SendingStatus
from .base import Model, UtcDateTime, one_of, utcnow
from .invoices import CreditNote, Invoice
from .patients import Patient
from .treatments import Treatment
from .users import User


class DocumentSending(Model):
    """One document e-mailed to one address: its first try and every retry (`attempts`), with the outcome of the
    last one. What was sent (subject and body) is kept, so a retry sends the same words and the record says
    what the patient was told; the attachment is the document itself (the stored PDF, or rendered again)."""

    __tablename__ = "document_sendings"
    __table_args__ = (
        CheckConstraint(one_of("kind", SendingKind), name="kind_known"),
        CheckConstraint(one_of("status", SendingStatus), name="status_known"),
        CheckConstraint("attempts >= 1", name="attempts_positive"),
        CheckConstraint(f"status <> '{SendingStatus.SENT}' OR sent_at IS NOT NULL", name="sent_has_time"),
        # The document a sending is about is always named (a credit note or reminder with its invoice too).
        CheckConstraint(
            f"(kind IN ('{SendingKind.INVOICE}', '{SendingKind.DECLARATION}', '{SendingKind.REMINDER}') "
            "AND invoice_id IS NOT NULL) "
            f"OR (kind = '{SendingKind.CREDIT_NOTE}' AND credit_note_id IS NOT NULL AND invoice_id IS NOT NULL) "
            f"OR (kind = '{SendingKind.AFTERCARE}' AND treatment_id IS NOT NULL)",
            name="document_named"),
        Index("ix_document_sendings_invoice_id_created_at", "invoice_id", "created_at"),
        Index("ix_document_sendings_treatment_id_created_at", "treatment_id", "created_at"),
        Index("ix_document_sendings_patient_id_created_at", "patient_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    patient_id: Mapped[int] = mapped_column(ForeignKey("patients.id"))
    invoice_id: Mapped[int | None] = mapped_column(ForeignKey("invoices.id"))
    credit_note_id: Mapped[int | None] = mapped_column(ForeignKey("credit_notes.id"))
    treatment_id: Mapped[int | None] = mapped_column(ForeignKey("treatments.id"))
    # The payment reminder sent (backoffice/reminders/, table invoice_reminders; its migration adds the key).
    reminder_id: Mapped[int | None] = mapped_column(ForeignKey("invoice_reminders.id"))
    to_address: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(10))
    error: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Who sent it, or tried last; None: the system (a background job or command without a user).
    sent_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    message_id: Mapped[str] = mapped_column(String(300), default="")

    patient: Mapped[Patient] = relationship()
    invoice: Mapped[Invoice | None] = relationship()
    credit_note: Mapped[CreditNote | None] = relationship()
    treatment: Mapped[Treatment | None] = relationship()
    sent_by: Mapped[User | None] = relationship()

    @property
    def sent(self) -> bool:
        return self.status == SendingStatus.SENT

    @property
    def failed(self) -> bool:
        return self.status == SendingStatus.FAILED


class MessageTemplate(Model):
    """The practice's own subject and text for one kind of message; a kind without a row uses its Dutch default
    (domain/patient_mail.py), so a fresh database sends correct e-mails too."""

    __tablename__ = "message_templates"
    __table_args__ = (CheckConstraint(one_of("kind", MessageKind), name="kind_known"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(30), unique=True)
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    updated_by: Mapped[User | None] = relationship()
