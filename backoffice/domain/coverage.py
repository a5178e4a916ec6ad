"""The assessment of one treatment: medical or cosmetic, VAT, therapist eligibility, insurance, the matching
package rule, what is left of its cap, and who pays what, with reasons a person can read.

Pure: the caller gathers the facts (the patient's insurance on the date, the insurer's rules for that year,
what earlier treatments already used per cap group) and stores the answer with the treatment.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from . import vat as vat_rules
from .authorisations import Authorisation
from .credentials import KpLevel, KpRegistration, NvhMembership
from .dutch import decimal_nl as percent  # 80 -> '80', 82.50 -> '82,5'
from .dutch import nl_date as nl  # the one Dutch date format (24-11-2026)
from .eligibility import Eligibility, eligibility_on, missing_words
from .indications import (
    BODY_AREA_LABELS,
    CATEGORY_LABELS,
    INDICATIONS,
    TECHNIQUE_LABELS,
    BodyArea,
    Category,
    Indication,
    Technique,
)
from .money import format_euro, round_cents
from .referrals import REFERRER_LABELS, Referral, ReferrerType, add_months
from .texts import N_, Text, Words, as_json, join, label, lowered, msg, names
from .validators import agb_error
from .vat import VatSplit


class CapPeriod(enum.StrEnum):
    YEAR = "year"          # calendar year of the treatment date
    LIFETIME = "lifetime"  # the whole policy lifetime (every year under the same insurer and cap group)


class SessionPeriod(enum.StrEnum):
    """The period a rule's session limit is counted over, apart from its euro cap's period."""

    CALENDAR_YEAR = "calendar_year"  # calendar year of the treatment date
    POLICY_YEAR = "policy_year"      # the year from the start of uninterrupted cover (its anniversary)
    LIFETIME = "lifetime"            # every treatment under the cap group
    PER_REFERRAL = "per_referral"    # the treatments under the same referral


class PackageKind(enum.StrEnum):
    BASIC = "basic"                  # basisverzekering: everyone insured with the insurer has it
    SUPPLEMENTARY = "supplementary"  # aanvullende verzekering


class ReferrerKind(enum.StrEnum):
    """Who a rule's referral must come from."""

    ANY = "any"                # GP or medical specialist
    GP = "gp"
    SPECIALIST = "specialist"  # dermatologist or other medical specialist


REFERRER_KINDS: dict[ReferrerKind, frozenset[ReferrerType]] = {
    ReferrerKind.ANY: frozenset(ReferrerType),
    ReferrerKind.GP: frozenset({ReferrerType.GP}),
    ReferrerKind.SPECIALIST: frozenset({ReferrerType.DERMATOLOGIST, ReferrerType.OTHER_SPECIALIST}),
}


@dataclass(frozen=True)
class PolicyRule:
    """One line of an insurer's conditions for one package (or every package) in one calendar year.

    Several categories in one rule share one cap (Zilveren Kruis 2025: acne and hair removal together).
    `cap_group` names the cap: usage is counted per cap group, per calendar year or over the lifetime.
    """

    id: int
    insurer_id: int
    package_id: int | None      # None: every package of the insurer
    year: int
    label: str
    categories: frozenset[Category]
    cap: Decimal | None = None              # euros; None: no cap
    cap_period: CapPeriod = CapPeriod.YEAR
    cap_group: str = ""                     # defaults to "rule-<id>" when empty
    percentage: Decimal = Decimal("100")    # share of the price the insurer pays
    max_sessions: int | None = None         # per cap period
    waiting_months: int = 0                 # from the policy's start date
    referral_required: bool = False
    kp_level_required: KpLevel | None = None
    body_areas: frozenset[BodyArea] = frozenset()   # empty: any area
    technique_required: bool = False        # the technique must be named (e.g. CZ for hair removal)
    # Stacked rules: several rules per treatment, in order (`priority`, then package-specific, then id). The first
    # rule that applies pays (its selectors: treatment number, authorisation, age); a fallback
    # (`applies_after_rule_id`) pays when the rule it names is used up, or the rest its cap left unpaid.
    priority: int = 0
    applies_after_rule_id: int | None = None
    from_treatment_number: int | None = None        # from the n-th treatment of the category (chronic list: 21)
    authorisation_required: bool = False            # a prior authorisation (machtiging) of the insurer
    max_per_treatment: Decimal | None = None        # euros per treatment
    session_period: SessionPeriod | None = None     # None: the cap period
    min_age: int | None = None                      # age on the treatment date
    max_age: int | None = None
    referrer_kind: ReferrerKind = ReferrerKind.ANY
    referral_valid_months: int | None = None        # the insurer's validity from the referral date
    referral_indication_must_match: bool = False
    nvh_required: bool = True                       # NVH membership, apart from the KP level
    techniques: frozenset[Technique] = frozenset()  # empty: any technique
    package_kind: PackageKind | None = None         # the kind of the rule's package (None: every package)

    @property
    def group(self) -> str:
        return self.cap_group or f"rule-{self.id}"

    @property
    def sessions_period(self) -> SessionPeriod:
        if self.session_period is not None:
            return self.session_period
        return SessionPeriod.CALENDAR_YEAR if self.cap_period is CapPeriod.YEAR else SessionPeriod.LIFETIME

    @property
    def sessions_key(self) -> str:
        """The usage key the session limit is counted under: the cap group when both count over the same period."""
        same = {CapPeriod.YEAR: SessionPeriod.CALENDAR_YEAR, CapPeriod.LIFETIME: SessionPeriod.LIFETIME}
        if self.sessions_period is same[self.cap_period]:
            return self.group
        return f"{self.group}@{self.sessions_period.value}"

    @property
    def basic(self) -> bool:
        return self.package_kind is PackageKind.BASIC


@dataclass(frozen=True)
class InsuranceFacts:
    insurer_id: int
    insurer_name: str
    uzovi: str
    package_id: int | None
    package_name: str
    policy_number: str
    valid_from: date
    valid_until: date | None
    package_kind: PackageKind = PackageKind.SUPPLEMENTARY
    # The first day of uninterrupted cover (consecutive records, no gap) with the same insurer and package kind,
    # and with the same insurer whatever the package (basic cover): waiting periods count from these.
    covered_since: date | None = None
    insurer_covered_since: date | None = None

    def cover_start(self, rule: PolicyRule) -> date:
        """Where `rule`'s waiting period counts from: a renewal with the same insurer does not restart it."""
        if rule.basic:
            return self.insurer_covered_since or self.covered_since or self.valid_from
        return self.covered_since or self.valid_from


@dataclass(frozen=True)
class TherapistFacts:
    name: str
    agb_code: str
    memberships: tuple[NvhMembership, ...] = ()
    registrations: tuple[KpRegistration, ...] = ()


@dataclass(frozen=True)
class TreatmentFacts:
    day: date
    indication: Indication
    body_area: BodyArea
    technique: Technique | None
    price: Decimal                    # VAT-inclusive, what the patient is charged
    referral: Referral | None = None  # the referral used for this treatment, if any
    birth_date: date | None = None    # the patient's, for age limits
    treatment_number: int | None = None  # this treatment's number among the patient's of its category (date order)
    authorisations: tuple[Authorisation, ...] = ()  # the patient's prior authorisations (with their use so far)


@dataclass(frozen=True)
class Usage:
    """What earlier treatments of the patient already took from one cap group (in the period that counts)."""

    amount: Decimal = Decimal("0")
    sessions: int = 0


@dataclass(frozen=True)
class RulePart:
    """What one rule pays of a treatment (stacked rules: each paying rule has its part)."""

    rule: PolicyRule
    amount: Decimal
    cap_used_before: Decimal
    cap_remaining_after: Decimal | None
    sessions_used_before: int
    authorisation: str = ""   # the number of the prior authorisation it paid under

    @property
    def cap_group(self) -> str:
        return self.rule.group

    @property
    def own_risk(self) -> bool:
        """Basic insurance: the patient's own risk (eigen risico) applies to this part."""
        return self.rule.basic

    def to_dict(self) -> dict[str, Any]:
        return {"rule": _rule_to_dict(self.rule), "amount": str(self.amount),
                "cap_used_before": str(self.cap_used_before),
                "cap_remaining_after": _dec_out(self.cap_remaining_after),
                "sessions_used_before": self.sessions_used_before, "authorisation": self.authorisation}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RulePart:
        return cls(rule=_rule_from_dict(data["rule"]), amount=Decimal(data["amount"]),
                   cap_used_before=Decimal(data.get("cap_used_before", "0")),
                   cap_remaining_after=_dec_in(data.get("cap_remaining_after")),
                   sessions_used_before=int(data.get("sessions_used_before", 0)),
                   authorisation=data.get("authorisation", ""))


@dataclass(frozen=True)
class Assessment:
    medical: bool
    category: Category
    classification: Words             # "medical: Acne scars (scars) is ..." / "cosmetic: ..."
    vat: VatSplit
    therapist_eligible: bool
    therapist_reasons: tuple[Words, ...]
    insurance: InsuranceFacts | None
    rule: PolicyRule | None
    cap_group: str | None
    cap_period: CapPeriod | None
    cap: Decimal | None
    cap_used_before: Decimal          # by earlier treatments in the same cap group and period
    cap_remaining_after: Decimal | None
    sessions_used_before: int
    reimbursable: bool
    insurer_amount: Decimal
    patient_amount: Decimal
    # Texts, rendered in the reader's language when shown; plain strings in assessments stored before that.
    reasons: tuple[Words, ...] = field(default_factory=tuple)
    # Each paying rule's part, in order; `insurer_amount` is their sum and `rule` the first paying rule.
    parts: tuple[RulePart, ...] = ()

    @property
    def stacked(self) -> bool:
        """More than one rule pays: documents show each rule's part."""
        return len(self.parts) > 1

    @property
    def own_risk_amount(self) -> Decimal:
        """What basic insurance pays, to which the patient's own risk (eigen risico) applies."""
        return sum((part.amount for part in self.parts if part.own_risk), Decimal("0.00"))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready (strings for Decimals and dates, Text.to_json for the sentences) so the answer can be stored
        with the treatment and shown later in the language of whoever reads it."""
        return {
            "medical": self.medical,
            "category": self.category.value,
            "classification": as_json(self.classification),
            "vat": _vat_to_dict(self.vat),
            "therapist_eligible": self.therapist_eligible,
            "therapist_reasons": [as_json(r) for r in self.therapist_reasons],
            "insurance": _insurance_to_dict(self.insurance) if self.insurance else None,
            "rule": _rule_to_dict(self.rule) if self.rule else None,
            "cap_group": self.cap_group,
            "cap_period": self.cap_period.value if self.cap_period else None,
            "cap": _dec_out(self.cap),
            "cap_used_before": str(self.cap_used_before),
            "cap_remaining_after": _dec_out(self.cap_remaining_after),
            "sessions_used_before": self.sessions_used_before,
            "reimbursable": self.reimbursable,
            "insurer_amount": str(self.insurer_amount),
            "patient_amount": str(self.patient_amount),
            "reasons": [as_json(r) for r in self.reasons],
            "parts": [part.to_dict() for part in self.parts],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Assessment:
        """Stored assessments of every age load: one stored before rules stacked gets its one rule as its part."""
        rule = _rule_from_dict(data["rule"]) if data.get("rule") else None
        if "parts" in data:
            parts = tuple(RulePart.from_dict(part) for part in data["parts"])
        elif rule is not None and data["reimbursable"]:
            parts = (RulePart(rule=rule, amount=Decimal(data["insurer_amount"]),
                              cap_used_before=Decimal(data["cap_used_before"]),
                              cap_remaining_after=_dec_in(data.get("cap_remaining_after")),
                              sessions_used_before=int(data["sessions_used_before"])),)
        else:
            parts = ()
        return cls(
            medical=bool(data["medical"]),
            category=Category(data["category"]),
            classification=Text.from_json(data["classification"]),
            vat=_vat_from_dict(data["vat"]),
            therapist_eligible=bool(data["therapist_eligible"]),
            therapist_reasons=tuple(Text.from_json(r) for r in data["therapist_reasons"]),
            insurance=_insurance_from_dict(data["insurance"]) if data.get("insurance") else None,
            rule=rule,
            cap_group=data.get("cap_group"),
            cap_period=CapPeriod(data["cap_period"]) if data.get("cap_period") else None,
            cap=_dec_in(data.get("cap")),
            cap_used_before=Decimal(data["cap_used_before"]),
            cap_remaining_after=_dec_in(data.get("cap_remaining_after")),
            sessions_used_before=int(data["sessions_used_before"]),
            reimbursable=bool(data["reimbursable"]),
            insurer_amount=Decimal(data["insurer_amount"]),
            patient_amount=Decimal(data["patient_amount"]),
            reasons=tuple(Text.from_json(r) for r in data.get("reasons", ())),
            parts=parts,
        )


# ---- serialisation helpers ------------------------------------------------------------------------


def _dec_out(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _dec_in(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _date_out(value: date | None) -> str | None:
    return None if value is None else value.isoformat()


def _date_in(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _vat_to_dict(split: VatSplit) -> dict[str, Any]:
    return {"exempt": split.exempt, "rate": str(split.rate), "legal_ground": split.legal_ground,
            "gross": str(split.gross), "net": str(split.net), "vat": str(split.vat)}


def _vat_from_dict(data: dict[str, Any]) -> VatSplit:
    return VatSplit(exempt=bool(data["exempt"]), rate=Decimal(data["rate"]), legal_ground=data["legal_ground"],
                    gross=Decimal(data["gross"]), net=Decimal(data["net"]), vat=Decimal(data["vat"]))


def _insurance_to_dict(facts: InsuranceFacts) -> dict[str, Any]:
    return {"insurer_id": facts.insurer_id, "insurer_name": facts.insurer_name, "uzovi": facts.uzovi,
            "package_id": facts.package_id, "package_name": facts.package_name,
            "policy_number": facts.policy_number, "valid_from": _date_out(facts.valid_from),
            "valid_until": _date_out(facts.valid_until), "package_kind": facts.package_kind.value,
            "covered_since": _date_out(facts.covered_since),
            "insurer_covered_since": _date_out(facts.insurer_covered_since)}


def _insurance_from_dict(data: dict[str, Any]) -> InsuranceFacts:
    return InsuranceFacts(insurer_id=data["insurer_id"], insurer_name=data["insurer_name"], uzovi=data["uzovi"],
                          package_id=data["package_id"], package_name=data["package_name"],
                          policy_number=data["policy_number"], valid_from=date.fromisoformat(data["valid_from"]),
                          valid_until=_date_in(data["valid_until"]),
                          package_kind=PackageKind(data.get("package_kind") or PackageKind.SUPPLEMENTARY.value),
                          covered_since=_date_in(data.get("covered_since")),
                          insurer_covered_since=_date_in(data.get("insurer_covered_since")))


def _rule_to_dict(rule: PolicyRule) -> dict[str, Any]:
    return {
        "id": rule.id, "insurer_id": rule.insurer_id, "package_id": rule.package_id, "year": rule.year,
        "label": rule.label, "categories": sorted(c.value for c in rule.categories), "cap": _dec_out(rule.cap),
        "cap_period": rule.cap_period.value, "cap_group": rule.cap_group, "percentage": str(rule.percentage),
        "max_sessions": rule.max_sessions, "waiting_months": rule.waiting_months,
        "referral_required": rule.referral_required,
        "kp_level_required": rule.kp_level_required.value if rule.kp_level_required else None,
        "body_areas": sorted(a.value for a in rule.body_areas), "technique_required": rule.technique_required,
        "priority": rule.priority, "applies_after_rule_id": rule.applies_after_rule_id,
        "from_treatment_number": rule.from_treatment_number, "authorisation_required": rule.authorisation_required,
        "max_per_treatment": _dec_out(rule.max_per_treatment),
        "session_period": rule.session_period.value if rule.session_period else None,
        "min_age": rule.min_age, "max_age": rule.max_age, "referrer_kind": rule.referrer_kind.value,
        "referral_valid_months": rule.referral_valid_months,
        "referral_indication_must_match": rule.referral_indication_must_match, "nvh_required": rule.nvh_required,
        "techniques": sorted(t.value for t in rule.techniques),
        "package_kind": rule.package_kind.value if rule.package_kind else None,
    }


def _rule_from_dict(data: dict[str, Any]) -> PolicyRule:
    return PolicyRule(
        id=data["id"], insurer_id=data["insurer_id"], package_id=data["package_id"], year=data["year"],
        label=data["label"], categories=frozenset(Category(c) for c in data["categories"]),
        cap=_dec_in(data["cap"]), cap_period=CapPeriod(data["cap_period"]), cap_group=data["cap_group"],
        percentage=Decimal(data["percentage"]), max_sessions=data["max_sessions"],
        waiting_months=data["waiting_months"], referral_required=data["referral_required"],
        kp_level_required=KpLevel(data["kp_level_required"]) if data["kp_level_required"] else None,
        body_areas=frozenset(BodyArea(a) for a in data["body_areas"]),
        technique_required=data["technique_required"],
        # Absent from rules stored before rules stacked: the defaults are what those rules meant.
        priority=int(data.get("priority", 0)), applies_after_rule_id=data.get("applies_after_rule_id"),
        from_treatment_number=data.get("from_treatment_number"),
        authorisation_required=bool(data.get("authorisation_required", False)),
        max_per_treatment=_dec_in(data.get("max_per_treatment")),
        session_period=SessionPeriod(data["session_period"]) if data.get("session_period") else None,
        min_age=data.get("min_age"), max_age=data.get("max_age"),
        referrer_kind=ReferrerKind(data.get("referrer_kind") or ReferrerKind.ANY.value),
        referral_valid_months=data.get("referral_valid_months"),
        referral_indication_must_match=bool(data.get("referral_indication_must_match", False)),
        nvh_required=bool(data.get("nvh_required", True)),
        techniques=frozenset(Technique(t) for t in data.get("techniques", ())),
        package_kind=PackageKind(data["package_kind"]) if data.get("package_kind") else None,
    )


# ---- wording ----------------------------------------------------------------------------------------
# Every sentence is a Text (texts.msg): English is the message id, the reader's language is chosen when shown.

# "EUR 300,00 yearly": the cap period after an amount (the `cap_period` filter of labels.py).
CAP_PERIOD_WORDS = {CapPeriod.YEAR: N_("yearly"), CapPeriod.LIFETIME: N_("lifetime")}


def category_text(category: Category) -> Text:
    """The category inside a sentence: "hair removal" (translated, lower-case)."""
    return lowered(CATEGORY_LABELS[category])


def _names(values: Iterable[Category | BodyArea]) -> Words:
    """{face, neck} -> 'face and neck'; three or more: 'a, b and c' (translated labels, in the order of the codes)."""
    labels: dict[Any, str] = {**CATEGORY_LABELS, **BODY_AREA_LABELS}
    return names([lowered(labels[v]) if v in labels else v.value.replace("_", " ")
                  for v in sorted(values, key=lambda v: v.value)])


def _classification(indication: Indication, sentence: bool = False) -> Text:
    """Why medical or cosmetic: a phrase ("medical: ...") or, as the first reason, a sentence ("Medical: ....")."""
    info = INDICATIONS[indication]
    name = label(info.label)
    if info.medical:
        if sentence:
            return msg("Medical: %(indication)s (%(category)s) is health care within the skin therapist's field.",
                       indication=name, category=category_text(info.category))
        return msg("medical: %(indication)s (%(category)s) is health care within the skin therapist's field",
                   indication=name, category=category_text(info.category))
    if sentence:
        return msg("Cosmetic: %(indication)s is purely aesthetic treatment.", indication=name)
    return msg("cosmetic: %(indication)s is purely aesthetic treatment", indication=name)


def classify(indication: Indication) -> tuple[bool, Category, Text]:
    """(medical, category, the phrase saying why)."""
    info = INDICATIONS[indication]
    return info.medical, info.category, _classification(indication)


def _cap_condition(rule: PolicyRule, cap: Decimal) -> Text:
    shared: Words = msg(", shared by %(categories)s", categories=_names(rule.categories)) \
        if len(rule.categories) > 1 else ""
    if rule.cap_period is CapPeriod.YEAR:
        return msg("up to %(cap)s yearly%(shared)s", cap=format_euro(cap), shared=shared)
    return msg("up to %(cap)s lifetime%(shared)s", cap=format_euro(cap), shared=shared)


def describe_rule(rule: PolicyRule) -> Text:
    """One line summing up a rule's conditions, e.g. for the rule list and the assessment's reasons."""
    parts: list[Words] = [f"{percent(rule.percentage)} %"]
    if rule.cap is not None:
        parts.append(_cap_condition(rule, rule.cap))
    if rule.max_per_treatment is not None:
        parts.append(msg("at most %(amount)s per treatment", amount=format_euro(rule.max_per_treatment)))
    if rule.max_sessions is not None:
        parts.append(_sessions_condition(rule, rule.max_sessions))
    if rule.waiting_months:
        parts.append(msg("waiting period %(months)s months", months=rule.waiting_months))
    if rule.referral_required:
        parts.append(label(REFERRAL_WORDS[rule.referrer_kind]))
        if rule.referral_valid_months:
            parts.append(msg("referral valid %(months)s months", months=rule.referral_valid_months))
        if rule.referral_indication_must_match:
            parts.append(label(N_("the referral must name the indication")))
    if rule.kp_level_required is not None:
        parts.append(msg("KP %(level)s required", level=rule.kp_level_required.value))
    if not rule.nvh_required:
        parts.append(label(N_("NVH membership not required")))
    if rule.body_areas:
        parts.append(msg("only %(areas)s", areas=_names(rule.body_areas)))
    if rule.techniques:
        parts.append(msg("only by %(techniques)s", techniques=_technique_names(rule.techniques)))
    if rule.technique_required:
        parts.append(label(N_("technique must be named")))
    parts.extend(_selector_conditions(rule))
    return msg("%(rule)s (%(conditions)s)", rule=rule.label, conditions=join(parts, "; "))


REFERRAL_WORDS = {ReferrerKind.ANY: N_("referral required"), ReferrerKind.GP: N_("referral by a GP required"),
                  ReferrerKind.SPECIALIST: N_("referral by a medical specialist required")}
SESSION_PERIOD_WORDS = {SessionPeriod.CALENDAR_YEAR: N_("calendar year"), SessionPeriod.POLICY_YEAR: N_("policy year"),
                        SessionPeriod.LIFETIME: N_("lifetime"), SessionPeriod.PER_REFERRAL: N_("per referral")}
PACKAGE_KIND_WORDS = {PackageKind.BASIC: N_("Basic insurance"),
                      PackageKind.SUPPLEMENTARY: N_("Supplementary insurance")}
REFERRER_KIND_WORDS = {ReferrerKind.ANY: N_("GP or medical specialist"), ReferrerKind.GP: N_("GP (huisarts)"),
                       ReferrerKind.SPECIALIST: N_("Medical specialist")}


def _sessions_condition(rule: PolicyRule, sessions: int) -> Text:
    period = rule.sessions_period
    if period is SessionPeriod.CALENDAR_YEAR:
        return msg("at most %(sessions)s sessions a year", sessions=sessions)
    if period is SessionPeriod.POLICY_YEAR:
        return msg("at most %(sessions)s sessions a policy year", sessions=sessions)
    if period is SessionPeriod.PER_REFERRAL:
        return msg("at most %(sessions)s sessions per referral", sessions=sessions)
    return msg("at most %(sessions)s sessions in total", sessions=sessions)


def _technique_names(techniques: Iterable[Technique]) -> Words:
    return names([lowered(TECHNIQUE_LABELS[t]) for t in sorted(techniques, key=lambda t: t.value)])


def _selector_conditions(rule: PolicyRule) -> list[Words]:
    """When the rule applies at all: fallback, treatment number, authorisation, age, basic insurance."""
    parts: list[Words] = []
    if rule.applies_after_rule_id is not None:
        parts.append(msg("after rule %(rule)s is used up", rule=rule.applies_after_rule_id))
    if rule.from_treatment_number:
        parts.append(msg("from treatment %(number)s of the indication group", number=rule.from_treatment_number))
    if rule.authorisation_required:
        parts.append(label(N_("prior authorisation required")))
    if rule.min_age is not None and rule.max_age is not None:
        parts.append(msg("age %(min)s to %(max)s", min=rule.min_age, max=rule.max_age))
    elif rule.min_age is not None:
        parts.append(msg("from age %(min)s", min=rule.min_age))
    elif rule.max_age is not None:
        parts.append(msg("up to age %(max)s", max=rule.max_age))
    if rule.basic:
        parts.append(label(N_("basic insurance: own risk applies")))
    return parts


def matching_rules(treatment: TreatmentFacts, insurance: InsuranceFacts | None,
                   rules: Sequence[PolicyRule]) -> list[PolicyRule]:
    """The rules that could apply: same insurer, the patient's package or all packages, the treatment's year,
    covering the indication's category; package-specific rules first, then by id."""
    if insurance is None:
        return []
    category = INDICATIONS[treatment.indication].category
    hits = [
        r for r in rules
        if r.insurer_id == insurance.insurer_id
        and (r.package_id is None or r.package_id == insurance.package_id or r.basic)
        and r.year == treatment.day.year
        and category in r.categories
    ]
    return sorted(hits, key=lambda r: (r.priority, r.package_id is None, r.id))


def insurance_covers(insurance: InsuranceFacts, day: date) -> bool:
    return insurance.valid_from <= day and (insurance.valid_until is None or day <= insurance.valid_until)


# Sentences of assessments stored before domain.eligibility worded the therapist's part: kept in the catalogue so
# a stored assessment is still shown in the reader's language.
STORED_BEFORE = (
    N_("%(rule)s requires a therapist who is an NVH member and in the KP kwaliteitsregister on %(date)s; "
       "%(therapist)s is not."),
    N_("%(rule)s requires a KP registration on %(date)s; %(therapist)s has none."),
)


def _therapist_condition_reasons(rule: PolicyRule, therapist: TherapistFacts, eligibility: Eligibility,
                                 agb_ok: bool, day: date) -> list[Words]:
    """The therapist's part of the rule: domain.eligibility's answer for the rule's KP level (the claim check and
    the declaration ask the same), naming what is missing and since when; and a valid personal AGB code."""
    failed: list[Words] = []
    if not eligibility.eligible:
        missing = missing_words(eligibility.missing)
        if not rule.nvh_required:
            failed.append(msg("%(rule)s requires a therapist with a KP registration (%(level)s) on %(date)s; "
                              "%(therapist)s: %(missing)s.", rule=rule.label, level=eligibility.level.value,
                              date=nl(day), therapist=therapist.name, missing=missing))
        elif eligibility.level is KpLevel.KWALITEITSREGISTER:
            failed.append(msg("%(rule)s requires a therapist who is an NVH member and in the KP kwaliteitsregister "
                              "on %(date)s; %(therapist)s: %(missing)s.", rule=rule.label, date=nl(day),
                              therapist=therapist.name, missing=missing))
        else:
            failed.append(msg("%(rule)s requires a therapist who is an NVH member with a KP registration on "
                              "%(date)s; %(therapist)s: %(missing)s.", rule=rule.label, date=nl(day),
                              therapist=therapist.name, missing=missing))
    if not agb_ok:
        failed.append(msg("Insurers require a valid personal AGB code of the therapist; %(therapist)s has none.",
                          therapist=therapist.name))
    return failed


def referrer_words(referral: Referral) -> list[Words]:
    """GP (huisarts) J. de Vries: the kind of referrer (translated) and the name, as a Text parameter."""
    kind = referral.referrer_type
    words: list[Words] = [label(REFERRER_LABELS[kind]) if kind in REFERRER_LABELS else str(kind)]
    if referral.referrer_name.strip():
        words += [" ", referral.referrer_name.strip()]
    return words


def referral_valid_until(rule: PolicyRule, referral: Referral) -> date:
    """The last valid day of the referral for `rule`: the insurer's validity when the rule sets one."""
    if rule.referral_valid_months:
        return add_months(referral.referral_date, rule.referral_valid_months) - timedelta(days=1)
    return referral.valid_until


def _referral_reason(rule: PolicyRule, referral: Referral | None, day: date,
                     indication: Indication) -> tuple[bool, Text]:
    if referral is None:
        if rule.referrer_kind is ReferrerKind.ANY:
            return False, msg("%(rule)s requires a referral (GP or specialist); none is recorded for this "
                              "treatment.", rule=rule.label)
        return False, msg("%(rule)s requires a referral by a %(kind)s; none is recorded for this treatment.",
                          rule=rule.label, kind=lowered(REFERRER_KIND_WORDS[rule.referrer_kind]))
    who = referrer_words(referral)
    until = referral_valid_until(rule, referral)
    if referral.referrer_type not in REFERRER_KINDS[rule.referrer_kind]:
        return False, msg("%(rule)s requires a referral by a %(kind)s; this one is by %(referrer)s.",
                          rule=rule.label, kind=lowered(REFERRER_KIND_WORDS[rule.referrer_kind]), referrer=who)
    if day < referral.referral_date:
        return False, msg("The referral by %(referrer)s is dated %(date)s, after the treatment on %(day)s.",
                          referrer=who, date=nl(referral.referral_date), day=nl(day))
    if day > until:
        if rule.referral_valid_months:
            return False, msg("The referral by %(referrer)s of %(date)s expired on %(until)s (%(rule)s accepts a "
                              "referral for %(months)s months).", referrer=who, date=nl(referral.referral_date),
                              until=nl(until), rule=rule.label, months=rule.referral_valid_months)
        return False, msg("The referral by %(referrer)s of %(date)s expired on %(until)s (last valid day).",
                          referrer=who, date=nl(referral.referral_date), until=nl(until))
    if rule.referral_indication_must_match and referral.indication != indication:
        if referral.indication is None:
            return False, msg("%(rule)s requires the referral to name the indication; the referral by "
                              "%(referrer)s names none.", rule=rule.label, referrer=who)
        return False, msg("The referral by %(referrer)s is for %(referred)s, not for %(indication)s.",
                          referrer=who, referred=lowered(INDICATIONS[referral.indication].label),
                          indication=lowered(INDICATIONS[indication].label))
    return True, msg("Referral by %(referrer)s of %(date)s, valid until %(until)s.",
                     referrer=who, date=nl(referral.referral_date), until=nl(until))


def _opening_reasons(indication: Indication, split: VatSplit, therapist: TherapistFacts,
                     therapist_reasons: tuple[Words, ...]) -> list[Words]:
    """Why medical or cosmetic, the VAT, and the therapist's credentials: the first lines of every answer."""
    reasons: list[Words] = [_classification(indication, sentence=True)]
    if split.exempt:
        reasons.append(msg("VAT: exempt (%(ground)s).", ground=split.legal_ground))
    else:
        reasons.append(msg("VAT: %(rate)s %% of %(net)s is %(vat)s, included in %(gross)s.",
                           rate=f"{split.rate:g}", net=format_euro(split.net), vat=format_euro(split.vat),
                           gross=format_euro(split.gross)))
    reasons.extend(msg("Therapist %(therapist)s: %(reason)s", therapist=therapist.name, reason=r)
                   for r in therapist_reasons)
    return reasons


def _rule_failures(rule: PolicyRule, treatment: TreatmentFacts, therapist: TherapistFacts, eligibility: Eligibility,
                   agb_ok: bool, insurance: InsuranceFacts, reasons: list[Words]) -> list[Words]:
    """Every condition of `rule` this treatment does not meet, its limits aside (a met referral condition adds to
    `reasons`)."""
    day = treatment.day
    failed: list[Words] = _therapist_condition_reasons(rule, therapist, eligibility, agb_ok, day)
    if rule.waiting_months:
        start = insurance.cover_start(rule)
        ends = add_months(start, rule.waiting_months)
        if day < ends:
            if start == insurance.valid_from:
                failed.append(msg("Waiting period until %(date)s (%(months)s months from the policy start on "
                                  "%(start)s).", date=nl(ends), months=rule.waiting_months, start=nl(start)))
            else:
                failed.append(msg("Waiting period until %(date)s (%(months)s months from the start of "
                                  "uninterrupted cover on %(start)s).", date=nl(ends), months=rule.waiting_months,
                                  start=nl(start)))
    if rule.referral_required:
        ok, text = _referral_reason(rule, treatment.referral, day, treatment.indication)
        (reasons if ok else failed).append(text)
    if rule.body_areas and treatment.body_area not in rule.body_areas:
        failed.append(msg("%(rule)s covers only %(areas)s; this treatment is of the %(area)s.", rule=rule.label,
                          areas=_names(rule.body_areas), area=lowered(BODY_AREA_LABELS[treatment.body_area])))
    if rule.technique_required and treatment.technique in (None, Technique.OTHER):
        failed.append(msg("%(rule)s requires the technique to be named; none is recorded.", rule=rule.label))
    elif rule.techniques and treatment.technique not in rule.techniques:
        failed.append(msg("%(rule)s covers only %(techniques)s; this treatment's technique is %(technique)s.",
                          rule=rule.label, techniques=_technique_names(rule.techniques),
                          technique=lowered(TECHNIQUE_LABELS[treatment.technique]) if treatment.technique
                          else label(N_("not recorded"))))
    return failed


def _sessions_used_up(rule: PolicyRule, sessions_used: int) -> Words | None:
    if rule.max_sessions is None or sessions_used < rule.max_sessions:
        return None
    amounts = {"sessions": rule.max_sessions, "used": sessions_used}
    period = rule.sessions_period
    if period is SessionPeriod.CALENDAR_YEAR:
        return msg("All %(sessions)s sessions already used this year (%(used)s used).", **amounts)
    if period is SessionPeriod.POLICY_YEAR:
        return msg("All %(sessions)s sessions already used this policy year (%(used)s used).", **amounts)
    if period is SessionPeriod.PER_REFERRAL:
        return msg("All %(sessions)s sessions under this referral already used (%(used)s used).", **amounts)
    return msg("All %(sessions)s sessions already used over the policy lifetime (%(used)s used).", **amounts)


def _cap_used_up(rule: PolicyRule, used_amount: Decimal) -> tuple[Decimal | None, Words | None]:
    """What is left of the cap before this treatment (None: no cap), and the reason when nothing is left."""
    if rule.cap is None:
        return None, None
    remaining = max(rule.cap - used_amount, round_cents(Decimal("0")))
    if remaining > 0:
        return remaining, None
    amounts = {"used": format_euro(used_amount), "cap": format_euro(rule.cap)}
    if rule.cap_period is CapPeriod.YEAR:
        return remaining, msg("Yearly cap used up: %(used)s of %(cap)s already reimbursed this year.", **amounts)
    return remaining, msg("Lifetime cap used up: %(used)s of %(cap)s already reimbursed over the policy lifetime.",
                          **amounts)


def _payment_text(insurance: InsuranceFacts, rule: PolicyRule, price: Decimal, base: Decimal,
                  insurer_amount: Decimal, remaining_after: Decimal | None, sessions_used: int,
                  limit: str) -> Text:
    more: list[Words] = []
    if remaining_after is not None and rule.cap is not None:
        left = {"left": format_euro(remaining_after), "cap": format_euro(rule.cap)}
        more += ["; ", msg("%(left)s of the %(cap)s yearly cap left", **left) if rule.cap_period is CapPeriod.YEAR
                 else msg("%(left)s of the %(cap)s lifetime cap left", **left)]
    if rule.max_sessions is not None:
        more += ["; ", msg("session %(session)s of %(sessions)s", session=sessions_used + 1,
                           sessions=rule.max_sessions)]
    amounts = {"insurer": insurance.insurer_name, "amount": format_euro(insurer_amount),
               "percentage": percent(rule.percentage), "price": format_euro(price), "more": more}
    if insurer_amount < base and limit == "cap":
        return msg("%(insurer)s pays %(amount)s (%(percentage)s %% of %(price)s, limited by the cap)%(more)s.",
                   **amounts)
    if insurer_amount < base and limit == "max":
        return msg("%(insurer)s pays %(amount)s (%(percentage)s %% of %(price)s, at most %(max)s per "
                   "treatment)%(more)s.", max=format_euro(rule.max_per_treatment or Decimal("0")), **amounts)
    if insurer_amount < base:
        return msg("%(insurer)s pays %(amount)s under %(rule)s: the rest of %(price)s the rules before it left "
                   "unpaid%(more)s.", rule=rule.label, **amounts)
    return msg("%(insurer)s pays %(amount)s (%(percentage)s %% of %(price)s)%(more)s.", **amounts)


def age_on(birth_date: date, day: date) -> int:
    """Whole years on `day` (a birthday on 29 February counts from 1 March in other years)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def _authorisation_for(rule: PolicyRule, treatment: TreatmentFacts,
                       insurance: InsuranceFacts) -> tuple[Authorisation | None, Words | None]:
    """The prior authorisation this treatment can use under `rule`, or why there is none."""
    covering = [a for a in treatment.authorisations
                if a.covers(insurance.insurer_id, treatment.indication, treatment.day)]
    usable = [a for a in covering if not a.used_up]
    if usable:
        return min(usable, key=lambda a: (a.valid_until, a.id)), None
    if covering:
        first = covering[0]
        return None, msg("%(rule)s requires a prior authorisation (machtiging); authorisation %(number)s covers at "
                         "most %(max)s treatments and all are used.", rule=rule.label, number=first.number,
                         max=first.max_treatments)
    return None, msg("%(rule)s requires a prior authorisation (machtiging) of %(insurer)s for %(indication)s on "
                     "%(date)s; none is recorded.", rule=rule.label, insurer=insurance.insurer_name,
                     indication=lowered(INDICATIONS[treatment.indication].label), date=nl(treatment.day))


def _not_applicable(rule: PolicyRule, treatment: TreatmentFacts, insurance: InsuranceFacts,
                    category: Category) -> Words | None:
    """Why `rule` does not apply to this treatment at all (its selectors), else None: the next rule may."""
    if rule.from_treatment_number:
        number = treatment.treatment_number
        if number is None or number < rule.from_treatment_number:
            return msg("%(rule)s pays from treatment %(from)s of %(category)s; this is treatment %(number)s.",
                       rule=rule.label, category=category_text(category), number=number or "?",
                       **{"from": rule.from_treatment_number})
    if rule.min_age is not None or rule.max_age is not None:
        if treatment.birth_date is None:
            return msg("%(rule)s has an age limit; the patient's date of birth is not known.", rule=rule.label)
        age = age_on(treatment.birth_date, treatment.day)
        if rule.min_age is not None and age < rule.min_age:
            return msg("%(rule)s applies from age %(min)s; the patient is %(age)s on %(date)s.", rule=rule.label,
                       min=rule.min_age, age=age, date=nl(treatment.day))
        if rule.max_age is not None and age > rule.max_age:
            return msg("%(rule)s applies up to age %(max)s; the patient is %(age)s on %(date)s.", rule=rule.label,
                       max=rule.max_age, age=age, date=nl(treatment.day))
    if rule.authorisation_required:
        _authorisation, why = _authorisation_for(rule, treatment, insurance)
        return why
    return None


@dataclass(frozen=True)
class _Outcome:
    """How one evaluated rule ended: `exhausted` when its cap or sessions were used up (or its cap ran out
    during this treatment), which is when a fallback rule naming it applies."""

    rule: PolicyRule
    exhausted: bool
    cap_used_before: Decimal
    cap_remaining: Decimal | None
    sessions_used_before: int


def _uncovered_reason(treatment: TreatmentFacts, medical: bool, insurance: InsuranceFacts | None) -> Words | None:
    """Why no rule can apply at all (cosmetic, no insurance, the insurance does not cover the day), else None."""
    day = treatment.day
    if not medical:
        return label(N_("Cosmetic treatment is never reimbursed."))
    if insurance is None:
        return msg("No insurance recorded on %(date)s.", date=nl(day))
    if not insurance_covers(insurance, day):
        if insurance.valid_until:
            return msg("Insurance %(policy)s runs from %(start)s to %(end)s and does not cover %(date)s.",
                       policy=_policy_text(insurance), start=nl(insurance.valid_from),
                       end=nl(insurance.valid_until), date=nl(day))
        return msg("Insurance %(policy)s runs from %(start)s and does not cover %(date)s.",
                   policy=_policy_text(insurance), start=nl(insurance.valid_from), date=nl(day))
    return None


def _policy_text(insurance: InsuranceFacts) -> Text:
    return msg("%(insurer)s (UZOVI %(uzovi)s), package %(package)s, policy %(policy)s",
               insurer=insurance.insurer_name, uzovi=insurance.uzovi, package=insurance.package_name or "-",
               policy=insurance.policy_number)


def assess(
    treatment: TreatmentFacts,
    therapist: TherapistFacts,
    insurance: InsuranceFacts | None,
    rules: Sequence[PolicyRule],
    usage: Mapping[str, Usage],
) -> Assessment:
    """Assess one treatment. `usage` maps cap group (and a rule's `sessions_key`) -> what earlier treatments used
    in the period that counts for this treatment (the caller computes it for the rules of `matching_rules`).

    Rules stack, in the order of `matching_rules`: the first rule whose selectors hold (treatment number,
    age, prior authorisation) decides; a fallback rule pays when the rule it names is used up or its cap ran
    out during this treatment, up to what is still unpaid. Each paying rule's part is in `parts`."""
    day = treatment.day
    price = round_cents(Decimal(treatment.price))
    zero = round_cents(Decimal("0"))
    medical, category, classification = classify(treatment.indication)
    split = vat_rules.split(price, medical)

    # The therapist is judged at the KP level of the rule that will apply (the kwaliteitsregister when none does
    # or the rule names none): the same answer the claim check and the declaration get from domain.eligibility.
    candidates = matching_rules(treatment, insurance, rules) if medical and insurance is not None else []
    primaries = [r for r in candidates if r.applies_after_rule_id is None]
    fallbacks = [r for r in candidates if r.applies_after_rule_id is not None]
    selected = [r for r in primaries
                if insurance is None or _not_applicable(r, treatment, insurance, category) is None]
    lead = selected[0] if selected else (candidates[0] if candidates else None)

    def eligibility_for(rule: PolicyRule | None) -> Eligibility:
        return eligibility_on(day, therapist.memberships, therapist.registrations,
                              rule.kp_level_required if rule else None, rule.nvh_required if rule else True)

    eligibility = eligibility_for(lead)
    agb_problem = agb_error(therapist.agb_code or "")
    agb_ok = agb_problem is None
    agb_reason = (msg("Personal AGB code %(code)s is valid.", code=therapist.agb_code) if agb_problem is None
                  else msg("Personal AGB code is not valid: %(problem)s", problem=agb_problem))
    therapist_reasons: tuple[Words, ...] = (*eligibility.messages, agb_reason)
    therapist_eligible = eligibility.eligible and agb_ok
    reasons = _opening_reasons(treatment.indication, split, therapist, therapist_reasons)

    def answer(head: _Outcome | None, parts: Sequence[RulePart]) -> Assessment:
        insurer_amount = sum((part.amount for part in parts), zero)
        rule = head.rule if head else None
        return Assessment(
            medical=medical, category=category, classification=classification, vat=split,
            therapist_eligible=therapist_eligible, therapist_reasons=therapist_reasons, insurance=insurance,
            rule=rule, cap_group=rule.group if rule else None, cap_period=rule.cap_period if rule else None,
            cap=rule.cap if rule else None, cap_used_before=head.cap_used_before if head else zero,
            cap_remaining_after=parts[0].cap_remaining_after if parts else (head.cap_remaining if head else None),
            sessions_used_before=head.sessions_used_before if head else 0,
            reimbursable=bool(parts), insurer_amount=insurer_amount, patient_amount=price - insurer_amount,
            reasons=tuple(reasons), parts=tuple(parts),
        )

    def patient_pays_all(head: _Outcome | None = None) -> Assessment:
        reasons.append(msg("Not reimbursed: the patient pays %(amount)s.", amount=format_euro(price)))
        return answer(head, ())

    uncovered = _uncovered_reason(treatment, medical, insurance)
    if uncovered is not None or insurance is None:  # (no insurance always has its reason)
        reasons.append(uncovered or msg("No insurance recorded on %(date)s.", date=nl(day)))
        return patient_pays_all()
    reasons.append(msg("Insurance: %(policy)s, from %(date)s.", policy=_policy_text(insurance),
                       date=nl(insurance.valid_from)))

    if not candidates:
        reasons.append(msg("No rule of %(insurer)s for package %(package)s covers %(category)s in %(year)s.",
                           insurer=insurance.insurer_name, package=insurance.package_name or "-",
                           category=category_text(category), year=day.year))
        return patient_pays_all()

    spent: dict[str, Usage] = dict(usage)  # usage as this treatment's own parts add to it
    parts: list[RulePart] = []
    outcomes: dict[int, _Outcome] = {}
    unpaid = price

    def evaluate(rule: PolicyRule) -> None:
        nonlocal unpaid
        used = spent.get(rule.group, Usage())
        used_amount = round_cents(used.amount)
        sessions_used = spent.get(rule.sessions_key, Usage()).sessions
        reasons.append(msg("Rule: %(rule)s.", rule=describe_rule(rule)))
        authorisation = None
        if rule.authorisation_required:
            authorisation, _why = _authorisation_for(rule, treatment, insurance)
            if authorisation is not None:
                reasons.append(msg("Prior authorisation %(number)s of %(insurer)s, valid from %(start)s to %(end)s.",
                                   number=authorisation.number, insurer=insurance.insurer_name,
                                   start=nl(authorisation.valid_from), end=nl(authorisation.valid_until)))
        failed = _rule_failures(rule, treatment, therapist, eligibility_for(rule), agb_ok, insurance, reasons)
        remaining_before, cap_reason = _cap_used_up(rule, used_amount)
        limits = [why for why in (_sessions_used_up(rule, sessions_used), cap_reason) if why is not None]
        if failed or limits:
            reasons.extend([*failed, *limits])
            outcomes[rule.id] = _Outcome(rule, not failed, used_amount, remaining_before, sessions_used)
            return
        base = round_cents(price * rule.percentage / 100)
        amount, limit = base, ""
        if rule.max_per_treatment is not None and amount > rule.max_per_treatment:
            amount, limit = round_cents(rule.max_per_treatment), "max"
        if remaining_before is not None and amount > remaining_before:
            amount, limit = remaining_before, "cap"
        if amount > unpaid:
            amount, limit = unpaid, "rest"
        amount = max(amount, zero)
        remaining_after = None if remaining_before is None else remaining_before - amount
        part = RulePart(rule=rule, amount=amount, cap_used_before=used_amount, cap_remaining_after=remaining_after,
                        sessions_used_before=sessions_used,
                        authorisation=authorisation.number if authorisation else "")
        parts.append(part)
        unpaid -= amount
        spent[rule.group] = Usage(used.amount + amount, used.sessions + 1)
        if rule.sessions_key != rule.group:
            spent[rule.sessions_key] = Usage(sessions=sessions_used + 1)
        outcomes[rule.id] = _Outcome(rule, limit == "cap", used_amount, remaining_before, sessions_used)
        reasons.append(_payment_text(insurance, rule, price, base, amount, remaining_after, sessions_used, limit))
        if rule.basic and amount > 0:
            reasons.append(msg("Basic insurance: the patient's own risk (eigen risico) applies to %(amount)s; "
                               "%(insurer)s settles it with the patient.", amount=format_euro(amount),
                               insurer=insurance.insurer_name))

    for rule in primaries:
        why = _not_applicable(rule, treatment, insurance, category)
        if why is not None:
            reasons.append(why)
            continue
        evaluate(rule)
        break  # one rule decides; fallbacks may add to it
    waiting = list(fallbacks)
    progress = True
    while waiting and progress:  # a fallback may name a fallback: evaluate each once the rule it names was
        progress = False
        for rule in list(waiting):
            target = outcomes.get(rule.applies_after_rule_id or 0)
            if target is None:
                continue
            waiting.remove(rule)
            progress = True
            if not target.exhausted or unpaid <= 0:
                continue
            why = _not_applicable(rule, treatment, insurance, category)
            if why is not None:
                reasons.append(why)
                continue
            reasons.append(msg("%(rule)s applies: %(used)s is used up.", rule=rule.label, used=target.rule.label))
            evaluate(rule)

    head = (outcomes[parts[0].rule.id] if parts
            else next(iter(outcomes.values()), None))
    if not parts:
        if not outcomes:
            reasons.append(msg("No rule of %(insurer)s applies to this treatment.", insurer=insurance.insurer_name))
        return patient_pays_all(head)
    insurer_amount = sum((part.amount for part in parts), zero)
    if len(parts) > 1:
        reasons.append(msg("The rules together pay %(amount)s.", amount=format_euro(insurer_amount)))
    reasons.append(msg("The patient pays %(amount)s.", amount=format_euro(price - insurer_amount)))
    return answer(head, parts)
