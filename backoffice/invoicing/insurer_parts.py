"""Direct billing on the patient's invoice: the insurer's part of each line, what the insurer paid (from its
remittance or an outcome recorded by hand), and the short payments the admin settles: moved to the patient or
written off, with a reason.

An insurer set to direct billing (InsurerClaimSettings.direct_billing) is claimed by the clinic: its part of a
reimbursable line (the treatment's stored assessment) is fixed on the line at issue (`insurer_part_cents`) and
the patient is asked for the rest only (balance.py). Under restitution the part is 0: the patient pays all and
receives the declaration. Services add and flush; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import func, select

from .. import audit
from ..clock import clinic_today
from ..domain.claims import BatchStatus, LineStatus
from ..domain.money import format_euro, from_cents, to_cents
from ..errors import ServiceError
from ..extensions import db
from ..models import (
    INSURER_METHOD,
    SETTLEMENT_KINDS,
    ClaimBatch,
    ClaimLine,
    Insurer,
    InsurerClaimSettings,
    InsurerSettlement,
    Invoice,
    InvoiceLine,
    Payment,
    Treatment,
)

ZERO = Decimal("0.00")
COUNTED_BATCHES = (BatchStatus.SUBMITTED.value, BatchStatus.CLOSED.value)


class SettlementError(ServiceError):
    """The short payment cannot be settled; the message says why."""


def direct_billing(insurer_id: int | None) -> bool:
    """Whether the clinic claims from this insurer itself (the default of an insurer without saved settings, as
    claims/settings.py has it)."""
    if insurer_id is None:
        return False
    settings = db.session.get(InsurerClaimSettings, insurer_id)
    return True if settings is None else bool(settings.direct_billing)


def insurer_part_cents(treatment: Treatment) -> int:
    """The insurer's part of the treatment's line when the insurer is billed directly, else 0."""
    if not treatment.reimbursable or treatment.insurer_amount_cents <= 0 or not direct_billing(treatment.insurer_id):
        return 0
    return min(treatment.insurer_amount_cents, treatment.price_cents)


# ---- the insurer's payment, from its outcome ----------------------------------------------------------------


def record_insurer_payment(claim_line: ClaimLine, paid_on: date | None = None, user=None) -> Payment | None:
    """The insurer's payment on a claimed line as a payment on the patient's invoice (method "insurer", linked to
    the claim line); none when it paid nothing or was recorded already. Called when the outcome is stored."""
    if claim_line.paid_cents <= 0:
        return None
    if db.session.scalar(select(Payment.id).where(Payment.claim_line_id == claim_line.id)) is not None:
        return None
    invoice_line = claim_line.invoice_line
    insurer = claim_line.batch.insurer
    payment = Payment(invoice_id=invoice_line.invoice_id, paid_on=paid_on or clinic_today(), method=INSURER_METHOD,
                      amount_cents=claim_line.paid_cents, claim_line_id=claim_line.id,
                      note=f"{insurer.name} {claim_line.claim_reference or ''}".strip()[:200],
                      recorded_by_id=getattr(user, "id", None))
    db.session.add(payment)
    db.session.flush()
    invoice = invoice_line.invoice
    audit.record("update", invoice.patient_id, f"invoice {invoice.number}",
                 f"insurer payment {from_cents(claim_line.paid_cents)} by {insurer.name} "
                 f"(claim {claim_line.claim_reference})", user=user)
    return payment


# ---- each line's insurer part on the invoice page -------------------------------------------------------------


@dataclass(frozen=True)
class LineShare:
    """One direct-billed line: the insurer's part and what became of it."""

    line: InvoiceLine
    insurer: str
    part: Decimal
    claim: ClaimLine | None        # the latest claim of the line in a batch (None: not claimed yet)
    paid: Decimal                  # by the insurer
    to_patient: Decimal
    written_off: Decimal
    credited: bool

    @property
    def open(self) -> Decimal:
        """Still expected from the insurer (0 once the line is credited)."""
        return ZERO if self.credited else self.part - self.paid - self.to_patient - self.written_off

    @property
    def patient_part(self) -> Decimal:
        return from_cents(self.line.gross_cents) - self.part + self.to_patient

    @property
    def answered(self) -> bool:
        """The insurer answered the latest claim (paid, partly, rejected) or the claim check excluded the line."""
        claim = self.claim
        return claim is not None and (not claim.included or claim.status != LineStatus.PENDING.value)

    @property
    def settleable(self) -> bool:
        return self.open > 0 and self.answered


def line_shares(invoice: Invoice) -> list[LineShare]:
    """The direct-billed lines of `invoice` with their insurer part, payments and settlements (few queries)."""
    lines = [line for line in invoice.lines if line.insurer_part_cents > 0]
    if not lines:
        return []
    ids = [line.id for line in lines]
    insurers = dict(db.session.execute(
        select(InvoiceLine.id, Insurer.name).join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .join(Insurer, Insurer.id == Treatment.insurer_id).where(InvoiceLine.id.in_(ids))).all())
    claims: dict[int, ClaimLine] = {}
    for claim in db.session.scalars(
            select(ClaimLine).join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
            .where(ClaimLine.invoice_line_id.in_(ids), ClaimBatch.status != BatchStatus.CANCELLED.value)
            .order_by(ClaimLine.id)):
        claims[claim.invoice_line_id] = claim  # the latest wins
    paid = dict(db.session.execute(
        select(ClaimLine.invoice_line_id, func.sum(Payment.amount_cents))
        .join(ClaimLine, ClaimLine.id == Payment.claim_line_id)
        .where(ClaimLine.invoice_line_id.in_(ids)).group_by(ClaimLine.invoice_line_id)).all())
    settled: dict[tuple[int, str], int] = {
        (line_id, kind): int(cents) for line_id, kind, cents in db.session.execute(
            select(InsurerSettlement.invoice_line_id, InsurerSettlement.kind, func.sum(InsurerSettlement.amount_cents))
            .where(InsurerSettlement.invoice_line_id.in_(ids))
            .group_by(InsurerSettlement.invoice_line_id, InsurerSettlement.kind))}
    return [LineShare(line, insurers.get(line.id, ""), from_cents(line.insurer_part_cents), claims.get(line.id),
                      from_cents(int(paid.get(line.id) or 0)), from_cents(settled.get((line.id, "to_patient"), 0)),
                      from_cents(settled.get((line.id, "written_off"), 0)), line.credit_line is not None)
            for line in lines]


# ---- short payments ------------------------------------------------------------------------------------------


def settle_shortfall(invoice: Invoice, line_id: int, kind: str, reason: str, user=None,
                     today: date | None = None) -> InsurerSettlement:
    """What the insurer did not pay of a line's part (paid less, rejected, or excluded from the claim): moved to
    the patient (their balance goes up by it) or written off, with a reason. Refused while the insurer has not
    answered, or when nothing is short."""
    if kind not in SETTLEMENT_KINDS:
        raise SettlementError(_("Choose whether the patient pays the short payment or it is written off."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise SettlementError(_("Give the reason for settling the short payment."))
    if len(reason) > 200:
        raise SettlementError(_("Keep the reason within 200 characters."))
    share = next((s for s in line_shares(invoice) if s.line.id == line_id), None)
    if share is None:
        raise SettlementError(_("That line has no insurer part on this invoice."))
    if share.open <= 0:
        raise SettlementError(_("Nothing of the insurer's part is open on this line."))
    if not share.answered:
        raise SettlementError(_("The insurer has not answered the claim of this line yet: settle a short payment "
                                "once its outcome is recorded."))
    amount = share.open
    settlement = InsurerSettlement(invoice_id=invoice.id, invoice_line_id=line_id, kind=kind,
                                   amount_cents=to_cents(amount), reason=reason, settled_on=today or clinic_today(),
                                   recorded_by_id=getattr(user, "id", None))
    db.session.add(settlement)
    db.session.flush()
    what = "moved to the patient" if kind == "to_patient" else "written off"
    audit.record("update", invoice.patient_id, f"invoice {invoice.number}",
                 f"insurer short payment {amount} on line {line_id} ({share.insurer}) {what}; reason: {reason}",
                 user=user)
    return settlement


def settled_message(settlement: InsurerSettlement) -> str:
    amount = format_euro(from_cents(settlement.amount_cents))
    if settlement.to_patient:
        return _("%(amount)s moved to the patient's part.", amount=amount)
    return _("%(amount)s written off.", amount=amount)
