"""Patient-submitted claims (restitution): the patient sends the declaration to the insurer; the clinic records
that it was sent and what the insurer paid, so the line is never claimed twice."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from sqlalchemy import exists, or_, select

from .. import audit
from ..domain import claims as rules
from ..domain.claim_reasons import insurer_reason
from ..domain.claims import LineStatus
from ..domain.dutch import nl_date
from ..domain.money import from_cents, to_cents
from ..domain.statuses import InvoiceStatus
from ..extensions import db
from ..models import ClaimLine, CreditNoteLine, Invoice, InvoiceLine, Patient, PatientClaim, Treatment
from .batches import not_claimed_before
from .common import ClaimError, _l, user_id
from .outcomes import outcome_message


def patient_claimable_lines(insurer_id: int, limit: int = 500) -> list[tuple[InvoiceLine, str | None, Patient]]:
    """Issued, reimbursable, uncredited lines of the insurer's treatments that no one has claimed yet."""
    rows = db.session.execute(
        select(InvoiceLine, Invoice.number, Patient)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Patient, Patient.id == Invoice.patient_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(Invoice.status == InvoiceStatus.ISSUED, InvoiceLine.reimbursable, Treatment.insurer_id == insurer_id,
               ~exists().where(CreditNoteLine.invoice_line_id == InvoiceLine.id),
               not_claimed_before(InvoiceLine.id))
        .order_by(InvoiceLine.treatment_date.desc(), InvoiceLine.id.desc()).limit(limit)
    ).all()
    return [(line, number, patient) for line, number, patient in rows]


def record_patient_claim(invoice_line: InvoiceLine, insurer_id: int, submitted_on: date, *,
                         paid: Decimal | None = None, paid_on: date | None = None, reason_code: str = "",
                         reason_text: str = "", user=None, claim: PatientClaim | None = None) -> PatientClaim:
    """Record (or update) that the patient sent the declaration for this line, and what the insurer paid."""
    if claim is None:
        taken = db.session.scalar(select(ClaimLine.id).where(
            ClaimLine.invoice_line_id == invoice_line.id,
            or_(ClaimLine.live.is_(True), ClaimLine.status == LineStatus.REJECTED)).limit(1))
        if taken is not None:
            raise ClaimError(_l("The clinic claims this line itself (it is in a claim batch)."))
        if db.session.scalar(select(PatientClaim.id).where(PatientClaim.invoice_line_id == invoice_line.id)):
            raise ClaimError(_l("This line already has a patient-submitted claim: change that one."))
        claim = PatientClaim(invoice_line_id=invoice_line.id, insurer_id=insurer_id,
                             claimed_cents=invoice_line.insurer_amount_cents, recorded_by_id=user_id(user))
        db.session.add(claim)
    claim.submitted_on = submitted_on
    claimed = from_cents(claim.claimed_cents)
    reason = insurer_reason(reason_code, reason_text)
    if paid is None:
        claim.status, claim.paid_cents, claim.paid_on = LineStatus.PENDING.value, 0, None
        claim.rejection_code = claim.rejection_text = ""
    else:
        try:
            outcome = rules.outcome_for(claimed, paid, reason)
        except ValueError as error:
            raise ClaimError(outcome_message(error)) from error
        claim.status = outcome.status.value
        claim.paid_cents = to_cents(outcome.paid)
        claim.paid_on = paid_on
        claim.rejection_code = outcome.reason.code if outcome.reason else ""
        claim.rejection_text = outcome.reason.text("nl") if outcome.reason else ""
    db.session.flush()
    audit.record("update", invoice_line.invoice.patient_id, f"patient claim {claim.id}",
                 f"declaration submitted by the patient on {nl_date(submitted_on)}; status {claim.status}",
                 user=user)
    return claim


def recorded_patient_claims(limit: int = 200) -> list[tuple[PatientClaim, InvoiceLine, str | None, Patient]]:
    rows = db.session.execute(
        select(PatientClaim, InvoiceLine, Invoice.number, Patient)
        .join(InvoiceLine, InvoiceLine.id == PatientClaim.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Patient, Patient.id == Invoice.patient_id)
        .order_by(PatientClaim.submitted_on.desc(), PatientClaim.id.desc()).limit(limit)
    ).all()
    return [(claim, line, number, patient) for claim, line, number, patient in rows]
