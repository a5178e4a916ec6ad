"""Use cases for insurers, their packages and coverage rules. Services add and flush; the request's unit of work
commits. A refusal is a ServiceError; a view that shows it on the form first discards the unit of work."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from itertools import groupby
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import Select, func, or_, select
from sqlalchemy.exc import IntegrityError

from ..clock import utc_now
from ..domain.coverage import Assessment, CapPeriod, PackageKind, ReferrerKind, SessionPeriod
from ..domain.credentials import KpLevel
from ..domain.indications import INDICATIONS, BodyArea, Category, Technique
from ..domain.money import from_cents, to_cents
from ..errors import ServiceError
from ..extensions import db
from ..models import CoverageRule, Insurer, Package, Treatment, TreatmentRulePart
from ..paging import Keyset


class DuplicateUzovi(ServiceError, ValueError):
    pass


class DuplicatePackage(ServiceError, ValueError):
    pass


@dataclass(frozen=True)
class InsurerInput:
    name: str
    uzovi: str
    claim_address: str = ""
    claim_email: str = ""
    active: bool = True


@dataclass(frozen=True)
class PackageInput:
    name: str
    description: str = ""
    active: bool = True
    kind: PackageKind = PackageKind.SUPPLEMENTARY


@dataclass(frozen=True)
class RuleInput:
    """A coverage rule as validated by the form. `cap` in euros (None: no cap); `cap_group` "": the default group
    (insurer and categories); `package_id` None: every package of the insurer."""

    year: int
    label: str
    categories: tuple[Category, ...]
    percentage: Decimal = Decimal("100")
    package_id: int | None = None
    cap: Decimal | None = None
    cap_period: CapPeriod = CapPeriod.YEAR
    cap_group: str = ""
    max_sessions: int | None = None
    waiting_months: int = 0
    referral_required: bool = False
    kp_level_required: KpLevel | None = None
    body_areas: tuple[BodyArea, ...] = ()
    technique_required: bool = False
    notes: str = ""
    priority: int = 0
    applies_after_rule_id: int | None = None
    from_treatment_number: int | None = None
    authorisation_required: bool = False
    max_per_treatment: Decimal | None = None
    session_period: SessionPeriod | None = None
    min_age: int | None = None
    max_age: int | None = None
    referrer_kind: ReferrerKind = ReferrerKind.ANY
    referral_valid_months: int | None = None
    referral_indication_must_match: bool = False
    nvh_required: bool = True
    techniques: tuple[Technique, ...] = ()


def _taken(query: Select) -> bool:
    """Whether another row holds the value (checked first for a clear message; the unique index has the last
    word, see _flush_unique)."""
    return db.session.scalar(query) is not None


def _flush_unique(error: ServiceError) -> None:
    """Flush; a concurrent request that stored the same unique value first makes it `error`."""
    try:
        db.session.flush()
    except IntegrityError as integrity_error:
        raise error from integrity_error


# The insurer list's order, paged by key (paging.Keyset): active ones first, then by name and id.
LIST_ORDER = Keyset((Insurer.active, Insurer.name, Insurer.id), descending=(True, False, False))


def search_query(text: str) -> Select:
    """Insurers by name or UZOVI code; unordered: the list orders by LIST_ORDER."""
    query = select(Insurer)
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


def save_insurer(insurer: Insurer | None, data: InsurerInput) -> Insurer:
    uzovi = data.uzovi.strip()
    taken = select(Insurer.id).where(Insurer.uzovi == uzovi)
    if insurer is not None and insurer.id is not None:
        taken = taken.where(Insurer.id != insurer.id)
    duplicate = DuplicateUzovi(_l("Another insurer already has UZOVI code %(uzovi)s.", uzovi=uzovi))
    if _taken(taken):
        raise duplicate
    if insurer is None:
        insurer = Insurer()
        db.session.add(insurer)
    insurer.name = data.name
    insurer.uzovi = uzovi
    insurer.claim_address = data.claim_address
    insurer.claim_email = data.claim_email
    insurer.active = data.active
    _flush_unique(duplicate)
    return insurer


def save_package(insurer: Insurer, package: Package | None, data: PackageInput) -> Package:
    name = data.name
    # Case-insensitive, so "Plus" and "plus" do not become two packages of one insurer.
    taken = select(Package.id).where(Package.insurer_id == insurer.id,
                                     func.lower(Package.name) == name.lower())
    if package is not None and package.id is not None:
        taken = taken.where(Package.id != package.id)
    duplicate = DuplicatePackage(_l("%(insurer)s already has a package named %(name)s.", insurer=insurer.name,
                                   name=name))
    if _taken(taken):
        raise duplicate
    if package is None:
        package = Package(insurer=insurer)
        db.session.add(package)
    package.name = name
    package.kind = PackageKind(data.kind).value
    package.description = data.description
    package.active = data.active
    _flush_unique(duplicate)
    return package


# ---- coverage rules: the insurer's conditions as data --------------------------------------------------------

RULE_FIELDS = ("package_id", "year", "label", "categories", "cap_cents", "cap_period", "cap_group", "percentage",
               "max_sessions", "waiting_months", "referral_required", "kp_level_required", "body_areas",
               "technique_required", "notes", "priority", "applies_after_rule_id", "from_treatment_number",
               "authorisation_required", "max_per_treatment_cents", "session_period", "min_age", "max_age",
               "referrer_kind", "referral_valid_months", "referral_indication_must_match", "nvh_required",
               "techniques")


class RuleError(ServiceError, ValueError):
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
            "kp_level_required": rule.kp_level_required or "",
            "max_per_treatment": (from_cents(rule.max_per_treatment_cents)
                                  if rule.max_per_treatment_cents is not None else None),
            "session_period": rule.session_period or "",
            "nvh_optional": not rule.nvh_required,
            "percentage": rule.to_domain().percentage}


def fallback_choices(insurer: Insurer, rule: CoverageRule | None) -> list[tuple[Any, str]]:
    """The rules a rule can be a fallback after: the insurer's other rules not withdrawn, newest year first."""
    rows = db.session.scalars(
        select(CoverageRule).where(CoverageRule.insurer_id == insurer.id, CoverageRule.withdrawn_at.is_(None))
        .order_by(CoverageRule.year.desc(), CoverageRule.label, CoverageRule.id)
    ).all()
    return [(row.id, f"{row.year} – {row.label}") for row in rows if rule is None or row.id != rule.id]


def _check_rule(insurer: Insurer, data: RuleInput) -> list[str]:
    """The rule's categories as stored; refuses what no insurer covers and another insurer's package."""
    categories = [Category(c).value for c in data.categories]
    if not categories:
        raise RuleError(_l("Choose at least one category."), "categories")
    if Category.COSMETIC.value in categories:
        raise RuleError(_l("Cosmetic treatment is never covered."), "categories")
    if data.package_id is not None:
        package = db.session.get(Package, data.package_id)
        if package is None or package.insurer_id != insurer.id:
            raise RuleError(_l("This package belongs to another insurer."), "package_id")
    if data.applies_after_rule_id is not None:
        target = db.session.get(CoverageRule, data.applies_after_rule_id)
        if target is None or target.insurer_id != insurer.id:
            raise RuleError(_l("A rule can only be a fallback after a rule of the same insurer."),
                            "applies_after_rule_id")
        if target.year != data.year:
            raise RuleError(_l("A fallback rule names a rule of the same year."), "applies_after_rule_id")
    if data.min_age is not None and data.max_age is not None and data.min_age > data.max_age:
        raise RuleError(_l("The minimum age is above the maximum age."), "min_age")
    return categories


def _rule_values(insurer: Insurer, data: RuleInput, categories: list[str]) -> dict[str, Any]:
    return {
        "package_id": data.package_id,
        "year": data.year,
        "label": data.label,
        "categories": categories,
        "cap_cents": to_cents(data.cap) if data.cap is not None else None,
        "cap_period": CapPeriod(data.cap_period).value,
        "cap_group": data.cap_group or default_cap_group(insurer, categories),
        "percentage": data.percentage,
        "max_sessions": data.max_sessions,
        "waiting_months": data.waiting_months,
        "referral_required": data.referral_required,
        "kp_level_required": KpLevel(data.kp_level_required).value if data.kp_level_required else None,
        "body_areas": sorted(BodyArea(a).value for a in data.body_areas),
        "technique_required": data.technique_required,
        "notes": data.notes,
        "priority": data.priority,
        "applies_after_rule_id": data.applies_after_rule_id,
        "from_treatment_number": data.from_treatment_number,
        "authorisation_required": data.authorisation_required,
        "max_per_treatment_cents": to_cents(data.max_per_treatment) if data.max_per_treatment is not None else None,
        "session_period": SessionPeriod(data.session_period).value if data.session_period else None,
        "min_age": data.min_age,
        "max_age": data.max_age,
        "referrer_kind": ReferrerKind(data.referrer_kind).value,
        "referral_valid_months": data.referral_valid_months,
        "referral_indication_must_match": data.referral_indication_must_match,
        "nvh_required": data.nvh_required,
        "techniques": sorted(Technique(t).value for t in data.techniques),
    }


def save_rule(insurer: Insurer, rule: CoverageRule | None, data: RuleInput) -> CoverageRule:
    if rule is not None:
        _refuse_withdrawn(rule)
    values = _rule_values(insurer, data, _check_rule(insurer, data))
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
        raise RuleError(_l("%(year)s already has a rule “%(label)s” for this package.", year=year, label=rule.label))
    copy = CoverageRule(insurer_id=rule.insurer_id, **{name: getattr(rule, name) for name in RULE_FIELDS})
    copy.year = year
    copy.categories = list(rule.categories or ())
    copy.body_areas = list(rule.body_areas or ())
    copy.techniques = list(rule.techniques or ())
    copy.applies_after_rule_id = None  # the rule it fell back on is of the other year: name next year's anew
    db.session.add(copy)
    db.session.flush()
    return copy


def rules_in_use(rule_ids: list[int]) -> set[int]:
    """The rules treatments were assessed with (history depends on them: end or withdraw, never delete)."""
    if not rule_ids:
        return set()
    used = set(db.session.scalars(select(Treatment.coverage_rule_id).where(Treatment.coverage_rule_id.in_(rule_ids))
                                  .distinct()))
    # A fallback's part names its rule too, and a fallback names the rule it follows.
    used |= set(db.session.scalars(select(TreatmentRulePart.coverage_rule_id)
                                   .where(TreatmentRulePart.coverage_rule_id.in_(rule_ids)).distinct()))
    used |= set(db.session.scalars(select(CoverageRule.applies_after_rule_id)
                                   .where(CoverageRule.applies_after_rule_id.in_(rule_ids)).distinct()))
    return {rule_id for rule_id in used if rule_id is not None}


# ---- preview: what a changed rule would give, before it is saved ----------------------------------------------

PREVIEW_TREATMENTS = 10


@dataclass(frozen=True)
class PreviewLine:
    treatment_id: int
    treatment_date: date
    indication: str
    before: Assessment
    after: Assessment

    @property
    def changed(self) -> bool:
        return (self.before.insurer_amount, self.before.reimbursable) != (self.after.insurer_amount,
                                                                          self.after.reimbursable)


def preview_rule(insurer: Insurer, rule: CoverageRule | None, data: RuleInput,
                 limit: int = PREVIEW_TREATMENTS) -> list[PreviewLine]:
    """Re-assess, without storing anything, the latest `limit` treatments recorded under the insurer in the rule's
    year and categories, with the changed rule in place of the stored one (or added): before -> after. Each is
    assessed against the stored history (what earlier treatments took from the caps as they stand)."""
    from ..treatments.services import assess_treatment, prefetch_for, rules_for

    categories = _check_rule(insurer, data)
    values = _rule_values(insurer, data, categories)
    draft = CoverageRule(id=rule.id if rule is not None else 0, insurer_id=insurer.id, **values)
    if data.package_id is not None:
        draft.package = db.session.get(Package, data.package_id)
    changed = draft.to_domain()
    if draft in db.session:
        db.session.expunge(draft)
    indications = [code.value for code, info in INDICATIONS.items() if info.category.value in categories]
    treatments = db.session.scalars(
        select(Treatment).where(Treatment.insurer_id == insurer.id, Treatment.withdrawn_at.is_(None),
                                Treatment.treatment_date >= date(data.year, 1, 1),
                                Treatment.treatment_date <= date(data.year, 12, 31),
                                Treatment.indication.in_(indications))
        .order_by(Treatment.treatment_date.desc(), Treatment.id.desc()).limit(limit)
    ).all()
    prefetch_for(treatments)  # two queries, not up to two per treatment
    lines = []
    for treatment in treatments:
        rules = [r for r in rules_for(insurer.id, data.year, treatment.treatment_date) if r.id != changed.id]
        lines.append(PreviewLine(treatment.id, treatment.treatment_date, treatment.indication,
                                 treatment.stored_assessment(), assess_treatment(treatment, [*rules, changed])))
    return lines


def _refuse_withdrawn(rule: CoverageRule) -> None:
    if rule.withdrawn:
        raise RuleError(_l("This rule was withdrawn; it stays only for history. Add a new rule instead."))


def end_rule(rule: CoverageRule, ends_on: date | None) -> CoverageRule:
    """The rule no longer applies to treatments after `ends_on` (None: it applies again all year). Treatments
    already recorded keep their assessment."""
    _refuse_withdrawn(rule)
    if ends_on is not None and ends_on.year != rule.year:
        raise RuleError(_l("A rule for %(year)s ends on a day in %(year)s.", year=rule.year), "ends_on")
    rule.ends_on = ends_on
    db.session.flush()
    return rule


def withdraw_rule(rule: CoverageRule, reason: str, user=None) -> CoverageRule:
    """Withdraw a rule entered by mistake: no new assessment uses it; it stays visible, marked, for history."""
    _refuse_withdrawn(rule)
    if not reason.strip():
        raise RuleError(_l("Say why the rule is withdrawn."), "reason")
    rule.withdrawn_at = utc_now()
    rule.withdrawn_by_id = getattr(user, "id", None)
    rule.withdrawn_reason = reason.strip()
    db.session.flush()
    return rule


def delete_rule(rule: CoverageRule) -> None:
    # A treatment names the rule it was assessed with (coverage_rule_id): keep that link intact.
    if rules_in_use([rule.id]):
        raise RuleError(_l("Treatments were assessed with this rule; it cannot be deleted. End or withdraw it "
                          "instead."))
    db.session.delete(rule)
    db.session.flush()
