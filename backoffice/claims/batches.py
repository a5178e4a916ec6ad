"""Claim batches: build a draft per insurer and period, mark it submitted, cancel it, resubmit rejected lines in
a new batch, and read batches for the pages. Validation is in validation.py, the export in export.py."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from flask import current_app
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import selectinload

from ..clock import clinic_today
from ..domain import claims as rules
from ..domain.claims import BatchStatus, LineStatus, Reason
from ..domain.invoicing import Gap, Missing, claim_gaps
from ..domain.statuses import InvoiceStatus
from ..extensions import db
from ..invoicing import numbering
from ..invoicing import services as invoicing
from ..models import (
    ClaimBatch,
    ClaimLine,
    CreditNoteLine,
    Insurer,
    Invoice,
    InvoiceLine,
    Patient,
    PatientClaim,
    Treatment,
)
from .common import ClaimError, _l, expire_lines, now, period_label, reasons_of, require_status, user_id
from .outcomes import attempts, history
from .settings import settings_for
from .validation import validate


def not_claimed_before(line_id_column):
    """An invoice line that is in no live claim, was not claimed and rejected (it goes back only by resubmission),
    and that the patient does not claim themselves. Two NOT EXISTS, not NOT (EXISTS OR EXISTS): PostgreSQL turns
    each into an anti-join, where the negated OR was a subplan per line (the home page's list of claimable lines
    on a chain: 450 ms, 102,000 probes)."""
    return and_(
        ~exists().where(ClaimLine.invoice_line_id == line_id_column,
                        or_(ClaimLine.live.is_(True), ClaimLine.status == LineStatus.REJECTED.value)),
        ~exists().where(PatientClaim.invoice_line_id == line_id_column),
    )


def claimable():
    """The conditions on an invoice line (joined to its Invoice) that a batch can claim: issued, reimbursable, not
    credited and not claimed yet. Also the home page's "claimable lines not yet in a batch" (main/worklists.py)."""
    # Claimed first: most lines are, and SQLite then skips the other look-ups (a fifth faster on the bench chain).
    return (Invoice.status == InvoiceStatus.ISSUED, InvoiceLine.reimbursable, not_claimed_before(InvoiceLine.id),
            ~exists().where(CreditNoteLine.invoice_line_id == InvoiceLine.id))


def candidate_lines(insurer_id: int, start: date, end: date):
    """Issued, reimbursable, not credited invoice lines of the insurer's treatments in the period that are not
    claimed yet (a SELECT of invoice line ids, oldest treatment first)."""
    return (
        select(InvoiceLine.id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(*claimable(), Treatment.insurer_id == insurer_id,
               InvoiceLine.treatment_date >= start, InvoiceLine.treatment_date <= end)
        .order_by(InvoiceLine.treatment_date, InvoiceLine.id)
    )


def new_batch(insurer: Insurer, start: date, end: date, user, today: date) -> ClaimBatch:
    if end < start:
        raise ClaimError(_l("The period ends before it starts."))
    settings = settings_for(insurer.id)
    if not settings.direct_billing:
        raise ClaimError(_l("%(insurer)s is not billed directly: its patients send the declaration themselves. "
                            "Record those as patient-submitted claims.", insurer=insurer.name))
    sequence = numbering.take_next(f"claims-{insurer.uzovi}-{today.year}")
    batch = ClaimBatch(insurer_id=insurer.id, number=rules.batch_number(insurer.uzovi, today.year, sequence),
                       period_start=start, period_end=end, status=BatchStatus.DRAFT.value, claim_date=today,
                       created_by_id=user_id(user))
    db.session.add(batch)
    db.session.flush()
    return batch


def add_lines(batch: ClaimBatch, invoice_line_ids: Iterable[int], resubmission_of: dict[int, int] | None = None):
    rows: list[dict[str, Any]] = [
        {"batch_id": batch.id, "invoice_line_id": line_id, "included": False, "status": LineStatus.PENDING.value,
         "reasons": [], "rejection_code": "", "rejection_text": "",
         "resubmission_of_id": (resubmission_of or {}).get(line_id)}
        for line_id in invoice_line_ids]
    if rows:
        db.session.execute(ClaimLine.__table__.insert(), rows)


def create_batch(insurer: Insurer, start: date, end: date, user=None, today: date | None = None) -> ClaimBatch:
    """A draft batch with every claimable line of the insurer's treatments in the period, validated."""
    today = today or clinic_today()
    line_ids = list(db.session.scalars(candidate_lines(insurer.id, start, end)))
    if not line_ids:
        raise ClaimError(_l("Nothing to claim from %(insurer)s for %(period)s: no issued, reimbursable, uncredited "
                            "invoice lines that are not claimed already.", insurer=insurer.name,
                            period=period_label(start, end)))
    batch = new_batch(insurer, start, end, user, today)
    add_lines(batch, line_ids)
    validate(batch, today=today)
    return batch


# ---- lifecycle ----------------------------------------------------------------------------------------------


def mark_submitted(batch: ClaimBatch, user=None) -> ClaimBatch:
    status = require_status(batch, BatchStatus.EXPORTED)
    batch.status = rules.batch_transition(status, BatchStatus.SUBMITTED).value
    batch.submitted_at = now()
    batch.submitted_by_id = user_id(user)
    db.session.flush()
    return batch


def cancel_batch(batch: ClaimBatch, user=None) -> ClaimBatch:
    """Give up a draft or an unsent export: its lines are free to be claimed again."""
    status = require_status(batch, BatchStatus.DRAFT, BatchStatus.EXPORTED)
    db.session.flush()
    db.session.execute(update(ClaimLine).where(ClaimLine.batch_id == batch.id).values(live=None))
    batch.status = rules.batch_transition(status, BatchStatus.CANCELLED).value
    batch.cancelled_at = now()
    batch.cancelled_by_id = user_id(user)
    db.session.flush()
    expire_lines()
    return batch


def resubmit(lines: Iterable[ClaimLine], user=None, today: date | None = None) -> ClaimBatch:
    """Rejected lines (after a fix) go into a new draft batch, each pointing at its rejected attempt."""
    lines = list(lines)
    if not lines:
        raise ClaimError(_l("Choose at least one rejected line to resubmit."))
    insurers = {line.batch.insurer_id for line in lines}
    if len(insurers) > 1:
        raise ClaimError(_l("Resubmit the lines of one insurer at a time."))
    for line in lines:
        if LineStatus(line.status) is not LineStatus.REJECTED:
            raise ClaimError(_l("Claim %(reference)s was not rejected: only rejected lines are resubmitted.",
                                reference=line.claim_reference))
        if not rules.can_resubmit(attempts(history(line.invoice_line_id))):
            raise ClaimError(_l("Claim %(reference)s is already claimed again or was paid.",
                                reference=line.claim_reference))
    today = today or clinic_today()
    start = min(line.batch.period_start for line in lines)
    end = max(line.batch.period_end for line in lines)
    batch = new_batch(db.session.get_one(Insurer, insurers.pop()), start, end, user, today)
    add_lines(batch, [line.invoice_line_id for line in lines], {line.invoice_line_id: line.id for line in lines})
    validate(batch, today=today)
    return batch


# ---- reading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineView:
    """One line of the batch page."""

    line: ClaimLine
    invoice_line: InvoiceLine
    invoice_number: str
    patient_id: int
    patient_name: str
    reasons: list[Reason]


def batch_lines(batch: ClaimBatch) -> list[LineView]:
    rows = db.session.execute(
        select(ClaimLine, InvoiceLine, Invoice.number, Patient.id, Patient.first_name, Patient.infix,
               Patient.last_name)
        .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Patient, Patient.id == Invoice.patient_id)
        .where(ClaimLine.batch_id == batch.id)
        .order_by(ClaimLine.sequence.is_(None), ClaimLine.sequence, InvoiceLine.treatment_date, ClaimLine.id)
    ).all()
    return [LineView(line, invoice_line, number or "", patient_id,
                     " ".join(p for p in (first, infix, last) if p), reasons_of(line))
            for line, invoice_line, number, patient_id, first, infix, last in rows]


# Where an exclusion reason is fixed (the "what is missing" panel links there).
_REASON_GAPS: dict[str, Gap] = {
    rules.ReasonCode.NO_POLICY: Gap.POLICY,
    rules.ReasonCode.POLICY_NOT_VALID: Gap.POLICY,
    rules.ReasonCode.THERAPIST_NOT_ELIGIBLE: Gap.THERAPIST,
    rules.ReasonCode.MISSING_AGB: Gap.THERAPIST,
    rules.ReasonCode.MISSING_BSN: Gap.BSN,
    rules.ReasonCode.REFERRAL_MISSING: Gap.REFERRAL,
    rules.ReasonCode.REFERRAL_EXPIRED: Gap.REFERRAL,
    rules.ReasonCode.REFERRAL_AFTER_TREATMENT: Gap.REFERRAL,
}


@dataclass(frozen=True)
class LineMissing:
    """One line of a draft batch and what it lacks: its exclusion reasons, and what else a claim needs (ID
    document, prestatiecode, an up-to-date intake), each with where it is fixed."""

    view: LineView
    items: list[Missing]


def _reason_item(reason: Reason, therapist_id: int) -> Missing:
    gap = _REASON_GAPS.get(reason.code, Gap.OTHER)
    if reason.code == rules.ReasonCode.MISSING_AGB and "practice" in reason.en:
        return Missing(Gap.PRACTICE, reason)
    return Missing(gap, reason, therapist_id if gap is Gap.THERAPIST else None)


def missing_data(lines: list[LineView]) -> list[LineMissing]:
    """What blocks or weakens each line before export (lines lacking nothing are left out). One query for the
    treatments behind the lines, with their patients' intakes, items, referrals and rules."""
    if not lines:
        return []
    treatments = {t.id: t for t in db.session.scalars(
        select(Treatment)
        .options(selectinload(Treatment.patient).selectinload(Patient.intakes),
                 selectinload(Treatment.catalogue_item), selectinload(Treatment.referral),
                 selectinload(Treatment.coverage_rule), selectinload(Treatment.insurer))
        .where(Treatment.id.in_(select(InvoiceLine.treatment_id).where(
            InvoiceLine.id.in_([view.invoice_line.id for view in lines]))))
    )}
    codes = {view.invoice_line.treatment_id: view.invoice_line.prestatiecode or "" for view in lines}
    months = int(current_app.config["INTAKE_VALIDITY_MONTHS"])
    claim_lines = {line.treatment_id: line
                   for line in invoicing.claim_lines(list(treatments.values()), prestatiecodes=codes)}
    found = []
    for view in lines:
        treatment = treatments[view.invoice_line.treatment_id]
        items = [_reason_item(reason, treatment.therapist_id) for reason in view.reasons]
        covered = {item.gap for item in items}
        line = claim_lines.get(treatment.id)
        if line is not None:
            items += [gap for gap in claim_gaps(invoicing.claim_patient(treatment.patient), [line], months)
                      if gap.gap not in covered]
        if items:
            found.append(LineMissing(view, items))
    return found


@dataclass(frozen=True)
class BatchTotals:
    included: int
    excluded: int
    claimed_cents: int
    paid_cents: int
    pending: int
    rejected: int


def batch_totals(batch_id: int) -> BatchTotals:
    row = db.session.execute(
        select(func.count().filter(ClaimLine.included), func.count().filter(ClaimLine.included.is_(False)),
               func.coalesce(func.sum(ClaimLine.claimed_cents).filter(ClaimLine.included), 0),
               func.coalesce(func.sum(ClaimLine.paid_cents), 0),
               func.count().filter(ClaimLine.included, ClaimLine.status == LineStatus.PENDING),
               func.count().filter(ClaimLine.status == LineStatus.REJECTED))
        .where(ClaimLine.batch_id == batch_id)
    ).one()
    return BatchTotals(*(int(v or 0) for v in row))


def batches(insurer_id: int | None = None, limit: int = 200) -> list[tuple[ClaimBatch, BatchTotals]]:
    query = select(ClaimBatch).order_by(ClaimBatch.created_at.desc(), ClaimBatch.id.desc()).limit(limit)
    if insurer_id is not None:
        query = query.where(ClaimBatch.insurer_id == insurer_id)
    found = list(db.session.scalars(query))
    totals: dict[int, BatchTotals] = {}
    if found:
        rows = db.session.execute(
            select(ClaimLine.batch_id, func.count().filter(ClaimLine.included),
                   func.count().filter(ClaimLine.included.is_(False)),
                   func.coalesce(func.sum(ClaimLine.claimed_cents).filter(ClaimLine.included), 0),
                   func.coalesce(func.sum(ClaimLine.paid_cents), 0),
                   func.count().filter(ClaimLine.included, ClaimLine.status == LineStatus.PENDING),
                   func.count().filter(ClaimLine.status == LineStatus.REJECTED))
            .where(ClaimLine.batch_id.in_([b.id for b in found])).group_by(ClaimLine.batch_id))
        totals = {batch_id: BatchTotals(*(int(v or 0) for v in rest)) for batch_id, *rest in rows}
    empty = BatchTotals(0, 0, 0, 0, 0, 0)
    return [(b, totals.get(b.id, empty)) for b in found]
