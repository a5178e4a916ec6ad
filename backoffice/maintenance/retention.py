"""Deleting a patient: refused while a legal retention period holds (domain/retention.py), with every record that
holds it and until when; beyond them, the patient's personal data are erased and the erasure is logged.

What "deleted" means here: the append-only access log (NEN 7513) keeps naming the patient's number, and issued
invoices and credit notes can never be changed or deleted (database guards), so the patient row stays as an
anonymous stub they point at. Its name, address, contact details, BSN and ID document are erased, the date of
birth set to 1 January 1900, and the intakes, insurances, prior authorisations, the treatments no invoice refers
to (with their corrections) and the referrals no remaining treatment uses are deleted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from flask_babel import lazy_gettext as _l
from sqlalchemy import delete, func, select

from .. import audit
from ..clock import clinic_timezone, clinic_today
from ..domain.retention import Hold, document_hold, holding, record_hold
from ..domain.statuses import InvoiceStatus
from ..errors import ServiceError
from ..extensions import db
from ..models import (
    CreditNote,
    Insurance,
    Intake,
    Invoice,
    InvoicedTreatment,
    InvoiceLine,
    Patient,
    PriorAuthorisation,
    Referral,
    Treatment,
    TreatmentCorrection,
    TreatmentRulePart,
    User,
)

ERASED_NAME = "Verwijderd"
ERASED_BIRTH_DATE = date(1900, 1, 1)


class RetentionRefused(ServiceError):
    """The patient's records must still be kept: `holds` says which and until when."""

    def __init__(self, holds: list[Hold]) -> None:
        self.holds = holds
        super().__init__(_l("This patient cannot be deleted yet: records must be kept until %(until)s.",
                            until=max(hold.until for hold in holds).isoformat()))


@dataclass(frozen=True)
class ErasureReport:
    patient_id: int
    deleted: dict[str, int]


def _day(moment: datetime | None) -> date | None:
    return moment.astimezone(clinic_timezone()).date() if moment is not None else None


def last_record_change(patient: Patient) -> date:
    """The clinic day the patient's record last changed: the patient's details or any of their care records."""
    moments: list[datetime | None] = [patient.created_at, patient.updated_at]
    for column, where in (
        (Intake.created_at, Intake.patient_id == patient.id),
        (Referral.created_at, Referral.patient_id == patient.id),
        (Referral.withdrawn_at, Referral.patient_id == patient.id),
        (Insurance.withdrawn_at, Insurance.patient_id == patient.id),
        (PriorAuthorisation.created_at, PriorAuthorisation.patient_id == patient.id),
        (PriorAuthorisation.withdrawn_at, PriorAuthorisation.patient_id == patient.id),
        (Treatment.created_at, Treatment.patient_id == patient.id),
        (Treatment.withdrawn_at, Treatment.patient_id == patient.id),
    ):
        moments.append(db.session.scalar(select(func.max(column)).where(where)))
    moments.append(db.session.scalar(select(func.max(TreatmentCorrection.corrected_at)).join(Treatment)
                                     .where(Treatment.patient_id == patient.id)))
    days = [day for day in map(_day, moments) if day is not None]
    return max(days)


def retention_holds(patient: Patient, today: date | None = None) -> list[Hold]:
    """The holds in force on `today` (the clinic's day by default), the longest first; empty: may be deleted."""
    holds = [record_hold(last_record_change(patient))]
    invoices = db.session.execute(select(Invoice.number, Invoice.issue_date).where(
        Invoice.patient_id == patient.id, Invoice.status == InvoiceStatus.ISSUED.value))
    holds += [document_hold("invoice", number or "", issued) for number, issued in invoices if issued is not None]
    notes = db.session.execute(select(CreditNote.number, CreditNote.issue_date).join(Invoice)
                               .where(Invoice.patient_id == patient.id))
    holds += [document_hold("credit note", number, issued) for number, issued in notes]
    return holding(holds, today or clinic_today())


def refuse_deletion(patient: Patient, user: User | None, holds: list[Hold]) -> None:
    """Log the refused attempt (the view shows the holds)."""
    longest = holds[0]
    audit.record("delete", patient, "patient", f"deletion refused: {len(holds)} record(s) under retention, "
                                                f"the longest ({longest.subject}) until {longest.until.isoformat()}",
                 user=user)


def erase_patient(patient: Patient, user: User | None, today: date | None = None) -> ErasureReport:
    """Erase the patient's personal data (see the module's doc) once no retention period holds; otherwise raise
    RetentionRefused (nothing changed). The erasure is logged; the caller's unit of work stores it."""
    holds = retention_holds(patient, today)
    if holds:
        raise RetentionRefused(holds)
    patient_id = patient.id
    invoiced = select(InvoiceLine.treatment_id).union(select(InvoicedTreatment.treatment_id))
    free = select(Treatment.id).where(Treatment.patient_id == patient_id, Treatment.id.not_in(invoiced))
    free_ids = list(db.session.scalars(free))
    deleted = {
        "treatment corrections": _delete(TreatmentCorrection, TreatmentCorrection.treatment_id.in_(free_ids)),
        "treatment rule parts": _delete(TreatmentRulePart, TreatmentRulePart.treatment_id.in_(free_ids)),
        "treatments": _delete(Treatment, Treatment.id.in_(free_ids)),
        "referrals": _delete(Referral, Referral.patient_id == patient_id, Referral.id.not_in(
            select(Treatment.referral_id).where(Treatment.referral_id.is_not(None)))),
        "intakes": _delete(Intake, Intake.patient_id == patient_id),
        "insurances": _delete(Insurance, Insurance.patient_id == patient_id),
        "prior authorisations": _delete(PriorAuthorisation, PriorAuthorisation.patient_id == patient_id),
    }
    db.session.expire(patient)
    patient.first_name, patient.infix, patient.last_name = ERASED_NAME, "", f"patient {patient_id}"
    patient.date_of_birth = ERASED_BIRTH_DATE
    patient.street = patient.postcode = patient.city = patient.phone = patient.email = ""
    patient.set_bsn(None)
    patient.id_document_type = patient.id_document_number = None
    db.session.flush()
    counts = ", ".join(f"{count} {what}" for what, count in deleted.items() if count)
    audit.record("delete", patient_id, "patient", "personal data erased after the retention periods"
                 + (f"; deleted {counts}" if counts else ""), user=user)
    return ErasureReport(patient_id, deleted)


def _delete(model, *where) -> int:
    result = db.session.execute(delete(model).where(*where).execution_options(synchronize_session=False))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
