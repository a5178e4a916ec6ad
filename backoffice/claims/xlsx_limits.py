"""A first pass over an .xlsx archive, before openpyxl opens it: the work a workbook asks for, bounded.

Why not openpyxl alone: a worksheet is XML inside a zip, and the zip compresses repetition about 1000:1, so a
small upload can hold millions of empty `<row/>` elements or a row of a million cells. openpyxl in read-only mode
skips empty rows cheaply but not for free, and already at `load_workbook` it parses a whole sheet that declares no
dimension (looking for one) into memory: a 60 kB file with 6 million empty rows took 27 s and 470 MiB before
the first row came out. This pass streams every XML part of the archive through expat with constant memory and
stops at the first limit crossed: rows per sheet (empty rows and rows skipped by number included), columns per
row, cells per sheet (the empty cells openpyxl fills in included), elements in the archive, characters in one
element, and the time budget. A DOCTYPE is refused (no entity can be declared, so none can expand).

Pure Python (no Flask): it raises TooMuchWork saying which limit; the caller words the message.
"""

from __future__ import annotations

import time
import zipfile
from dataclasses import dataclass
from xml.parsers import expat

# Transitional and strict SpreadsheetML: a sheet in either counts.
SHEET_NAMESPACES = frozenset({"http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                              "http://purl.oclc.org/ooxml/spreadsheetml/main"})
CHUNK = 64 * 1024
MAX_COLUMN_LETTERS = 3  # XFD, Excel's last column


@dataclass(frozen=True)
class Limits:
    rows: int        # rows in one sheet, empty ones and skipped numbers included
    columns: int     # columns in one row (the last cell's column)
    cells: int       # cells in one sheet, the empty cells before a row's last cell included
    elements: int    # XML elements in the whole archive (styles, shared strings, sheets, ...)
    text: int        # characters in one element (Excel holds at most 32,767 in a cell)
    deadline: float | None  # time.monotonic() after which reading stops; None: no time budget


class TooMuchWork(Exception):
    """`limit` names the limit crossed: rows, columns, cells, elements, text, time or doctype."""

    def __init__(self, limit: str, part: str, where: str = "") -> None:
        super().__init__(f"{limit} limit crossed in {part} {where}".strip())
        self.limit = limit
        self.part = part
        self.where = where   # a row number or cell reference when known


def _column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number


def _split_reference(reference: str) -> tuple[int, int] | None:
    """(column, row) of "AB12"; None when it is not a plain cell reference."""
    letters = 0
    while letters < len(reference) and "A" <= reference[letters] <= "Z":
        letters += 1
    digits = reference[letters:]
    if not 0 < letters <= MAX_COLUMN_LETTERS or not digits.isascii() or not digits.isdigit():
        return None
    return _column_number(reference[:letters]), int(digits)


def _row_number(value: str | None) -> int | None:
    if value and value.isascii() and value.isdigit():
        return int(value)
    return None


class _Part:
    """Counts one XML part. Rows and cells are counted the way openpyxl materialises them."""

    def __init__(self, name: str, limits: Limits, totals: list[int]) -> None:
        self.name = name
        self.limits = limits
        self.totals = totals     # [elements in the archive so far], shared between parts
        self.rows = 0            # the current row's number (openpyxl fills the gaps with empty rows)
        self.cells = 0
        self.column = 0          # the current cell's column in the current row
        self.text = 0            # characters in the current element

    def start(self, tag: str, attributes: dict[str, str]) -> None:
        self.totals[0] += 1
        if self.totals[0] > self.limits.elements:
            raise TooMuchWork("elements", self.name)
        self.text = 0
        namespace, _, local = tag.rpartition(" ")
        if namespace not in SHEET_NAMESPACES:
            return
        if local == "dimension":
            self._dimension(attributes.get("ref", ""))
        elif local == "row":
            number = _row_number(attributes.get("r"))
            self.rows = max(self.rows + 1, number or 0)
            self.column = 0
            if self.rows > self.limits.rows:
                raise TooMuchWork("rows", self.name, str(self.rows))
        elif local == "c":
            where = _split_reference(attributes.get("r", ""))
            column = where[0] if where else self.column + 1
            if column > self.limits.columns:
                raise TooMuchWork("columns", self.name, attributes.get("r", "") or str(self.rows))
            self.cells += max(1, column - self.column)   # openpyxl fills the cells a row skips
            self.column = column
            if self.cells > self.limits.cells:
                raise TooMuchWork("cells", self.name, attributes.get("r", ""))

    def _dimension(self, reference: str) -> None:
        """The sheet's declared used range ("A1:D120"): over a limit is refused before a row is read."""
        last = _split_reference(reference.rpartition(":")[2].replace("$", ""))
        if last is None:
            return   # missing or odd: the rows themselves are counted anyway
        columns, rows = last
        if rows > self.limits.rows:
            raise TooMuchWork("rows", self.name, str(rows))
        if columns > self.limits.columns:
            raise TooMuchWork("columns", self.name, reference)
        first = _split_reference(reference.partition(":")[0].replace("$", "")) or (1, 1)
        if (columns - first[0] + 1) * (rows - first[1] + 1) > self.limits.cells:
            raise TooMuchWork("cells", self.name, reference)

    def characters(self, data: str) -> None:
        self.text += len(data)
        if self.text > self.limits.text:
            raise TooMuchWork("text", self.name)


def _refuse_doctype(*_args) -> None:
    raise TooMuchWork("doctype", "")


def _looks_like_xml(start: bytes) -> bool:
    return start.startswith((b"\xff\xfe", b"\xfe\xff")) or start.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"<")


def _check_time(limits: Limits, part: str) -> None:
    if limits.deadline is not None and time.monotonic() > limits.deadline:
        raise TooMuchWork("time", part)


def check_archive(archive: zipfile.ZipFile, limits: Limits) -> None:
    """Stream every part of the archive through expat; TooMuchWork at the first limit crossed.
    A part that is not XML (an image) is skipped at its first bytes; openpyxl decides what is readable."""
    totals = [0]
    for info in archive.infolist():
        _check_time(limits, info.filename)
        if info.is_dir():
            continue
        part = _Part(info.filename, limits, totals)
        parser = expat.ParserCreate(namespace_separator=" ")
        parser.buffer_text = True
        parser.StartElementHandler = part.start
        parser.CharacterDataHandler = part.characters
        parser.StartDoctypeDeclHandler = _refuse_doctype
        parser.EntityDeclHandler = _refuse_doctype
        try:
            with archive.open(info) as stream:
                first = True
                while chunk := stream.read(CHUNK):
                    if first and not _looks_like_xml(chunk):
                        break   # not XML (media): openpyxl reads no such part as a sheet
                    first = False
                    parser.Parse(chunk, False)
                    _check_time(limits, info.filename)
                else:
                    if not first:
                        parser.Parse(b"", True)
        except TooMuchWork as error:
            if not error.part:
                error.part = info.filename
            raise
