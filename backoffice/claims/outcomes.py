"""What the insurer did with each claimed line: record an outcome (by hand; remittance.py imports a file), close
a batch once every line has one, the history of a line's claims, and the outcome statistics of both routes."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date
from decimal import Decimal

from flask_babel import LazyString
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..domain import claims as rules
from ..domain.claim_reasons import UNSPECIFIED_REJECTION, insurer_reason, stored_reason
from ..domain.claims import BatchStatus, LineOutcome, LineStatus, OutcomeTally
from ..domain.dutch import euro
from ..domain.indications import Indication
from ..domain.money import from_cents, to_cents
from ..extensions import db
from ..invoicing import insurer_parts
from ..models import ClaimBatch, ClaimLine, Insurer, InvoiceLine, PatientClaim, Treatment
from .common import ClaimError, _l, now, user_id


def line_outcome(line: ClaimLine) -> LineOutcome:
    status = LineStatus(line.status)
    reason = stored_reason(line.rejection_code, line.rejection_text)
    return LineOutcome(from_cents(line.claimed_cents), status, from_cents(line.paid_cents),
                       reason if status is not LineStatus.PENDING else None)


def included_outcomes(batch_id: int) -> list[LineOutcome]:
    lines = db.session.scalars(select(ClaimLine).where(ClaimLine.batch_id == batch_id, ClaimLine.included))
    return [line_outcome(line) for line in lines]


def close_if_complete(batch: ClaimBatch, user) -> bool:
    status = BatchStatus(batch.status)
    new = rules.close_when_complete(status, included_outcomes(batch.id))
    if new is not status:
        batch.status = new.value
        batch.closed_at = now()
        batch.closed_by_id = user_id(user)
        db.session.flush()
        return True
    return False


def store_outcome(line: ClaimLine, outcome: LineOutcome, user, paid_on: date | None = None) -> None:
    """Store the insurer's outcome on the line; what it paid goes on the patient's invoice as the insurer's
    payment (direct billing: it settles the insurer's part; insurer_parts.py)."""
    line.status = outcome.status.value
    line.paid_cents = to_cents(outcome.paid)
    line.rejection_code = outcome.reason.code if outcome.reason else ""
    line.rejection_text = outcome.reason.text("nl") if outcome.reason else ""  # stored in Dutch, shown translated
    line.live = None if outcome.status is LineStatus.REJECTED else True
    line.outcome_at = now()
    line.outcome_by_id = user_id(user)
    if line.paid_cents > 0:
        db.session.flush()
        insurer_parts.record_insurer_payment(line, paid_on, user)


def record_line_outcome(line: ClaimLine, paid: Decimal, reason_code: str = "", reason_text: str = "",
                        user=None, paid_on: date | None = None) -> ClaimLine:
    """What the insurer did with one submitted line: paid in full, partly, or rejected (with a reason); what it
    paid is recorded on the patient's invoice, dated `paid_on` (default today)."""
    batch = line.batch
    if not line.included:
        raise ClaimError(_l("An excluded line was not claimed: it has no outcome."))
    reason = insurer_reason(reason_code, reason_text)
    try:
        outcome = rules.record_outcome(BatchStatus(batch.status), line_outcome(line), paid=paid, reason=reason)
    except (rules.TransitionError, ValueError) as error:
        raise ClaimError(outcome_message(error)) from error
    try:
        store_outcome(line, outcome, user, paid_on)
        db.session.flush()
    except IntegrityError as error:  # the caller rolls back
        raise ClaimError(_l("This line was resubmitted in another batch already; it cannot be paid here.")) from error
    audit.record("update", line.invoice_line.invoice.patient_id, f"claim {line.claim_reference}",
                 f"outcome {outcome.status.value}, paid {outcome.paid}", user=user)
    close_if_complete(batch, user)
    return line


def outcome_message(error: Exception) -> LazyString | str:
    """The domain's refusal in the reader's words."""
    text = str(error)
    if isinstance(error, rules.TransitionError):
        return _l("Outcomes are recorded on submitted batches only.")
    if "needs a reason" in text:
        return _l("A rejection needs the insurer's reason code or text.")
    outside = re.search(r"outside 0\.\.(-?[0-9]+(?:\.[0-9]+)?)", text, re.ASCII)
    if outside:
        return _l("The amount paid must lie between 0 and the amount claimed (%(claimed)s).",
                  claimed=euro(outside.group(1)))
    return text[0].upper() + text[1:] + "."


def history(invoice_line_id: int) -> list[ClaimLine]:
    """Every time the invoice line was in a batch, oldest first."""
    return list(db.session.scalars(
        select(ClaimLine).join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
        .where(ClaimLine.invoice_line_id == invoice_line_id).order_by(ClaimLine.id)))


def attempts(lines: Iterable[ClaimLine]) -> list[rules.ClaimAttempt]:
    return [rules.ClaimAttempt(line.batch.number, line.claim_reference or "", BatchStatus(line.batch.status),
                               line_outcome(line)) for line in lines if line.included]



# ---- outcome statistics ---------------------------------------------------------------------------------------


def outcome_tallies(start: date | None = None, end: date | None = None) -> list[OutcomeTally]:
    """Claim outcomes grouped in SQL per insurer, indication, status and reason, for both routes."""
    tallies: list[OutcomeTally] = []

    def period(column) -> list:
        conditions = []
        if start is not None:
            conditions.append(column >= start)
        if end is not None:
            conditions.append(column <= end)
        return conditions

    batch_rows = db.session.execute(
        select(Insurer.name, Treatment.indication, ClaimLine.status, ClaimLine.rejection_code,
               ClaimLine.rejection_text, func.count(), func.sum(ClaimLine.claimed_cents),
               func.sum(ClaimLine.paid_cents))
        .select_from(ClaimLine)
        .join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
        .join(Insurer, Insurer.id == ClaimBatch.insurer_id)
        .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(ClaimLine.included, ClaimBatch.status.in_((BatchStatus.SUBMITTED, BatchStatus.CLOSED)),
               *period(InvoiceLine.treatment_date))
        .group_by(Insurer.name, Treatment.indication, ClaimLine.status, ClaimLine.rejection_code,
                  ClaimLine.rejection_text))
    patient_rows = db.session.execute(
        select(Insurer.name, Treatment.indication, PatientClaim.status, PatientClaim.rejection_code,
               PatientClaim.rejection_text, func.count(), func.sum(PatientClaim.claimed_cents),
               func.sum(PatientClaim.paid_cents))
        .select_from(PatientClaim)
        .join(Insurer, Insurer.id == PatientClaim.insurer_id)
        .join(InvoiceLine, InvoiceLine.id == PatientClaim.invoice_line_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(*period(InvoiceLine.treatment_date))
        .group_by(Insurer.name, Treatment.indication, PatientClaim.status, PatientClaim.rejection_code,
                  PatientClaim.rejection_text))
    for route, rows in ((rules.ClaimRoute.BATCH, batch_rows), (rules.ClaimRoute.PATIENT, patient_rows)):
        for insurer, indication, status, code, text, count, claimed, paid in rows:
            reason = None
            if status == LineStatus.REJECTED.value:
                reason = stored_reason(code, text) or UNSPECIFIED_REJECTION
            tallies.append(OutcomeTally(
                insurer=insurer, indication=Indication(indication).value, status=LineStatus(status),
                claimed=from_cents(int(claimed or 0)), paid=from_cents(int(paid or 0)), reason=reason,
                lines=int(count), route=route))
    return tallies


def outcome_statistics(per_indication: bool = True, start: date | None = None, end: date | None = None,
             top: int = 3) -> list[rules.OutcomeStats]:
    return rules.outcome_statistics(outcome_tallies(start, end), per_indication=per_indication, top=top)
