"""Use cases for patients and their insurances. Services add and flush; the request's unit of work commits."""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, and_, or_, select

from .. import audit, crypto
from ..care.services import visible_patients
from ..clock import clinic_today
from ..domain.dutch import nl_date, parse_nl_date
from ..domain.validators import bsn_error, clean_digits, normalise_bsn, normalise_postcode
from ..errors import ServiceError
from ..extensions import db
from ..models import Insurance, Patient, User, utcnow
from ..paging import Keyset


class DuplicateBsn(ServiceError, ValueError):
    pass


class InvalidBsn(ServiceError, ValueError):
    """A BSN the form would refuse (the eleven-test, digits 0-9 only) reached the service: it is never stored, so
    that every stored BSN has one written form and the duplicate check (the blind index) cannot be passed by."""


class InsuranceRefused(ServiceError, ValueError):
    """A change to an insurance that cannot be made."""


class InsuranceWithdrawn(InsuranceRefused):
    """A withdrawn insurance is history: it is not changed, ended or withdrawn again."""


@dataclass(frozen=True)
class PatientInput:
    """A patient's details as validated by the form (or built by the demo). Empty text is ""."""

    first_name: str
    last_name: str
    date_of_birth: date
    infix: str = ""
    street: str = ""
    postcode: str = ""
    city: str = ""
    phone: str = ""
    email: str = ""
    bsn: str = ""  # as typed: spaces and dots allowed; "" for none
    id_document_type: str = ""
    id_document_number: str = ""


@dataclass(frozen=True)
class InsuranceInput:
    insurer_id: int
    policy_number: str
    valid_from: date
    package_id: int | None = None
    valid_until: date | None = None


# The patient's columns a PatientInput sets directly (the BSN is stored encrypted, see _apply_bsn).
PATIENT_FIELDS = tuple(f.name for f in fields(PatientInput) if f.name != "bsn")
_NULL_WHEN_EMPTY = frozenset({"id_document_type", "id_document_number"})


def _apply(patient: Patient, data: PatientInput) -> list[str]:
    changed = []
    for field in PATIENT_FIELDS:
        value = getattr(data, field)
        if field in _NULL_WHEN_EMPTY:
            value = value or None
        if getattr(patient, field) != value:
            setattr(patient, field, value)
            changed.append(field)
    if _apply_bsn(patient, data.bsn):
        changed.append("bsn")  # the field name only: never the number
    return changed


def _apply_bsn(patient: Patient, typed: str) -> bool:
    problem = bsn_error(typed) if typed else None
    if problem:
        raise InvalidBsn(problem)
    bsn = normalise_bsn(typed) if typed else None
    if bsn == patient.get_bsn():
        return False
    # The lookup flushes the changes made so far: a refusal leaves them to the caller's unit of work to discard.
    if bsn and find_by_bsn(bsn, exclude=patient.id):
        raise DuplicateBsn(_l("Another patient already has this BSN."))
    patient.set_bsn(bsn)
    return True


def create_patient(data: PatientInput, user: User | None = None) -> Patient:
    """`user`: who records it (None: the system, e.g. the demo data)."""
    patient = Patient()
    _apply(patient, data)
    db.session.add(patient)
    db.session.flush()
    audit.record("create", patient, "patient", "new patient record", user=user)
    return patient


def update_patient(patient: Patient, data: PatientInput, user: User | None = None) -> list[str]:
    changed = _apply(patient, data)
    if changed:
        db.session.flush()
        audit.record("update", patient, "patient", "changed: " + ", ".join(changed), user=user)
    return changed


def find_by_bsn(bsn: str, exclude: int | None = None) -> Patient | None:
    query = select(Patient).where(Patient.bsn_index.in_(crypto.blind_indexes(normalise_bsn(bsn))))
    if exclude is not None:
        query = query.where(Patient.id != exclude)
    return db.session.scalar(query)


# A date of birth typed with a two-digit year: 24-11-90.
_DAY_SHORT_YEAR = re.compile(r"([0-9]{1,2})[-./ ]([0-9]{1,2})[-./ ]([0-9]{2})", re.ASCII)


def birth_date(text: str, today: date | None = None) -> date | None:
    """The date of birth in a search: 24-11-1990, 1990-11-24, or 24-11-90 (the last hundred years)."""
    born = parse_nl_date(text)
    if born:
        return born
    short = _DAY_SHORT_YEAR.fullmatch(text.strip())
    if not short:
        return None
    today = today or clinic_today()
    year = 2000 + int(short.group(3))
    if year > today.year:
        year -= 100
    try:
        return date(year, int(short.group(2)), int(short.group(1)))
    except ValueError:
        return None


def _policy_matches(text: str):
    """Patients with a (not withdrawn) insurance of this policy number, ignoring case, spaces and dots."""
    compact = re.sub(r"[\s.]", "", text)
    return select(Insurance.patient_id).where(
        Insurance.withdrawn_at.is_(None),
        or_(Insurance.policy_number.ilike(text), Insurance.policy_number.ilike(compact)),
    )


def bsn_search_query(text: str) -> Select:
    """The POST search "Search by BSN": the patient whose BSN this is (an exact match on the keyed hash, never a
    decryption), or patients with a policy number of these digits (the GET search no longer takes nine digits,
    see request_guards). `text` holds 8 or 9 digits 0-9 (the form checked), spaces and dots allowed."""
    matches = [Patient.id.in_(_policy_matches(text.strip()))]
    if bsn_error(text) is None:
        matches.append(Patient.bsn_index.in_(crypto.blind_indexes(normalise_bsn(text))))
    return select(Patient).where(or_(*matches)).order_by(Patient.last_name, Patient.first_name, Patient.id)


def search_query(text: str) -> Select:
    """Patients matching a name, postcode, date of birth (24-11-1990, 24-11-90, 1990-11-24), policy number or
    full BSN."""
    query = select(Patient).order_by(Patient.last_name, Patient.first_name, Patient.id)
    text = (text or "").strip()
    if not text:
        return query
    digits = clean_digits(text)
    # bsn_error takes only the digits 0-9: a BSN typed in other digits (full-width ０-９) matches no patient.
    if len(digits) == 9 and bsn_error(digits) is None:
        # Nine digits that pass the eleven-test: a BSN, or a policy number that happens to look like one.
        return query.where(or_(Patient.bsn_index.in_(crypto.blind_indexes(digits)),
                               Patient.id.in_(_policy_matches(text))))
    born = birth_date(text)
    if born:
        return query.where(Patient.date_of_birth == born)
    conditions = []
    for word in text.split():
        like = f"%{word}%"
        conditions.append(
            or_(Patient.first_name.ilike(like), Patient.last_name.ilike(like), Patient.infix.ilike(like),
                Patient.city.ilike(like), Patient.email.ilike(like))
        )
    postcode = normalise_postcode(text)
    return query.where(or_(and_(*conditions), Patient.postcode == postcode, Patient.id.in_(_policy_matches(text))))


# The patient list's order, by name then id (the index ix_patients_last_name_first_name), paged by key.
LIST_ORDER = Keyset((Patient.last_name, Patient.first_name, Patient.id))


def list_search(args) -> str:
    """The patient list's search words from its query string (the page and its export read them here)."""
    return args.get("q", "")


def list_query(q: str, user: User) -> Select:
    """The patient list: patients matching `q`, only the user's own when the practice limits therapists to their
    own patients (backoffice/care/); ordered by LIST_ORDER when paged."""
    return visible_patients(search_query(q), user)


def save_insurance(patient: Patient, insurance: Insurance | None, data: InsuranceInput,
                   user: User | None = None) -> Insurance:
    creating = insurance is None
    if insurance is None:
        insurance = Insurance(patient=patient)
        db.session.add(insurance)
    elif insurance.withdrawn:
        raise InsuranceWithdrawn(_l("This insurance was withdrawn and can no longer be changed."))
    insurance.insurer_id = data.insurer_id
    insurance.package_id = data.package_id
    insurance.policy_number = data.policy_number
    insurance.valid_from = data.valid_from
    insurance.valid_until = data.valid_until
    db.session.flush()
    audit.record("create" if creating else "update", patient, f"insurance {insurance.id}",
                 f"policy {insurance.policy_number}, from {nl_date(insurance.valid_from)}", user=user)
    return insurance


def end_insurance(insurance: Insurance, last_day: date, user: User | None = None) -> None:
    """The insurance ends after `last_day` (the patient changed insurer): it stays valid for the days before."""
    if insurance.withdrawn:
        raise InsuranceWithdrawn(_l("This insurance was withdrawn and can no longer be changed."))
    if last_day < insurance.valid_from:
        raise InsuranceRefused(_l("The end date lies before the start date."))
    insurance.valid_until = last_day
    db.session.flush()
    audit.record("update", insurance.patient_id, f"insurance {insurance.id}",
                 f"ended: valid until {nl_date(last_day)}", user=user)


def withdraw_insurance(insurance: Insurance, reason: str, user: User | None = None) -> None:
    """Withdraw an insurance recorded in error: kept (who, when, why) for the history, never used again."""
    if insurance.withdrawn:
        raise InsuranceWithdrawn(_l("This insurance was already withdrawn."))
    insurance.withdrawn_at = utcnow()
    insurance.withdrawn_by_id = user.id if user is not None else None
    insurance.withdrawn_reason = reason
    db.session.flush()
    # The reason stays with the insurance; the log says what happened, not the words typed.
    audit.record("update", insurance.patient_id, f"insurance {insurance.id}",
                 f"withdrawn: policy {insurance.policy_number}", user=user)
