"""Insurers and their claim settings: find an insurer, read and save its settings, and where claim files go."""

from __future__ import annotations

from pathlib import Path

from flask import current_app
from sqlalchemy import func, select

from ..domain import claims as rules
from ..domain.claims import ClaimRules, ClaimTemplate
from ..extensions import db
from ..models import Insurer, InsurerClaimSettings
from .common import ClaimError, _l, user_id


def find_insurer(text: str) -> Insurer:
    """An insurer by UZOVI code or by name (case-insensitive, exact first, then a unique partial match)."""
    text = (text or "").strip()
    if not text:
        raise ClaimError(_l("Name the insurer by UZOVI code or name."))
    if text.isdigit():
        insurer = db.session.scalar(select(Insurer).where(Insurer.uzovi == text.zfill(4)))
        if insurer is None:
            raise ClaimError(_l("No insurer with UZOVI %(code)s.", code=text))
        return insurer
    exact = db.session.scalars(select(Insurer).where(func.lower(Insurer.name) == text.lower())).all()
    if len(exact) == 1:
        return exact[0]
    like = db.session.scalars(select(Insurer).where(func.lower(Insurer.name).contains(text.lower(),
                                                                                      autoescape=True))).all()
    if len(like) == 1:
        return like[0]
    if not like:
        raise ClaimError(_l("No insurer named “%(name)s”.", name=text))
    names = ", ".join(f"{i.name} ({i.uzovi})" for i in like)
    raise ClaimError(_l("“%(text)s” matches several insurers: %(names)s. Use the UZOVI code.", text=text, names=names))


def settings_for(insurer_id: int) -> InsurerClaimSettings:
    """The insurer's claim settings; the defaults (not yet stored) when none were saved."""
    settings = db.session.get(InsurerClaimSettings, insurer_id)
    if settings is None:
        settings = InsurerClaimSettings(insurer_id=insurer_id, direct_billing=True,
                                        deadline_months=rules.DEFAULT_DEADLINE_MONTHS, bsn_required=False)
    return settings


def stored_settings(insurer_id: int) -> InsurerClaimSettings:
    """The settings row, created (and added to the session) when missing."""
    settings = db.session.get(InsurerClaimSettings, insurer_id)
    if settings is None:
        settings = settings_for(insurer_id)
        db.session.add(settings)
    return settings


def claim_rules(settings: InsurerClaimSettings) -> ClaimRules:
    return ClaimRules(deadline_months=settings.deadline_months or rules.DEFAULT_DEADLINE_MONTHS,
                      bsn_required=bool(settings.bsn_required))


def claim_template(settings: InsurerClaimSettings) -> ClaimTemplate:
    """The insurer's columns (its saved template, else the default); the BSN column only while the insurer requires
    the BSN (the line carries no BSN otherwise, and an empty column would only confuse its desk)."""
    if settings.template:
        template = ClaimTemplate.from_config(settings.template)
        return template if settings.bsn_required else template.without_bsn()
    return ClaimTemplate.default(bsn_required=bool(settings.bsn_required))


def save_settings(insurer: Insurer, *, direct_billing: bool, deadline_months: int, bsn_required: bool,
                  template: ClaimTemplate | None, user=None) -> InsurerClaimSettings:
    settings = stored_settings(insurer.id)
    settings.direct_billing = direct_billing
    settings.deadline_months = deadline_months
    settings.bsn_required = bsn_required
    settings.template = template.to_config() if template is not None else None
    settings.updated_by_id = user_id(user)
    db.session.flush()
    return settings


def claims_dir() -> Path:
    """Where workbooks and remittance files are kept: CLAIMS_DIR (app config), by default instance/claims."""
    configured = current_app.config.get("CLAIMS_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "claims"

