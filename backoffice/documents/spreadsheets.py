"""The one spreadsheet writer: XLSX cells for openpyxl's write-only mode (the claim workbook and the list exports)
and CSV for Excel with Dutch settings (the month-end pack and the list exports). Plain values in, bytes out.

XLSX (write-only mode: rows go to disk as they are appended, so memory stays flat however long the list):
- Text is always a string cell: openpyxl turns a string beginning with "=" into a formula and "#N/A" and the like
  into error cells, so those values (and any with characters XML cannot hold, which are dropped) are written as
  explicit `WriteOnlyCell`s with data type "s"; every other string is one openpyxl already stores as a string
  ("+31...", "-", "@x" included: only "=" makes a formula). A cell for every text value made the claim export about
  35 % slower than bare openpyxl (20,000 lines, with lxml), hence the split; tests/test_claims_workbook.py reads
  back hypothesis strings to hold it.
- Money is a number (Decimal) in a euro format, dates are dates in dd-mm-yyyy: Excel shows them the Dutch way
  (EUR 1.234,56) under Dutch regional settings and sums and sorts them.
- Column widths and the frozen header row are set before the first row: a write-only sheet ignores them after.
- The zip's entries carry one given time (`StableZipFile`): the same data gives the same bytes.

CSV: what a Dutch accountant's Excel opens with a double click: ';' between fields and a decimal comma (Excel with
Dutch regional settings reads "1234,56" as a number, and takes ',' as the decimal sign, so a ',' separator would
split amounts), UTF-8 with a byte-order mark (without it Excel reads the file as Windows-1252 and garbles "ë"),
dates as dd-mm-jjjj, amounts without a thousands separator. Text a spreadsheet would run as a formula (starting
with =, +, -, @, tab or carriage return) gets a leading apostrophe, as OWASP advises against CSV injection.
"""

from __future__ import annotations

import contextlib
import csv
import enum
import io
import os
import re
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import IO, Any
from zipfile import ZIP_DEFLATED, ZipFile, ZipInfo

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ERROR_CODES
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.writer.excel import ExcelWriter

from ..domain.dutch import nl_date
from ..files import atomic_write

EURO_FORMAT = '"€" #,##0.00'
DATE_FORMAT = "dd-mm-yyyy"
# Zip entries cannot be dated before 1980; a workbook without a time of its own gets this one.
FIXED_TIMESTAMP = datetime(2000, 1, 1)
XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
CSV_MIMETYPE = "text/csv; charset=utf-8"
_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")   # what XML 1.0 cannot hold
_has_illegal = _ILLEGAL.search
_BOLD = Font(bold=True)

Converter = Callable[[WriteOnlyWorksheet, Any], Any]


class Kind(enum.StrEnum):
    """What a column holds, which decides its cells (the claim template's ColumnKind uses the same values)."""

    TEXT = "text"
    DATE = "date"
    MONEY = "money"
    NUMBER = "number"   # a whole number (a patient number, days overdue): a plain number cell


@dataclass(frozen=True)
class Column:
    """One column of a list export: its header (the caller translates it), width in characters and kind."""

    header: str
    width: int
    kind: Kind = Kind.TEXT


# ---- XLSX cells ------------------------------------------------------------------------------------------------


def text_cell(ws: WriteOnlyWorksheet, value: Any) -> Any:
    """A text cell: never a formula or an error value, never a character XML cannot hold."""
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


def header_cell(ws: WriteOnlyWorksheet, value: str) -> WriteOnlyCell:
    cell = WriteOnlyCell(ws, _ILLEGAL.sub("", value))
    cell.data_type = "s"
    cell.font = _BOLD
    return cell


def money_cell(ws: WriteOnlyWorksheet, value: Decimal | None) -> WriteOnlyCell | None:
    if value is None:
        return None
    cell = WriteOnlyCell(ws)
    cell.number_format = EURO_FORMAT
    cell.value = value
    return cell


def date_cell(ws: WriteOnlyWorksheet, value: date | None) -> WriteOnlyCell | None:
    if value is None:
        return None
    cell = WriteOnlyCell(ws)
    cell.number_format = DATE_FORMAT   # first: a date value then keeps it instead of setting yyyy-mm-dd
    cell.value = value
    return cell


def number_cell(_ws: WriteOnlyWorksheet, value: Any) -> Any:
    return value


def reused_cell(ws: WriteOnlyWorksheet, number_format: str) -> Converter:
    """A converter for a styled column that puts every row's value into one cell.

    openpyxl writes a row's cells as the row is appended, so the cell is free again for the next row; a new
    styled cell per value would cost about a tenth of the claim export's time at 100,000 lines.
    """
    cell = WriteOnlyCell(ws)
    cell.number_format = number_format

    def convert(_ws: WriteOnlyWorksheet, value: Any) -> Any:
        if value is None:
            return None
        cell.value = value
        return cell

    return convert


def converter(ws: WriteOnlyWorksheet, kind: str) -> Converter:
    """The cell converter of a column of `kind` (a Kind, or the claim template's ColumnKind of the same values)."""
    if kind == Kind.MONEY:
        return reused_cell(ws, EURO_FORMAT)
    if kind == Kind.DATE:
        return reused_cell(ws, DATE_FORMAT)
    if kind == Kind.NUMBER:
        return number_cell
    return text_cell


def prepare(ws: WriteOnlyWorksheet, headers: Sequence[str], widths: Sequence[int], freeze: bool = True) -> None:
    """Column widths, the frozen header row and the header row: write-only sheets take widths and panes only
    before the first row."""
    for index, width in enumerate(widths, 1):
        ws.column_dimensions[get_column_letter(index)].width = width
    if freeze:
        ws.freeze_panes = "A2"
    ws.append([header_cell(ws, h) for h in headers])


# ---- the XLSX file ---------------------------------------------------------------------------------------------


class StableZipFile(ZipFile):
    """A zip whose entries all carry one given time and fixed permissions: same content, same bytes."""

    def __init__(self, file: IO[bytes], stamp: datetime):
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


def discard_sheet_buffers(workbook: Workbook) -> None:
    """Each write-only sheet streams into its own temporary file until the workbook is saved; after a failure
    nothing will save it, so close the sheets and remove those files now rather than at interpreter exit (a web
    worker lives long)."""
    for ws in workbook.worksheets:
        with contextlib.suppress(Exception):
            if not ws.closed:
                ws.close()
        writer = getattr(ws, "_writer", None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.cleanup()


def save(workbook: Workbook, handle: IO[bytes], stamp: datetime, title: str = "") -> None:
    """Save a write-only workbook into `handle` once: properties and zip entries dated `stamp` (naive)."""
    properties = workbook.properties
    properties.created = properties.modified = stamp
    properties.creator = "backoffice"
    if title:
        properties.title = title
    ExcelWriter(workbook, StableZipFile(handle, stamp)).save()


def write_table(target: str | os.PathLike[str], *, sheet: str, columns: Sequence[Column],
                rows: Iterable[Sequence[Any]], title: str = "", created: datetime = FIXED_TIMESTAMP) -> int:
    """Write one sheet, a header row and `rows` (one value per column: str, Decimal, date, int or None) to
    `target`, replaced only once complete; returns the number of rows written. `rows` is consumed once, as it
    comes: pass a generator for a long list. If it raises, nothing is left behind and the error propagates."""
    workbook = Workbook(write_only=True)
    count = 0
    try:
        with atomic_write(target) as handle:
            ws = workbook.create_sheet(sheet[:31])   # Excel's limit for a sheet name
            prepare(ws, [c.header for c in columns], [c.width for c in columns])
            converters = [converter(ws, c.kind) for c in columns]
            append = ws.append
            for row in rows:
                append([convert(ws, value) for convert, value in zip(converters, row, strict=True)])
                count += 1
            save(workbook, handle, created, title)
    except BaseException:
        discard_sheet_buffers(workbook)
        raise
    return count


# ---- CSV ---------------------------------------------------------------------------------------------------------

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"
# Rows per piece of a streamed CSV: large enough that the response is not a trickle of tiny writes.
_STREAM_ROWS = 200


def csv_cell(value: Any) -> str:
    """One field: Decimal as 1234,56 and -60,50 (numbers to Excel, no thousands separator), a date as 05-10-2026,
    text that could run as a formula with a leading apostrophe."""
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.2f}".replace(".", ",")
    if isinstance(value, date):
        return nl_date(value)
    if isinstance(value, int):
        return str(value)
    text_value = str(value)
    return "'" + text_value if text_value.startswith(FORMULA_START) else text_value


def _writer(buffer: io.StringIO) -> Any:
    return csv.writer(buffer, delimiter=";", quotechar='"', quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[Any]], total: Sequence[Any] | None = None) -> bytes:
    """A whole (small) CSV file, with a total row when given."""
    return b"".join(csv_stream(headers, rows if total is None else [*rows, total]))


def csv_stream(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[bytes]:
    """The CSV file in pieces, the byte-order mark and the header row first: for a streamed response (memory stays
    flat: `rows` is consumed as it comes)."""
    buffer = io.StringIO()
    writer = _writer(buffer)
    writer.writerow([csv_cell(h) for h in headers])
    yield BOM.encode("utf-8") + _take(buffer)
    pending = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in row])
        pending += 1
        if pending == _STREAM_ROWS:
            yield _take(buffer)
            pending = 0
    if pending:
        yield _take(buffer)


def _take(buffer: io.StringIO) -> bytes:
    data = buffer.getvalue().encode("utf-8")
    buffer.seek(0)
    buffer.truncate()
    return data
