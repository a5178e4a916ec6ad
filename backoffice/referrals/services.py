"""Use cases for referrals (verwijzingen). Services add and flush; the request's unit of work commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import exists, select

from .. import audit
from ..clock import clinic_today
from ..domain.dutch import nl_date
from ..domain.referrals import REFERRER_LABELS, ReferrerType, default_valid_until
from ..errors import ServiceError
from ..extensions import db
from ..models import Patient, Referral, Treatment, User

FIELDS = ("referrer_type", "referrer_name", "referrer_agb", "referral_date", "diagnosis", "valid_until")


class ReferralInUse(ServiceError, ValueError):
    pass


@dataclass(frozen=True)
class ReferralInput:
    """A referral as validated by the form (or built by the demo). `valid_until` None: the default validity."""

    referrer_type: ReferrerType
    referrer_name: str
    referral_date: date
    referrer_agb: str = ""
    diagnosis: str = ""
    valid_until: date | None = None


def _values(data: ReferralInput) -> dict[str, object]:
    return {
        "referrer_type": ReferrerType(data.referrer_type).value,
        "referrer_name": data.referrer_name,
        "referrer_agb": data.referrer_agb or "",
        "referral_date": data.referral_date,
        "diagnosis": data.diagnosis or "",
        "valid_until": data.valid_until or default_valid_until(data.referral_date),
    }


def create_referral(patient: Patient, data: ReferralInput, user: User | None = None) -> Referral:
    """`user`: who records it (None: the system, e.g. the demo data)."""
    referral = Referral(patient=patient, **_values(data))
    db.session.add(referral)
    db.session.flush()
    audit.record("create", patient, f"referral {referral.id}",
                 f"{referral.referrer_type} of {nl_date(referral.referral_date)}, valid until "
                 f"{nl_date(referral.valid_until)}", user=user)
    return referral


def update_referral(referral: Referral, data: ReferralInput, user: User | None = None) -> list[str]:
    values = _values(data)
    changed = [name for name in FIELDS if getattr(referral, name) != values[name]]
    for name in changed:
        setattr(referral, name, values[name])
    if changed:
        db.session.flush()
        audit.record("update", referral.patient_id, f"referral {referral.id}", "changed: " + ", ".join(changed),
                     user=user)
    return changed


def in_use(referral: Referral) -> bool:
    return bool(db.session.scalar(select(exists().where(Treatment.referral_id == referral.id))))


def delete_referral(referral: Referral, user: User | None = None) -> None:
    if in_use(referral):
        raise ReferralInUse("This referral is used by a recorded treatment and cannot be deleted.")
    audit.record("delete", referral.patient_id, f"referral {referral.id}",
                 f"{referral.referrer_type} of {nl_date(referral.referral_date)}", user=user)
    db.session.delete(referral)
    db.session.flush()


def status(referral: Referral, today: date | None = None) -> str:
    """'valid', 'expired' or 'not yet valid' on `today`."""
    today = today or clinic_today()
    if today < referral.referral_date:
        return "not yet valid"
    return "valid" if referral.to_domain().valid_on(today) else "expired"


def referrer_label(value: str) -> str:
    try:
        return REFERRER_LABELS[ReferrerType(value)]
    except ValueError:
        return value


@dataclass(frozen=True)
class ReferralRow:
    """One line of the referrals table (patient page and referrals page)."""

    referral: Referral
    status: str
    referrer_label: str


def rows(patient: Patient, today: date | None = None) -> list[ReferralRow]:
    """The patient's referrals with their validity on `today`, for the template (which runs no queries)."""
    today = today or clinic_today()
    return [ReferralRow(r, status(r, today), referrer_label(r.referrer_type)) for r in patient.referrals]
