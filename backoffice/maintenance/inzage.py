"""A patient's own data as one ZIP (inzage, AVG article 15): everything the practice holds about them.

`patient-data.json` holds one list per kind of record (the patient with their full BSN: it is their data;
insurances, intakes, referrals, prior authorisations, the therapists assigned to them, treatments and their
corrections, invoices with their lines, credit notes, payments, what the insurer's part settled to, payment
reminders, the e-mails sent to them (address, subject, text, outcome), claim lines, restitution claims and the
access-log entries about them); `documents/` holds the stored PDF of every invoice, credit note and payment reminder
exactly as issued. The export itself is logged.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect, select
from sqlalchemy.orm import undefer

from .. import audit
from ..clock import clinic_now
from ..extensions import db
from ..models import (
    AccessLog,
    CareAssignment,
    ClaimLine,
    CreditNote,
    CreditNoteLine,
    DocumentSending,
    Insurance,
    InsurerSettlement,
    Intake,
    Invoice,
    InvoiceLine,
    InvoiceReminder,
    Patient,
    PatientClaim,
    Payment,
    PriorAuthorisation,
    Referral,
    Treatment,
    TreatmentCorrection,
    User,
)
from ..reminders.services import file_name as reminders_file_name

# Internal keys, not data about the patient: the encrypted BSN and its search hash (the plain BSN is exported).
_LEFT_OUT = {"bsn_encrypted", "bsn_index", "pdf"}

README = """Inzage in uw gegevens (AVG artikel 15)

Dit archief bevat alle gegevens die de praktijk over u bewaart:
- patient-data.json: uw gegevens per soort (persoonsgegevens met BSN, verzekeringen, intakes, verwijzingen,
  machtigingen, uw behandelaars, behandelingen en correcties, facturen met regels, creditnota's, betalingen,
  afrekeningen met uw verzekeraar, betalingsherinneringen, de e-mails die wij u stuurden, declaratieregels en
  het logboek van wie uw dossier heeft ingezien of gewijzigd);
- documents/: elke factuur, creditnota en betalingsherinnering als PDF, precies zoals verstuurd.
Bewaar dit bestand veilig: het bevat uw BSN en medische gegevens.
"""


def _value(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return None
    return value


def _row(obj: Any) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {column.key: _value(getattr(obj, column.key)) for column in mapper.column_attrs
            if column.key not in _LEFT_OUT}


def _rows(query) -> list[dict[str, Any]]:
    return [_row(obj) for obj in db.session.scalars(query)]


def collect(patient: Patient) -> tuple[dict[str, Any], dict[str, bytes]]:
    """(the records by kind, the documents by file name) of one patient."""
    pid = patient.id
    person = _row(patient)
    person["bsn"] = patient.get_bsn()
    treatments = select(Treatment.id).where(Treatment.patient_id == pid)
    invoice_ids = select(Invoice.id).where(Invoice.patient_id == pid)
    line_ids = select(InvoiceLine.id).where(InvoiceLine.invoice_id.in_(invoice_ids))
    invoices = db.session.scalars(select(Invoice).options(undefer(Invoice.pdf)).where(Invoice.patient_id == pid)
                                  .order_by(Invoice.id)).all()
    notes = db.session.scalars(select(CreditNote).options(undefer(CreditNote.pdf))
                               .where(CreditNote.invoice_id.in_(invoice_ids)).order_by(CreditNote.id)).all()
    reminders = db.session.scalars(select(InvoiceReminder).options(undefer(InvoiceReminder.pdf))
                                   .where(InvoiceReminder.invoice_id.in_(invoice_ids))
                                   .order_by(InvoiceReminder.id)).all()
    data = {
        "patient": person,
        "insurances": _rows(select(Insurance).where(Insurance.patient_id == pid).order_by(Insurance.id)),
        "intakes": _rows(select(Intake).where(Intake.patient_id == pid).order_by(Intake.id)),
        "referrals": _rows(select(Referral).where(Referral.patient_id == pid).order_by(Referral.id)),
        "prior_authorisations": _rows(select(PriorAuthorisation).where(PriorAuthorisation.patient_id == pid)
                                      .order_by(PriorAuthorisation.id)),
        "care_assignments": _rows(select(CareAssignment).where(CareAssignment.patient_id == pid)
                                  .order_by(CareAssignment.id)),
        "treatments": _rows(select(Treatment).where(Treatment.patient_id == pid).order_by(Treatment.id)),
        "treatment_corrections": _rows(select(TreatmentCorrection).where(
            TreatmentCorrection.treatment_id.in_(treatments)).order_by(TreatmentCorrection.id)),
        "invoices": [_row(invoice) for invoice in invoices],
        "invoice_lines": _rows(select(InvoiceLine).where(InvoiceLine.id.in_(line_ids)).order_by(InvoiceLine.id)),
        "credit_notes": [_row(note) for note in notes],
        "credit_note_lines": _rows(select(CreditNoteLine).where(CreditNoteLine.invoice_line_id.in_(line_ids))
                                   .order_by(CreditNoteLine.id)),
        "payments": _rows(select(Payment).where(Payment.invoice_id.in_(invoice_ids)).order_by(Payment.id)),
        "insurer_settlements": _rows(select(InsurerSettlement).where(InsurerSettlement.invoice_id.in_(invoice_ids))
                                     .order_by(InsurerSettlement.id)),
        "payment_reminders": [_row(reminder) for reminder in reminders],
        "emails": _rows(select(DocumentSending).where(DocumentSending.patient_id == pid)
                        .order_by(DocumentSending.id)),
        "claim_lines": _rows(select(ClaimLine).where(ClaimLine.invoice_line_id.in_(line_ids))
                             .order_by(ClaimLine.id)),
        "patient_claims": _rows(select(PatientClaim).where(PatientClaim.invoice_line_id.in_(line_ids))
                                .order_by(PatientClaim.id)),
        "access_log": _rows(select(AccessLog).where(AccessLog.patient_id == pid).order_by(AccessLog.id)),
    }
    documents: dict[str, bytes] = {}
    for invoice in invoices:
        if invoice.pdf is not None:
            documents[f"documents/factuur-{invoice.number or invoice.id}.pdf"] = invoice.pdf
    for note in notes:
        documents[f"documents/creditnota-{note.number}.pdf"] = note.pdf
    for reminder in reminders:
        documents[f"documents/{reminders_file_name(reminder)}"] = reminder.pdf
    return data, documents


def build_zip(data: dict[str, Any], documents: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("LEESMIJ.txt", README)
        archive.writestr("patient-data.json", json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))
        for name, pdf in documents.items():
            archive.writestr(name, pdf)
    return buffer.getvalue()


def export_patient(patient: Patient, user: User | None = None) -> tuple[bytes, str]:
    """The ZIP and its download name; logged as an export of the patient's record."""
    data, documents = collect(patient)
    records = sum(len(rows) for key, rows in data.items() if key != "patient") + 1
    # The entry is added after collecting: the export lists the log up to this moment, this export not included.
    audit.record("export", patient, "patient data export (inzage)",
                 f"ZIP with {records} records and {len(documents)} documents", user=user)
    return build_zip(data, documents), f"inzage-patient-{patient.id}-{clinic_now():%Y%m%d}.zip"
