"""An invoice's balance and payment state: one definition, as SQL over the model's columns.

- balance: what the patient still has to pay: the invoice's gross total, less what its credit notes took off
  (their totals are negative), less what the patient paid (a refund is a negative payment), less the insurer's
  share. Positive: still to pay; negative: to refund.
- the insurer's share (direct billing): the insurer's part of each line not credited (`insurer_part_cents`,
  fixed at issue; 0 under restitution), less the short payments moved to the patient (insurer_settlements, kind
  "to_patient"). What the insurer pays (payments with method "insurer", recorded from its remittance) and what
  is written off settle that share and leave the patient's balance as it is; so the patient is asked for their
  part only, and the overdue list, the reminders and the receivables count the patient's part.
- state: draft until issued; credited when every line was credited (an invoice without lines is not); paid when
  the balance is nothing or less; open otherwise; overdue: open after its due date.

Measured on a day (`as_of`, the reports' receivables), only the credit notes issued and the payments made up to
that day count; without it, all of them (the lists, the overdue list, the patient page, an invoice's own page).

Every list, report and page reads the state and balance through these expressions, so a filter ("open",
"overdue"), the figures shown next to it and the receivables on the dashboard always agree.
`domain.invoicing.invoice_status` states the same rule in plain Python; tests/test_invoicing.py checks that both
give the same answer on the same invoices.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    Select,
    Subquery,
    and_,
    case,
    cast,
    exists,
    func,
    literal,
    not_,
    null,
    or_,
    select,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement as Column

from ..domain import invoicing as rules
from ..domain.money import from_cents
from ..domain.statuses import InvoiceStatus
from ..extensions import db
from ..models import INSURER_METHOD, CreditNote, CreditNoteLine, InsurerSettlement, Invoice, InvoiceLine, Payment

State = rules.PaymentState


# The movements on an invoice's balance: its credit notes (negative totals) and its payments (refunds negative),
# as (invoice id, cents it adds to what is still to pay), up to a day. The row-wise expressions below sum them per
# invoice; `open_on` stacks them with the invoices' totals and sums them all in one pass (reports).

def _credit_movements(as_of: date | None) -> Select:
    query = select(CreditNote.invoice_id.label("invoice_id"), CreditNote.total_gross_cents.label("cents"))
    return query if as_of is None else query.where(CreditNote.issue_date <= as_of)


def _payment_movements(as_of: date | None, insurer: bool = False) -> Select:
    """The patient's payments (refunds negative), or with `insurer` the insurer's."""
    by_insurer = Payment.method == INSURER_METHOD
    query = (select(Payment.invoice_id.label("invoice_id"), (-Payment.amount_cents).label("cents"))
             .where(by_insurer if insurer else ~by_insurer))
    return query if as_of is None else query.where(Payment.paid_on <= as_of)


def _line_credited(line_id: Any, as_of: date | None) -> ColumnElement[bool]:
    credited = (select(CreditNoteLine.id).join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
                .where(CreditNoteLine.invoice_line_id == line_id))
    if as_of is not None:
        credited = credited.where(CreditNote.issue_date <= as_of)
    return credited.exists()


def _insurer_share_parts(as_of: date | None) -> tuple[Select, Select]:
    """The insurer's share as movements on the patient's balance: minus each direct-billed line's insurer part,
    plus what was moved back to the patient, for the lines not credited (on `as_of`)."""
    parts = (select(InvoiceLine.invoice_id.label("invoice_id"), (-InvoiceLine.insurer_part_cents).label("cents"))
             .where(InvoiceLine.insurer_part_cents > 0, ~_line_credited(InvoiceLine.id, as_of)))
    moved = (select(InsurerSettlement.invoice_id.label("invoice_id"), InsurerSettlement.amount_cents.label("cents"))
             .where(InsurerSettlement.kind == "to_patient",
                    ~_line_credited(InsurerSettlement.invoice_line_id, as_of)))
    if as_of is not None:
        moved = moved.where(InsurerSettlement.settled_on <= as_of)
    return parts, moved


def _insurer_share_movements(as_of: date | None) -> Select:
    return select(union_all(*_insurer_share_parts(as_of)).subquery())


def _summed(movements: Select) -> Column[Any]:
    part = movements.subquery()
    return (select(func.coalesce(func.sum(part.c.cents), 0)).where(part.c.invoice_id == Invoice.id)
            .correlate(Invoice).scalar_subquery())


def paid_cents(as_of: date | None = None) -> Column[Any]:
    """What the patient paid on the invoice (refunds negative), in cents."""
    return -_summed(_payment_movements(as_of))


def insurer_paid_cents(as_of: date | None = None) -> Column[Any]:
    """What the insurer paid on the invoice (direct billing), in cents."""
    return -_summed(_payment_movements(as_of, insurer=True))


def insurer_share_cents(as_of: date | None = None) -> Column[Any]:
    """The insurer's share of the invoice (direct billing; not the patient's to pay), in cents."""
    # Each part summed on its own: SQLite reaches a plain subquery through the invoice's index, a UNION ALL only by
    # scanning every invoice line for every invoice (20 ms an invoice on a quarter of the benchmark chain).
    parts, moved = _insurer_share_parts(as_of)
    return -(_summed(parts) + _summed(moved))


def credited_cents(as_of: date | None = None) -> Column[Any]:
    """What the invoice's credit notes took off, in cents (positive)."""
    return -_summed(_credit_movements(as_of))


def balance_cents(as_of: date | None = None) -> Column[Any]:
    """Still to pay by the patient, in cents: the total, less credit notes, payments and the insurer's share."""
    return Invoice.total_gross_cents - credited_cents(as_of) - paid_cents(as_of) - insurer_share_cents(as_of)


def fully_credited(as_of: date | None = None, invoice_id: Any = Invoice.id) -> ColumnElement[bool]:
    """Every line of the invoice (`invoice_id`) credited (an invoice without lines is not)."""
    credited = select(CreditNoteLine.id).join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id).where(
        CreditNoteLine.invoice_line_id == InvoiceLine.id)
    if as_of is not None:
        credited = credited.where(CreditNote.issue_date <= as_of)
    uncredited = select(InvoiceLine.id).where(InvoiceLine.invoice_id == invoice_id, ~credited.exists())
    return and_(exists().where(InvoiceLine.invoice_id == invoice_id), ~uncredited.exists())


def in_state(state: State | str, today: date | None = None, as_of: date | None = None) -> ColumnElement[bool]:
    """The invoices in `state` (a PaymentState, or "overdue": open and past the due date on `today`)."""
    if state == State.DRAFT:
        return Invoice.status == InvoiceStatus.DRAFT
    issued = Invoice.status == InvoiceStatus.ISSUED
    if state == State.CREDITED:
        return and_(issued, fully_credited(as_of))
    if state == State.PAID:
        return and_(issued, not_(fully_credited(as_of)), balance_cents(as_of) <= 0)
    is_open = and_(issued, balance_cents(as_of) > 0, not_(fully_credited(as_of)))
    if state == State.OPEN:
        return is_open
    if state == "overdue":
        if today is None:
            raise ValueError("overdue needs the day it is measured on")
        return and_(is_open, Invoice.due_date < today)
    raise ValueError(f"unknown payment state {state!r}")


def state(as_of: date | None = None) -> Column[Any]:
    """The payment state's value (PaymentState) of each invoice."""
    return case(
        (Invoice.status != InvoiceStatus.ISSUED, literal(State.DRAFT.value)),
        (fully_credited(as_of), literal(State.CREDITED.value)),
        (balance_cents(as_of) <= 0, literal(State.PAID.value)),
        else_=literal(State.OPEN.value))


def _last_payment(column: Any) -> Column[Any]:
    return (select(column).where(Payment.invoice_id == Invoice.id, Payment.method != INSURER_METHOD)
            .order_by(Payment.paid_on.desc(), Payment.id.desc()).limit(1).correlate(Invoice).scalar_subquery())


def status_columns() -> list[Column[Any]]:
    """What `status_from_row` needs, as labelled columns to select beside an invoice."""
    return [state().label("payment_state"), credited_cents().label("credited_cents"),
            paid_cents().label("paid_cents"), _last_payment(Payment.paid_on).label("last_paid_on"),
            _last_payment(Payment.method).label("last_method"),
            insurer_share_cents().label("insurer_share_cents"), insurer_paid_cents().label("insurer_paid_cents")]


def status_from_row(invoice: Invoice, row: Any, today: date) -> rules.InvoiceStatus:
    """The payment status of `invoice` from the columns of `status_columns` (in `row`)."""
    total, credited, paid = (from_cents(invoice.total_gross_cents), from_cents(int(row.credited_cents)),
                             from_cents(int(row.paid_cents)))
    share = from_cents(int(row.insurer_share_cents))
    payment_state = State(row.payment_state)
    due = invoice.due_date
    overdue = payment_state is State.OPEN and due is not None and due < today
    return rules.InvoiceStatus(
        state=payment_state, total=total, credited=credited, paid=paid, balance=total - credited - paid - share,
        overdue=overdue, days_overdue=(today - due).days if overdue and due else 0,
        last_paid_on=row.last_paid_on, last_method=row.last_method or "", insurer_share=share,
        insurer_paid=from_cents(int(row.insurer_paid_cents)))


def statuses(invoices: Iterable[Invoice], today: date) -> dict[int, rules.InvoiceStatus]:
    """{invoice id: payment status} of `invoices`, in one query."""
    by_id = {invoice.id: invoice for invoice in invoices}
    if not by_id:
        return {}
    rows = db.session.execute(select(Invoice.id, *status_columns()).where(Invoice.id.in_(by_id)))
    return {row.id: status_from_row(by_id[row.id], row, today) for row in rows}


def open_on(as_of: date, *where: Any) -> Subquery:
    """The invoices still open on `as_of` among the issued ones `where` selects, with their issue date, due date
    and balance in cents (columns issued, due, balance): the reports' receivables.

    The same balance and state as above, evaluated for many invoices at once: the invoices' totals and their
    movements up to `as_of` are stacked (UNION ALL) and summed per invoice in one pass (PostgreSQL took 4 s for
    a quarter of the benchmark chain row by row, 1 s so), and only the invoices with money still to pay are
    checked for being fully credited."""
    invoices = [Invoice.status == InvoiceStatus.ISSUED, Invoice.issue_date <= as_of, *where]
    credits, payments = _credit_movements(as_of), _payment_movements(as_of)
    shares = _insurer_share_movements(as_of).subquery()
    if where:  # a few issue months: reach their movements through their invoices
        credits = credits.join(Invoice, Invoice.id == CreditNote.invoice_id).where(*invoices)
        payments = payments.join(Invoice, Invoice.id == Payment.invoice_id).where(*invoices)
        shares_query = select(shares).join(Invoice, Invoice.id == shares.c.invoice_id).where(*invoices)
    else:
        shares_query = select(shares)
    no_date = cast(null(), Date)
    movements = union_all(
        select(Invoice.id.label("invoice_id"), Invoice.total_gross_cents.label("cents"),
               Invoice.issue_date.label("issued"), Invoice.due_date.label("due"), literal(0).label("credits"))
        .where(*invoices),
        select(credits.subquery(), no_date, no_date, literal(1)),
        select(payments.subquery(), no_date, no_date, literal(0)),
        select(shares_query.subquery(), no_date, no_date, literal(0)),
    ).subquery()
    sums = (select(movements.c.invoice_id, func.sum(movements.c.cents).label("balance"),
                   func.max(movements.c.issued).label("issued"), func.max(movements.c.due).label("due"),
                   func.max(movements.c.credits).label("credited"))
            .group_by(movements.c.invoice_id).subquery())
    # Without a credit note an invoice cannot be fully credited: only the others are looked at line by line.
    return (select(sums.c.issued, sums.c.due, sums.c.balance)
            .where(sums.c.issued.is_not(None), sums.c.balance > 0,
                   or_(sums.c.credited == 0, not_(fully_credited(as_of, sums.c.invoice_id))))
            .subquery())
