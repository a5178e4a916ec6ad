"""The patient page's documents section: drafts, issued invoices with their status, and credit notes.

Read by the patient page's view and handed to templates/invoices/_documents.html: templates run no queries.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from ..clock import clinic_today
from ..domain import invoicing as rules
from ..domain.statuses import InvoiceStatus
from ..extensions import db
from ..models import CreditNote, Invoice
from . import balance


@dataclass(frozen=True)
class PatientDocuments:
    drafts: list[Invoice]
    issued: list[tuple[Invoice, rules.InvoiceStatus]]
    credit_notes: list[CreditNote]


def patient_documents(patient_id: int) -> PatientDocuments:
    """Drafts, issued invoices with their status, and credit notes of one patient (newest first)."""
    invoices = db.session.scalars(
        select(Invoice)
        .options(selectinload(Invoice.credit_notes))
        .where(Invoice.patient_id == patient_id)
        .order_by(Invoice.id.desc())
    ).all()
    issued = [invoice for invoice in invoices if invoice.status == InvoiceStatus.ISSUED]
    statuses = balance.statuses(issued, clinic_today())  # the one definition, one query for all
    return PatientDocuments(
        drafts=[invoice for invoice in invoices if invoice.status == InvoiceStatus.DRAFT],
        issued=[(invoice, statuses[invoice.id]) for invoice in issued],
        credit_notes=sorted((note for invoice in invoices for note in invoice.credit_notes),
                            key=lambda note: note.id, reverse=True),
    )
