"""Legal retention periods: how long a patient's records must be kept before they may be deleted.

- Invoices and credit notes: 7 years (Dutch tax law, AWR art. 52 "bewaarplicht"), counted here from the issue date.
- The medical record (dossier): 20 years after its last change (WGBO, BW 7:454 lid 3).
A deletion within either period is refused with every record that holds it and the day it ends.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

INVOICE_RETENTION_YEARS = 7
RECORD_RETENTION_YEARS = 20


@dataclass(frozen=True)
class Hold:
    """One record that must still be kept: its kind ("invoice", "credit note", "patient record") and number, the
    rule, and the day it may go."""

    kind: str
    reference: str
    rule: str  # "tax" (7 years) or "wgbo" (20 years)
    since: date  # the issue date or the record's last change
    until: date  # kept up to and including the day before this one

    @property
    def subject(self) -> str:
        return f"{self.kind} {self.reference}".strip()


def add_years(day: date, years: int) -> date:
    """The same day `years` later; 29 February becomes 28 February in a year without it."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def document_hold(kind: str, number: str, issue_date: date) -> Hold:
    return Hold(kind, number, "tax", issue_date, add_years(issue_date, INVOICE_RETENTION_YEARS))


def record_hold(last_change: date) -> Hold:
    return Hold("patient record", "", "wgbo", last_change, add_years(last_change, RECORD_RETENTION_YEARS))


def holding(holds: list[Hold], today: date) -> list[Hold]:
    """The holds still in force on `today`, the longest first."""
    return sorted((hold for hold in holds if today < hold.until), key=lambda hold: (hold.until, hold.subject),
                  reverse=True)
