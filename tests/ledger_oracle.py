"""The month's books read in one go, straight from the tables: the tests' independent reckoning of what the
month-end pack reads page by page (backoffice/reporting/books.py). Kept apart from the application (which has one
way to read the books) so that the two can be compared row for row."""

from __future__ import annotations

from collections import defaultdict
from datetime import date

from sqlalchemy import and_, func, select

from backoffice.domain import ledger
from backoffice.domain.money import from_cents
from backoffice.domain.reporting import Month, Period
from backoffice.domain.statuses import InvoiceStatus
from backoffice.extensions import db
from backoffice.models import CreditNote, CreditNoteLine, InsurerSettlement, Invoice, InvoiceLine, Payment
from backoffice.reporting.queries import _between, _int


def month_ledger(month: Month, as_of: date) -> ledger.Ledger:
    """Every invoice and credit note issued in `month` (the register) and every payment dated in it, with what was
    paid on each invoice and what is still open on `as_of` (credit notes, payments and write-offs up to that day).
    Paid counts every payment, the insurer's direct-billing payments too, since the accountant books money received
    from anyone; open is what is still to receive from the patient or the insurer: the total, less credit notes,
    payments and what the admin wrote off of an insurer's part.

    A few grouped queries whatever the month's size: the lines summed per invoice and VAT rate, the payments and
    credit notes per invoice; the rows grow with the documents of one month only.
    """
    issued = and_(Invoice.status == InvoiceStatus.ISSUED, _between(Invoice.issue_date, Period(month.first,
                                                                                               month.last)))
    net: dict[int, dict[int, int]] = defaultdict(dict)
    used: set[int] = set()
    for invoice_id, rate, cents in db.session.execute(
            select(InvoiceLine.invoice_id, InvoiceLine.vat_rate, func.sum(InvoiceLine.net_cents))
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id).where(issued)
            .group_by(InvoiceLine.invoice_id, InvoiceLine.vat_rate)):
        net[invoice_id][int(rate)] = _int(cents)
        used.add(int(rate))
    paid = (select(func.coalesce(func.sum(Payment.amount_cents), 0))
            .where(Payment.invoice_id == Invoice.id, Payment.paid_on <= as_of).correlate(Invoice).scalar_subquery())
    credited = (select(func.coalesce(func.sum(CreditNote.total_gross_cents), 0))
                .where(CreditNote.invoice_id == Invoice.id, CreditNote.issue_date <= as_of)
                .correlate(Invoice).scalar_subquery())
    written_off = (select(func.coalesce(func.sum(InsurerSettlement.amount_cents), 0))
                   .where(InsurerSettlement.invoice_id == Invoice.id, InsurerSettlement.kind == "written_off",
                          InsurerSettlement.settled_on <= as_of).correlate(Invoice).scalar_subquery())
    rows = []
    for invoice_id, number, issue_date, patient_id, gross, vat, paid_cents, credited_cents, off in db.session.execute(
            select(Invoice.id, Invoice.number, Invoice.issue_date, Invoice.patient_id, Invoice.total_gross_cents,
                   Invoice.total_vat_cents, paid, credited, written_off)
            .where(issued).order_by(Invoice.series_year, Invoice.sequence)):
        # credit-note totals are negative: the open amount is the total plus them, less what was paid or written off
        rows.append(ledger.register_row(ledger.INVOICE, number or "", issue_date, patient_id, net[invoice_id],
                                        _int(vat), _int(gross), _int(paid_cents),
                                        _int(gross) + _int(credited_cents) - _int(paid_cents) - _int(off)))
    note_net: dict[int, dict[int, int]] = defaultdict(dict)
    in_month = _between(CreditNote.issue_date, Period(month.first, month.last))
    for note_id, rate, cents in db.session.execute(
            select(CreditNoteLine.credit_note_id, CreditNoteLine.vat_rate, func.sum(CreditNoteLine.net_cents))
            .join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id).where(in_month)
            .group_by(CreditNoteLine.credit_note_id, CreditNoteLine.vat_rate)):
        note_net[note_id][int(rate)] = _int(cents)
        used.add(int(rate))
    for note_id, number, issue_date, patient_id, gross, vat, invoice_number in db.session.execute(
            select(CreditNote.id, CreditNote.number, CreditNote.issue_date, Invoice.patient_id,
                   CreditNote.total_gross_cents, CreditNote.total_vat_cents, Invoice.number)
            .join(Invoice, Invoice.id == CreditNote.invoice_id).where(in_month)
            .order_by(CreditNote.series_year, CreditNote.sequence)):
        rows.append(ledger.register_row(ledger.CREDIT_NOTE, number, issue_date, patient_id, note_net[note_id],
                                        _int(vat), _int(gross), credits=invoice_number or ""))
    payments = [
        ledger.PaymentRow(paid_on=paid_on, invoice_number=number or "", patient_number=patient_id, method=method,
                          amount=from_cents(_int(cents)), note=note or "")
        for paid_on, number, patient_id, method, cents, note in db.session.execute(
            select(Payment.paid_on, Invoice.number, Invoice.patient_id, Payment.method, Payment.amount_cents,
                   Payment.note)
            .join(Invoice, Invoice.id == Payment.invoice_id)
            .where(Payment.paid_on >= month.first, Payment.paid_on <= month.last)
            .order_by(Payment.paid_on, Payment.id))]
    return ledger.Ledger(first=month.first, last=month.last, as_of=as_of, register=tuple(rows),
                         payments=tuple(payments), rates=ledger.rates_of(used))


