"""The claim workbook per batch: plain rows in, an .xlsx file out (openpyxl write-only mode, streaming).

Three sheets: the claim lines in the insurer's column template, a summary (totals per category and per
therapist) and the excluded lines with their reasons. Numbers are numbers with a euro format, dates are dates,
the header row is frozen and columns are sized.

The cells, the column set-up and the stable zip are backoffice/documents/spreadsheets.py's, the one writer the list
exports use too: text is always a string cell (never a formula), money a number in a euro format, dates dates.

The file is written to a temporary name in the target's folder and renamed only when complete, and the same
data gives the same bytes: document properties and zip entry times come from the batch, not the clock.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import attrgetter

from openpyxl import Workbook
from openpyxl.utils import get_column_letter

from ..documents import spreadsheets
from ..documents.spreadsheets import (
    FIXED_TIMESTAMP,
    converter,
    date_cell,
    discard_sheet_buffers,
    header_cell,
    money_cell,
    prepare,
    save,
    text_cell,
)
from ..domain.claims import ClaimRow, ClaimTemplate, ExcludedRow
from ..files import atomic_write

# The claim workbook's formats are the shared writer's.
EURO_FORMAT, DATE_FORMAT = spreadsheets.EURO_FORMAT, spreadsheets.DATE_FORMAT
CLAIM_SHEET, SUMMARY_SHEET, EXCLUDED_SHEET = "Declaratie", "Samenvatting", "Uitgesloten"
ZERO = Decimal("0.00")


@dataclass(frozen=True)
class WorkbookHeader:
    """What the summary sheet says about the batch. `created` (naive UTC, e.g. the batch's creation time)
    becomes the document's created/modified properties and every zip entry's time."""

    insurer_name: str
    uzovi: str
    batch_number: str
    period: str = ""
    practice_name: str = ""
    practice_agb: str = ""
    created: datetime = FIXED_TIMESTAMP


@dataclass
class Totals:
    lines: int = 0
    amount: Decimal = ZERO
    expected: Decimal = ZERO

    def add(self, amount: Decimal, expected: Decimal) -> None:
        self.lines += 1
        self.amount += amount
        self.expected += expected


@dataclass
class ExportSummary:
    """What went into the workbook (for the access log, the batch record and the screen)."""

    claimed: Totals = field(default_factory=Totals)
    excluded: Totals = field(default_factory=Totals)
    per_category: dict[str, Totals] = field(default_factory=dict)
    per_therapist: dict[str, Totals] = field(default_factory=dict)


# ---- sheets ----------------------------------------------------------------------------------------------------


def _write_claims(ws, template: ClaimTemplate, rows: Iterable[ClaimRow], summary: ExportSummary) -> None:
    columns = template.columns
    prepare(ws, [c.header for c in columns], [c.spec.width for c in columns])
    values = attrgetter(*template.keys) if len(columns) > 1 else (lambda row: (getattr(row, columns[0].key),))
    converters = [converter(ws, c.spec.kind) for c in columns]
    # One running total per (category, therapist) pair; the per-category and per-therapist totals are summed
    # from these few at the end (two Decimal additions per line instead of six).
    pairs: dict[tuple[str, str], Totals] = {}
    append = ws.append
    for row in rows:
        append([convert(ws, value) for convert, value in zip(converters, values(row), strict=True)])
        key = (row.category, row.therapist_name)
        pair = pairs.get(key)
        if pair is None:
            pair = pairs[key] = Totals()
        pair.add(row.amount, row.expected_reimbursement)
    for (category, therapist), pair in pairs.items():
        for totals in (summary.claimed, summary.per_category.setdefault(category, Totals()),
                       summary.per_therapist.setdefault(therapist, Totals())):
            totals.lines += pair.lines
            totals.amount += pair.amount
            totals.expected += pair.expected


EXCLUDED_COLUMNS = (("Naam patiënt", 28), ("Behandeldatum", 13), ("Factuurnummer", 14), ("Omschrijving", 36),
                    ("Therapeut", 24), ("Bedrag", 12), ("Redencodes", 28), ("Redenen", 80))


def _write_excluded(ws, rows: Iterable[ExcludedRow], summary: ExportSummary, language: str) -> None:
    prepare(ws, [h for h, _ in EXCLUDED_COLUMNS], [w for _, w in EXCLUDED_COLUMNS])
    for row in rows:
        ws.append([
            text_cell(ws, row.patient_name), date_cell(ws, row.treatment_date), text_cell(ws, row.invoice_number),
            text_cell(ws, row.description), text_cell(ws, row.therapist_name), money_cell(ws, row.amount),
            text_cell(ws, "; ".join(r.code for r in row.reasons)),
            text_cell(ws, " ".join(r.text(language) for r in row.reasons)),
        ])
        summary.excluded.add(row.amount, ZERO)


def _write_summary(ws, header: WorkbookHeader, summary: ExportSummary) -> None:
    for index, width in enumerate((24, 10, 14, 20), 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    for label, value in (("Declaratiebatch", header.batch_number), ("Verzekeraar", header.insurer_name),
                         ("UZOVI", header.uzovi), ("Periode", header.period), ("Praktijk", header.practice_name),
                         ("AGB praktijk", header.practice_agb)):
        ws.append([header_cell(ws, label), text_cell(ws, value)])

    def table(title: str, groups: dict[str, Totals], total: Totals) -> None:
        ws.append([])
        ws.append([header_cell(ws, h) for h in (title, "Regels", "Bedrag", "Verwachte vergoeding")])
        for name in sorted(groups):
            t = groups[name]
            ws.append([text_cell(ws, name), t.lines, money_cell(ws, t.amount), money_cell(ws, t.expected)])
        ws.append([header_cell(ws, "Totaal"), total.lines, money_cell(ws, total.amount),
                   money_cell(ws, total.expected)])

    table("Categorie", summary.per_category, summary.claimed)
    table("Therapeut", summary.per_therapist, summary.claimed)
    ws.append([])
    ws.append([header_cell(ws, "Uitgesloten regels"), summary.excluded.lines, money_cell(ws, summary.excluded.amount)])


# ---- the file ----------------------------------------------------------------------------------------------


def write_claim_workbook(target: str | os.PathLike[str], *, header: WorkbookHeader, template: ClaimTemplate,
                         rows: Iterable[ClaimRow], excluded: Iterable[ExcludedRow] = (),
                         language: str = "nl") -> ExportSummary:
    """Write the batch's workbook to `target` (replaced only once complete) and return what went in.

    `rows` and `excluded` are consumed once, as they come: pass generators for large batches. If either raises,
    the exception propagates and neither `target` nor a temporary file is left behind. `language` ("nl" or
    "en") picks the reason texts on the excluded sheet.
    """
    workbook = Workbook(write_only=True)
    try:
        with atomic_write(target) as handle:
            claims_ws = workbook.create_sheet(CLAIM_SHEET)
            summary_ws = workbook.create_sheet(SUMMARY_SHEET)
            excluded_ws = workbook.create_sheet(EXCLUDED_SHEET)
            summary = ExportSummary()
            _write_claims(claims_ws, template, rows, summary)
            _write_excluded(excluded_ws, excluded, summary, language)
            _write_summary(summary_ws, header, summary)
            save(workbook, handle, header.created, f"Declaratie {header.batch_number}")
    except BaseException:
        discard_sheet_buffers(workbook)
        raise
    return summary


def default_filename(header: WorkbookHeader) -> str:
    """declaratie-3311-2026-004.xlsx"""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", header.batch_number).strip("-") or "batch"
    return f"declaratie-{safe}.xlsx"

