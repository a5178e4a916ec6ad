"""Validating a draft batch: gather every line's facts, let backoffice.domain.claims judge them, store the verdicts.

Validation gathers its facts with a fixed number of queries whatever the batch's size: every query selects
through the batch's own claim lines (a join or an `IN (subquery)`), one per table, never one per line and never
a long list of ids (tests/test_claims.py counts the statements).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from sqlalchemy import case, extract, func, select

from ..clock import clinic_today
from ..domain import claims as rules
from ..domain.claims import (
    BatchStatus,
    BatchValidation,
    ClaimLineFacts,
    ClaimRules,
    LineStatus,
    PolicyFacts,
    Reason,
    TherapistOnDate,
)
from ..domain.coverage import CapPeriod
from ..domain.indications import Indication
from ..domain.money import from_cents, to_cents
from ..domain.referrals import Referral as ReferralFacts
from ..extensions import db
from ..models import (
    ClaimBatch,
    ClaimLine,
    CoverageRule,
    Insurance,
    Insurer,
    InsurerClaimSettings,
    Invoice,
    InvoiceLine,
    KpRegistration,
    NvhMembership,
    Patient,
    PatientClaim,
    Practice,
    Referral,
    Therapist,
    Treatment,
)
from .common import bulk_update_lines, now, require_status
from .settings import claim_rules, settings_for


@dataclass(frozen=True)
class GatheredFacts:
    facts: list[ClaimLineFacts]                  # line_id is the claim line's id
    cap_remaining: dict[rules.CapKey, Decimal]
    rules: ClaimRules


def _batch_lines(batch_id: int):
    return select(ClaimLine.invoice_line_id).where(ClaimLine.batch_id == batch_id)


def batch_treatments(batch_id: int, column):
    """SELECT `column` of the treatments behind the batch's lines (for `IN (...)`)."""
    return (select(column).select_from(ClaimLine)
            .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
            .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
            .where(ClaimLine.batch_id == batch_id))


def _cap_used_elsewhere(batch: ClaimBatch) -> dict[tuple[int, str, int], int]:
    """Cents taken from each (patient, cap group, year) by live claims in other batches (paid where settled,
    claimed while pending) and by patient-submitted claims (paid, or claimed while pending). Two queries."""
    patients = batch_treatments(batch.id, Treatment.patient_id)
    year = extract("year", Treatment.treatment_date)
    used: dict[tuple[int, str, int], int] = defaultdict(int)
    taken = case((ClaimLine.status == LineStatus.PENDING, ClaimLine.claimed_cents), else_=ClaimLine.paid_cents)
    query = (select(Treatment.patient_id, Treatment.cap_group, year, func.sum(taken))
             .select_from(ClaimLine)
             .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
             .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
             .where(ClaimLine.live.is_(True), ClaimLine.batch_id != batch.id, Treatment.cap_group.is_not(None),
                    Treatment.insurer_id == batch.insurer_id, Treatment.patient_id.in_(patients))
             .group_by(Treatment.patient_id, Treatment.cap_group, year))
    for patient_id, group, in_year, cents in db.session.execute(query):
        used[(patient_id, group, int(in_year))] += int(cents or 0)
    taken = case((PatientClaim.status == LineStatus.PENDING, PatientClaim.claimed_cents), else_=PatientClaim.paid_cents)
    query = (select(Treatment.patient_id, Treatment.cap_group, year, func.sum(taken))
             .select_from(PatientClaim)
             .join(InvoiceLine, InvoiceLine.id == PatientClaim.invoice_line_id)
             .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
             .where(Treatment.cap_group.is_not(None), Treatment.insurer_id == batch.insurer_id,
                    Treatment.patient_id.in_(patients))
             .group_by(Treatment.patient_id, Treatment.cap_group, year))
    for patient_id, group, in_year, cents in db.session.execute(query):
        used[(patient_id, group, int(in_year))] += int(cents or 0)
    return used


def _policy(insurances: list[Insurance], day: date) -> PolicyFacts | None:
    """The policy with the batch's insurer covering the day (the latest started), else the one closest to it
    (so the reason can say which policy does not cover the date), else None."""
    if not insurances:
        return None
    covering = [i for i in insurances if i.valid_from <= day and (i.valid_until is None or day <= i.valid_until)]
    if covering:
        chosen = max(covering, key=lambda i: (i.valid_from, i.id))
    else:
        def distance(i: Insurance) -> int:
            if day < i.valid_from:
                return (i.valid_from - day).days
            return (day - i.valid_until).days if i.valid_until else 0
        chosen = min(insurances, key=lambda i: (distance(i), -i.id))
    return PolicyFacts(chosen.policy_number, chosen.valid_from, chosen.valid_until)


@dataclass
class _Tables:
    """Everything the batch's lines refer to, one query per table, keyed by id."""

    insurer: Insurer
    patients: dict[int, Patient]
    insurances: dict[int, list[Insurance]]
    therapists: dict[int, Therapist]
    memberships: dict[int, list]
    registrations: dict[int, list]
    referrals: dict[int, ReferralFacts]
    coverage: dict[int, CoverageRule]
    practice_agb: str
    elsewhere: dict[int, str]                    # invoice line id -> the other batch's number
    used: dict[tuple[int, str, int], int]


def _by_owner(rows: Iterable, owner: str, convert=lambda row: row) -> dict[int, list]:
    grouped: dict[int, list] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, owner)].append(convert(row))
    return grouped


def _load_tables(batch: ClaimBatch) -> _Tables:
    def of_batch(column):
        return batch_treatments(batch.id, column)

    therapist_ids = of_batch(Treatment.therapist_id)
    practice = db.session.scalar(select(Practice).order_by(Practice.id).limit(1))
    return _Tables(
        insurer=db.session.get_one(Insurer, batch.insurer_id),
        patients={p.id: p for p in db.session.scalars(
            select(Patient).where(Patient.id.in_(of_batch(Treatment.patient_id))))},
        insurances=_by_owner(db.session.scalars(
            select(Insurance).where(Insurance.insurer_id == batch.insurer_id, Insurance.withdrawn_at.is_(None),
                                    Insurance.patient_id.in_(of_batch(Treatment.patient_id)))), "patient_id"),
        therapists={t.id: t for t in db.session.scalars(select(Therapist).where(Therapist.id.in_(therapist_ids)))},
        memberships=_by_owner(db.session.scalars(
            select(NvhMembership).where(NvhMembership.therapist_id.in_(therapist_ids))), "therapist_id",
            lambda m: m.to_domain()),
        registrations=_by_owner(db.session.scalars(
            select(KpRegistration).where(KpRegistration.therapist_id.in_(therapist_ids))), "therapist_id",
            lambda r: r.to_domain()),
        referrals={r.id: r.to_domain() for r in db.session.scalars(
            select(Referral).where(Referral.id.in_(of_batch(Treatment.referral_id)),
                                   Referral.withdrawn_at.is_(None)))},
        coverage={r.id: r for r in db.session.scalars(
            select(CoverageRule).where(CoverageRule.id.in_(of_batch(Treatment.coverage_rule_id))))},
        practice_agb=practice.agb_code if practice else "",
        elsewhere=dict(db.session.execute(
            select(ClaimLine.invoice_line_id, ClaimBatch.number)
            .join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
            .where(ClaimLine.live.is_(True), ClaimLine.batch_id != batch.id,
                   ClaimLine.invoice_line_id.in_(_batch_lines(batch.id)))
        ).all()),
        used=_cap_used_elsewhere(batch),
    )


def _cap(tables: _Tables, caps: dict[rules.CapKey, Decimal], rule: CoverageRule | None, patient_id: int,
         cap_group: str | None, day: date) -> tuple[str | None, int | None]:
    """The line's cap group and year (None, None without a cap); the first line of a (patient, group, year)
    puts what is left of that cap into `caps`."""
    if rule is None or rule.cap_cents is None or not cap_group:
        return None, None
    lifetime = rule.cap_period == CapPeriod.LIFETIME.value
    cap_year = None if lifetime else day.year
    key = (patient_id, cap_group, cap_year)
    if key not in caps:
        taken = sum(cents for (p, g, y), cents in tables.used.items()
                    if p == patient_id and g == cap_group and (lifetime or y == day.year))
        caps[key] = from_cents(rule.cap_cents - taken)
    return cap_group, cap_year


def gather_facts(batch: ClaimBatch, settings: InsurerClaimSettings | None = None) -> GatheredFacts:
    """The facts of every line of the batch, in a fixed number of queries (see the module docstring)."""
    claim_rules_ = claim_rules(settings or settings_for(batch.insurer_id))
    lines = db.session.execute(
        select(ClaimLine.id, InvoiceLine, Invoice.number, Treatment.patient_id, Treatment.therapist_id,
               Treatment.referral_id, Treatment.coverage_rule_id, Treatment.cap_group, Treatment.indication)
        .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(ClaimLine.batch_id == batch.id)
    ).all()
    tables = _load_tables(batch)
    insurer = tables.insurer
    facts: list[ClaimLineFacts] = []
    caps: dict[rules.CapKey, Decimal] = {}
    for claim_line_id, line, invoice_number, patient_id, therapist_id, referral_id, rule_id, cap_group, \
            indication in lines:
        patient = tables.patients[patient_id]
        therapist = tables.therapists[therapist_id]
        day = line.treatment_date
        rule = tables.coverage.get(rule_id) if rule_id else None
        key_group, cap_year = _cap(tables, caps, rule, patient_id, cap_group, day)
        facts.append(ClaimLineFacts(
            line_id=claim_line_id, patient_id=patient_id, patient_name=patient.full_name,
            date_of_birth=patient.date_of_birth, treatment_date=day, indication=Indication(indication),
            description=line.description, prestatiecode=line.prestatiecode,
            therapist=TherapistOnDate.from_credentials(therapist.name, therapist.agb_code or "", day,
                                                       tables.memberships[therapist_id],
                                                       tables.registrations[therapist_id],
                                                       rule.kp_level_required if rule else None,
                                                       rule.nvh_required if rule else True),
            practice_agb=tables.practice_agb, insurer_name=insurer.name, uzovi=insurer.uzovi,
            policy=_policy(tables.insurances[patient_id], day), amount=from_cents(line.gross_cents),
            expected_reimbursement=from_cents(line.insurer_amount_cents), invoice_number=invoice_number or "",
            bsn=(patient.get_bsn() or "") if claim_rules_.bsn_required else "", technique=line.technique,
            referral_required=bool(rule and rule.referral_required),
            referral=tables.referrals.get(referral_id) if referral_id else None, cap_group=key_group,
            cap_year=cap_year, already_claimed=line.id in tables.elsewhere,
            claimed_in=tables.elsewhere.get(line.id, ""),
        ))
    return GatheredFacts(facts, caps, claim_rules_)


def _reason_dicts(reasons: Iterable[Reason]) -> list[dict]:
    return [{"code": r.code, "nl": r.nl, "en": r.en} for r in reasons]


def validate(batch: ClaimBatch, today: date | None = None, user=None) -> BatchValidation:
    """(Re-)validate a draft's lines on `today`: each is included, or excluded with its reasons."""
    require_status(batch, BatchStatus.DRAFT)
    today = today or clinic_today()
    gathered = gather_facts(batch)
    validation = rules.validate_batch(gathered.facts, claim_date=today, rules=gathered.rules,
                                      cap_remaining=gathered.cap_remaining)
    rows = [{"id": v.line.line_id, "included": v.included, "live": True if v.included else None,
             "amount_cents": to_cents(v.line.amount), "expected_cents": to_cents(v.line.expected_reimbursement),
             "claimed_cents": to_cents(v.claimable), "reasons": _reason_dicts(v.reasons)}
            for v in validation.verdicts]
    db.session.flush()
    # Lines leaving the claim first, so a line moving between batches never holds two live rows meanwhile.
    bulk_update_lines([r for r in rows if not r["included"]])
    bulk_update_lines([r for r in rows if r["included"]])
    batch.claim_date = today
    batch.validated_at = now()
    db.session.flush()
    return validation
