"""Use cases for patients and their insurances. Services add and flush; the view commits."""

from __future__ import annotations

from sqlalchemy import or_, select

from .. import audit, crypto
from ..domain.validators import normalise_bsn
from ..extensions import db
from ..models import Insurance, Patient

PATIENT_FIELDS = ("first_name", "infix", "last_name", "date_of_birth", "street", "postcode", "city", "phone",
                  "email", "id_document_type", "id_document_number")


class DuplicateBsn(ValueError):
    pass


def _apply(patient: Patient, data: dict) -> list[str]:
    changed = []
    for field in PATIENT_FIELDS:
        value = data.get(field) or ("" if field not in {"id_document_type", "id_document_number"} else None)
        if field == "date_of_birth":
            value = data[field]
        if getattr(patient, field) != value:
            setattr(patient, field, value)
            changed.append(field)
    bsn = normalise_bsn(data["bsn"]) if data.get("bsn") else None
    if bsn != patient.get_bsn():
        if bsn and find_by_bsn(bsn, exclude=patient.id):
            raise DuplicateBsn("Another patient already has this BSN.")
        patient.set_bsn(bsn)
        changed.append("bsn")  # the field name only: never the number
    return changed


def create_patient(data: dict) -> Patient:
    patient = Patient()
    _apply(patient, data)
    db.session.add(patient)
    db.session.flush()
    audit.record("create", patient, "patient", "new patient record")
    return patient


def update_patient(patient: Patient, data: dict) -> list[str]:
    changed = _apply(patient, data)
    if changed:
        db.session.flush()
        audit.record("update", patient, "patient", "changed: " + ", ".join(changed))
    return changed


def find_by_bsn(bsn: str, exclude: int | None = None) -> Patient | None:
    query = select(Patient).where(Patient.bsn_index == crypto.blind_index(normalise_bsn(bsn)))
    if exclude is not None:
        query = query.where(Patient.id != exclude)
    return db.session.scalar(query)


def search_query(text: str):
    """Patients matching a name, postcode, date of birth (dd-mm-yyyy), policy number or full BSN."""
    from datetime import datetime

    from ..domain.validators import bsn_error, clean_digits, normalise_postcode

    query = select(Patient).order_by(Patient.last_name, Patient.first_name, Patient.id)
    text = (text or "").strip()
    if not text:
        return query
    digits = clean_digits(text)
    if digits.isdigit() and len(digits) == 9 and bsn_error(digits) is None:
        return query.where(Patient.bsn_index == crypto.blind_index(digits))
    try:
        born = datetime.strptime(text, "%d-%m-%Y").date()
    except ValueError:
        born = None
    if born:
        return query.where(Patient.date_of_birth == born)
    conditions = []
    for word in text.split():
        like = f"%{word}%"
        conditions.append(
            or_(Patient.first_name.ilike(like), Patient.last_name.ilike(like), Patient.infix.ilike(like),
                Patient.city.ilike(like), Patient.email.ilike(like))
        )
    policy = select(Insurance.patient_id).where(Insurance.policy_number.ilike(text))
    postcode = normalise_postcode(text)
    return query.where(or_(db.and_(*conditions), Patient.postcode == postcode, Patient.id.in_(policy)))


def save_insurance(patient: Patient, insurance: Insurance | None, data: dict) -> Insurance:
    creating = insurance is None
    if creating:
        insurance = Insurance(patient=patient)
        db.session.add(insurance)
    for field in ("insurer_id", "package_id", "policy_number", "valid_from", "valid_until"):
        setattr(insurance, field, data.get(field))
    db.session.flush()
    audit.record("create" if creating else "update", patient, f"insurance {insurance.id}",
                 f"policy {insurance.policy_number}, from {insurance.valid_from:%d-%m-%Y}")
    return insurance


def delete_insurance(insurance: Insurance) -> None:
    audit.record("delete", insurance.patient_id, f"insurance {insurance.id}", f"policy {insurance.policy_number}")
    db.session.delete(insurance)
    db.session.flush()
