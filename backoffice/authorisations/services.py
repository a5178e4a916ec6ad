"""Use cases for prior authorisations (machtigingen). Services add and flush; the request's unit of work commits.

An authorisation is never edited: one entered in error is withdrawn (who, when, why) and a new one recorded,
so the treatments assessed with it keep the authorisation they were paid under."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import audit
from ..domain.dutch import nl_date
from ..domain.indications import Indication
from ..errors import ServiceError
from ..extensions import db
from ..models import Insurer, Patient, PriorAuthorisation, User, utcnow


class AuthorisationRefused(ServiceError, ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class AuthorisationInput:
    insurer_id: int
    number: str
    valid_from: date
    valid_until: date
    indications: tuple[Indication, ...]
    max_treatments: int | None = None
    notes: str = ""


def authorisations_of(patient_id: int) -> list[PriorAuthorisation]:
    """The patient's authorisations, the current ones first (withdrawn ones stay listed, for history)."""
    return list(db.session.scalars(
        select(PriorAuthorisation).where(PriorAuthorisation.patient_id == patient_id)
        .order_by(PriorAuthorisation.withdrawn_at.is_not(None), PriorAuthorisation.valid_until.desc(),
                  PriorAuthorisation.id.desc())
    ))


def create_authorisation(patient: Patient, data: AuthorisationInput, user: User | None = None) -> PriorAuthorisation:
    if data.valid_until < data.valid_from:
        raise AuthorisationRefused(_l("An authorisation cannot end before it starts."), "valid_until")
    if not data.indications:
        raise AuthorisationRefused(_l("Choose at least one indication."), "indications")
    if db.session.get(Insurer, data.insurer_id) is None:
        raise AuthorisationRefused(_l("Choose the insurer."), "insurer_id")
    authorisation = PriorAuthorisation(
        patient=patient, insurer_id=data.insurer_id, number=data.number.strip(), valid_from=data.valid_from,
        valid_until=data.valid_until, indications=sorted(Indication(i).value for i in data.indications),
        max_treatments=data.max_treatments, notes=data.notes, recorded_by_id=user.id if user is not None else None,
    )
    db.session.add(authorisation)
    db.session.flush()
    audit.record("create", patient, f"prior authorisation {authorisation.id}",
                 f"{authorisation.number}, {nl_date(authorisation.valid_from)} - {nl_date(authorisation.valid_until)}",
                 user=user)
    return authorisation


def withdraw_authorisation(authorisation: PriorAuthorisation, reason: str,
                           user: User | None = None) -> PriorAuthorisation:
    """Withdraw an authorisation entered in error: kept with who, when and why; no new assessment uses it."""
    if authorisation.withdrawn:
        raise AuthorisationRefused(_l("This authorisation was already withdrawn."))
    if not reason.strip():
        raise AuthorisationRefused(_l("Say why it is withdrawn."), "reason")
    authorisation.withdrawn_at = utcnow()
    authorisation.withdrawn_by_id = user.id if user is not None else None
    authorisation.withdrawn_reason = reason.strip()
    db.session.flush()
    audit.record("update", authorisation.patient_id, f"prior authorisation {authorisation.id}",
                 f"withdrawn: {authorisation.withdrawn_reason}", user=user)
    return authorisation
