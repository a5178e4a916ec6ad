"""The month's books (invoice register and payments list) read in pages, for the month-end pack and the monthly
report downloaded with its books.

A chain's month is thousands of rows; they come page by page (keyset on the documents' number order, PAGE rows a
query), so whoever writes them (a CSV into the pack's ZIP, the workbook's register sheet) holds one page at a time.
The totals are added up as the rows go by (`Totals`).

`MonthBooks` has what the workbook's and the CSV's headers need (first, last, as_of, rates), like a Ledger; its
`register()` and `payments()` may be iterated more than once (each time they read again). The rows equal those of
the tests' own reading of the whole month in one go (tests/ledger_oracle.py): tests/test_month_pack_job.py and
tests/test_month_end_pack.py compare them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from sqlalchemy import and_, func, select, tuple_, union

from ..domain import ledger
from ..domain.ledger import ZERO, PaymentRow, RegisterRow
from ..domain.money import from_cents
from ..domain.reporting import Month
from ..domain.statuses import InvoiceStatus
from ..extensions import db
from ..models import CreditNote, CreditNoteLine, InsurerSettlement, Invoice, InvoiceLine, Payment

PAGE = 500


def _int(value) -> int:
    return int(value or 0)


@dataclass
class Totals:
    """The register's (or payments list's) total row, added up as the rows are written."""

    rates: tuple[int, ...]
    count: int = 0
    net_by_rate: dict[int, Decimal] = field(default_factory=dict)
    vat: Decimal = ZERO
    total: Decimal = ZERO
    paid: Decimal = ZERO
    open: Decimal = ZERO
    payments: Decimal = ZERO

    def net(self, rate: int) -> Decimal:
        return self.net_by_rate.get(rate, ZERO)

    def add(self, row: RegisterRow) -> RegisterRow:
        self.count += 1
        for rate in self.rates:
            self.net_by_rate[rate] = self.net(rate) + row.net_by_rate.get(rate, ZERO)
        self.vat += row.vat
        self.total += row.total
        self.paid += row.paid or ZERO
        self.open += row.open or ZERO
        return row

    def add_payment(self, row: PaymentRow) -> PaymentRow:
        self.count += 1
        self.payments += row.amount
        return row

    def counted(self, rows: Iterable[RegisterRow]) -> Iterator[RegisterRow]:
        return (self.add(row) for row in rows)

    def counted_payments(self, rows: Iterable[PaymentRow]) -> Iterator[PaymentRow]:
        return (self.add_payment(row) for row in rows)


@dataclass(frozen=True)
class MonthBooks:
    """The register and payments of `month`, measured on `as_of`, read page by page."""

    first: date
    last: date
    as_of: date
    rates: tuple[int, ...]

    @classmethod
    def of(cls, month: Month, as_of: date) -> MonthBooks:
        """The VAT-rate columns first (the header comes before any row): the rates the month's lines use."""
        used = db.session.scalars(union(
            select(InvoiceLine.vat_rate).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(_issued(month.first, month.last)),
            select(CreditNoteLine.vat_rate).join(CreditNote, CreditNote.id == CreditNoteLine.credit_note_id)
            .where(CreditNote.issue_date >= month.first, CreditNote.issue_date <= month.last),
        )).all()
        return cls(first=month.first, last=month.last, as_of=as_of, rates=ledger.rates_of({int(r) for r in used}))

    def totals(self) -> Totals:
        return Totals(self.rates)

    # ---- the register ------------------------------------------------------------------------------------------

    def register(self) -> Iterator[RegisterRow]:
        yield from self._invoices()
        yield from self._credit_notes()

    def _invoices(self) -> Iterator[RegisterRow]:
        paid = (select(func.coalesce(func.sum(Payment.amount_cents), 0))
                .where(Payment.invoice_id == Invoice.id, Payment.paid_on <= self.as_of)
                .correlate(Invoice).scalar_subquery())
        credited = (select(func.coalesce(func.sum(CreditNote.total_gross_cents), 0))
                    .where(CreditNote.invoice_id == Invoice.id, CreditNote.issue_date <= self.as_of)
                    .correlate(Invoice).scalar_subquery())
        written_off = (select(func.coalesce(func.sum(InsurerSettlement.amount_cents), 0))
                       .where(InsurerSettlement.invoice_id == Invoice.id, InsurerSettlement.kind == "written_off",
                              InsurerSettlement.settled_on <= self.as_of).correlate(Invoice).scalar_subquery())
        query = (select(Invoice.id, Invoice.number, Invoice.issue_date, Invoice.patient_id, Invoice.total_gross_cents,
                        Invoice.total_vat_cents, paid, credited, written_off, Invoice.series_year, Invoice.sequence)
                 .where(_issued(self.first, self.last)))
        for page in pages(query, Invoice.series_year, Invoice.sequence):
            ids = [row[0] for row in page]
            net: dict[int, dict[int, int]] = {invoice_id: {} for invoice_id in ids}
            for invoice_id, rate, cents in db.session.execute(
                    select(InvoiceLine.invoice_id, InvoiceLine.vat_rate, func.sum(InvoiceLine.net_cents))
                    .where(InvoiceLine.invoice_id.in_(ids)).group_by(InvoiceLine.invoice_id, InvoiceLine.vat_rate)):
                net[invoice_id][int(rate)] = _int(cents)
            for invoice_id, number, issue_date, patient_id, gross, vat, paid_cents, credited_cents, off, *_k in page:
                yield ledger.register_row(ledger.INVOICE, number or "", issue_date, patient_id, net[invoice_id],
                                          _int(vat), _int(gross), _int(paid_cents),
                                          _int(gross) + _int(credited_cents) - _int(paid_cents) - _int(off))

    def _credit_notes(self) -> Iterator[RegisterRow]:
        query = (select(CreditNote.id, CreditNote.number, CreditNote.issue_date, Invoice.patient_id,
                        CreditNote.total_gross_cents, CreditNote.total_vat_cents, Invoice.number,
                        CreditNote.series_year, CreditNote.sequence)
                 .join(Invoice, Invoice.id == CreditNote.invoice_id)
                 .where(CreditNote.issue_date >= self.first, CreditNote.issue_date <= self.last))
        for page in pages(query, CreditNote.series_year, CreditNote.sequence):
            ids = [row[0] for row in page]
            net: dict[int, dict[int, int]] = {note_id: {} for note_id in ids}
            for note_id, rate, cents in db.session.execute(
                    select(CreditNoteLine.credit_note_id, CreditNoteLine.vat_rate, func.sum(CreditNoteLine.net_cents))
                    .where(CreditNoteLine.credit_note_id.in_(ids))
                    .group_by(CreditNoteLine.credit_note_id, CreditNoteLine.vat_rate)):
                net[note_id][int(rate)] = _int(cents)
            for note_id, number, issue_date, patient_id, gross, vat, invoice_number, *_k in page:
                yield ledger.register_row(ledger.CREDIT_NOTE, number, issue_date, patient_id, net[note_id],
                                          _int(vat), _int(gross), credits=invoice_number or "")

    # ---- the payments ------------------------------------------------------------------------------------------

    def payments(self) -> Iterator[PaymentRow]:
        query = (select(Payment.paid_on, Invoice.number, Invoice.patient_id, Payment.method, Payment.amount_cents,
                        Payment.note, Payment.paid_on, Payment.id)
                 .join(Invoice, Invoice.id == Payment.invoice_id)
                 .where(Payment.paid_on >= self.first, Payment.paid_on <= self.last))
        for page in pages(query, Payment.paid_on, Payment.id):
            for paid_on, number, patient_id, method, cents, note, *_k in page:
                yield PaymentRow(paid_on=paid_on, invoice_number=number or "", patient_number=patient_id,
                                 method=method, amount=from_cents(_int(cents)), note=note or "")


def _issued(first: date, last: date):
    return and_(Invoice.status == InvoiceStatus.ISSUED, Invoice.issue_date >= first, Invoice.issue_date <= last)


def pages(query, *order, size: int = PAGE) -> Iterator[list]:
    """`query`'s rows in pages of `size`, ordered by the unique key `order` (the query's last columns): each page is
    one query from where the last ended, so nothing stays open between pages (a caller may commit in between)."""
    after = None
    while True:
        paged = query.order_by(*order).limit(size)
        if after is not None:
            paged = paged.where(tuple_(*order) > tuple_(*after))
        page = list(db.session.execute(paged).all())
        if not page:
            return
        yield page
        if len(page) < size:
            return
        after = tuple(page[-1][-len(order):])
