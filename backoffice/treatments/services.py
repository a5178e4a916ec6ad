"""Recording and assessing treatments. Services add and flush; the view or CLI commits.

Assessing one treatment costs a fixed number of queries, whatever the patient's history: the patient's
insurances, the therapist's credential history, the insurer's rules for the year, the referral, and one
aggregate per cap period over earlier treatments (tests/test_treatments.py counts them). The first three are read
once per transaction (see "reference data" below), so a cascade or a bulk job reads them once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, fields, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, cast

from flask_babel import gettext as _
from sqlalchemy import Select, and_, delete, event, exists, func, or_, select, text
from sqlalchemy.orm import ORMExecuteState, Session, defer, joinedload, selectinload

from .. import audit
from ..clock import clinic_today, utc_now
from ..domain.authorisations import Authorisation
from ..domain.coverage import (
    Assessment,
    CapPeriod,
    InsuranceFacts,
    PackageKind,
    PolicyRule,
    SessionPeriod,
    TherapistFacts,
    TreatmentFacts,
    Usage,
    assess,
    describe_rule,
    matching_rules,
)
from ..domain.dutch import nl_date
from ..domain.indications import INDICATIONS, BodyArea, Indication, Technique
from ..domain.intake import Screening
from ..domain.money import format_euro, from_cents, to_cents
from ..domain.months import Month
from ..domain.referrals import add_months
from ..domain.texts import Text
from ..errors import ServiceError
from ..extensions import db
from ..formtools import month_arg
from ..models import (
    CatalogueItem,
    ClaimLine,
    CoverageRule,
    Insurance,
    Insurer,
    Invoice,
    InvoicedTreatment,
    InvoiceLine,
    KpRegistration,
    NvhMembership,
    Package,
    Patient,
    PriorAuthorisation,
    Referral,
    Therapist,
    Treatment,
    TreatmentCorrection,
    TreatmentRulePart,
    User,
)
from ..paging import Cursor, Keyset, Page


class TreatmentBlocked(ServiceError):
    """The intake screening has blocking findings: the treatment may not be recorded."""

    def __init__(self, screening: Screening):
        self.screening = screening
        super().__init__("; ".join(str(f.message) for f in screening.blocking))


def _package_kind(insurance: Insurance) -> PackageKind:
    return PackageKind(insurance.package.kind) if insurance.package else PackageKind.SUPPLEMENTARY


def _covered_since(insurance: Insurance, history: Iterable[Insurance], same: Any) -> date:
    """The first day of uninterrupted cover ending in `insurance`, over the records `same(other)` accepts:
    consecutive records with no gap (a renewal starting the day after, or overlapping) extend it backwards."""
    start = insurance.valid_from
    others = sorted((other for other in history if other.id != insurance.id and same(other)),
                    key=lambda other: other.valid_from, reverse=True)
    moved = True
    while moved:
        moved = False
        for other in others:
            if other.valid_from < start and (other.valid_until is None
                                             or other.valid_until >= start - timedelta(days=1)):
                start, moved = other.valid_from, True
    return start


def insurance_facts(insurance: Insurance | None, history: Iterable[Insurance] = ()) -> InsuranceFacts | None:
    """The facts of `insurance`; `history` (the patient's other records, not withdrawn) gives the first day of
    uninterrupted cover with the same insurer (and package kind), where waiting periods count from."""
    if insurance is None:
        return None
    kind = _package_kind(insurance)
    records = list(history)
    return InsuranceFacts(
        insurer_id=insurance.insurer_id, insurer_name=insurance.insurer.name, uzovi=insurance.insurer.uzovi,
        package_id=insurance.package_id, package_name=insurance.package.name if insurance.package else "",
        policy_number=insurance.policy_number, valid_from=insurance.valid_from, valid_until=insurance.valid_until,
        package_kind=kind,
        covered_since=_covered_since(insurance, records, lambda other: other.insurer_id == insurance.insurer_id
                                     and _package_kind(other) is kind),
        insurer_covered_since=_covered_since(insurance, records,
                                             lambda other: other.insurer_id == insurance.insurer_id),
    )


# ---- reference data, read once per transaction -----------------------------------------------------------------
# What an assessment reads besides the treatment's own history (a patient's insurance records, a therapist's
# credentials, an insurer's rules of a year) is read once per transaction and kept in the session: bulk work (a
# cascade of re-assessments, bulk invoicing, assessing a year in `bench/assess.py`) assesses many treatments in one
# transaction. The memo is dropped when the transaction ends, when a flush writes an object of these kinds, when
# the session holds unflushed changes to one, and when an UPDATE, DELETE or INSERT of one (or SQL text) runs through
# the session.

_MEMO = "assessment_memo"
_REFERENCE_DATA = (CoverageRule, Package, Insurer, Insurance, Therapist, NvhMembership, KpRegistration)


def _pending_reference_data(session: Session) -> bool:
    return any(isinstance(obj, _REFERENCE_DATA)
               for objects in (session.new, session.dirty, session.deleted) for obj in objects)


def _memo() -> dict[tuple[Any, ...], Any]:
    """The transaction's memo of reference data (empty when something may have changed it)."""
    session = db.session()
    memo = cast(dict[tuple[Any, ...], Any] | None, session.info.get(_MEMO))
    if memo is None:
        memo = session.info[_MEMO] = {}
    elif memo and _pending_reference_data(session):
        memo.clear()
    return memo


def _forget(session: Session, *_args: Any) -> None:
    session.info.pop(_MEMO, None)


@event.listens_for(Session, "after_flush")
def _forget_written(session: Session, _context: Any) -> None:
    if _MEMO in session.info and _pending_reference_data(session):
        _forget(session)


_REFERENCE_TABLES = frozenset(model.__tablename__ for model in _REFERENCE_DATA)


@event.listens_for(Session, "do_orm_execute")
def _forget_after_dml(state: ORMExecuteState) -> None:
    """An UPDATE, DELETE or INSERT of reference data, or any SQL text that is not a SELECT, drops the memo."""
    if state.is_select or _MEMO not in state.session.info:
        return
    table = getattr(state.statement, "table", None)
    if table is None or getattr(table, "name", None) in _REFERENCE_TABLES:
        _forget(state.session)


for _event in ("after_commit", "after_rollback", "after_soft_rollback"):
    event.listen(Session, _event, _forget)


def _insurances_until(patient_id: int, day: date) -> tuple[Insurance | None, list[Insurance]]:
    """The patient's insurance on `day` (with overlapping policies, the one that started last) and every record
    not withdrawn that started by then (for uninterrupted cover): one statement per transaction and patient."""
    memo = _memo()
    key = ("insurances", patient_id)
    if key not in memo:
        memo[key] = _insurance_records([patient_id])[patient_id]
    records = [r for r in cast(list[Insurance], memo[key]) if r.valid_from <= day]
    current = next((r for r in records if r.valid_until is None or r.valid_until >= day), None)
    return current, records


def _insurance_records(patient_ids: Iterable[int]) -> dict[int, list[Insurance]]:
    """Each patient's insurance records not withdrawn, the one that started last first: one query per
    PREFETCH_CHUNK patients; a patient without any gets an empty list."""
    wanted = sorted(set(patient_ids))
    found: dict[int, list[Insurance]] = {pid: [] for pid in wanted}
    for start in range(0, len(wanted), PREFETCH_CHUNK):
        chunk = wanted[start:start + PREFETCH_CHUNK]
        for record in db.session.scalars(
            select(Insurance).options(joinedload(Insurance.insurer), joinedload(Insurance.package))
            .where(Insurance.patient_id.in_(chunk), Insurance.withdrawn_at.is_(None))
            .order_by(Insurance.valid_from.desc(), Insurance.id.desc())
        ).unique():
            found[record.patient_id].append(record)
    return found


def prefetch_insurances(patient_ids: Iterable[int]) -> None:
    """Read the insurance records of many patients at once into the transaction's memo, so that assessing their
    treatments reads none of them again (`_insurances_until`). For work that assesses the treatments of many
    patients in one transaction: the rule editor's preview, a batch of assessments (assessed one by one, the query
    ran for nearly every treatment: a batch holds as many patients as treatments)."""
    memo = _memo()
    missing = [pid for pid in patient_ids if ("insurances", pid) not in memo]
    for pid, records in _insurance_records(missing).items():
        memo[("insurances", pid)] = records


PREFETCH_CHUNK = 500  # patients or referrals per query (bound parameters stay well under every driver's limit)


def prefetch_referrals(referral_ids: Iterable[int | None]) -> None:
    """Load many referrals in one query per PREFETCH_CHUNK, so that `treatment_facts` finds each in the session
    instead of reading it; the memo holds them for the transaction (the session itself keeps loaded objects only
    while something refers to them)."""
    memo = _memo()
    held = cast(dict[int, Referral], memo.setdefault(("referrals",), {}))
    wanted = sorted({rid for rid in referral_ids if rid is not None and rid not in held})
    for start in range(0, len(wanted), PREFETCH_CHUNK):
        chunk = wanted[start:start + PREFETCH_CHUNK]
        for referral in db.session.scalars(select(Referral).where(Referral.id.in_(chunk))):
            held[referral.id] = referral


def prefetch_for(treatments: Iterable[Treatment]) -> None:
    """What assessing these treatments reads per treatment, read for all of them at once: their patients'
    insurance records and their referrals (two queries instead of up to two per treatment)."""
    chosen = list(treatments)
    prefetch_insurances(treatment.patient_id for treatment in chosen)
    prefetch_referrals(treatment.referral_id for treatment in chosen)


def therapist_facts(therapist_id: int) -> TherapistFacts:
    """The therapist's name, AGB code and credential history: read once per transaction."""
    memo = _memo()
    key = ("therapist", therapist_id)
    if key not in memo:
        therapist = db.session.scalars(
            select(Therapist)
            .options(selectinload(Therapist.nvh_memberships), selectinload(Therapist.kp_registrations))
            .where(Therapist.id == therapist_id)
        ).one()
        memberships, registrations = therapist.credential_history()
        memo[key] = TherapistFacts(therapist.name, therapist.agb_code, tuple(memberships), tuple(registrations))
    return cast(TherapistFacts, memo[key])


def rules_for(insurer_id: int, year: int, day: date | None = None) -> list[PolicyRule]:
    """The rules new assessments use: never a withdrawn one; with `day`, none that ended before it. The insurer's
    rules of the year are read once per transaction."""
    memo = _memo()
    key = ("rules", insurer_id, year)
    if key not in memo:
        query = (select(CoverageRule, func.coalesce(Package.kind, "")).outerjoin(Package)  # the package kind too
                 .where(CoverageRule.insurer_id == insurer_id, CoverageRule.year == year,
                        CoverageRule.withdrawn_at.is_(None)))
        memo[key] = [(row.ends_on, row.to_domain(kind or None))
                     for row, kind in db.session.execute(query.order_by(CoverageRule.id))]
    rows = cast(list[tuple[date | None, PolicyRule]], memo[key])
    return [rule for ends_on, rule in rows if day is None or ends_on is None or ends_on >= day]


def fixed_treatment():
    """SQL: the treatment is on an invoice (draft or issued, not credited) or in a live claim: its assessment is
    never changed again, and what it took from a cap stays taken."""
    on_invoice = exists().where(InvoicedTreatment.treatment_id == Treatment.id)
    claimed = exists().where(InvoiceLine.treatment_id == Treatment.id, ClaimLine.invoice_line_id == InvoiceLine.id,
                             ClaimLine.live.is_(True))
    return or_(on_invoice, claimed)


def usage_before(patient_id: int, rules: Iterable[PolicyRule], day: date,
                 before_id: int | None = None, *, policy_year_from: date | None = None,
                 referral_id: int | None = None) -> dict[str, Usage]:
    """What the patient's other reimbursable treatments took from each rule's cap group, as this treatment sees it.

    Counted: every earlier treatment (an earlier date, or the same date and recorded before `before_id`), and
    every later one that is fixed (invoiced or claimed: its amount can no longer change, so an earlier treatment
    recorded late gets only what is left). Later treatments that are not fixed do not count: they are re-assessed
    after this one (`reassess_later`), so the amounts under one cap never add up to more than the cap, whatever
    order the treatments are recorded in. A yearly cap counts the calendar year of `day`; a lifetime cap counts
    every year. At most one query per cap period.

    Amounts come from the rule parts (treatment_rule_parts): a treatment two rules paid charges each rule's cap
    group with that rule's part. A session limit with a period of its own (policy year from `policy_year_from`,
    per referral: `referral_id`) is counted under the rule's `sessions_key`: at most one query per such period.
    """
    by_period: dict[str, dict[str, str]] = {}  # window -> {usage key: cap group}
    for rule in rules:
        by_period.setdefault(rule.cap_period.value, {})[rule.group] = rule.group
        if rule.sessions_key != rule.group:
            by_period.setdefault(rule.sessions_period.value, {})[rule.sessions_key] = rule.group
    earlier = Treatment.treatment_date < day
    if before_id is None:
        earlier = Treatment.treatment_date <= day
    else:
        earlier = or_(earlier, and_(Treatment.treatment_date == day, Treatment.id < before_id))
    counted = or_(earlier, fixed_treatment())
    if before_id is not None:
        counted = and_(counted, Treatment.id != before_id)
    usage: dict[str, Usage] = {}
    for period, keys in by_period.items():
        groups = set(keys.values())
        conditions = [Treatment.patient_id == patient_id, Treatment.reimbursable,
                      TreatmentRulePart.cap_group.in_(groups), Treatment.withdrawn_at.is_(None), counted]
        if period in (CapPeriod.YEAR.value, SessionPeriod.CALENDAR_YEAR.value) or (
                period == SessionPeriod.POLICY_YEAR.value and policy_year_from is None):
            conditions += [Treatment.treatment_date >= date(day.year, 1, 1),
                           Treatment.treatment_date <= date(day.year, 12, 31)]
        elif period == SessionPeriod.POLICY_YEAR.value and policy_year_from is not None:
            first, last = policy_year(policy_year_from, day)
            conditions += [Treatment.treatment_date >= first, Treatment.treatment_date <= last]
        elif period == SessionPeriod.PER_REFERRAL.value:
            if referral_id is None:
                continue  # no referral: nothing counted under one
            conditions.append(Treatment.referral_id == referral_id)
        rows = db.session.execute(
            select(TreatmentRulePart.cap_group, func.sum(TreatmentRulePart.insurer_amount_cents),
                   func.count(func.distinct(Treatment.id)))
            .join(Treatment, Treatment.id == TreatmentRulePart.treatment_id)
            .where(*conditions).group_by(TreatmentRulePart.cap_group)
        )
        found = {str(group): Usage(from_cents(int(cents or 0)), int(sessions)) for group, cents, sessions in rows}
        for key, group in keys.items():
            if group in found:
                usage[key] = found[group]
    return usage


def policy_year(start: date, day: date) -> tuple[date, date]:
    """The policy year around `day` of cover that started on `start`: from the last anniversary on or before
    `day` through the day before the next one."""
    years = day.year - start.year - ((day.month, day.day) < (start.month, start.day))
    first = add_months(start, 12 * max(years, 0))
    return first, add_months(first, 12) - timedelta(days=1)


def assess_facts(patient_id: int, therapist_id: int, facts: TreatmentFacts,
                 before_id: int | None = None, referral_id: int | None = None,
                 rules: list[PolicyRule] | None = None) -> Assessment:
    """Gather what the assessment needs and assess. Queries: the insurances, the rules, the therapist, the cap
    usage (one per period), and only when a candidate rule asks for it: the treatment's number in its category,
    the patient's date of birth, the prior authorisations. `rules`: assess with these instead of the stored ones
    (the rule editor's preview)."""
    insurance, history = _insurances_until(patient_id, facts.day)
    insured = insurance_facts(insurance, history)
    if rules is None:
        # Cosmetic treatment is never reimbursed: no rule can apply, so none are read.
        medical = INDICATIONS[facts.indication].medical
        rules = rules_for(insurance.insurer_id, facts.day.year, facts.day) if insurance and medical else []
    candidates = matching_rules(facts, insured, rules)
    facts = _selector_facts(patient_id, facts, candidates, before_id)
    policy_start = insured.covered_since if insured else None
    usage = usage_before(patient_id, candidates, facts.day, before_id, policy_year_from=policy_start,
                         referral_id=referral_id) if candidates else {}
    return assess(facts, therapist_facts(therapist_id), insured, rules, usage)


def _earlier(day: date, before_id: int | None):
    """SQL: the treatment comes before one on `day` (recorded as `before_id`; None: a new one, recorded last)."""
    if before_id is None:
        return Treatment.treatment_date <= day
    return or_(Treatment.treatment_date < day, and_(Treatment.treatment_date == day, Treatment.id < before_id))


def _selector_facts(patient_id: int, facts: TreatmentFacts, candidates: list[PolicyRule],
                    before_id: int | None) -> TreatmentFacts:
    """Add what the candidate rules' selectors ask for: the treatment's number among the patient's treatments of
    its category (date order), the patient's age, the prior authorisations with their use so far."""
    changes: dict[str, Any] = {}
    if any(rule.from_treatment_number for rule in candidates):
        category = INDICATIONS[facts.indication].category
        same = [code.value for code, info in INDICATIONS.items() if info.category is category]
        conditions = [Treatment.patient_id == patient_id, Treatment.indication.in_(same),
                      Treatment.withdrawn_at.is_(None), _earlier(facts.day, before_id)]
        if before_id is not None:
            conditions.append(Treatment.id != before_id)
        changes["treatment_number"] = int(db.session.scalar(select(func.count(Treatment.id))
                                                            .where(*conditions)) or 0) + 1
    if facts.birth_date is None and any(r.min_age is not None or r.max_age is not None for r in candidates):
        changes["birth_date"] = db.session.scalar(select(Patient.date_of_birth).where(Patient.id == patient_id))
    if not facts.authorisations and any(rule.authorisation_required for rule in candidates):
        changes["authorisations"] = authorisations_on(patient_id, facts.day, before_id)
    return replace(facts, **changes) if changes else facts


def authorisations_on(patient_id: int, day: date, before_id: int | None = None) -> tuple[Authorisation, ...]:
    """The patient's prior authorisations valid on `day` (not withdrawn), each with the treatments already paid
    under it (its number on an earlier rule part): two statements."""
    rows = db.session.scalars(
        select(PriorAuthorisation).where(PriorAuthorisation.patient_id == patient_id,
                                         PriorAuthorisation.withdrawn_at.is_(None),
                                         PriorAuthorisation.valid_from <= day, PriorAuthorisation.valid_until >= day)
        .order_by(PriorAuthorisation.valid_until, PriorAuthorisation.id)
    ).all()
    if not rows:
        return ()
    conditions = [Treatment.patient_id == patient_id, Treatment.withdrawn_at.is_(None), _earlier(day, before_id),
                  TreatmentRulePart.authorisation_number.in_([row.number for row in rows])]
    if before_id is not None:
        conditions.append(Treatment.id != before_id)
    used = dict(db.session.execute(
        select(TreatmentRulePart.authorisation_number, func.count(func.distinct(Treatment.id)))
        .join(Treatment, Treatment.id == TreatmentRulePart.treatment_id)
        .where(*conditions).group_by(TreatmentRulePart.authorisation_number)
    ).all())
    return tuple(row.to_domain(used=int(used.get(row.number, 0))) for row in rows)


def treatment_facts(treatment: Treatment) -> TreatmentFacts:
    referral = db.session.get(Referral, treatment.referral_id) if treatment.referral_id else None
    if referral is not None and referral.withdrawn:
        referral = None  # a withdrawn referral supports no (re-)assessment
    technique = treatment.catalogue_item.technique
    return TreatmentFacts(
        day=treatment.treatment_date, indication=Indication(treatment.indication),
        body_area=BodyArea(treatment.body_area), technique=Technique(technique) if technique else None,
        price=from_cents(treatment.price_cents), referral=referral.to_domain() if referral else None,
    )


def store_assessment(treatment: Treatment, assessment: Assessment) -> None:
    """Store the answer with the treatment, and each paying rule's part (what it charges to its cap group)."""
    if treatment.id is not None and (treatment.assessment or {}).get("reimbursable"):
        # Parts exist only for what paid: a new treatment, or one that paid nothing, has none to replace.
        db.session.execute(delete(TreatmentRulePart).where(TreatmentRulePart.treatment_id == treatment.id))
    for position, part in enumerate(assessment.parts):
        db.session.add(TreatmentRulePart(
            treatment=treatment, coverage_rule_id=part.rule.id, position=position, cap_group=part.cap_group,
            insurer_amount_cents=to_cents(part.amount), own_risk=part.own_risk,
            authorisation_number=part.authorisation,
        ))
    treatment.medical = assessment.medical
    treatment.vat_rate = int(assessment.vat.rate)
    treatment.net_cents = to_cents(assessment.vat.net)
    treatment.vat_cents = to_cents(assessment.vat.vat)
    treatment.reimbursable = assessment.reimbursable
    treatment.insurer_id = assessment.insurance.insurer_id if assessment.insurance else None
    treatment.coverage_rule_id = assessment.rule.id if assessment.rule else None
    treatment.cap_group = assessment.cap_group
    treatment.insurer_amount_cents = to_cents(assessment.insurer_amount)
    treatment.patient_amount_cents = to_cents(assessment.patient_amount)
    treatment.assessment = assessment.to_dict()
    treatment.assessed_at = utc_now()


def assess_treatment(treatment: Treatment, rules: list[PolicyRule] | None = None) -> Assessment:
    """Assess a treatment as it stands now (rules and history of today), without storing anything; `rules`:
    with these rules instead of the stored ones (a preview)."""
    return assess_facts(treatment.patient_id, treatment.therapist_id, treatment_facts(treatment), treatment.id,
                        referral_id=treatment.referral_id, rules=rules)


@dataclass
class TreatmentInput:
    """What the treatment form gives (already validated field by field)."""

    therapist_id: int
    treatment_date: date
    catalogue_item_id: int
    indication: str
    body_area: str
    price_cents: int
    session_number: int = 1
    series_total: int | None = None
    price_change_reason: str = ""
    referral_id: int | None = None
    device: str = ""
    wavelength_nm: int | None = None
    fluence_j_cm2: object = None
    pulse_width_ms: object = None
    spot_size_mm: object = None
    passes: int | None = None
    fitzpatrick: int | None = None
    notes: str = ""


class PriceNotPositive(ServiceError):
    status = 422


def _refuse_free(data: TreatmentInput) -> None:
    if data.price_cents <= 0:
        raise PriceNotPositive(_("A treatment's price must be more than EUR 0,00."))


def record_treatment(patient: Patient, data: TreatmentInput, screening: Screening,
                     user: User | None = None, cascaded: list[CapChange] | None = None) -> Treatment:
    """Record a treatment after its screening: refused while a blocking finding applies.

    `user` is the staff member recording it (None for the demo data and other system work). Later treatments
    under the same cap that are on no invoice and in no claim are re-assessed (caps hold in any recording order);
    what changed is appended to `cascaded` when given."""
    if not screening.allowed:
        raise TreatmentBlocked(screening)
    _refuse_free(data)
    lock_patient_caps(patient.id)
    treatment = Treatment(patient_id=patient.id, recorded_by_id=user.id if user is not None else None, **vars(data))
    treatment.catalogue_item = db.session.get_one(CatalogueItem, data.catalogue_item_id)
    db.session.add(treatment)
    db.session.flush()
    assessment = assess_treatment(treatment)
    store_assessment(treatment, assessment)
    db.session.flush()
    audit.record("create", patient, f"treatment {treatment.id}",
                 f"{nl_date(treatment.treatment_date)} {treatment.indication}; "
                 f"{'reimbursable' if assessment.reimbursable else 'not reimbursable'}")
    changes = reassess_later(patient.id, _key(treatment), treatment.medical,
                             f"treatment {treatment.id} was recorded", user, exclude=treatment.id)
    if cascaded is not None:
        cascaded.extend(changes)
    return treatment


def reassess(treatment: Treatment) -> tuple[Assessment, Assessment]:
    """Explicitly re-assess with today's rules and history; the change is stored and logged."""
    if treatment.withdrawn:
        raise TreatmentWithdrawn()
    before = treatment.stored_assessment()
    after = assess_treatment(treatment)
    store_assessment(treatment, after)
    db.session.flush()
    audit.record("update", treatment.patient_id, f"treatment {treatment.id}",
                 f"re-assessed: insurer amount {before.insurer_amount} -> {after.insurer_amount}, "
                 f"reimbursable {before.reimbursable} -> {after.reimbursable}")
    return before, after


# ---- corrections: never a silent edit -----------------------------------------------------------


class TreatmentInvoiced(ServiceError):
    """The treatment is on an invoice: an issued one is corrected by a credit note, a draft one after removing
    the line from the draft."""

    status = 409

    def __init__(self, invoice: Invoice):
        self.invoice = invoice
        if invoice.issued:
            message = _("This treatment is on invoice %(number)s: correct it with a credit note on that invoice.",
                        number=invoice.number)
        else:
            message = _("This treatment is on a draft invoice: remove it from the draft invoice first.")
        super().__init__(message)


class NothingChanged(ServiceError):
    """The correction changes no field."""

    status = 422

    def __init__(self) -> None:
        super().__init__(_("Nothing was changed: change a field or cancel."))


# The fields of a treatment a correction may change (all of TreatmentInput), in the form's order.
CORRECTABLE_FIELDS = tuple(field.name for field in fields(TreatmentInput))


def _json_value(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _same(old: Any, new: Any) -> bool:
    if isinstance(old, Decimal) or isinstance(new, Decimal):
        return (Decimal(str(old)) if old is not None else None) == (Decimal(str(new)) if new is not None else None)
    return bool(old == new)


def invoice_of(treatment: Treatment) -> Invoice | None:
    """The invoice (draft or issued, not credited) the treatment is on now, if any."""
    return db.session.scalar(
        select(Invoice).join(InvoiceLine, InvoiceLine.invoice_id == Invoice.id)
        .join(InvoicedTreatment, InvoicedTreatment.invoice_line_id == InvoiceLine.id)
        .where(InvoicedTreatment.treatment_id == treatment.id)
    )


def correct_treatment(treatment: Treatment, data: TreatmentInput, reason: str,
                      user: User | None = None, screening: Screening | None = None,
                      cascaded: list[CapChange] | None = None) -> tuple[TreatmentCorrection, list[str]]:
    """Correct a recorded treatment that is on no invoice: the earlier values are kept in a TreatmentCorrection
    (who, when, why), the treatment is re-assessed and the correction is logged (field names, never values).
    `screening` is the intake screening on the corrected date and body area: a correction to a day or area the
    screening refuses is refused as recording it would be.

    Returns the correction and what the re-assessment changed, in words."""
    if treatment.withdrawn:
        raise TreatmentWithdrawn()
    if not reason.strip():
        raise ServiceError(_("Give the reason for the correction."))
    if screening is not None and not screening.allowed:
        raise TreatmentBlocked(screening)
    _refuse_free(data)
    invoice = invoice_of(treatment)
    if invoice is not None:
        raise TreatmentInvoiced(invoice)
    lock_patient_caps(treatment.patient_id)
    changed = [name for name in CORRECTABLE_FIELDS if not _same(getattr(treatment, name), getattr(data, name))]
    if not changed:
        raise NothingChanged()
    previous = {name: _json_value(getattr(treatment, name)) for name in CORRECTABLE_FIELDS}
    before = treatment.stored_assessment()
    old_key, old_medical = _key(treatment), treatment.medical
    correction = TreatmentCorrection(
        treatment=treatment, corrected_by_id=user.id if user is not None else None, corrected_at=utc_now(),
        reason=reason.strip(), previous=previous, changed_fields=changed,
        previous_assessment=dict(treatment.assessment or {}),
    )
    db.session.add(correction)
    for name in changed:
        setattr(treatment, name, getattr(data, name))
    if "catalogue_item_id" in changed:
        treatment.catalogue_item = db.session.get_one(CatalogueItem, data.catalogue_item_id)
    db.session.flush()
    after = assess_treatment(treatment)
    store_assessment(treatment, after)
    db.session.flush()
    audit.record("update", treatment.patient_id, f"treatment {treatment.id}",
                 f"corrected ({', '.join(changed)}), correction {correction.id}; re-assessed: insurer amount "
                 f"{before.insurer_amount} -> {after.insurer_amount}", user=user)
    # Moved to another day or cap: everything from the earlier of the two places on is re-assessed in date order,
    # this treatment included (moved later, it must not keep what the treatments it passed now take).
    changes = reassess_later(treatment.patient_id, min(old_key, _key(treatment)), old_medical or treatment.medical,
                             f"treatment {treatment.id} was corrected", user)
    if cascaded is not None:
        cascaded.extend(change for change in changes if change.treatment_id != treatment.id)
    return correction, assessment_changes(before, treatment.stored_assessment())


class TreatmentWithdrawn(ServiceError):
    """A withdrawn treatment is history: it is not corrected, re-assessed or withdrawn again."""

    status = 409

    def __init__(self) -> None:
        super().__init__(_("This treatment was withdrawn; it can no longer be changed."))


def withdraw_treatment(treatment: Treatment, reason: str, user: User | None = None,
                       cascaded: list[CapChange] | None = None) -> TreatmentCorrection:
    """Withdraw a treatment recorded in error (never performed) that is on no invoice: it is kept with its history
    (a TreatmentCorrection holds the fields and the assessment it had), takes nothing from a cap any more and is
    never invoiced. Later treatments under its cap are re-assessed; the withdrawal is logged."""
    if treatment.withdrawn:
        raise TreatmentWithdrawn()
    if not reason.strip():
        raise ServiceError(_("Give the reason for the withdrawal."))
    invoice = invoice_of(treatment)
    if invoice is not None:
        raise TreatmentInvoiced(invoice)
    lock_patient_caps(treatment.patient_id)
    correction = TreatmentCorrection(
        treatment=treatment, corrected_by_id=user.id if user is not None else None, corrected_at=utc_now(),
        reason=reason.strip(), previous={name: _json_value(getattr(treatment, name)) for name in CORRECTABLE_FIELDS},
        changed_fields=["withdrawn"], previous_assessment=dict(treatment.assessment or {}),
    )
    db.session.add(correction)
    before = treatment.insurer_amount_cents
    treatment.withdrawn_at = utc_now()
    treatment.withdrawn_by_id = user.id if user is not None else None
    treatment.withdrawn_reason = reason.strip()
    # Performed never: nothing to reimburse and nothing for the patient to pay.
    treatment.reimbursable = False
    treatment.insurer_amount_cents = 0
    treatment.patient_amount_cents = 0
    db.session.flush()
    audit.record("update", treatment.patient_id, f"treatment {treatment.id}",
                 f"withdrawn, correction {correction.id}; insurer amount {from_cents(before)} -> 0.00", user=user)
    changes = reassess_later(treatment.patient_id, _key(treatment), treatment.medical,
                             f"treatment {treatment.id} was withdrawn", user)
    if cascaded is not None:
        cascaded.extend(changes)
    return correction


# ---- "repeat the previous session" ---------------------------------------------------------------

# What a repeat takes over from the previous session of the same catalogue treatment.
REPEATED_FIELDS = ("catalogue_item_id", "indication", "body_area", "device", "wavelength_nm", "fluence_j_cm2",
                   "pulse_width_ms", "spot_size_mm", "passes", "fitzpatrick", "series_total")


@dataclass(frozen=True)
class PreviousSession:
    """The patient's latest session of one catalogue treatment, and the number the next session gets."""

    treatment: Treatment

    @property
    def next_number(self) -> int:
        return self.treatment.session_number + 1

    @property
    def series_total(self) -> int | None:
        """The planned number of sessions, while the next session still falls within it."""
        total = self.treatment.series_total
        return total if total is not None and total >= self.next_number else None


def previous_sessions(patient_id: int, limit: int = 6) -> list[PreviousSession]:
    """The patient's latest session of each catalogue treatment, most recent first (one query)."""
    ranked = (
        select(Treatment.id, func.row_number().over(
            partition_by=Treatment.catalogue_item_id,
            order_by=(Treatment.treatment_date.desc(), Treatment.id.desc())).label("rank"))
        .where(Treatment.patient_id == patient_id, Treatment.withdrawn_at.is_(None)).subquery()
    )
    rows = db.session.scalars(
        select(Treatment).options(joinedload(Treatment.catalogue_item))
        .join(ranked, ranked.c.id == Treatment.id).where(ranked.c.rank == 1)
        .order_by(Treatment.treatment_date.desc(), Treatment.id.desc()).limit(limit)
    )
    return [PreviousSession(row) for row in rows]


def previous_session(patient_id: int, catalogue_item_id: int) -> PreviousSession | None:
    """The patient's latest session of this catalogue treatment (by date, then as recorded), if any."""
    treatment = db.session.scalar(
        select(Treatment).where(Treatment.patient_id == patient_id, Treatment.catalogue_item_id == catalogue_item_id,
                                Treatment.withdrawn_at.is_(None))
        .order_by(Treatment.treatment_date.desc(), Treatment.id.desc()).limit(1)
    )
    return PreviousSession(treatment) if treatment is not None else None


# ---- reading: headline, changes, the list, the patient page ----------------------------------------


def headline(assessment: Assessment) -> str:
    """The one line the detail page leads with."""
    if not assessment.medical:
        return _("Cosmetic, %(vat)s", vat=str(assessment.vat.label))
    if assessment.reimbursable:
        insurer = assessment.insurance.insurer_name if assessment.insurance else _("The insurer")
        return _("Medical — reimbursable: %(insurer)s pays %(insurer_amount)s, patient pays %(patient_amount)s",
                 insurer=insurer, insurer_amount=format_euro(assessment.insurer_amount),
                 patient_amount=format_euro(assessment.patient_amount))
    return _("Medical — not reimbursable")


def assessment_changes(before: Assessment, after: Assessment) -> list[str]:
    """What a re-assessment changed, in words (empty: nothing)."""
    changes = []

    def money(value):
        return format_euro(value) if value is not None else _("none")

    def kind(medical: bool) -> str:
        return _("medical") if medical else _("cosmetic")

    def yes_no(value: bool) -> str:
        return _("yes") if value else _("no")

    if before.medical != after.medical:
        changes.append(_("classification %(before)s -> %(after)s", before=kind(before.medical),
                         after=kind(after.medical)))
    if before.vat != after.vat:
        changes.append(_("VAT %(before)s -> %(after)s", before=f"{before.vat.label} {money(before.vat.vat)}",
                         after=f"{after.vat.label} {money(after.vat.vat)}"))
    if before.reimbursable != after.reimbursable:
        changes.append(_("reimbursable %(before)s -> %(after)s", before=yes_no(before.reimbursable),
                         after=yes_no(after.reimbursable)))
    if before.insurer_amount != after.insurer_amount:
        changes.append(_("insurer pays %(before)s -> %(after)s", before=money(before.insurer_amount),
                         after=money(after.insurer_amount)))
    if before.patient_amount != after.patient_amount:
        changes.append(_("patient pays %(before)s -> %(after)s", before=money(before.patient_amount),
                         after=money(after.patient_amount)))
    before_rule = before.rule.label if before.rule else _("none")
    after_rule = after.rule.label if after.rule else _("none")
    if before.rule != after.rule:
        changes.append(_("rule %(before)s -> %(after)s", before=before_rule, after=after_rule)
                       if before_rule != after_rule else _("rule %(rule)s changed", rule=after_rule))
    if before.cap_remaining_after != after.cap_remaining_after:
        changes.append(_("cap left %(before)s -> %(after)s", before=money(before.cap_remaining_after),
                         after=money(after.cap_remaining_after)))
    if before.therapist_eligible != after.therapist_eligible:
        changes.append(_("therapist eligible %(before)s -> %(after)s", before=yes_no(before.therapist_eligible),
                         after=yes_no(after.therapist_eligible)))
    if not changes and before.reasons != after.reasons:
        changes.append(_("the reasons were reworded"))
    return changes


@dataclass(frozen=True)
class ListFilters:
    medical: bool | None = None
    reimbursable: bool | None = None
    therapist_id: int | None = None
    insurer_id: int | None = None
    month: Month | None = None         # the treatment date's month
    patient_id: int | None = None
    q: str = ""                         # patient search words (name, date of birth, policy number, BSN)

    @property
    def empty(self) -> bool:
        return self == ListFilters()


def _yes_no(value: str | None) -> bool | None:
    return {"yes": True, "no": False}.get(value or "")


def _int_or_none(value: str | None) -> int | None:
    try:
        return int(value) if value else None
    except ValueError:
        return None


def parse_filters(args) -> ListFilters:
    """Filters from the query string; anything malformed is ignored rather than refused."""
    kind = args.get("kind", "")
    month = month_arg(args.get("month"))
    return ListFilters(
        medical={"medical": True, "cosmetic": False}.get(kind), reimbursable=_yes_no(args.get("reimbursable")),
        therapist_id=_int_or_none(args.get("therapist_id")), insurer_id=_int_or_none(args.get("insurer_id")),
        month=month, patient_id=_int_or_none(args.get("patient_id")), q=(args.get("q") or "").strip(),
    )


def _filtered(query, filters: ListFilters):
    from ..patients.services import search_query

    if filters.medical is not None:
        query = query.where(Treatment.medical.is_(filters.medical))
    if filters.reimbursable is not None:
        query = query.where(Treatment.reimbursable.is_(filters.reimbursable))
    if filters.therapist_id is not None:
        query = query.where(Treatment.therapist_id == filters.therapist_id)
    if filters.insurer_id is not None:
        query = query.where(Treatment.insurer_id == filters.insurer_id)
    if filters.month is not None:
        first, after = filters.month.bounds
        query = query.where(Treatment.treatment_date >= first, Treatment.treatment_date < after)
    if filters.patient_id is not None:
        query = query.where(Treatment.patient_id == filters.patient_id)
    if filters.q:
        patients = search_query(filters.q).with_only_columns(Patient.id).order_by(None)
        query = query.where(Treatment.patient_id.in_(patients))
    return query


# The treatment list's order: newest first by (treatment date, id), paged by key (paging.Keyset).
LIST_ORDER = Keyset((Treatment.treatment_date, Treatment.id), descending=True)


def list_query(filters: ListFilters, patients=None) -> Select[Any]:
    """The treatments the list shows for `filters` (unordered, nothing loaded with them): the page and its export.
    `patients`: only those patients' treatments (a subquery of ids: a therapist's own patients, backoffice/care/)."""
    query = _filtered(select(Treatment), filters)
    if patients is not None:
        query = query.where(Treatment.patient_id.in_(patients))
    return query


def list_page(filters: ListFilters, per_page: int, after: Cursor | None = None,
              before: Cursor | None = None, patients=None) -> Page[Treatment]:
    """One page of treatments, newest first: no COUNT and no OFFSET, one indexed range scan of per_page + 1 rows
    at any depth. `after` shows the rows older than a cursor, `before` the rows newer than it. `patients`: only
    those patients' treatments (a subquery of ids: a therapist's own patients, backoffice/care/)."""
    # The stored assessment (a JSON document of about 2 kB per row) is not shown: decoding 26 of them was a fifth of
    # the page's time on PostgreSQL. raiseload: a template that starts using it fails its tests instead of
    # loading it row by row.
    query = list_query(filters, patients).options(
        joinedload(Treatment.patient), joinedload(Treatment.therapist), joinedload(Treatment.catalogue_item),
        joinedload(Treatment.insurer), defer(Treatment.assessment, raiseload=True),
    )
    return LIST_ORDER.page(query, per_page, after, before)


@dataclass(frozen=True)
class PatientTreatments:
    """The treatments section of the patient page: built by the view, so the template runs no query."""

    recent: list[Treatment]
    reimbursement: list[RuleUsage]


def patient_treatments(patient_id: int, limit: int = 20) -> PatientTreatments:
    """The patient's latest treatments (one query) and, per rule of each current insurance, cap, used and left."""
    return PatientTreatments(recent_treatments(patient_id, limit), reimbursement_overview(patient_id))


def recent_treatments(patient_id: int, limit: int = 20) -> list[Treatment]:
    return list(db.session.scalars(
        select(Treatment).options(joinedload(Treatment.therapist), joinedload(Treatment.catalogue_item),
                                  joinedload(Treatment.insurer))
        .where(Treatment.patient_id == patient_id)
        .order_by(Treatment.treatment_date.desc(), Treatment.id.desc()).limit(limit)
    ))


@dataclass(frozen=True)
class RuleUsage:
    """One line of the patient's "reimbursement this year" table."""

    insurer_name: str
    package_name: str
    label: str
    description: Text  # rendered in the reader's language
    cap: Decimal | None
    cap_period: CapPeriod
    used: Decimal
    left: Decimal | None
    sessions_used: int
    max_sessions: int | None


def reimbursement_overview(patient_id: int, today: date | None = None) -> list[RuleUsage]:
    """For each insurance valid today and each rule of its insurer and package for this year: cap, used, left.

    Usage counts the whole calendar year (reimbursable treatments up to 31 December; lifetime caps: every year).
    Queries: one for the insurances, then per insurance one for the rules and at most one per cap period.
    """
    today = today or clinic_today()
    insurances = db.session.scalars(
        select(Insurance).options(joinedload(Insurance.insurer), joinedload(Insurance.package))
        .where(Insurance.patient_id == patient_id, Insurance.valid_from <= today, Insurance.withdrawn_at.is_(None),
               or_(Insurance.valid_until.is_(None), Insurance.valid_until >= today))
        .order_by(Insurance.valid_from.desc(), Insurance.id.desc())
    ).all()
    lines: list[RuleUsage] = []
    for insurance in insurances:
        rules = [rule for rule in rules_for(insurance.insurer_id, today.year, today)
                 if rule.package_id is None or rule.package_id == insurance.package_id or rule.basic]
        usage = usage_before(patient_id, rules, date(today.year, 12, 31)) if rules else {}
        for rule in rules:
            used = usage.get(rule.group, Usage())
            left = max(rule.cap - used.amount, Decimal("0.00")) if rule.cap is not None else None
            lines.append(RuleUsage(
                insurer_name=insurance.insurer.name,
                package_name=insurance.package.name if insurance.package else "",
                label=rule.label, description=describe_rule(rule), cap=rule.cap, cap_period=rule.cap_period,
                used=used.amount, left=left, sessions_used=used.sessions, max_sessions=rule.max_sessions,
            ))
    return lines


# ---- caps that hold in any recording order ----------------------------------------------------------------
# A treatment counts what earlier treatments took from its cap (usage_before). Recording (or correcting, or
# withdrawing) one dated before others under the same cap therefore re-assesses the later ones that are on no
# invoice and in no claim, in date order, so the insurer amounts under one cap never add up to more than the cap.
# Invoiced or claimed treatments are never changed: what they took stays taken.


def lock_patient_caps(patient_id: int) -> None:
    """Serialise everything that charges this patient's caps until the transaction ends: two recordings for one
    patient cannot both take the last euros. PostgreSQL: the patient row FOR UPDATE. SQLite: a no-op write takes
    the database write lock first (SQLite has no row locks), so the usage read after it cannot go stale."""
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(select(Patient.id).where(Patient.id == patient_id).with_for_update())
    else:
        db.session.execute(text("UPDATE patients SET id = id WHERE id = :id"), {"id": patient_id})


@dataclass(frozen=True)
class CapChange:
    """A later treatment whose assessment changed because an earlier one was recorded, corrected or withdrawn."""

    treatment_id: int
    treatment_date: date
    before: Assessment
    after: Assessment

    @property
    def amounts_changed(self) -> bool:
        """What the insurer pays or whether it pays changed (else only what is left of the cap, in the reasons)."""
        return (self.before.insurer_amount, self.before.reimbursable) != (self.after.insurer_amount,
                                                                           self.after.reimbursable)

    def words(self) -> str:
        changes = assessment_changes(self.before, self.after)
        return _("%(date)s: %(changes)s", date=nl_date(self.treatment_date), changes=", ".join(changes))


def _key(treatment: Treatment) -> tuple[date, int]:
    return treatment.treatment_date, treatment.id


def reassess_later(patient_id: int, start: tuple[date, int], medical: bool, cause: str,
                   user: User | None = None, exclude: int | None = None) -> list[CapChange]:
    """Re-assess, in date order, the patient's medical treatments from `start` (date, id) on that are on no invoice
    and in no claim, when the treatment that changed is (or was) `medical`; store and log each one whose assessment
    changed (before and after) and return those changes. `exclude`: a treatment assessed already by the caller.

    Every later medical treatment, not only those of the same cap group: a fallback rule's cap, a session limit
    of its own period and "from the n-th treatment" (chronic list) numbering depend on the earlier treatments too.
    One that nothing affects is compared and left as it is."""
    if not medical:
        return []  # a cosmetic treatment takes nothing from a cap and counts for no rule
    day, first_id = start
    later = db.session.scalars(
        select(Treatment).options(joinedload(Treatment.catalogue_item))
        .where(Treatment.patient_id == patient_id, Treatment.medical.is_(True), Treatment.withdrawn_at.is_(None),
               ~fixed_treatment(),
               or_(Treatment.treatment_date > day, and_(Treatment.treatment_date == day, Treatment.id >= first_id)))
        .order_by(Treatment.treatment_date, Treatment.id)
    ).all()
    changes: list[CapChange] = []
    for other in later:
        if other.id == exclude:
            continue
        before = other.stored_assessment()
        after = assess_treatment(other)
        if json.loads(json.dumps(after.to_dict())) == other.assessment:
            continue  # nothing changed (compared as stored)
        store_assessment(other, after)
        db.session.flush()  # the next one counts what this one now takes
        changes.append(CapChange(other.id, other.treatment_date, before, after))
    # Logged after the loop: the access log's entries are chained at flush (audit_chain), once for all of them.
    for change in changes:
        audit.record("update", patient_id, f"treatment {change.treatment_id}",
                     f"re-assessed after {cause}: insurer amount {change.before.insurer_amount} -> "
                     f"{change.after.insurer_amount}, reimbursable {change.before.reimbursable} -> "
                     f"{change.after.reimbursable}", user=user)
    return changes
