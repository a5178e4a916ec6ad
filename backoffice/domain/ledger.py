"""The month's books for the accountant: the invoice register and the payments list, in plain Python.

The invoice register (verkoopboek) holds every invoice and credit note issued in the month: number, date, patient
number (never the name: the accountant needs no health data), the amounts excluding VAT per VAT rate, the VAT, the
total and, for an invoice, what was paid on it and what is still open on the reference day (credit notes and
payments up to that day count). A credit note is a row of its own with negative amounts, naming the invoice it
credits. The payments list holds every payment (refunds and reversals negative) dated in the month.

Amounts come from the database's integer cents (`from_cents`), so the totals here equal the documents' totals to
the cent. Pure: no Flask, no database; backoffice/reporting/queries.py fills these from SQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from .money import from_cents

ZERO = Decimal("0.00")

INVOICE, CREDIT_NOTE = "invoice", "credit_note"


@dataclass(frozen=True)
class RegisterRow:
    kind: str                                   # INVOICE or CREDIT_NOTE
    number: str
    issue_date: date
    patient_number: int
    net_by_rate: dict[int, Decimal]             # VAT rate (0, 9, 21) -> amount excluding VAT
    vat: Decimal
    total: Decimal                              # including VAT; negative for a credit note
    paid: Decimal | None = None                 # invoices only: paid up to the reference day (refunds negative)
    open: Decimal | None = None                 # invoices only: still to receive on the reference day
    credits: str = ""                           # a credit note: the number of the invoice it credits


@dataclass(frozen=True)
class PaymentRow:
    paid_on: date
    invoice_number: str
    patient_number: int
    method: str                                 # the stored code (bank_transfer, pin, ..., insurer)
    amount: Decimal                             # negative for a refund or a reversal
    note: str = ""


@dataclass(frozen=True)
class Ledger:
    """The register and payments of one month, measured on `as_of`."""

    first: date
    last: date
    as_of: date
    register: tuple[RegisterRow, ...] = ()
    payments: tuple[PaymentRow, ...] = ()
    rates: tuple[int, ...] = field(default=(0, 21))   # the VAT-rate columns, always 0 and 21, plus any other used

    def net(self, rate: int) -> Decimal:
        return sum((row.net_by_rate.get(rate, ZERO) for row in self.register), ZERO)

    @property
    def vat(self) -> Decimal:
        return sum((row.vat for row in self.register), ZERO)

    @property
    def total(self) -> Decimal:
        """Invoiced less credited in the month, including VAT."""
        return sum((row.total for row in self.register), ZERO)

    @property
    def paid(self) -> Decimal:
        return sum((row.paid or ZERO for row in self.register), ZERO)

    @property
    def open(self) -> Decimal:
        return sum((row.open or ZERO for row in self.register), ZERO)

    @property
    def payments_total(self) -> Decimal:
        return sum((row.amount for row in self.payments), ZERO)


def rates_of(used: set[int]) -> tuple[int, ...]:
    return tuple(sorted({0, 21} | used))


def register_row(kind: str, number: str, issue_date: date, patient_number: int, net_cents_by_rate: dict[int, int],
                 vat_cents: int, total_cents: int, paid_cents: int | None = None, open_cents: int | None = None,
                 credits: str = "") -> RegisterRow:
    return RegisterRow(
        kind=kind, number=number, issue_date=issue_date, patient_number=patient_number,
        net_by_rate={rate: from_cents(cents) for rate, cents in sorted(net_cents_by_rate.items())},
        vat=from_cents(vat_cents), total=from_cents(total_cents),
        paid=None if paid_cents is None else from_cents(paid_cents),
        open=None if open_cents is None else from_cents(open_cents), credits=credits)
