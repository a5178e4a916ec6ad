"""Use cases for referrals (verwijzingen). Services add and flush; the view commits."""

from __future__ import annotations

from datetime import date

from sqlalchemy import exists, select

from .. import audit
from ..domain.referrals import default_valid_until
from ..extensions import db
from ..models import Patient, Referral, Treatment

FIELDS = ("referrer_type", "referrer_name", "referrer_agb", "referral_date", "diagnosis", "valid_until")


class ReferralInUse(ValueError):
    pass


def _values(data: dict) -> dict:
    return {
        "referrer_type": data["referrer_type"],
        "referrer_name": data["referrer_name"],
        "referrer_agb": data.get("referrer_agb") or "",
        "referral_date": data["referral_date"],
        "diagnosis": data.get("diagnosis") or "",
        "valid_until": data.get("valid_until") or default_valid_until(data["referral_date"]),
    }


def create_referral(patient: Patient, data: dict) -> Referral:
    referral = Referral(patient=patient, **_values(data))
    db.session.add(referral)
    db.session.flush()
    audit.record("create", patient, f"referral {referral.id}",
                 f"{referral.referrer_type} of {referral.referral_date:%d-%m-%Y}, valid until "
                 f"{referral.valid_until:%d-%m-%Y}")
    return referral


def update_referral(referral: Referral, data: dict) -> list[str]:
    values = _values(data)
    changed = [name for name in FIELDS if getattr(referral, name) != values[name]]
    for name in changed:
        setattr(referral, name, values[name])
    if changed:
        db.session.flush()
        audit.record("update", referral.patient_id, f"referral {referral.id}", "changed: " + ", ".join(changed))
    return changed


def in_use(referral: Referral) -> bool:
    return bool(db.session.scalar(select(exists().where(Treatment.referral_id == referral.id))))


def delete_referral(referral: Referral) -> None:
    if in_use(referral):
        raise ReferralInUse("This referral is used by a recorded treatment and cannot be deleted.")
    audit.record("delete", referral.patient_id, f"referral {referral.id}",
                 f"{referral.referrer_type} of {referral.referral_date:%d-%m-%Y}")
    db.session.delete(referral)
    db.session.flush()


def status(referral: Referral, today: date | None = None) -> str:
    """'valid', 'expired' or 'not yet valid' on `today`."""
    today = today or date.today()
    if today < referral.referral_date:
        return "not yet valid"
    return "valid" if referral.to_domain().valid_on(today) else "expired"
