"""The demo's billing, through the invoicing and claims services as at the desk.

Invoices are issued in date order (each renders and stores its PDF, so numbers run with the dates from 00001 in
each year), paid by pin or transfer, a few open or overdue, one credited and replaced; the last two weeks'
treatments are left to invoice. Then claim batches: one submitted with the insurer's outcomes and one draft,
their workbooks in the app's CLAIMS_DIR.

Most demo insurers are billed directly (the default of an insurer's claim settings): their patients' invoices
show the insurer's part and the patient's part and ask the patient for their part only; the answered batch
records the insurer's payments on those invoices, a rejection is moved to the patient and a partial payment's
rest written off, each with its reason. CZ works by restitution (data.INSURER_CLAIM_SETTINGS): its patients pay
the whole invoice and claim it themselves, so it gets no batch. Anderzorg asks for the BSN on claim lines: the
claim check excludes the line of a patient without one, with its reason.
"""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import NamedTuple

from sqlalchemy import exists, func, select

from ..claims import remittance
from ..claims.batches import batch_lines, candidate_lines, create_batch, mark_submitted
from ..claims.common import ClaimError
from ..claims.export import export_batch
from ..claims.settings import settings_for
from ..domain.dutch import amount_nl
from ..domain.money import from_cents, to_cents
from ..domain.referrals import add_months
from ..extensions import db
from ..invoicing.insurer_parts import line_shares, settle_shortfall
from ..invoicing.services import credit_invoice, draft_invoice, invoice_status, issue_invoice, record_payment
from ..models import (
    ClaimBatch,
    ClaimLine,
    Insurer,
    Invoice,
    InvoicedTreatment,
    InvoiceLine,
    Patient,
    Payment,
    Treatment,
)
from .data import (
    CLAIM_REPLY_DAYS,
    CREDIT_REASON,
    INSTALMENT_NOTE,
    INVOICE_WINDOW_DAYS,
    OVERDUE_BILLS,
    PARTLY_PAID_REASON,
    PIN_SHARE,
    REJECTION_REASON,
    SHORTFALL_TO_PATIENT_REASON,
    SHORTFALL_WRITTEN_OFF_REASON,
    UNINVOICED_DAYS,
)
from .people import Added
from .report import SeedReport


@dataclass
class _Bill:
    patient: Patient
    treatments: list[Treatment]
    issue_day: date
    method: str                  # "pin" (paid at the desk on the issue day) or "bank_transfer"
    outcome: str = "paid"        # "paid", "unpaid" (overdue), "partly" (an instalment), "credited" (and replaced)
    invoice: Invoice | None = None


class _Payment(NamedTuple):
    paid_on: date
    method: str
    cents: int
    note: str


# ---- which treatments go on which invoice, and how each is paid ------------------------------------------


def _groups(treatments: list[Treatment]) -> list[list[Treatment]]:
    """Per patient, sessions of up to eight weeks together (the treatments ordered by patient and date)."""
    groups: list[list[Treatment]] = []
    for treatment in treatments:
        if (not groups or groups[-1][0].patient_id != treatment.patient_id
                or (treatment.treatment_date - groups[-1][0].treatment_date).days > INVOICE_WINDOW_DAYS):
            groups.append([treatment])
        else:
            groups[-1].append(treatment)
    return groups


def _bill(group: list[Treatment], today: date, rng: random.Random) -> _Bill:
    last = group[-1].treatment_date
    if rng.random() < PIN_SHARE:
        return _Bill(group[0].patient, group, last, "pin")
    issue_day = min(last + timedelta(days=rng.randint(1, 3)), today)
    return _Bill(group[0].patient, group, issue_day, "bank_transfer")


def _mark_exceptions(bills: list[_Bill], today: date, rng: random.Random) -> None:
    """Among the invoices of one to five months ago: one credited and replaced, a few never (fully) paid."""
    older = [b for b in bills if today - timedelta(days=150) <= b.issue_day <= today - timedelta(days=30)]
    several = [b for b in older if len(b.treatments) >= 2]
    if several:
        credited = rng.choice(several)
        credited.method, credited.outcome = "bank_transfer", "credited"
    payable = [b for b in older if b.outcome == "paid"]
    unpaid = rng.sample(payable, k=min(OVERDUE_BILLS, len(payable)))
    for number, bill in enumerate(sorted(unpaid, key=lambda b: b.issue_day)):
        bill.method, bill.outcome = "bank_transfer", "partly" if number == 0 else "unpaid"


def _bills(today: date, rng: random.Random, patient_ids: list[int]) -> list[_Bill]:
    """The treatments up to two weeks ago, per patient grouped into invoices of up to eight weeks of sessions,
    in issue-date order."""
    cutoff = today - timedelta(days=UNINVOICED_DAYS)
    treatments = list(db.session.scalars(
        select(Treatment).where(Treatment.patient_id.in_(patient_ids), Treatment.treatment_date <= cutoff)
        .order_by(Treatment.patient_id, Treatment.treatment_date, Treatment.id)
    ))
    bills = [_bill(group, today, rng) for group in _groups(treatments)]
    bills.sort(key=lambda b: (b.issue_day, b.patient.id, b.treatments[0].id))
    _mark_exceptions(bills, today, rng)
    return bills


def _payment(bill: _Bill, invoice: Invoice, today: date, rng: random.Random) -> _Payment | None:
    # The patient's part: the total, less the insurer's part when its insurer is billed directly.
    total = to_cents(invoice_status(invoice, bill.issue_day).balance)
    if total <= 0:
        return None
    if bill.outcome == "partly":
        return _Payment(bill.issue_day + timedelta(days=rng.randint(10, 20)), "bank_transfer",
                        max(total // 200 * 100, 1), INSTALMENT_NOTE)
    if bill.outcome == "paid" and bill.method == "pin":
        return _Payment(bill.issue_day, "pin", total, "")
    if bill.outcome == "paid":
        # Transfers come in 3 to 20 days after the invoice; most pay near the end of the term, so an invoice
        # still within it is open, and one whose transfer is later than today is overdue.
        paid_on = bill.issue_day + timedelta(days=rng.randint(3, 20))
        due = invoice.due_date
        return _Payment(paid_on, "bank_transfer", total, "") if paid_on < today and due and due < today else None
    return None  # left unpaid (overdue), or credited before it was paid


# ---- invoices ------------------------------------------------------------------------------------------


def _issue(bill: _Bill, today: date, rng: random.Random, report: SeedReport) -> Invoice:
    invoice = issue_invoice(draft_invoice(bill.patient, [t.id for t in bill.treatments]), today=bill.issue_day)
    bill.invoice = invoice
    payment = _payment(bill, invoice, today, rng)
    if payment is not None:
        record_payment(invoice, payment.paid_on, payment.method, from_cents(payment.cents), note=payment.note)
        report.payments += 1
    return invoice


def _credit_and_replace(bill: _Bill, day: date, today: date, rng: random.Random,
                        report: SeedReport) -> list[Invoice]:
    """Credit the whole invoice, then issue one invoice per session instead."""
    if bill.invoice is None:
        raise ValueError("a bill is credited only after it was issued")
    credit_invoice(bill.invoice, reason=CREDIT_REASON, today=day)
    report.credit_notes += 1
    return [_issue(_Bill(bill.patient, [treatment], day, "bank_transfer"), today, rng, report)
            for treatment in bill.treatments]


def _invoice_history(today: date, rng: random.Random, patient_ids: list[int], report: SeedReport) -> list[Invoice]:
    """Invoices issued through the invoicing service (each renders and stores its PDF), in date order so the
    numbers run with the dates; payments by pin or transfer; a credit note with its replacement invoices. The
    last two weeks' treatments stay un-invoiced."""
    bills = _bills(today, rng, patient_ids)
    issued: list[Invoice] = []
    # (day, 0: issue | 1: credit and replace, order among the bills, bill)
    events = [(bill.issue_day, 0, index, bill) for index, bill in enumerate(bills)]
    events += [(bill.issue_day + timedelta(days=6), 1, 0, bill) for bill in bills if bill.outcome == "credited"]
    for day, kind, _index, bill in sorted(events, key=lambda event: event[:3]):
        if kind == 0:
            issued.append(_issue(bill, today, rng, report))
        else:
            issued.extend(_credit_and_replace(bill, day, today, rng, report))
    report.invoices = len(issued)
    report.uninvoiced = db.session.scalar(select(func.count(Treatment.id)).where(
        Treatment.patient_id.in_(patient_ids), ~exists().where(InvoicedTreatment.treatment_id == Treatment.id))) or 0
    return issued


# ---- claim batches -------------------------------------------------------------------------------------


class _ClaimMonth(NamedTuple):
    insurer: Insurer
    start: date
    end: date
    eligible: int    # claimable lines
    ineligible: int  # lines the claim check will exclude: no BSN where the insurer asks for it, or an ineligible
    #                  therapist (a lapse recorded after the treatment was assessed)


def _claim_month(insurer: Insurer, start: date, end: date) -> _ClaimMonth | None:
    line_ids = list(db.session.scalars(candidate_lines(insurer.id, start, end)))
    if not line_ids:
        return None
    treatments = db.session.scalars(select(Treatment).join(
        InvoiceLine, InvoiceLine.treatment_id == Treatment.id).where(InvoiceLine.id.in_(line_ids))).all()
    bsn_required = settings_for(insurer.id).bsn_required
    eligible = sum(t.therapist.credentials_on(t.treatment_date).eligible
                   and not (bsn_required and t.patient.bsn_index is None) for t in treatments)
    return _ClaimMonth(insurer, start, end, eligible, len(treatments) - eligible)


def _claim_months(today: date, insurers: list[Insurer]) -> list[_ClaimMonth]:
    """Each month that has ended with issued, unclaimed, reimbursable invoice lines of an insurer billed
    directly."""
    first = db.session.scalar(select(func.min(InvoiceLine.treatment_date)))
    if first is None:
        return []
    direct = [insurer for insurer in insurers if settings_for(insurer.id).direct_billing]
    months = []
    month = first.replace(day=1)
    while add_months(month, 1) <= today:
        end = add_months(month, 1) - timedelta(days=1)
        months += [found for insurer in direct if (found := _claim_month(insurer, month, end)) is not None]
        month = add_months(month, 1)
    return months


def _pick_months(months: list[_ClaimMonth], today: date) -> tuple[_ClaimMonth | None, _ClaimMonth | None]:
    """The month to submit: one the insurer has had time to answer, preferably with three claimable lines; the
    month to leave as a draft: preferably one where the claim check leaves a line excluded with its reason (a
    patient without the BSN its insurer asks for), else the latest."""
    answered = [m for m in months if m.end <= today - timedelta(days=CLAIM_REPLY_DAYS) and m.eligible]
    submitted = max(answered, key=lambda m: (min(m.eligible, 3), m.ineligible > 0, m.eligible, m.start),
                    default=None)
    drafts = [m for m in months if m is not submitted]
    draft = max(drafts, key=lambda m: (m.eligible > 0 and m.ineligible > 0, m.ineligible > 0, m.start, m.eligible),
                default=None)
    return submitted, draft


def _submission_day(month: _ClaimMonth, today: date) -> date:
    """Claimed some ten days after the month, once its invoices were out."""
    issued = db.session.scalar(
        select(func.max(Invoice.issue_date)).select_from(InvoiceLine)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(Treatment.insurer_id == month.insurer.id, InvoiceLine.treatment_date.between(month.start, month.end))
    ) or month.end
    return min(today, max(month.end + timedelta(days=10), issued + timedelta(days=1)))


def _open_batch(month: _ClaimMonth, claim_day: date, report: SeedReport) -> ClaimBatch | None:
    try:
        batch = create_batch(month.insurer, month.start, month.end, today=claim_day)
    except ClaimError:
        return None
    report.claim_batches += 1
    lines = batch_lines(batch)
    report.claim_lines += len(lines)
    report.claim_lines_excluded += sum(not view.line.included for view in lines)
    return batch


def _remittance(batch: ClaimBatch, included: list[ClaimLine]) -> bytes:
    """The insurer's reply as its desk sends it (CSV, Dutch amounts): paid, rejected with its reason, partly paid,
    paid; with four or more lines the last is not in the file yet (it awaits the insurer's answer)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(["Claimreferentie", "Betaald", "Redencode", "Reden"])
    for number, line in enumerate(included):
        if number == 1:
            writer.writerow([line.claim_reference, amount_nl(Decimal(0)), *REJECTION_REASON])
        elif number == 2 and line.claimed_cents > 1:
            writer.writerow([line.claim_reference, amount_nl(from_cents(line.claimed_cents * 3 // 4)),
                             *PARTLY_PAID_REASON])
        elif number < 3 or number < len(included) - 1:
            writer.writerow([line.claim_reference, amount_nl(from_cents(line.claimed_cents)), "", ""])
    return out.getvalue().encode("utf-8-sig")


def _answer(batch: ClaimBatch, included: list[ClaimLine], paid_on: date) -> None:
    """The insurer's remittance for the batch, uploaded and applied as at the desk (claims/remittance.py): what it
    paid goes on the patients' invoices and lowers their open balance; then the rejected part is moved to the
    patient and the rest of the partial payment written off, each with its reason."""
    reply = remittance.upload(batch.insurer, _remittance(batch, included), f"retour-{batch.number}.csv")
    remittance.apply(reply, paid_on=paid_on)
    if len(included) > 1:
        _settle(included[1], "to_patient", SHORTFALL_TO_PATIENT_REASON, paid_on)
    if len(included) > 2 and included[2].claimed_cents > 1:
        _settle(included[2], "written_off", SHORTFALL_WRITTEN_OFF_REASON, paid_on)


def _settle(line: ClaimLine, kind: str, reason: str, day: date) -> None:
    invoice = line.invoice_line.invoice
    db.session.expire(invoice)
    if any(share.line.id == line.invoice_line_id and share.settleable for share in line_shares(invoice)):
        settle_shortfall(invoice, line.invoice_line_id, kind, reason, today=day)


def _submit(month: _ClaimMonth, today: date, report: SeedReport) -> None:
    """A batch exported, submitted and answered by the insurer."""
    claim_day = _submission_day(month, today)
    batch = _open_batch(month, claim_day, report)
    if batch is None or not any(view.line.included for view in batch_lines(batch)):
        return
    export_batch(batch, today=claim_day)
    mark_submitted(batch)
    _answer(batch, [view.line for view in batch_lines(batch) if view.line.included],
            min(today, claim_day + timedelta(days=CLAIM_REPLY_DAYS // 2)))


def _claim_batches(today: date, insurers: dict[str, Insurer], report: SeedReport) -> None:
    """Two claim batches through the claims service: one submitted and answered, one draft (see _pick_months)."""
    submitted, draft = _pick_months(_claim_months(today, sorted(insurers.values(), key=lambda i: i.uzovi)), today)
    if submitted is not None:
        _submit(submitted, today, report)
    if draft is not None:
        _open_batch(draft, today, report)


def billing(today: date, rng: random.Random, added: list[Added], insurers: dict[str, Insurer],
            report: SeedReport) -> None:
    """Invoices, payments, a credit note and claim batches for the treatments recorded now; left out when the
    database has invoices or claim batches already (back-dated invoices would break its number series)."""
    if not added or db.session.scalar(select(Invoice.id).limit(1)) is not None \
            or db.session.scalar(select(ClaimBatch.id).limit(1)) is not None:
        return
    issued = _invoice_history(today, rng, [a.patient.id for a in added], report)
    db.session.flush()
    _claim_batches(today, insurers, report)
    db.session.flush()
    report.payments = db.session.scalar(select(func.count(Payment.id))) or 0  # the desk's and the insurer's
    states = {"paid": 0, "open": 0, "overdue": 0, "credited": 0}
    for invoice in issued:
        db.session.expire(invoice)  # payments and credit notes were added by id, not through the relationships
        status = invoice_status(invoice, today)
        states[status.state.value] += 1
        states["overdue"] += status.overdue
    report.invoice_states = states
