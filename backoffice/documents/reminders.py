"""The payment reminder letters (the friendly reminder and the 14-day letter) as PDF: plain data in, bytes out.

No Flask and no ORM: backoffice/reminders/services.py builds a ReminderDocument from the database and stores the
bytes with their SHA-256. Rendered like every other document (documents/pdf.py: the shared Jinja environment, font
configuration and URL fetcher, PDF/A-3b), from reports/reminder/. Always Dutch, as every letter to a patient.

The formal letter words what art. 6:96 lid 6 BW asks (see domain/reminders.py): the amount open, 14 days to pay
counted from the day after the letter is received, the day it is assumed to arrive and the last day to pay, and
the collection costs owed only when the amount is not paid within that term.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from ..domain.dutch import decimal_nl
from . import pdf
from .data import PatientInfo, PracticeInfo

FOLDER = "reminder"
TITLES = {"friendly": "Betalingsherinnering", "formal": "Aanmaning"}


@dataclass(frozen=True)
class ReminderDocument:
    stage: str                  # "friendly" or "formal"
    sent_on: date               # the letter's date
    practice: PracticeInfo
    patient: PatientInfo        # name and address (no BSN, no insurance)
    invoice_number: str
    invoice_date: date
    due_date: date
    invoice_total: Decimal      # what the patient was asked to pay on the invoice
    settled: Decimal            # paid or credited since (the invoice total less the open amount)
    open_amount: Decimal        # still to pay: the principal the costs are computed over
    deadline: date              # pay by this day (formal: the last day of the 14 days after receipt)
    received_on: date | None = None      # formal: the day the letter is assumed to arrive
    term_days: int = 14
    collection_costs: Decimal = Decimal("0.00")      # formal: the costs by the scale, before VAT
    collection_costs_vat: Decimal = Decimal("0.00")
    collection_costs_vat_rate: Decimal = Decimal("0")
    friendly_sent_on: date | None = None  # formal: the date of the friendly reminder before it

    @property
    def formal(self) -> bool:
        return self.stage == "formal"

    @property
    def collection_costs_total(self) -> Decimal:
        return self.collection_costs + self.collection_costs_vat

    @property
    def vat_rate_text(self) -> str:
        return decimal_nl(self.collection_costs_vat_rate)

    @property
    def title(self) -> str:
        return TITLES[self.stage]


def reminder_html(doc: ReminderDocument) -> str:
    if doc.stage not in TITLES:
        raise ValueError(f"unknown reminder stage {doc.stage!r}; expected one of {tuple(TITLES)}")
    if doc.open_amount <= 0:
        raise ValueError("a reminder is for an amount still open")
    return pdf._environment().get_template(f"{FOLDER}/{FOLDER}.html").render(
        doc=doc, title=doc.title, **pdf._practice_context(doc.practice))


def render_reminder(doc: ReminderDocument) -> bytes:
    """The reminder letter as PDF bytes; the same data renders the same bytes."""
    return pdf.html_to_pdf(reminder_html(doc), FOLDER)
