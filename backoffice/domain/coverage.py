"""The assessment of one treatment: medical or cosmetic, VAT, therapist eligibility, insurance, the matching
package rule, what is left of its cap, and who pays what, with reasons a person can read.

Pure: the caller gathers the facts (the patient's insurance on the date, the insurer's rules for that year,
what earlier treatments already used per cap group) and stores the answer with the treatment.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from . import vat as vat_rules
from .credentials import KpLevel, KpRegistration, NvhMembership
from .dutch import decimal_nl as percent  # 80 -> '80', 82.50 -> '82,5'
from .dutch import nl_date as nl  # the one Dutch date format (24-11-2026)
from .eligibility import Eligibility, eligibility_on, missing_words
from .indications import BODY_AREA_LABELS, CATEGORY_LABELS, INDICATIONS, BodyArea, Category, Indication, Technique
from .money import format_euro, round_cents
from .referrals import REFERRER_LABELS, Referral, add_months
from .texts import N_, Text, Words, as_json, join, label, lowered, msg, names
from .validators import agb_error
from .vat import VatSplit


class CapPeriod(enum.StrEnum):
    YEAR = "year"          # calendar year of the treatment date
    LIFETIME = "lifetime"  # the whole policy lifetime (every year under the same insurer and cap group)


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

    @property
    def group(self) -> str:
        return self.cap_group or f"rule-{self.id}"


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


@dataclass(frozen=True)
class Usage:
    """What earlier treatments of the patient already took from one cap group (in the period that counts)."""

    amount: Decimal = Decimal("0")
    sessions: int = 0


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
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Assessment:
        return cls(
            medical=bool(data["medical"]),
            category=Category(data["category"]),
            classification=Text.from_json(data["classification"]),
            vat=_vat_from_dict(data["vat"]),
            therapist_eligible=bool(data["therapist_eligible"]),
            therapist_reasons=tuple(Text.from_json(r) for r in data["therapist_reasons"]),
            insurance=_insurance_from_dict(data["insurance"]) if data.get("insurance") else None,
            rule=_rule_from_dict(data["rule"]) if data.get("rule") else None,
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
            "valid_until": _date_out(facts.valid_until)}


def _insurance_from_dict(data: dict[str, Any]) -> InsuranceFacts:
    return InsuranceFacts(insurer_id=data["insurer_id"], insurer_name=data["insurer_name"], uzovi=data["uzovi"],
                          package_id=data["package_id"], package_name=data["package_name"],
                          policy_number=data["policy_number"], valid_from=date.fromisoformat(data["valid_from"]),
                          valid_until=_date_in(data["valid_until"]))


def _rule_to_dict(rule: PolicyRule) -> dict[str, Any]:
    return {
        "id": rule.id, "insurer_id": rule.insurer_id, "package_id": rule.package_id, "year": rule.year,
        "label": rule.label, "categories": sorted(c.value for c in rule.categories), "cap": _dec_out(rule.cap),
        "cap_period": rule.cap_period.value, "cap_group": rule.cap_group, "percentage": str(rule.percentage),
        "max_sessions": rule.max_sessions, "waiting_months": rule.waiting_months,
        "referral_required": rule.referral_required,
        "kp_level_required": rule.kp_level_required.value if rule.kp_level_required else None,
        "body_areas": sorted(a.value for a in rule.body_areas), "technique_required": rule.technique_required,
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
    if rule.max_sessions is not None:
        parts.append(msg("at most %(sessions)s sessions a year", sessions=rule.max_sessions)
                     if rule.cap_period is CapPeriod.YEAR
                     else msg("at most %(sessions)s sessions in total", sessions=rule.max_sessions))
    if rule.waiting_months:
        parts.append(msg("waiting period %(months)s months", months=rule.waiting_months))
    if rule.referral_required:
        parts.append(label(N_("referral required")))
    if rule.kp_level_required is not None:
        parts.append(msg("KP %(level)s required", level=rule.kp_level_required.value))
    if rule.body_areas:
        parts.append(msg("only %(areas)s", areas=_names(rule.body_areas)))
    if rule.technique_required:
        parts.append(label(N_("technique must be named")))
    return msg("%(rule)s (%(conditions)s)", rule=rule.label, conditions=join(parts, "; "))


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
        and (r.package_id is None or r.package_id == insurance.package_id)
        and r.year == treatment.day.year
        and category in r.categories
    ]
    return sorted(hits, key=lambda r: (r.package_id is None, r.id))


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
        if eligibility.level is KpLevel.KWALITEITSREGISTER:
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


def _referral_reason(rule: PolicyRule, referral: Referral | None, day: date) -> tuple[bool, Text]:
    if referral is None:
        return False, msg("%(rule)s requires a referral (GP or specialist); none is recorded for this treatment.",
                          rule=rule.label)
    who = referrer_words(referral)
    if day < referral.referral_date:
        return False, msg("The referral by %(referrer)s is dated %(date)s, after the treatment on %(day)s.",
                          referrer=who, date=nl(referral.referral_date), day=nl(day))
    if day > referral.valid_until:
        return False, msg("The referral by %(referrer)s of %(date)s expired on %(until)s (last valid day).",
                          referrer=who, date=nl(referral.referral_date), until=nl(referral.valid_until))
    return True, msg("Referral by %(referrer)s of %(date)s, valid until %(until)s.",
                     referrer=who, date=nl(referral.referral_date), until=nl(referral.valid_until))


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
                   agb_ok: bool, insurance: InsuranceFacts, used: Usage, reasons: list[Words]) -> list[Words]:
    """Every condition of `rule` this treatment does not meet (a met referral condition adds to `reasons`)."""
    day = treatment.day
    failed: list[Words] = _therapist_condition_reasons(rule, therapist, eligibility, agb_ok, day)
    if rule.waiting_months:
        ends = add_months(insurance.valid_from, rule.waiting_months)
        if day < ends:
            failed.append(msg("Waiting period until %(date)s (%(months)s months from the policy start on %(start)s).",
                              date=nl(ends), months=rule.waiting_months, start=nl(insurance.valid_from)))
    if rule.referral_required:
        ok, text = _referral_reason(rule, treatment.referral, day)
        (reasons if ok else failed).append(text)
    if rule.body_areas and treatment.body_area not in rule.body_areas:
        failed.append(msg("%(rule)s covers only %(areas)s; this treatment is of the %(area)s.", rule=rule.label,
                          areas=_names(rule.body_areas), area=lowered(BODY_AREA_LABELS[treatment.body_area])))
    if rule.technique_required and treatment.technique in (None, Technique.OTHER):
        failed.append(msg("%(rule)s requires the technique to be named; none is recorded.", rule=rule.label))
    if rule.max_sessions is not None and used.sessions >= rule.max_sessions:
        if rule.cap_period is CapPeriod.YEAR:
            failed.append(msg("All %(sessions)s sessions already used this year (%(used)s used).",
                              sessions=rule.max_sessions, used=used.sessions))
        else:
            failed.append(msg("All %(sessions)s sessions already used over the policy lifetime (%(used)s used).",
                              sessions=rule.max_sessions, used=used.sessions))
    return failed


def _remaining_before(rule: PolicyRule, used_amount: Decimal, failed: list[Words]) -> Decimal | None:
    """What is left of the cap before this treatment (None: no cap); a used-up cap is a failed condition."""
    if rule.cap is None:
        return None
    zero = round_cents(Decimal("0"))
    remaining = max(rule.cap - used_amount, zero)
    if remaining <= 0:
        amounts = {"used": format_euro(used_amount), "cap": format_euro(rule.cap)}
        failed.append(msg("Yearly cap used up: %(used)s of %(cap)s already reimbursed this year.", **amounts)
                      if rule.cap_period is CapPeriod.YEAR else
                      msg("Lifetime cap used up: %(used)s of %(cap)s already reimbursed over the policy lifetime.",
                          **amounts))
    return remaining


def _payment_text(insurance: InsuranceFacts, rule: PolicyRule, price: Decimal, base: Decimal,
                  insurer_amount: Decimal, remaining_after: Decimal | None, used: Usage) -> Text:
    more: list[Words] = []
    if remaining_after is not None and rule.cap is not None:
        left = {"left": format_euro(remaining_after), "cap": format_euro(rule.cap)}
        more += ["; ", msg("%(left)s of the %(cap)s yearly cap left", **left) if rule.cap_period is CapPeriod.YEAR
                 else msg("%(left)s of the %(cap)s lifetime cap left", **left)]
    if rule.max_sessions is not None:
        more += ["; ", msg("session %(session)s of %(sessions)s", session=used.sessions + 1,
                           sessions=rule.max_sessions)]
    amounts = {"insurer": insurance.insurer_name, "amount": format_euro(insurer_amount),
               "percentage": percent(rule.percentage), "price": format_euro(price), "more": more}
    if insurer_amount < base:
        return msg("%(insurer)s pays %(amount)s (%(percentage)s %% of %(price)s, limited by the cap)%(more)s.",
                   **amounts)
    return msg("%(insurer)s pays %(amount)s (%(percentage)s %% of %(price)s)%(more)s.", **amounts)


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
    """Assess one treatment. `usage` maps cap group -> what earlier treatments used in the period that counts
    for this treatment (the caller computes it for the groups of `matching_rules`)."""
    day = treatment.day
    price = round_cents(Decimal(treatment.price))
    zero = round_cents(Decimal("0"))
    medical, category, classification = classify(treatment.indication)
    split = vat_rules.split(price, medical)

    # The therapist is judged at the KP level of the rule that will apply (the kwaliteitsregister when none does
    # or the rule names none): the same answer the claim check and the declaration get from domain.eligibility.
    applies = matching_rules(treatment, insurance, rules) if medical and insurance is not None else []
    eligibility = eligibility_on(day, therapist.memberships, therapist.registrations,
                                 applies[0].kp_level_required if applies else None)
    agb_problem = agb_error(therapist.agb_code or "")
    agb_ok = agb_problem is None
    agb_reason = (msg("Personal AGB code %(code)s is valid.", code=therapist.agb_code) if agb_problem is None
                  else msg("Personal AGB code is not valid: %(problem)s", problem=agb_problem))
    therapist_reasons: tuple[Words, ...] = (*eligibility.messages, agb_reason)
    therapist_eligible = eligibility.eligible and agb_ok
    reasons = _opening_reasons(treatment.indication, split, therapist, therapist_reasons)

    def answer(rule: PolicyRule | None, used: Usage, reimbursable: bool, insurer_amount: Decimal,
               remaining_after: Decimal | None) -> Assessment:
        return Assessment(
            medical=medical, category=category, classification=classification, vat=split,
            therapist_eligible=therapist_eligible, therapist_reasons=therapist_reasons, insurance=insurance,
            rule=rule, cap_group=rule.group if rule else None, cap_period=rule.cap_period if rule else None,
            cap=rule.cap if rule else None, cap_used_before=round_cents(used.amount),
            cap_remaining_after=remaining_after, sessions_used_before=used.sessions if rule else 0,
            reimbursable=reimbursable, insurer_amount=insurer_amount, patient_amount=price - insurer_amount,
            reasons=tuple(reasons),
        )

    def patient_pays_all(rule: PolicyRule | None = None, used: Usage | None = None,
                         remaining: Decimal | None = None) -> Assessment:
        reasons.append(msg("Not reimbursed: the patient pays %(amount)s.", amount=format_euro(price)))
        return answer(rule, used or Usage(), False, zero, remaining)

    uncovered = _uncovered_reason(treatment, medical, insurance)
    if uncovered is not None or insurance is None:  # (no insurance always has its reason)
        reasons.append(uncovered or msg("No insurance recorded on %(date)s.", date=nl(day)))
        return patient_pays_all()
    reasons.append(msg("Insurance: %(policy)s, from %(date)s.", policy=_policy_text(insurance),
                       date=nl(insurance.valid_from)))

    candidates = matching_rules(treatment, insurance, rules)
    if not candidates:
        reasons.append(msg("No rule of %(insurer)s for package %(package)s covers %(category)s in %(year)s.",
                           insurer=insurance.insurer_name, package=insurance.package_name or "-",
                           category=category_text(category), year=day.year))
        return patient_pays_all()
    rule = candidates[0]
    used = usage.get(rule.group, Usage())
    used_amount = round_cents(used.amount)
    reasons.append(msg("Rule: %(rule)s.", rule=describe_rule(rule)))

    failed = _rule_failures(rule, treatment, therapist, eligibility, agb_ok, insurance, used, reasons)
    remaining_before = _remaining_before(rule, used_amount, failed)
    if failed:
        reasons.extend(failed)
        return patient_pays_all(rule, used, remaining_before)

    base = round_cents(price * rule.percentage / 100)
    insurer_amount = min(base, remaining_before) if remaining_before is not None else base
    insurer_amount = max(insurer_amount, zero)
    remaining_after = None if remaining_before is None else remaining_before - insurer_amount
    reasons.append(_payment_text(insurance, rule, price, base, insurer_amount, remaining_after, used))
    reasons.append(msg("The patient pays %(amount)s.", amount=format_euro(price - insurer_amount)))
    return answer(rule, used, True, insurer_amount, remaining_after)
