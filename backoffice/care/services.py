"""The care relationship: who may open a patient's record when the practice limits therapists to their own
patients (the practice setting `therapists_own_patients_only`, off by default).

A therapist has a care relationship with a patient they treated (a treatment by the therapist linked to their
account, not withdrawn) or are assigned to (CareAssignment). Admins and managers are never limited. Access without
a relationship ("break the glass") is granted by web/access.py after a reason is logged here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, exists, func, or_, select, union
from sqlalchemy.orm import selectinload

from .. import audit
from ..domain.roles import Permission, Role
from ..errors import ServiceError
from ..extensions import db
from ..models import AccessLog, CareAssignment, Patient, Therapist, Treatment, User
from ..practice.services import access_settings, forget_access_settings

# Break-the-glass entries in the access log: an access ("view") to the record, the reason in the detail. A subject
# of its own rather than a new action code: the log's CHECK constraint and hash chain stay as they are.
BREAK_GLASS_SUBJECT = "break the glass"
# How far back the admins' home page counts break-the-glass entries.
RECENT_BREAK_GLASS = timedelta(days=7)


class CareTeamError(ServiceError):
    status = 422


def scoping_on() -> bool:
    """Whether the practice limits therapists to their own patients (read once per request)."""
    return access_settings().therapists_own_patients_only


def set_scoping(on: bool, user: User) -> bool:
    """Turn the limit on or off; returns whether it changed. Logged (no patient): it decides who sees records."""
    from ..practice.services import get_or_create_practice

    practice = get_or_create_practice()
    if practice.therapists_own_patients_only == on:
        return False
    practice.therapists_own_patients_only = on
    db.session.flush()
    forget_access_settings()
    audit.record("update", None, "practice setting", f"therapists see only their own patients: {'on' if on else 'off'}",
                 user=user)
    return True


def limited(user: User) -> bool:
    """Whether `user` sees only the patients they have a care relationship with."""
    return user.role == Role.THERAPIST and scoping_on()


def _therapist_id(user: User) -> int | None:
    return db.session.scalar(select(Therapist.id).where(Therapist.user_id == user.id))


def has_relationship(user: User, patient_id: int) -> bool:
    therapist_id = _therapist_id(user)
    if therapist_id is None:
        return False
    treated = exists().where(Treatment.therapist_id == therapist_id, Treatment.patient_id == patient_id,
                             Treatment.withdrawn_at.is_(None))
    assigned = exists().where(CareAssignment.therapist_id == therapist_id, CareAssignment.patient_id == patient_id)
    return bool(db.session.scalar(select(or_(treated, assigned))))


def related_patient_ids(therapist_id: int | None):
    """The ids of the patients a therapist treated or is assigned to (a subquery)."""
    treated = select(Treatment.patient_id).where(Treatment.therapist_id == therapist_id,
                                                 Treatment.withdrawn_at.is_(None))
    assigned = select(CareAssignment.patient_id).where(CareAssignment.therapist_id == therapist_id)
    return union(treated, assigned)


def own_patient_ids(user: User):
    """The ids of the patients `user` may see in lists (a subquery), or None when the user is not limited."""
    return related_patient_ids(_therapist_id(user)) if limited(user) else None


def visible_patients(query: Select, user: User) -> Select:
    """`query` over patients, limited to the user's own patients when the practice says so."""
    own = own_patient_ids(user)
    return query if own is None else query.where(Patient.id.in_(own))


# ---- the care team on the patient page ---------------------------------------------------------------------

def team(patient: Patient) -> list[CareAssignment]:
    return list(db.session.scalars(
        select(CareAssignment).where(CareAssignment.patient_id == patient.id)
        .options(selectinload(CareAssignment.therapist)).join(Therapist).order_by(Therapist.name)))


@dataclass(frozen=True)
class CareTeam:
    """The care team panel of the patient page: who is assigned, whom an admin may add, whether the signed-in
    therapist may take the patient on."""

    assignments: list[CareAssignment]
    assignable: list[Therapist]
    can_take_on: bool
    scoping_on: bool


def care_team(patient: Patient, user: User) -> CareTeam:
    assignments = team(patient)
    own = db.session.scalar(select(Therapist).where(Therapist.user_id == user.id))
    can_take_on = (user.role == Role.THERAPIST and own is not None and own.active
                   and all(a.therapist_id != own.id for a in assignments))
    assignable = assignable_therapists(patient) if user.can(Permission.CARE_TEAM_MANAGE) else []
    return CareTeam(assignments, assignable, can_take_on, scoping_on())


def assignable_therapists(patient: Patient) -> list[Therapist]:
    assigned = select(CareAssignment.therapist_id).where(CareAssignment.patient_id == patient.id)
    return list(db.session.scalars(
        select(Therapist).where(Therapist.active, Therapist.id.not_in(assigned)).order_by(Therapist.name)))


def assign(patient: Patient, therapist: Therapist, user: User | None) -> CareAssignment | None:
    """Assign `therapist` to `patient`; None when already assigned."""
    existing = db.session.scalar(select(CareAssignment).where(CareAssignment.patient_id == patient.id,
                                                              CareAssignment.therapist_id == therapist.id))
    if existing is not None:
        return None
    if not therapist.active:
        raise CareTeamError(_l("This therapist is no longer active."))
    assignment = CareAssignment(patient_id=patient.id, therapist_id=therapist.id,
                                assigned_by_id=user.id if user is not None else None)
    db.session.add(assignment)
    db.session.flush()
    audit.record("update", patient, "care team", f"therapist {therapist.id} assigned", user=user)
    return assignment


def take_on(patient: Patient, user: User) -> CareAssignment | None:
    """The signed-in therapist takes on the patient (on creation or from the patient page)."""
    therapist = db.session.scalar(select(Therapist).where(Therapist.user_id == user.id))
    if therapist is None or not therapist.active:
        return None
    return assign(patient, therapist, user)


def unassign(patient: Patient, therapist_id: int, user: User) -> bool:
    assignment = db.session.scalar(select(CareAssignment).where(CareAssignment.patient_id == patient.id,
                                                                CareAssignment.therapist_id == therapist_id))
    if assignment is None:
        return False
    db.session.delete(assignment)
    db.session.flush()
    audit.record("update", patient, "care team", f"therapist {therapist_id} no longer assigned", user=user)
    return True


# ---- break the glass --------------------------------------------------------------------------------------

def break_glass(patient: Patient, reason: str, user: User) -> AccessLog:
    """Log a therapist's access to a record they have no care relationship with, with the reason given."""
    return audit.record("view", patient, BREAK_GLASS_SUBJECT, reason, user=user)


def break_glass_entries() -> Select:
    """The break-the-glass entries of the access log (for the admins' page)."""
    return select(AccessLog).where(AccessLog.subject == BREAK_GLASS_SUBJECT).options(selectinload(AccessLog.patient))


def break_glass_count(since: datetime) -> int:
    return db.session.scalar(select(func.count(AccessLog.id)).where(
        AccessLog.subject == BREAK_GLASS_SUBJECT, AccessLog.at >= since)) or 0
