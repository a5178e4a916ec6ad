"""The claim workbook per batch: plain rows in, an .xlsx file out (openpyxl write-only mode, streaming).

Three sheets: the claim lines in the insurer's column template, a summary (totals per category and per
therapist) and the excluded lines with their reasons. Numbers are numbers with a euro format, dates are dates,
the header row is frozen and columns are sized.

Text is always a string cell: openpyxl turns a string beginning with "=" into a formula and "#N/A" and the
like into error cells, so those values (and any with characters XML cannot hold, which are dropped) are
written as explicit `WriteOnlyCell`s with data type "s"; every other string is one openpyxl already stores
as a string. A cell for every text value made the export about 35 % slower than bare openpyxl (20,000 lines, with lxml),
hence the split; tests/test_claims_workbook.py reads back hypothesis strings to hold it.

The file is written to a temporary name in the target's folder and renamed only when complete, and the same
data gives the same bytes: document properties and zip entry times come from the batch, not the clock.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from operator import attrgetter
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from ..domain.claims import ClaimRow, ClaimTemplate, ColumnKind, ExcludedRow
from ..files import atomic_write

EURO_FORMAT = '"€" #,##0.00'
DATE_FORMAT = "dd-mm-yyyy"
CLAIM_SHEET, SUMMARY_SHEET, EXCLUDED_SHEET = "Declaratie", "Samenvatting", "Uitgesloten"
# Zip entries cannot be dated before 1980; a batch without a creation time gets this one.
FIXED_TIMESTAMP = datetime(2000, 1, 1)
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")   # what XML 1.0 cannot hold
_has_illegal = _ILLEGAL.search
_BOLD = Font(bold=True)
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


# ---- cells ---------------------------------------------------------------------------------------------------


def _text(ws, value):
    if not value:
        return None
    if value.__class__ is not str:
        value = str(value)
    first = value[0]
    if first == "=" or (first == "#" and value in ERROR_CODES) or _has_illegal(value):
        cell = WriteOnlyCell(ws, _ILLEGAL.sub("", value))
        cell.data_type = "s"   # after the value: openpyxl types "=..." as a formula on assignment
        return cell
    return value


def _header(ws, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, _ILLEGAL.sub("", value))
    cell.data_type = "s"
    cell.font = _BOLD
    return cell


def _money(ws, value):
    if value is None:
        return None
    cell = WriteOnlyCell(ws)
    cell.number_format = EURO_FORMAT
    cell.value = value
    return cell


def _date(ws, value):
    if value is None:
        return None
    cell = WriteOnlyCell(ws)
    cell.number_format = DATE_FORMAT   # first: a date value then keeps it instead of setting yyyy-mm-dd
    cell.value = value
    return cell


def _reused_cell(ws, number_format: str) -> Callable:
    """A converter for a styled column of the claim sheet that puts every row's value into one cell.

    openpyxl writes a row's cells as the row is appended, so the cell is free again for the next row; a new
    styled cell per value would cost about a tenth of the export's time at 100,000 lines.
    """
    cell = WriteOnlyCell(ws)
    cell.number_format = number_format

    def convert(_ws, value):
        if value is None:
            return None
        cell.value = value
        return cell

    return convert


def _column_converter(ws, kind: ColumnKind) -> Callable:
    if kind is ColumnKind.MONEY:
        return _reused_cell(ws, EURO_FORMAT)
    if kind is ColumnKind.DATE:
        return _reused_cell(ws, DATE_FORMAT)
    return _text


def _prepare(ws, headers: list[str], widths: list[int], freeze: bool = True) -> None:
    # Write-only sheets take widths and panes only before the first row.
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    if freeze:
        ws.freeze_panes = "A2"
    ws.append([_header(ws, h) for h in headers])


# ---- sheets ----------------------------------------------------------------------------------------------------


def _write_claims(ws, template: ClaimTemplate, rows: Iterable[ClaimRow], summary: ExportSummary) -> None:
    columns = template.columns
    _prepare(ws, [c.header for c in columns], [c.spec.width for c in columns])
    values = attrgetter(*template.keys) if len(columns) > 1 else (lambda row: (getattr(row, columns[0].key),))
    converters = [_column_converter(ws, c.spec.kind) for c in columns]
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
    _prepare(ws, [h for h, _ in EXCLUDED_COLUMNS], [w for _, w in EXCLUDED_COLUMNS])
    for row in rows:
        ws.append([
            _text(ws, row.patient_name), _date(ws, row.treatment_date), _text(ws, row.invoice_number),
            _text(ws, row.description), _text(ws, row.therapist_name), _money(ws, row.amount),
            _text(ws, "; ".join(r.code for r in row.reasons)),
            _text(ws, " ".join(r.text(language) for r in row.reasons)),
        ])
        summary.excluded.add(row.amount, ZERO)


def _write_summary(ws, header: WorkbookHeader, summary: ExportSummary) -> None:
    for index, width in enumerate((24, 10, 14, 20), 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    for label, value in (("Declaratiebatch", header.batch_number), ("Verzekeraar", header.insurer_name),
                         ("UZOVI", header.uzovi), ("Periode", header.period), ("Praktijk", header.practice_name),
                         ("AGB praktijk", header.practice_agb)):
        ws.append([_header(ws, label), _text(ws, value)])

    def table(title: str, groups: dict[str, Totals], total: Totals) -> None:
        ws.append([])
        ws.append([_header(ws, h) for h in (title, "Regels", "Bedrag", "Verwachte vergoeding")])
        for name in sorted(groups):
            t = groups[name]
            ws.append([_text(ws, name), t.lines, _money(ws, t.amount), _money(ws, t.expected)])
        ws.append([_header(ws, "Totaal"), total.lines, _money(ws, total.amount), _money(ws, total.expected)])

    table("Categorie", summary.per_category, summary.claimed)
    table("Therapeut", summary.per_therapist, summary.claimed)
    ws.append([])
    ws.append([_header(ws, "Uitgesloten regels"), summary.excluded.lines, _money(ws, summary.excluded.amount)])


# ---- the file ----------------------------------------------------------------------------------------------


class _StableZipFile(ZipFile):
    """A zip whose entries all carry one given time and fixed permissions: same content, same bytes."""

    def __init__(self, file, stamp: datetime):
        super().__init__(file, "w", ZIP_DEFLATED, allowZip64=True)
        self._stamp = (max(stamp.year, 1980), stamp.month, stamp.day, stamp.hour, stamp.minute, stamp.second)

    def _info(self, name: str) -> ZipInfo:
        info = ZipInfo(name, date_time=self._stamp)
        info.compress_type = self.compression
        info.external_attr = 0o600 << 16
        return info

    def writestr(self, zinfo_or_arcname, data, compress_type=None, compresslevel=None):
        if not isinstance(zinfo_or_arcname, ZipInfo):
            zinfo_or_arcname = self._info(zinfo_or_arcname)
        super().writestr(zinfo_or_arcname, data, compress_type, compresslevel)

    def write(self, filename, arcname=None, compress_type=None, compresslevel=None):
        info = self._info(arcname or os.path.basename(filename))
        info.file_size = os.path.getsize(filename)   # decides zip64 up front, as ZipFile.write does
        with open(filename, "rb") as source, self.open(info, "w") as target:
            shutil.copyfileobj(source, target, 1 << 20)


def _discard_sheet_buffers(workbook: Workbook) -> None:
    # Each write-only sheet streams into its own temporary file until the workbook is saved; after a failure
    # nothing will save it, so close the sheets and remove those files now rather than at interpreter exit
    # (a web worker lives long).
    for ws in workbook.worksheets:
        with contextlib.suppress(Exception):
            if not ws.closed:
                ws.close()
        writer = getattr(ws, "_writer", None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.cleanup()


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
            properties = workbook.properties
            properties.created = properties.modified = header.created
            properties.creator = "backoffice"
            properties.title = f"Declaratie {header.batch_number}"
            ExcelWriter(workbook, _StableZipFile(handle, header.created)).save()
    except BaseException:
        _discard_sheet_buffers(workbook)
        raise
    return summary


def default_filename(header: WorkbookHeader) -> str:
    """declaratie-3311-2026-004.xlsx"""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", header.batch_number).strip("-") or "batch"
    return f"declaratie-{safe}.xlsx"

