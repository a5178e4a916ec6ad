"""The practice's own details, printed on invoices and declarations. There is one Practice row."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from flask import g, has_request_context
from flask_babel import gettext as _
from sqlalchemy import select

from ..domain.validators import clean_digits, normalise_iban, normalise_postcode
from ..errors import ServiceError
from ..extensions import db
from ..models import Practice


@dataclass(frozen=True)
class PracticeDetails:
    """The practice's details as printed on invoices (the form checked each one; the service normalises)."""

    name: str
    street: str = ""
    postcode: str = ""
    city: str = ""
    kvk_number: str = ""
    vat_id: str = ""
    agb_code: str = ""
    iban: str = ""
    phone: str = ""
    email: str = ""
    website: str = ""


PRACTICE_FIELDS = tuple(f.name for f in fields(PracticeDetails))

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
JPEG_SIGNATURE = b"\xff\xd8\xff"
SVG_MIMETYPE = "image/svg+xml"


class LogoError(ServiceError):
    """The uploaded logo is not an image the invoices can print."""

    status = 422


def get_practice() -> Practice | None:
    return db.session.scalar(select(Practice).order_by(Practice.id).limit(1))


@dataclass(frozen=True)
class AccessSettings:
    """The practice's two settings about therapists' access (the defaults: no practice row yet)."""

    therapists_two_factor: bool = True          # auth/twofactor.py
    therapists_own_patients_only: bool = False  # care/services.py


_ACCESS_SETTINGS = "_practice_access_settings"


def access_settings() -> AccessSettings:
    """Both settings in one query, read once per request: every request of a signed-in therapist asks both (the
    two-factor gate and the care-relationship check)."""
    if has_request_context() and _ACCESS_SETTINGS in g:
        cached: AccessSettings = g.get(_ACCESS_SETTINGS)
        return cached
    row = db.session.execute(select(Practice.therapists_two_factor, Practice.therapists_own_patients_only)
                             .order_by(Practice.id).limit(1)).first()
    settings = AccessSettings() if row is None else AccessSettings(bool(row[0]), bool(row[1]))
    if has_request_context():
        setattr(g, _ACCESS_SETTINGS, settings)
    return settings


def forget_access_settings() -> None:
    """After either setting changed: the rest of the request reads them afresh."""
    if has_request_context():
        g.pop(_ACCESS_SETTINGS, None)


def get_or_create_practice() -> Practice:
    practice = get_practice()
    if practice is None:
        practice = Practice(name="")
        db.session.add(practice)
    return practice


def logo_mimetype(content: bytes) -> str:
    """The image type judged from the bytes themselves, never from the name or the browser's claim."""
    if content.startswith(PNG_SIGNATURE):
        return "image/png"
    if content.startswith(JPEG_SIGNATURE):
        return "image/jpeg"
    head = content[:2048].lstrip(b"\xef\xbb\xbf").lstrip().lower()
    if head.startswith((b"<?xml", b"<svg", b"<!--")) and b"<svg" in head:
        try:
            content.decode("utf-8")
        except UnicodeDecodeError:
            raise LogoError(_("An SVG logo must be saved as UTF-8 text.")) from None
        return SVG_MIMETYPE
    raise LogoError(_("The logo must be a PNG, JPEG or SVG image."))


def normalise(details: PracticeDetails) -> dict[str, str]:
    values = {field: (value or "").strip() for field, value in asdict(details).items()}
    if values["postcode"]:
        values["postcode"] = normalise_postcode(values["postcode"])
    if values["iban"]:
        values["iban"] = normalise_iban(values["iban"])
    for field in ("kvk_number", "agb_code"):
        values[field] = clean_digits(values[field])
    values["vat_id"] = clean_digits(values["vat_id"]).upper()
    return values


def update_practice(details: PracticeDetails, logo: bytes | None = None, remove_logo: bool = False) -> list[str]:
    """Save the practice details (creating the row on first save); returns the changed field names."""
    practice = get_or_create_practice()
    changed = []
    for field, value in normalise(details).items():
        if getattr(practice, field) != value:
            setattr(practice, field, value)
            changed.append(field)
    if logo:
        practice.logo_mimetype = logo_mimetype(logo)
        practice.logo = logo
        changed.append("logo")
    elif remove_logo and practice.logo is not None:
        practice.logo = practice.logo_mimetype = None
        changed.append("logo")
    db.session.flush()
    return changed
