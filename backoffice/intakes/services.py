"""Use cases for intakes and consent. Services add and flush; the request's unit of work commits.

Contraindications and medications are stored as JSON lists in exactly the shape `Intake.to_domain()` reads:
  contraindications: [{"kind": "tattoos", "areas": ["face"], "ended_on": null}, ...]
  medications:       [{"medication": "antibiotics", "stopped_on": "2026-11-01"}, ...]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from flask_babel import gettext as _

from .. import audit
from ..clinical import services as clinical
from ..clock import clinic_today
from ..domain import intake as intake_rules
from ..domain.dutch import nl_date as _nl  # the one Dutch date format (24-11-2026)
from ..domain.indications import BodyArea
from ..domain.intake import MINIMUM_AGE, ContraindicationEntry, MedicationUse, Screening
from ..domain.referrals import add_months
from ..extensions import db
from ..labels import body_area_label, contraindication_label, medication_label
from ..models import Intake, Patient, User

FIELDS = ("intake_date", "contraindications", "medications", "consent_given", "consent_by", "consent_on", "notes")


@dataclass(frozen=True)
class IntakeInput:
    """An intake as validated by the form (or built by the demo): the findings as domain entries."""

    intake_date: date
    contraindications: tuple[ContraindicationEntry, ...] = ()
    medications: tuple[MedicationUse, ...] = ()
    consent_given: bool = False
    consent_by: str = ""
    consent_on: date | None = None
    notes: str = ""


def contraindications_json(entries: Iterable[ContraindicationEntry]) -> list[dict]:
    return [{"kind": str(e.kind), "areas": sorted(a.value for a in e.areas),
             "ended_on": e.ended_on.isoformat() if e.ended_on else None} for e in entries]


def medications_json(uses: Iterable[MedicationUse]) -> list[dict]:
    return [{"medication": str(u.medication), "stopped_on": u.stopped_on.isoformat() if u.stopped_on else None}
            for u in uses]


def _values(data: IntakeInput) -> dict[str, Any]:
    consent = data.consent_given
    return {
        "intake_date": data.intake_date,
        "contraindications": contraindications_json(data.contraindications),
        "medications": medications_json(data.medications),
        "consent_given": consent,
        "consent_by": data.consent_by if consent else "",
        "consent_on": data.consent_on if consent else None,
        "notes": data.notes,
    }


def create_intake(patient: Patient, data: IntakeInput, user: User | None = None) -> Intake:
    """`user`: who recorded the intake (None: the system, e.g. the demo data)."""
    intake = Intake(patient=patient, recorded_by_id=user.id if user is not None else None, **_values(data))
    db.session.add(intake)
    db.session.flush()
    audit.record("create", patient, f"intake {intake.id}", f"intake of {_nl(intake.intake_date)}", user=user)
    return intake


def update_intake(intake: Intake, data: IntakeInput, user: User | None = None) -> list[str]:
    """Correct an intake; returns the names of the fields that changed."""
    values = _values(data)
    changed = [name for name in FIELDS if getattr(intake, name) != values[name]]
    for name in changed:
        setattr(intake, name, values[name])
    if changed:
        db.session.flush()
        # Field names only: the correction is traceable without repeating medical content in the log.
        audit.record("update", intake.patient_id, f"intake {intake.id}", "corrected: " + ", ".join(changed),
                     user=user)
    return changed


def screening_for(patient: Patient, day: date, area: BodyArea | str, technique: str | None = None) -> Screening:
    """Screen a treatment of `area` on `day` with `technique` (the catalogue item's; None: none, like an acne
    treatment) against the patient's intakes: the contraindications that apply to that technique, and its minimum
    age (the practice keeps both: backoffice/clinical/)."""
    return intake_rules.screen(
        patient.date_of_birth, [i.to_domain() for i in patient.intakes], day, BodyArea(area),
        current_app.config["INTAKE_VALIDITY_MONTHS"], rules=clinical.rules_for(technique),
    )


@dataclass(frozen=True)
class IntakeOverview:
    """What the patient page shows about the latest intake: plain text, no screening for a particular area."""

    latest: Intake | None
    age: int
    under_age: bool
    outdated: bool
    valid_until: date | None
    contraindications: tuple[str, ...]
    medications: tuple[str, ...]


def describe_contraindication(entry: ContraindicationEntry) -> str:
    """The entry in words, in the reader's language (Tattoos in the area (face, neck))."""
    text = contraindication_label(entry.kind)
    if entry.kind in intake_rules.AREA_BOUND:
        areas = ", ".join(sorted(body_area_label(a).lower() for a in entry.areas))
        text += f" ({areas})" if areas else " " + _("(area not specified: blocks every area)")
    if entry.kind is intake_rules.Contraindication.CANCER_TREATMENT:
        text += _(", last treatment ended %(date)s", date=_nl(entry.ended_on)) if entry.ended_on \
            else _(", end date unknown or ongoing")
    return text


def describe_medication(use: MedicationUse) -> str:
    label = medication_label(use.medication)
    return _("%(medication)s, stopped %(date)s", medication=label, date=_nl(use.stopped_on)) if use.stopped_on \
        else _("%(medication)s, still taking", medication=label)


def overview(patient: Patient, today: date | None = None) -> IntakeOverview:
    today = today or clinic_today()
    latest = patient.intakes[0] if patient.intakes else None  # ordered newest first
    age = intake_rules.age_on(patient.date_of_birth, today)
    if latest is None:
        return IntakeOverview(None, age, age < MINIMUM_AGE, False, None, (), ())
    domain_intake = latest.to_domain()
    valid_until = add_months(latest.intake_date, current_app.config["INTAKE_VALIDITY_MONTHS"])
    return IntakeOverview(
        latest=latest, age=age, under_age=age < MINIMUM_AGE, outdated=today > valid_until, valid_until=valid_until,
        contraindications=tuple(describe_contraindication(e) for e in domain_intake.contraindications),
        medications=tuple(describe_medication(u) for u in domain_intake.medications),
    )
