"""Use cases for insurers and their packages. Services add and flush; the view commits."""

from __future__ import annotations

import re
from itertools import groupby

from sqlalchemy import Select, func, or_, select

from ..domain.coverage import CapPeriod
from ..domain.indications import Category
from ..domain.money import from_cents, to_cents
from ..extensions import db
from ..models import CoverageRule, Insurer, Package, Treatment


class DuplicateUzovi(ValueError):
    pass


class DuplicatePackage(ValueError):
    pass


def search_query(text: str) -> Select:
    query = select(Insurer).order_by(Insurer.active.desc(), Insurer.name, Insurer.id)
    text = (text or "").strip()
    if not text:
        return query
    return query.where(or_(Insurer.name.ilike(f"%{text}%"), Insurer.uzovi == text))


def package_counts(insurer_ids: list[int]) -> dict[int, int]:
    """Packages per insurer, for one page of the list, in one GROUP BY."""
    if not insurer_ids:
        return {}
    rows = db.session.execute(
        select(Package.insurer_id, func.count(Package.id))
        .where(Package.insurer_id.in_(insurer_ids))
        .group_by(Package.insurer_id)
    )
    return dict(rows.all())


def save_insurer(insurer: Insurer | None, data: dict) -> Insurer:
    uzovi = data["uzovi"].strip()
    taken = select(Insurer.id).where(Insurer.uzovi == uzovi)
    if insurer is not None and insurer.id is not None:
        taken = taken.where(Insurer.id != insurer.id)
    if db.session.scalar(taken) is not None:
        raise DuplicateUzovi(f"Another insurer already has UZOVI code {uzovi}.")
    if insurer is None:
        insurer = Insurer()
        db.session.add(insurer)
    insurer.name = data["name"]
    insurer.uzovi = uzovi
    insurer.claim_address = data.get("claim_address") or ""
    insurer.claim_email = data.get("claim_email") or ""
    insurer.active = bool(data.get("active"))
    db.session.flush()
    return insurer


def save_package(insurer: Insurer, package: Package | None, data: dict) -> Package:
    name = data["name"]
    # Case-insensitive, so "Plus" and "plus" do not become two packages of one insurer.
    taken = select(Package.id).where(Package.insurer_id == insurer.id,
                                     func.lower(Package.name) == name.lower())
    if package is not None and package.id is not None:
        taken = taken.where(Package.id != package.id)
    if db.session.scalar(taken) is not None:
        raise DuplicatePackage(f"{insurer.name} already has a package named {name}.")
    if package is None:
        package = Package(insurer=insurer)
        db.session.add(package)
    package.name = name
    package.description = data.get("description") or ""
    package.active = bool(data.get("active"))
    db.session.flush()
    return package


# ---- coverage rules: the insurer's conditions as data --------------------------------------------------------

RULE_FIELDS = ("package_id", "year", "label", "categories", "cap_cents", "cap_period", "cap_group", "percentage",
               "max_sessions", "waiting_months", "referral_required", "kp_level_required", "body_areas",
               "technique_required", "notes")


class RuleError(ValueError):
    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field  # the form field the message belongs to, if any


def slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")


def default_cap_group(insurer: Insurer, categories: list[str]) -> str:
    """e.g. "zilveren-kruis-acne-hair-removal": the same categories at one insurer share a cap unless told."""
    return slug(" ".join([insurer.name, *sorted(categories)]))[:100]


def rules_by_year(insurer: Insurer) -> list[tuple[int, list[CoverageRule]]]:
    """The insurer's rules, newest year first; within a year all-package rules first, then by package and label."""
    rules = db.session.scalars(
        select(CoverageRule).where(CoverageRule.insurer_id == insurer.id)
        .order_by(CoverageRule.year.desc(), CoverageRule.package_id.is_not(None), CoverageRule.package_id,
                  CoverageRule.label, CoverageRule.id)
    ).all()
    return [(year, list(group)) for year, group in groupby(rules, key=lambda r: r.year)]


def rule_form_data(rule: CoverageRule) -> dict:
    """A stored rule as the form shows it (euros, not cents)."""
    return {"cap": from_cents(rule.cap_cents) if rule.cap_cents is not None else None,
            "kp_level_required": rule.kp_level_required or ""}


def save_rule(insurer: Insurer, rule: CoverageRule | None, data: dict) -> CoverageRule:
    categories = [Category(c).value for c in data.get("categories") or ()]
    if not categories:
        raise RuleError("Choose at least one category.", "categories")
    if Category.COSMETIC.value in categories:
        raise RuleError("Cosmetic treatment is never covered.", "categories")
    package_id = data.get("package_id")
    if package_id is not None:
        package = db.session.get(Package, package_id)
        if package is None or package.insurer_id != insurer.id:
            raise RuleError("This package belongs to another insurer.", "package_id")
    cap = data.get("cap")
    values = {
        "package_id": package_id,
        "year": data["year"],
        "label": data["label"],
        "categories": categories,
        "cap_cents": to_cents(cap) if cap is not None else None,
        "cap_period": CapPeriod(data.get("cap_period") or CapPeriod.YEAR).value,
        "cap_group": data.get("cap_group") or default_cap_group(insurer, categories),
        "percentage": data["percentage"],
        "max_sessions": data.get("max_sessions"),
        "waiting_months": data.get("waiting_months") or 0,
        "referral_required": bool(data.get("referral_required")),
        "kp_level_required": data.get("kp_level_required") or None,
        "body_areas": sorted(data.get("body_areas") or ()),
        "technique_required": bool(data.get("technique_required")),
        "notes": data.get("notes") or "",
    }
    if rule is None:
        rule = CoverageRule(insurer=insurer)
        db.session.add(rule)
    for name in RULE_FIELDS:
        setattr(rule, name, values[name])
    db.session.flush()
    return rule


def copy_rule_to_next_year(rule: CoverageRule) -> CoverageRule:
    """The same conditions one year later, in the same cap group (so a lifetime cap carries over)."""
    year = rule.year + 1
    taken = select(CoverageRule.id).where(
        CoverageRule.insurer_id == rule.insurer_id, CoverageRule.year == year, CoverageRule.label == rule.label,
        CoverageRule.package_id.is_(None) if rule.package_id is None else CoverageRule.package_id == rule.package_id,
    )
    if db.session.scalar(taken) is not None:
        raise RuleError(f"{year} already has a rule \"{rule.label}\" for this package.")
    copy = CoverageRule(insurer_id=rule.insurer_id, **{name: getattr(rule, name) for name in RULE_FIELDS})
    copy.year = year
    copy.categories = list(rule.categories or ())
    copy.body_areas = list(rule.body_areas or ())
    db.session.add(copy)
    db.session.flush()
    return copy


def delete_rule(rule: CoverageRule) -> None:
    # A treatment names the rule it was assessed with (coverage_rule_id): keep that link intact.
    if db.session.scalar(select(Treatment.id).where(Treatment.coverage_rule_id == rule.id).limit(1)) is not None:
        raise RuleError("Treatments were assessed with this rule; it cannot be deleted. Change it instead, or add "
                        "a rule for the next year.")
    db.session.delete(rule)
    db.session.flush()
