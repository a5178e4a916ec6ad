"""Techniques, indications and contraindications as data: what the screening, the treatment form and the labels
read, and the admin's changes. Services flush, never commit; every change is in the access log.

The domain keeps the built-in set (domain/indications.py, domain/intake.py) as the tables' seed; `lookup` (plugged
into the domain when the app starts) answers for the codes the practice added, so code written for the built-in
set (coverage, claims, labels) takes them too.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import has_app_context
from sqlalchemy import exists, or_, select

from .. import audit
from ..domain.indications import Category, IndicationInfo, Technique, TechniqueInfo
from ..domain.intake import RuleKind, ScreeningRules, WaitUnit
from ..errors import ServiceError
from ..extensions import db
from ..models import (
    CatalogueItem,
    ClinicalContraindication,
    ClinicalIndication,
    ClinicalTechnique,
    Intake,
    Treatment,
    User,
)
from ..models.clinical import contraindication_techniques


class CodeTaken(ServiceError):
    """Another technique, indication or contraindication has this code."""


# ---- reading: the screening, the forms, the labels -----------------------------------------------------------


@dataclass(frozen=True)
class _Named:
    label: str


def lookup(kind: str, code: str) -> Any:
    """What the domain asks about a code outside its built-in set (domain.indications.set_lookup)."""
    if not has_app_context():
        return None
    with db.session.no_autoflush:
        if kind == "Indication":
            indication = _by_code(ClinicalIndication, code)
            return IndicationInfo(indication.label, Category(indication.category)) if indication else None
        if kind == "Technique":
            technique = _by_code(ClinicalTechnique, code)
            if technique is None:
                return None
            codes = db.session.scalars(select(ClinicalIndication.code).where(
                ClinicalIndication.techniques.any(ClinicalTechnique.id == technique.id))).all()
            return TechniqueInfo(technique.label, frozenset(codes))
        if kind in ("Contraindication", "Medication"):
            row = _by_code(ClinicalContraindication, code)
            return _Named(row.label) if row is not None and row.medication is (kind == "Medication") else None
    return None


def _by_code(model: Any, code: str) -> Any:
    return db.session.scalar(select(model).where(model.code == code))


def technique(code: str | None) -> ClinicalTechnique | None:
    return _by_code(ClinicalTechnique, code) if code else None


def rules_for(technique_code: str | None) -> ScreeningRules:
    """The screening rules of a technique: the active contraindications that apply to it, and its minimum age. A
    treatment without a technique (an acne treatment) has neither."""
    row = technique(technique_code)
    if row is None:
        return ScreeningRules()
    contraindications = db.session.scalars(
        select(ClinicalContraindication)
        .join(contraindication_techniques,
              contraindication_techniques.c.contraindication_id == ClinicalContraindication.id)
        .where(contraindication_techniques.c.technique_id == row.id, ClinicalContraindication.active)
        .order_by(ClinicalContraindication.id)).all()
    return ScreeningRules(contraindications=tuple(c.to_domain() for c in contraindications),
                          minimum_age=row.minimum_age)


def techniques(active_only: bool = False, keep: str | None = None) -> list[ClinicalTechnique]:
    query = select(ClinicalTechnique).order_by(ClinicalTechnique.id)
    if active_only:
        query = query.where(or_(ClinicalTechnique.active, ClinicalTechnique.code == (keep or "")))
    return list(db.session.scalars(query))


def indications(active_only: bool = False, keep: str | None = None) -> list[ClinicalIndication]:
    """The indications in list order; `active_only` leaves out the deactivated ones but `keep` (a treatment's own)."""
    query = select(ClinicalIndication).order_by(ClinicalIndication.id)
    if active_only:
        query = query.where(or_(ClinicalIndication.active, ClinicalIndication.code == (keep or "")))
    return list(db.session.scalars(query))


def contraindications() -> list[ClinicalContraindication]:
    return list(db.session.scalars(select(ClinicalContraindication).order_by(ClinicalContraindication.id)))


def fits(technique_code: str | None, indication: ClinicalIndication) -> bool:
    """Whether a treatment with this technique can be given for this indication (no technique, or "other": any)."""
    if not technique_code or technique_code == Technique.OTHER:
        return True
    return any(t.code == technique_code for t in indication.techniques)


# ---- in use: deactivate, never delete ---------------------------------------------------------------------------


def technique_in_use(row: ClinicalTechnique) -> bool:
    return bool(db.session.scalar(select(exists().where(CatalogueItem.technique == row.code))))


def indication_in_use(row: ClinicalIndication) -> bool:
    return bool(db.session.scalar(select(exists().where(Treatment.indication == row.code))))


def contraindication_in_use(row: ClinicalContraindication) -> bool:
    """Whether an intake records it (the JSON lists are searched as text: the code is quoted there)."""
    column = Intake.medications if row.medication else Intake.contraindications
    needle = f'%"{row.code}"%'
    return bool(db.session.scalar(select(exists().where(db.cast(column, db.Text).like(needle)))))


# ---- changes ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TechniqueInput:
    code: str
    label: str
    minimum_age: int | None
    active: bool = True


@dataclass(frozen=True)
class IndicationInput:
    code: str
    label: str
    category: Category
    technique_ids: tuple[int, ...] = ()
    active: bool = True


@dataclass(frozen=True)
class ContraindicationInput:
    code: str
    label: str
    medication: bool
    area_bound: bool
    rule: RuleKind
    wait_amount: int | None
    wait_unit: WaitUnit | None
    technique_ids: tuple[int, ...] = ()
    active: bool = True


def _check_code(model: Any, code: str, row: Any) -> None:
    other = _by_code(model, code)
    if other is not None and other is not row:
        raise CodeTaken(code)


def _techniques_by_id(ids: Iterable[int]) -> list[ClinicalTechnique]:
    wanted = set(ids)
    return [t for t in techniques() if t.id in wanted]


def _changes(row: Any, values: dict[str, Any]) -> list[str]:
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    return changed


def _technique_codes(rows: Iterable[ClinicalTechnique]) -> list[str]:
    return sorted(t.code for t in rows)


def _log(action: str, subject: str, changed: list[str], user: User | None) -> None:
    audit.record(action, None, subject, ("changed: " + ", ".join(changed)) if changed else "", user=user)


def save_technique(row: ClinicalTechnique | None, data: TechniqueInput, user: User | None = None) -> tuple[
        ClinicalTechnique, list[str]]:
    """Add a technique (row None) or change one; a code in use does not change (the form keeps it read-only)."""
    creating = row is None
    if row is None:
        _check_code(ClinicalTechnique, data.code, None)
        row = ClinicalTechnique(code=data.code, label=data.label, minimum_age=data.minimum_age, active=data.active)
        db.session.add(row)
        changed = ["code", "label", "minimum_age", "active"]
    else:
        changed = _changes(row, {"label": data.label, "minimum_age": data.minimum_age, "active": data.active})
    db.session.flush()
    if changed:
        _log("create" if creating else "update", f"technique {row.code}", changed, user)
    return row, changed


def save_indication(row: ClinicalIndication | None, data: IndicationInput, user: User | None = None) -> tuple[
        ClinicalIndication, list[str]]:
    creating = row is None
    chosen = _techniques_by_id(data.technique_ids)
    if row is None:
        _check_code(ClinicalIndication, data.code, None)
        row = ClinicalIndication(code=data.code, label=data.label, category=data.category.value, active=data.active)
        row.techniques = chosen
        db.session.add(row)
        changed = ["code", "label", "category", "techniques", "active"]
    else:
        changed = _changes(row, {"label": data.label, "category": data.category.value, "active": data.active})
        if _technique_codes(row.techniques) != _technique_codes(chosen):
            row.techniques = chosen
            changed.append("techniques")
    db.session.flush()
    if changed:
        _log("create" if creating else "update", f"indication {row.code}", changed, user)
    return row, changed


def save_contraindication(row: ClinicalContraindication | None, data: ContraindicationInput,
                          user: User | None = None) -> tuple[ClinicalContraindication, list[str]]:
    creating = row is None
    chosen = _techniques_by_id(data.technique_ids)
    waits = data.rule is RuleKind.WAIT_AFTER_END
    values = {
        "label": data.label, "area_bound": data.area_bound, "rule": data.rule.value,
        "wait_amount": data.wait_amount if waits else None,
        "wait_unit": data.wait_unit.value if waits and data.wait_unit else None, "active": data.active,
    }
    if row is None:
        _check_code(ClinicalContraindication, data.code, None)
        row = ClinicalContraindication(code=data.code, medication=data.medication, **values)
        row.techniques = chosen
        db.session.add(row)
        changed = ["code", "medication", *values, "techniques"]
    else:
        changed = _changes(row, values)
        if _technique_codes(row.techniques) != _technique_codes(chosen):
            row.techniques = chosen
            changed.append("techniques")
    db.session.flush()
    if changed:
        _log("create" if creating else "update", f"contraindication {row.code}", changed, user)
    return row, changed
