"""Exporting a list: every row its current filters show (not just the page), in the page's order, as an Excel
workbook or a Dutch CSV file, logged in the access log before a byte leaves.

- Same rows as the page: a list's export reads its filters with the page's own parser and walks the page's own
  query page by page (`walk`, CHUNK rows per query, each an indexed range scan past the last key), so filters,
  order and the care relationship (a therapist limited to their own patients) are one definition.
- Memory stays flat however long the list: rows are fetched a chunk at a time and written as they come. The CSV is
  a streamed response (a generator, run in an application context of its own as the body is sent); the workbook
  is written in openpyxl's write-only mode into a private scratch file (files.scratch_file), which is unlinked as
  soon as it is opened for sending: the open handle streams it through send_file and nothing stays on disk when
  the download ends or is abandoned.
- One writer: documents/spreadsheets.py, the claim workbook's and the month-end pack's (text cells never formulas,
  money numbers in a euro format, dates dates; CSV with ';', decimal comma, UTF-8 with BOM, formula-looking text
  prefixed with an apostrophe).
- The access log gets one "export" entry per export naming how many patients and which (audit.record_shown), with
  the format and the filters in words, never the words searched for (a GET search may not hold a BSN at all:
  request_guards sends a nine-digit number back to the POST search). The patients are read in SQL before the
  rows; a row of a patient who was not in that entry (a record added in between) is left out, so nothing leaves
  unlogged.
- The files are Dutch whatever the reader's language, as the month-end pack: the headers, labels and the dated file
  name (patienten_2026-12-06.xlsx).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar, cast

from flask import Response, abort, current_app, send_file
from flask_babel import gettext as _
from sqlalchemy import Select

from .. import audit
from ..clock import clinic_now
from ..documents.spreadsheets import CSV_MIMETYPE, XLSX_MIMETYPE, Column, csv_stream, write_table
from ..extensions import db
from ..files import scratch_file
from ..i18n import dutch

FORMATS = ("xlsx", "csv")
# Rows per query while walking a list: few round trips, little memory.
CHUNK = 500

T = TypeVar("T")
C = TypeVar("C")


@dataclass(frozen=True)
class ListExport:
    """What one list exports. `columns` carry message ids (the file is Dutch); `rows` yields (patient id, one value
    per column) in the page's order, values as str, Decimal (money), date, int or None, text already in words
    (it runs inside i18n.dutch()); `patient_ids` selects the distinct patients of those rows."""

    stem: str                # the file name before the date: "patienten"
    subject: str             # the access log's subject: "patient list"
    sheet: str               # the sheet's name (a message id)
    columns: Sequence[Column]
    rows: Callable[[], Iterable[tuple[int, Sequence[Any]]]]
    patient_ids: Select[Any]
    filters: str = ""        # the filters in words for the access log: never the words searched for


def walk(fetch: Callable[[C | None], tuple[Sequence[T], C | None]]) -> Iterator[T]:
    """Every item of a keyset-paged list: `fetch(cursor)` returns one page's items and the cursor after them
    (None on the last page), starting from the first page (cursor None)."""
    cursor: C | None = None
    while True:
        items, cursor = fetch(cursor)
        yield from items
        if cursor is None:
            return


def filter_words(search: str = "", **values: Any) -> str:
    """"status=open, month=2026-11, patient search": the filters set, for the access log. Of a search only that
    there was one: never the words searched for."""
    words = [f"{name}={value}" for name, value in values.items() if value not in (None, "")]
    return ", ".join(words + (["patient search"] if search else []))


def filename(stem: str, fmt: str) -> str:
    return f"{stem}_{clinic_now().date().isoformat()}.{fmt}"


def export_format(args) -> str:
    """?format= of an export link: xlsx (the default) or csv; anything else is no export (404)."""
    fmt = args.get("format", "xlsx")
    if fmt not in FORMATS:
        abort(404)
    return str(fmt)


def respond(export: ListExport, fmt: str) -> Response:
    """The export as a download: log it, then stream the CSV or write and send the workbook. `fmt`: xlsx or csv."""
    if fmt not in FORMATS:
        raise ValueError(f"no export format {fmt!r}")
    patients = list(db.session.scalars(export.patient_ids))
    note = f"{fmt.upper()} export" + (f", {export.filters}" if export.filters else "")
    audit.record_shown("export", export.subject, patients, note=note, verb="exported")
    logged = set(patients)

    def values() -> Iterator[Sequence[Any]]:
        for patient_id, row in export.rows():
            if patient_id in logged:
                yield row

    name = filename(export.stem, fmt)
    with dutch():
        headers = [_(column.header) for column in export.columns]
    if fmt == "csv":
        return _csv_response(headers, values, name)
    return _xlsx_response(export, headers, values, name)


def _csv_response(headers: list[str], values: Callable[[], Iterator[Sequence[Any]]], name: str) -> Response:
    app = current_app._get_current_object()  # type: ignore[attr-defined]

    def pieces() -> Iterator[bytes]:
        # Runs as the server sends the body, after the request (and its unit of work, which stored the log entry)
        # has ended: in an application context of its own, with a session of its own. Nothing runs before the
        # first piece is asked for, so a response never read leaves nothing open (unlike stream_with_context,
        # which enters the generator at once and keeps the request's context until it is closed).
        with app.app_context(), dutch():
            yield from csv_stream(headers, values())

    response = Response(pieces(), mimetype=CSV_MIMETYPE)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"  # patient data: no copy in any cache
    return response


def _xlsx_response(export: ListExport, headers: list[str], values: Callable[[], Iterator[Sequence[Any]]],
                   name: str) -> Response:
    path = scratch_file(Path(current_app.instance_path) / "exports", ".xlsx")
    try:
        columns = [Column(header, column.width, column.kind)
                   for header, column in zip(headers, export.columns, strict=True)]
        with dutch():
            write_table(path, sheet=_(export.sheet), columns=columns, rows=values(),
                        created=clinic_now().replace(tzinfo=None, microsecond=0), title=name)
        workbook = _Unlinked(path)
    finally:
        path.unlink(missing_ok=True)  # the open handle keeps the bytes until the download ends
    response = send_file(cast(IO[bytes], workbook), mimetype=XLSX_MIMETYPE, as_attachment=True,
                         download_name=name, max_age=0)
    response.content_length = workbook.size
    response.headers["Cache-Control"] = "no-store"
    return response


class _Unlinked:
    """A scratch file opened for sending whose name is already removed, read through send_file: its bytes go when
    the response is closed, or when it is collected if nothing closed it (a test client that never reads it)."""

    def __init__(self, path: Path):
        self._handle = path.open("rb")
        self.size = os.fstat(self._handle.fileno()).st_size

    def read(self, size: int = -1) -> bytes:
        return self._handle.read(size)

    def fileno(self) -> int:  # lets a server that can (gunicorn) send it with sendfile()
        return self._handle.fileno()

    def close(self) -> None:
        self._handle.close()

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)
        if handle is not None:
            handle.close()
