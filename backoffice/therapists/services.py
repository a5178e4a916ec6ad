"""Use cases for therapists and their credential history. Services add and flush; the request's unit of work
commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import gettext as _
from sqlalchemy import Select, or_, select
from sqlalchemy.orm import selectinload
from werkzeug.utils import secure_filename

from ..clock import utc_now
from ..domain.credentials import KpLevel
from ..domain.roles import Role
from ..errors import ServiceError
from ..extensions import db
from ..models import KpRegistration, NvhMembership, Therapist, User
from ..paging import Keyset

EVIDENCE_EXTENSIONS = ("pdf", "png", "jpg", "jpeg")
# Identified by the file's first bytes: the browser's content type and the file name can both be wrong.
_SIGNATURES = (
    (b"%PDF-", "application/pdf", "pdf"),
    (b"\x89PNG\r\n\x1a\n", "image/png", "png"),
    (b"\xff\xd8\xff", "image/jpeg", "jpg"),
)


class EvidenceRefused(ServiceError, ValueError):
    status = 422


@dataclass(frozen=True)
class TherapistInput:
    name: str
    agb_code: str = ""
    email: str = ""
    active: bool = True
    user_id: int | None = None  # the therapist's sign-in account, if any


@dataclass(frozen=True)
class MembershipInput:
    """An NVH membership; `valid_until` None: it runs on."""

    member_number: str
    valid_from: date
    valid_until: date | None = None


@dataclass(frozen=True)
class Evidence:
    """An uploaded file: its name as sent and its bytes."""

    filename: str
    content: bytes


@dataclass(frozen=True)
class CredentialInput:
    """A KP registration; `evidence` None keeps the stored file (if any)."""

    kp_number: str
    level: KpLevel
    period_start: date
    period_end: date
    evidence: Evidence | None = None


def evidence_mimetype(content: bytes) -> str | None:
    for signature, mimetype, _extension in _SIGNATURES:
        if content.startswith(signature):
            return mimetype
    return None


def _extension(mimetype: str) -> str:
    return next(ext for _sig, mime, ext in _SIGNATURES if mime == mimetype)


# The therapist list's order, paged by key (paging.Keyset): active ones first, then by name and id.
LIST_ORDER = Keyset((Therapist.active, Therapist.name, Therapist.id), descending=(True, False, False))


def search_query(text: str) -> Select:
    """Therapists by name or personal AGB code, with their credential history loaded for the badge; unordered:
    the list orders by LIST_ORDER."""
    query = select(Therapist).options(selectinload(Therapist.nvh_memberships),
                                      selectinload(Therapist.kp_registrations))
    text = (text or "").strip()
    if not text:
        return query
    conditions = [or_(Therapist.name.ilike(f"%{word}%"), Therapist.agb_code.like(f"%{word}%"))
                  for word in text.split()]
    return query.where(*conditions)


def linkable_users(therapist: Therapist | None) -> list[User]:
    """Therapist-role accounts not linked to another therapist (plus the one linked to this therapist)."""
    linked_elsewhere = select(Therapist.user_id).where(Therapist.user_id.is_not(None))
    if therapist is not None and therapist.id is not None:
        linked_elsewhere = linked_elsewhere.where(Therapist.id != therapist.id)
    query = (
        select(User)
        .where(User.role == Role.THERAPIST.value, User.id.not_in(linked_elsewhere))
        .order_by(User.name, User.email)
    )
    current_id = therapist.user_id if therapist is not None else None
    return [u for u in db.session.scalars(query) if u.active or u.id == current_id]


def save_therapist(therapist: Therapist | None, data: TherapistInput) -> Therapist:
    if therapist is None:
        therapist = Therapist()
        db.session.add(therapist)
    therapist.name = data.name
    therapist.agb_code = data.agb_code
    therapist.email = data.email
    therapist.active = data.active
    therapist.user_id = data.user_id
    db.session.flush()
    return therapist


def save_membership(therapist: Therapist, membership: NvhMembership | None, data: MembershipInput) -> NvhMembership:
    if membership is None:
        membership = NvhMembership(therapist=therapist)
        db.session.add(membership)
    membership.member_number = data.member_number
    membership.valid_from = data.valid_from
    membership.valid_until = data.valid_until
    db.session.flush()
    return membership


def delete_membership(membership: NvhMembership) -> None:
    db.session.delete(membership)
    db.session.flush()


def save_registration(
    therapist: Therapist,
    registration: KpRegistration | None,
    data: CredentialInput,
    verified_by: User,
) -> KpRegistration:
    """Store a KP registration; whoever saves it is recorded as having verified it, now."""
    if registration is None:
        registration = KpRegistration(therapist=therapist)
        db.session.add(registration)
    registration.kp_number = data.kp_number
    registration.level = KpLevel(data.level).value
    registration.period_start = data.period_start
    registration.period_end = data.period_end
    registration.verified_by_id = verified_by.id
    registration.verified_at = utc_now()
    if data.evidence is not None:
        attach_evidence(registration, data.evidence.filename, data.evidence.content)
    db.session.flush()
    return registration


def attach_evidence(registration: KpRegistration, filename: str, content: bytes) -> None:
    mimetype = evidence_mimetype(content)
    if mimetype is None:
        raise EvidenceRefused(_("The evidence must be a PDF, PNG or JPG file."))
    stem = (secure_filename(filename).rsplit(".", 1)[0]
            or secure_filename(f"kp-{registration.kp_number}") or "kp-evidence")
    registration.evidence = content
    registration.evidence_mimetype = mimetype
    # The stored name always ends in the extension of what the bytes really are.
    registration.evidence_filename = f"{stem[:190]}.{_extension(mimetype)}"


def delete_registration(registration: KpRegistration) -> None:
    db.session.delete(registration)
    db.session.flush()
