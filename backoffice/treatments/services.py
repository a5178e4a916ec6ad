"""Recording and assessing treatments. Services add and flush; the view or CLI commits.

Assessing one treatment costs a fixed number of queries, whatever the patient's history: the patient's
insurances, the therapist's credential history, the insurer's rules for the year, the referral, and one
aggregate per cap period over earlier treatments (tests/test_treatments.py counts them).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from .. import audit
from ..clock import clinic_today, utc_now
from ..domain.coverage import (
    Assessment,
    CapPeriod,
    InsuranceFacts,
    PolicyRule,
    TherapistFacts,
    TreatmentFacts,
    Usage,
    assess,
    describe_rule,
    matching_rules,
)
from ..domain.dutch import nl_date
from ..domain.indications import BodyArea, Indication, Technique
from ..domain.intake import Screening
from ..domain.money import format_euro, from_cents, to_cents
from ..domain.months import Month
from ..domain.texts import Text
from ..errors import ServiceError
from ..extensions import db
from ..formtools import month_arg
from ..models import (
    CatalogueItem,
    CoverageRule,
    Insurance,
    Invoice,
    InvoicedTreatment,
    InvoiceLine,
    Patient,
    Referral,
    Therapist,
    Treatment,
    TreatmentCorrection,
    User,
)
from ..paging import Cursor, Keyset, Page


class TreatmentBlocked(ServiceError):
    """The intake screening has blocking findings: the treatment may not be recorded."""

    def __init__(self, screening: Screening):
        self.screening = screening
        super().__init__("; ".join(str(f.message) for f in screening.blocking))


def insurance_facts(insurance: Insurance | None) -> InsuranceFacts | None:
    if insurance is None:
        return None
    return InsuranceFacts(
        insurer_id=insurance.insurer_id, insurer_name=insurance.insurer.name, uzovi=insurance.insurer.uzovi,
        package_id=insurance.package_id, package_name=insurance.package.name if insurance.package else "",
        policy_number=insurance.policy_number, valid_from=insurance.valid_from, valid_until=insurance.valid_until,
    )


def _insurance_on(patient_id: int, day: date) -> Insurance | None:
    """The patient's insurance on `day`; with overlapping policies, the one that started last."""
    return db.session.scalar(
        select(Insurance)
        .options(joinedload(Insurance.insurer), joinedload(Insurance.package))  # one statement, not three
        .where(Insurance.patient_id == patient_id, Insurance.valid_from <= day, Insurance.withdrawn_at.is_(None),
               or_(Insurance.valid_until.is_(None), Insurance.valid_until >= day))
        .order_by(Insurance.valid_from.desc(), Insurance.id.desc())
        .limit(1)
    )


def therapist_facts(therapist_id: int) -> TherapistFacts:
    therapist = db.session.scalars(
        select(Therapist)
        .options(selectinload(Therapist.nvh_memberships), selectinload(Therapist.kp_registrations))
        .where(Therapist.id == therapist_id)
    ).one()
    memberships, registrations = therapist.credential_history()
    return TherapistFacts(therapist.name, therapist.agb_code, tuple(memberships), tuple(registrations))


def rules_for(insurer_id: int, year: int, day: date | None = None) -> list[PolicyRule]:
    """The rules new assessments use: never a withdrawn one; with `day`, none that ended before it."""
    query = select(CoverageRule).where(CoverageRule.insurer_id == insurer_id, CoverageRule.year == year,
                                       CoverageRule.withdrawn_at.is_(None))
    if day is not None:
        query = query.where(or_(CoverageRule.ends_on.is_(None), CoverageRule.ends_on >= day))
    return [row.to_domain() for row in db.session.scalars(query.order_by(CoverageRule.id))]


def usage_before(patient_id: int, rules: Iterable[PolicyRule], day: date,
                 before_id: int | None = None) -> dict[str, Usage]:
    """What the patient's earlier reimbursable treatments took from each rule's cap group.

    Earlier means: an earlier date, or the same date and recorded before (`before_id`). A yearly cap counts
    the calendar year of `day`; a lifetime cap counts every year. At most one query per cap period.
    """
    by_period: dict[CapPeriod, set[str]] = {}
    for rule in rules:
        by_period.setdefault(rule.cap_period, set()).add(rule.group)
    earlier = Treatment.treatment_date < day
    if before_id is None:
        earlier = Treatment.treatment_date <= day
    else:
        earlier = or_(earlier, and_(Treatment.treatment_date == day, Treatment.id < before_id))
    usage: dict[str, Usage] = {}
    for period, groups in by_period.items():
        conditions = [Treatment.patient_id == patient_id, Treatment.reimbursable, Treatment.cap_group.in_(groups),
                      earlier]
        if period is CapPeriod.YEAR:
            conditions.append(Treatment.treatment_date >= date(day.year, 1, 1))
        rows = db.session.execute(
            select(Treatment.cap_group, func.sum(Treatment.insurer_amount_cents), func.count(Treatment.id))
            .where(*conditions).group_by(Treatment.cap_group)
        )
        for group, cents, sessions in rows:
            usage[str(group)] = Usage(from_cents(int(cents or 0)), int(sessions))
    return usage


def assess_facts(patient_id: int, therapist_id: int, facts: TreatmentFacts,
                 before_id: int | None = None) -> Assessment:
    insurance = _insurance_on(patient_id, facts.day)
    insured = insurance_facts(insurance)
    rules = rules_for(insurance.insurer_id, facts.day.year, facts.day) if insurance else []
    candidates = matching_rules(facts, insured, rules)
    usage = usage_before(patient_id, candidates, facts.day, before_id) if candidates else {}
    return assess(facts, therapist_facts(therapist_id), insured, rules, usage)


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


def assess_treatment(treatment: Treatment) -> Assessment:
    """Assess a treatment as it stands now (rules and history of today), without storing anything."""
    return assess_facts(treatment.patient_id, treatment.therapist_id, treatment_facts(treatment), treatment.id)


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
                     user: User | None = None) -> Treatment:
    """Record a treatment after its screening: refused while a blocking finding applies.

    `user` is the staff member recording it (None for the demo data and other system work)."""
    if not screening.allowed:
        raise TreatmentBlocked(screening)
    _refuse_free(data)
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
    return treatment


def reassess(treatment: Treatment) -> tuple[Assessment, Assessment]:
    """Explicitly re-assess with today's rules and history; the change is stored and logged."""
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
                      ) -> tuple[TreatmentCorrection, list[str]]:
    """Correct a recorded treatment that is on no invoice: the earlier values are kept in a TreatmentCorrection
    (who, when, why), the treatment is re-assessed and the correction is logged (field names, never values).
    `screening` is the intake screening on the corrected date and body area: a correction to a day or area the
    screening refuses is refused as recording it would be.

    Returns the correction and what the re-assessment changed, in words."""
    if not reason.strip():
        raise ServiceError(_("Give the reason for the correction."))
    if screening is not None and not screening.allowed:
        raise TreatmentBlocked(screening)
    _refuse_free(data)
    invoice = invoice_of(treatment)
    if invoice is not None:
        raise TreatmentInvoiced(invoice)
    changed = [name for name in CORRECTABLE_FIELDS if not _same(getattr(treatment, name), getattr(data, name))]
    if not changed:
        raise NothingChanged()
    previous = {name: _json_value(getattr(treatment, name)) for name in CORRECTABLE_FIELDS}
    before = treatment.stored_assessment()
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
    return correction, assessment_changes(before, after)


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
        .where(Treatment.patient_id == patient_id).subquery()
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
        select(Treatment).where(Treatment.patient_id == patient_id, Treatment.catalogue_item_id == catalogue_item_id)
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


def list_page(filters: ListFilters, per_page: int, after: Cursor | None = None,
              before: Cursor | None = None) -> Page[Treatment]:
    """One page of treatments, newest first: no COUNT and no OFFSET, one indexed range scan of per_page + 1 rows
    at any depth. `after` shows the rows older than a cursor, `before` the rows newer than it."""
    query = _filtered(select(Treatment), filters).options(
        joinedload(Treatment.patient), joinedload(Treatment.therapist), joinedload(Treatment.catalogue_item),
        joinedload(Treatment.insurer),
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
                 if rule.package_id is None or rule.package_id == insurance.package_id]
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
