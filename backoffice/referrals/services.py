"""Use cases for referrals (verwijzingen). Services add and flush; the request's unit of work commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import exists, select

from .. import audit
from ..clock import clinic_today
from ..domain.dutch import nl_date
from ..domain.referrals import ReferrerType, default_valid_until
from ..errors import ServiceError
from ..extensions import db
from ..labels import referrer_label as _referrer_label
from ..models import Patient, Referral, Treatment, User, utcnow

FIELDS = ("referrer_type", "referrer_name", "referrer_agb", "referral_date", "diagnosis", "valid_until", "indication")


class ReferralWithdrawn(ServiceError, ValueError):
    """A withdrawn referral is history: it is not changed or withdrawn again."""


# The statuses as people read them (the codes stay in data-status for tests and styling).
STATUS_LABELS = {
    "valid": _l("valid"),
    "expired": _l("expired"),
    "not yet valid": _l("not yet valid"),
    "withdrawn": _l("withdrawn"),
}


@dataclass(frozen=True)
class ReferralInput:
    """A referral as validated by the form (or built by the demo). `valid_until` None: the default validity."""

    referrer_type: ReferrerType
    referrer_name: str
    referral_date: date
    referrer_agb: str = ""
    diagnosis: str = ""
    valid_until: date | None = None
    indication: str | None = None   # the indication code referred for (None: not recorded)


def _values(data: ReferralInput) -> dict[str, object]:
    return {
        "referrer_type": ReferrerType(data.referrer_type).value,
        "referrer_name": data.referrer_name,
        "referrer_agb": data.referrer_agb or "",
        "referral_date": data.referral_date,
        "diagnosis": data.diagnosis or "",
        "valid_until": data.valid_until or default_valid_until(data.referral_date),
        "indication": data.indication or None,
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
    if referral.withdrawn:
        raise ReferralWithdrawn(_l("This referral was withdrawn and can no longer be changed."))
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


def withdraw_referral(referral: Referral, reason: str, user: User | None = None) -> None:
    """Withdraw a referral (entered in error, replaced): it stays in the history with who, when and why, and no
    new treatment or assessment uses it. Treatments recorded with it keep it in their history."""
    if referral.withdrawn:
        raise ReferralWithdrawn(_l("This referral was already withdrawn."))
    referral.withdrawn_at = utcnow()
    referral.withdrawn_by_id = user.id if user is not None else None
    referral.withdrawn_reason = reason
    db.session.flush()
    # The reason stays with the referral; the log says what happened without repeating medical content.
    audit.record("update", referral.patient_id, f"referral {referral.id}",
                 f"withdrawn: {referral.referrer_type} of {nl_date(referral.referral_date)}", user=user)


def status(referral: Referral, today: date | None = None) -> str:
    """'withdrawn', 'valid', 'expired' or 'not yet valid' on `today`."""
    if referral.withdrawn:
        return "withdrawn"
    today = today or clinic_today()
    if today < referral.referral_date:
        return "not yet valid"
    return "valid" if referral.to_domain().valid_on(today) else "expired"


def referrer_label(value: str) -> str:
    """The referrer type in the reader's language (an unknown code as it is)."""
    return _referrer_label(value)


@dataclass(frozen=True)
class ReferralRow:
    """One line of the referrals table (patient page and referrals page)."""

    referral: Referral
    status: str
    referrer_label: str
    used: bool = False  # by a recorded treatment: withdrawing it leaves those treatments as they are

    @property
    def status_label(self) -> str:
        return str(STATUS_LABELS.get(self.status, self.status))


def row(referral: Referral, today: date | None = None) -> ReferralRow:
    """One referral as a table row (the withdraw page shows what it acts on)."""
    return ReferralRow(referral, status(referral, today), referrer_label(referral.referrer_type), in_use(referral))


def rows(patient: Patient, today: date | None = None) -> list[ReferralRow]:
    """The patient's referrals with their validity on `today`, for the template (which runs no queries)."""
    today = today or clinic_today()
    ids = [r.id for r in patient.referrals]
    used = set(db.session.scalars(select(Treatment.referral_id).where(Treatment.referral_id.in_(ids)))) \
        if ids else set()
    return [ReferralRow(r, status(r, today), referrer_label(r.referrer_type), r.id in used)
            for r in patient.referrals]
