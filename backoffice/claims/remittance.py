"""The insurer's reply to submitted claims (remittance): read an .xlsx or .csv file, map its columns once per
insurer, match its rows to claim lines by claim reference, show the result, then apply it in one transaction.

A file is refused whole, with a message naming the problem, before anything is stored or changed: larger than
MAX_CONTENT_LENGTH (MAX_UPLOAD_BYTES), not a readable workbook or CSV, a formula in any cell (the insurer's
figures must be values, not something a spreadsheet computes), or a row whose amount cannot be read.
Workbooks are opened read-only; openpyxl parses them through defusedxml (a dependency), so entity expansion
and external entities are refused.
"""

from __future__ import annotations

import csv
import hashlib
import io
import re
import time
import warnings
import zipfile
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from flask import current_app
from openpyxl import load_workbook
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from .. import audit
from ..clock import clinic_timezone, utc_now
from ..domain import claims as rules
from ..domain.claims import BatchStatus, ClaimedLine, RemittanceMatch, RemittanceRow, normalise_reference, parse_amount
from ..domain.dutch import AmbiguousNumber, nl_datetime
from ..domain.money import to_cents
from ..domain.statuses import RemittanceStatus
from ..errors import ServiceError
from ..extensions import db
from ..files import atomic_write_bytes, private_folder
from ..models import (
    REMITTANCE_FIELDS,
    ClaimBatch,
    ClaimLine,
    Insurer,
    Invoice,
    InvoiceLine,
    RemittanceImport,
)
from .common import _l, user_id
from .outcomes import close_if_complete, line_outcome, store_outcome
from .settings import claims_dir, settings_for, stored_settings
from .xlsx_limits import Limits, TooMuchWork, check_archive

REMITTANCE_FOLDER = "remittances"  # under claims_dir()
MAX_ROWS = 100_000
MAX_COLUMNS = 100
# Uploads are bounded by the work they ask for, not only by their bytes (a zip compresses an empty row 1000:1).
# Every row read counts, empty ones too; the margin leaves room for a title block and blank lines above the figures.
MAX_SHEET_ROWS = MAX_ROWS + 1_000
MAX_CELLS = 1_000_000          # cells in the sheet, empty ones included: 100.000 rows of 10 columns
MAX_ELEMENTS = 5_000_000       # XML elements in the whole workbook (styles, shared texts, sheets)
MAX_CELL_TEXT = 32_767         # Excel's own limit on the characters in one cell
DEFAULT_READ_SECONDS = 5.0     # REMITTANCE_READ_SECONDS
FIELD_LABELS = {"reference": _l("Claim reference"), "paid": _l("Amount paid"), "reason_code": _l("Rejection code"),
                "reason_text": _l("Rejection reason")}
# "Choose the column with the ...": one sentence per field, so each translates whole.
CHOOSE_COLUMN = {"reference": _l("Choose the column with the claim reference."),
                 "paid": _l("Choose the column with the amount paid.")}
REQUIRED_FIELDS = ("reference", "paid")
# Header words insurers use, for a first guess when the insurer has no saved mapping yet.
GUESSES = {
    "reference": ("claimreferentie", "claim reference", "referentie", "reference", "kenmerk", "uw kenmerk"),
    "paid": ("betaald", "paid", "amount paid", "bedrag betaald", "vergoed", "uitbetaald", "toegekend"),
    "reason_code": ("redencode", "reason code", "afwijzingscode", "retourcode", "code"),
    "reason_text": ("reden", "reason", "afwijzingsreden", "rejection reason", "toelichting", "omschrijving"),
}
_CSV_FORMULA = re.compile(r"^\s*[=@]|^\s*[+-](?![\s€]*\d)")


class RemittanceError(ServiceError):
    """The file cannot be used; the message says why. Nothing was stored or changed."""


@dataclass(frozen=True)
class Table:
    headers: list[str]
    rows: list[tuple[int, list]]   # (row number in the file, cell values)


# ---- reading ------------------------------------------------------------------------------------------------


def _limit() -> int:
    return int(current_app.config.get("MAX_CONTENT_LENGTH") or 5 * 1024 * 1024)


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB" if n >= 1024 * 1024 else f"{max(1, round(n / 1024))} kB"


def _headers(values: list) -> list[str]:
    headers: list[str] = []
    seen: defaultdict[str, int] = defaultdict(int)
    for index, value in enumerate(values, 1):
        name = str(value).strip() if value not in (None, "") else f"Column {index}"
        seen[name] += 1
        headers.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return headers


def _count(n: int) -> str:
    return f"{n:,}".replace(",", ".")


def _too_slow(seconds: float) -> RemittanceError:
    return RemittanceError(_l("Reading the file took longer than %(seconds)s seconds; split it into smaller files.",
                              seconds=f"{seconds:g}"))


def _table(rows, deadline: float | None = None, seconds: float = 0) -> Table:
    """Header = the first row with anything in it; the rows after it, without the empty ones. Every row read counts
    against the limits, empty rows and empty cells too, and reading stops at the deadline (time.monotonic())."""
    header, body = None, []
    cells = 0
    for number, values in rows:
        if number > MAX_SHEET_ROWS:
            raise RemittanceError(_l("The sheet has more than %(rows)s rows, empty rows included; delete the empty "
                                     "rows below the figures or split the file.", rows=_count(MAX_SHEET_ROWS)))
        if len(values) > MAX_COLUMNS:
            raise RemittanceError(_l("Row %(row)s has %(columns)s columns; a remittance has at most %(most)s.",
                                     row=number, columns=len(values), most=MAX_COLUMNS))
        cells += len(values)
        if cells > MAX_CELLS:
            raise RemittanceError(_l("The sheet has more than %(cells)s cells, empty cells included; split the file.",
                                     cells=_count(MAX_CELLS)))
        if deadline is not None and time.monotonic() > deadline:
            raise _too_slow(seconds)
        if not any(v not in (None, "") for v in values):
            continue
        if header is None:
            header = _headers(values)
            continue
        body.append((number, list(values)))
        if len(body) > MAX_ROWS:
            raise RemittanceError(_l("The file has more than %(rows)s rows; split it.", rows=_count(MAX_ROWS)))
    if header is None:
        raise RemittanceError(_l("The file is empty: no header row and no rows."))
    if not body:
        raise RemittanceError(_l("The file has a header row but no rows below it."))
    return Table(header, body)


def _limit_error(error: TooMuchWork, seconds: float) -> RemittanceError:
    if error.limit == "time":
        return _too_slow(seconds)
    if error.limit == "rows":
        return RemittanceError(_l("The sheet has more than %(rows)s rows, empty rows included; delete the empty "
                                  "rows below the figures or split the file.", rows=_count(MAX_SHEET_ROWS)))
    if error.limit == "columns":
        return RemittanceError(_l("The sheet uses more than %(most)s columns (at %(cell)s); a remittance has at most "
                                  "%(most)s.", most=MAX_COLUMNS, cell=error.where[:20]))
    if error.limit == "cells":
        return RemittanceError(_l("The sheet has more than %(cells)s cells, empty cells included; split the file.",
                                  cells=_count(MAX_CELLS)))
    if error.limit == "text":
        return RemittanceError(_l("A cell holds more than %(characters)s characters; a remittance holds short values "
                                  "only.", characters=_count(MAX_CELL_TEXT)))
    if error.limit == "elements":
        return RemittanceError(_l("The workbook holds too much to read (more than %(elements)s parts); save the "
                                  "figures alone as a new workbook or as CSV.", elements=_count(MAX_ELEMENTS)))
    return RemittanceError(_l("The file is not a readable .xlsx workbook."))  # a DOCTYPE: entity tricks


def _xlsx_rows(data: bytes, deadline: float | None = None, seconds: float = 0):
    """The first sheet's rows. A first pass (xlsx_limits) bounds the work before openpyxl parses anything: openpyxl
    reads a sheet without a declared dimension whole at load_workbook."""
    limits = Limits(rows=MAX_SHEET_ROWS, columns=MAX_COLUMNS, cells=MAX_CELLS, elements=MAX_ELEMENTS,
                    text=MAX_CELL_TEXT, deadline=deadline)
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            check_archive(archive, limits)
    except TooMuchWork as error:
        raise _limit_error(error, seconds) from error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # openpyxl warns about extensions it drops; they carry no figures
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
        try:
            if not workbook.worksheets:
                raise RemittanceError(_l("The workbook has no sheets."))
            sheet = workbook.worksheets[0]
            # Read every row, not the declared range: a file whose dimension says less (some tools write "A1")
            # would otherwise lose rows silently. The first pass has bounded what is really there.
            sheet.reset_dimensions()
            for number, cells in enumerate(sheet.iter_rows(), 1):
                values = []
                for cell in cells:
                    if getattr(cell, "data_type", None) == "f":
                        raise RemittanceError(_l(
                            "Cell %(cell)s holds a formula (%(formula)s). A remittance must hold values only: ask "
                            "the insurer for the file as sent, or paste the values.", cell=cell.coordinate,
                            formula=str(cell.value)[:40]))
                    value = cell.value
                    values.append(value.strip() if isinstance(value, str) else value)
                yield number, values
        finally:
            workbook.close()


def _csv_rows(data: bytes):
    if b"\x00" in data:
        raise RemittanceError(_l("The file is not a CSV text file (it holds binary data)."))
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="strict")
    first = text.split("\n", 1)[0]
    delimiter = max(";,\t", key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    for number, values in enumerate(reader, 1):
        if len(values) > MAX_COLUMNS:  # before looking at each of a million empty fields
            raise RemittanceError(_l("Row %(row)s has %(columns)s columns; a remittance has at most %(most)s.",
                                     row=number, columns=len(values), most=MAX_COLUMNS))
        for column, value in enumerate(values, 1):
            if _CSV_FORMULA.match(value):
                raise RemittanceError(_l(
                    "Row %(row)s, column %(column)s holds a formula (%(formula)s). A remittance must hold values "
                    "only.", row=number, column=column, formula=value.strip()[:40]))
        yield number, [v.strip() for v in values]


def _read_seconds() -> float:
    return float(current_app.config.get("REMITTANCE_READ_SECONDS") or DEFAULT_READ_SECONDS)


def read_table(data: bytes, filename: str, max_bytes: int | None = None, timed: bool = True) -> Table:
    """The file's header and rows, or RemittanceError saying what is wrong with it. An upload is read within
    REMITTANCE_READ_SECONDS (`timed`); a stored file passed that once and is read again without a clock, so a busy
    server cannot turn a file it accepted into one it refuses."""
    seconds = _read_seconds() if timed else 0.0
    deadline = time.monotonic() + seconds if timed else None
    limit = max_bytes if max_bytes is not None else _limit()
    if len(data) > limit:
        raise RemittanceError(_l("The file is %(size)s; the largest file accepted is %(limit)s.",
                                 size=_size(len(data)), limit=_size(limit)))
    if not data:
        raise RemittanceError(_l("The file is empty."))
    suffix = Path(filename or "").suffix.lower()
    if suffix == ".xlsx":
        try:
            return _table(_xlsx_rows(data, deadline, seconds), deadline, seconds)
        except RemittanceError:
            raise
        except Exception as error:  # zip, XML (defusedxml), openpyxl: all mean the same to the user
            raise RemittanceError(_l("The file is not a readable .xlsx workbook.")) from error
    if suffix == ".csv":
        try:
            return _table(_csv_rows(data), deadline, seconds)
        except RemittanceError:
            raise
        except (csv.Error, UnicodeDecodeError) as error:
            raise RemittanceError(_l("The file is not a readable CSV file (%(error)s).", error=error)) from error
    raise RemittanceError(_l("Upload the remittance as an .xlsx workbook or a .csv file."))


# ---- the columns ----------------------------------------------------------------------------------------------


def guess_mapping(headers: list[str], saved: dict | None = None) -> dict[str, str]:
    """The insurer's saved mapping where its headers are in this file, else a guess from the header words."""
    mapping: dict[str, str] = {}
    lowered = {h.lower().strip(): h for h in headers}
    for field in REMITTANCE_FIELDS:
        if saved and saved.get(field) in headers:
            mapping[field] = saved[field]
            continue
        for word in GUESSES[field]:
            if word in lowered and lowered[word] not in mapping.values():
                mapping[field] = lowered[word]
                break
        else:
            mapping[field] = ""
    return mapping


def mapping_errors(mapping: dict, headers: list[str]) -> dict[str, str]:
    errors = {}
    for field in REMITTANCE_FIELDS:
        column = (mapping or {}).get(field) or ""
        if not column:
            if field in REQUIRED_FIELDS:
                errors[field] = CHOOSE_COLUMN[field]
        elif column not in headers:
            errors[field] = _l("The file has no column “%(column)s”.", column=column)
    used = [mapping.get(f) for f in REMITTANCE_FIELDS if mapping.get(f)]
    for field in REMITTANCE_FIELDS:
        if mapping.get(field) and used.count(mapping[field]) > 1 and field not in errors:
            errors[field] = _l("Each column can be used for one field only.")
    return errors


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def remittance_rows(table: Table, mapping: dict) -> list[RemittanceRow]:
    """Every row as a RemittanceRow; a row without a reference or with an unreadable amount refuses the file."""
    errors = mapping_errors(mapping, table.headers)
    if errors:
        raise RemittanceError(" ".join(str(e) for e in errors.values()))
    index = {field: table.headers.index(mapping[field]) if mapping.get(field) else None for field in REMITTANCE_FIELDS}

    def cell(values, field):
        i = index[field]
        return values[i] if i is not None and i < len(values) else None

    rows, problems = [], []
    for number, values in table.rows:
        reference = _text(cell(values, "reference"))
        raw = cell(values, "paid")
        if not reference:
            problems.append(_l("row %(row)s: no claim reference", row=number))
            continue
        if raw in (None, ""):
            problems.append(_l("row %(row)s: no amount paid", row=number))
            continue
        try:
            paid = parse_amount(raw)
        except AmbiguousNumber:
            problems.append(_l("row %(row)s: “%(text)s” is ambiguous (a thousand or a decimal amount?): write 1234, "
                               "1.234,00 or 1,23", row=number, text=str(raw)[:30]))
            continue
        except ValueError:
            problems.append(_l("row %(row)s: “%(text)s” is not an amount such as 199,50 or 1.234,56", row=number,
                               text=str(raw)[:30]))
            continue
        rows.append(RemittanceRow(number, reference, paid, _text(cell(values, "reason_code"))[:40],
                                  _text(cell(values, "reason_text"))[:500]))
    if problems:
        shown = "; ".join(str(problem) for problem in problems[:5])
        if len(problems) > 5:
            raise RemittanceError(_l("The file cannot be read: %(problems)s and %(more)s more. Nothing was applied.",
                                     problems=shown, more=len(problems) - 5))
        raise RemittanceError(_l("The file cannot be read: %(problems)s. Nothing was applied.", problems=shown))
    return rows


# ---- storing, previewing, applying ---------------------------------------------------------------------------


def _folder() -> Path:
    private_folder(claims_dir())
    return private_folder(claims_dir() / REMITTANCE_FOLDER)


def _store(data: bytes, digest: str, suffix: str) -> str:
    target = _folder() / f"{digest}{suffix}"
    if not target.exists():
        atomic_write_bytes(target, data)
    return f"{REMITTANCE_FOLDER}/{target.name}"


def _read_stored(remittance: RemittanceImport) -> Table:
    path = claims_dir() / remittance.stored_path
    try:
        data = path.read_bytes()
    except OSError as error:
        raise RemittanceError(_l("The uploaded file is no longer there: upload it again.")) from error
    return read_table(data, remittance.stored_path, max_bytes=max(len(data), 1), timed=False)


def upload(insurer: Insurer, data: bytes, filename: str, user=None, max_bytes: int | None = None) -> RemittanceImport:
    """Check and keep the insurer's file for preview; the columns are guessed from the insurer's saved mapping."""
    table = read_table(data, filename, max_bytes)
    digest = hashlib.sha256(data).hexdigest()
    stored = _store(data, digest, Path(filename).suffix.lower())
    saved = settings_for(insurer.id).remittance_mapping
    remittance = RemittanceImport(insurer_id=insurer.id, filename=Path(filename).name[:200] or "remittance",
                                  stored_path=stored, sha256=digest, size_bytes=len(data),
                                  status=RemittanceStatus.PREVIEWED.value, row_count=len(table.rows),
                                  mapping=guess_mapping(table.headers, saved), created_by_id=user_id(user))
    db.session.add(remittance)
    db.session.flush()
    audit.record("create", None, f"remittance import {remittance.id}",
                 f"{insurer.name}: {remittance.filename} ({len(table.rows)} rows, sha256 {digest[:12]}) uploaded",
                 user=user)
    return remittance


def set_mapping(remittance: RemittanceImport, mapping: dict) -> dict[str, str]:
    """Choose the file's columns; returns the errors per field (empty: saved)."""
    table = _read_stored(remittance)
    clean = {field: (mapping.get(field) or "").strip() for field in REMITTANCE_FIELDS}
    errors = mapping_errors(clean, table.headers)
    if not errors:
        remittance.mapping = clean
        db.session.flush()
    return errors


def _claims(insurer_id: int, references: set[str]) -> dict[str, ClaimLine]:
    """The insurer's claim lines by normalised reference: every line of its submitted batches (so the preview can
    say which pending lines the file leaves out), and the lines of closed batches that the file names (a reply
    imported twice, or a late correction)."""
    query = (select(ClaimLine).join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
             .where(ClaimBatch.insurer_id == insurer_id, ClaimLine.included, ClaimLine.claim_reference.is_not(None)))
    lines = list(db.session.scalars(query.where(ClaimBatch.status == BatchStatus.SUBMITTED)))
    wanted = sorted(references)
    for start in range(0, len(wanted), 1000):  # references are stored normalised (digits and dashes)
        lines += db.session.scalars(query.where(ClaimBatch.status == BatchStatus.CLOSED,
                                                ClaimLine.claim_reference.in_(wanted[start:start + 1000])))
    return {normalise_reference(line.claim_reference or ""): line for line in lines}


@dataclass(frozen=True)
class Preview:
    remittance: RemittanceImport
    headers: list[str]
    mapping: dict[str, str]
    errors: dict[str, str]
    match: RemittanceMatch | None
    problem: str = ""   # the rows cannot be read with this mapping


def preview(remittance: RemittanceImport) -> Preview:
    """What applying would do: matched (with their outcome), unchanged, unmatched, disputed, missing."""
    table = _read_stored(remittance)
    mapping = remittance.mapping or guess_mapping(table.headers)
    errors = mapping_errors(mapping, table.headers)
    if errors:
        return Preview(remittance, table.headers, mapping, errors, None)
    try:
        rows = remittance_rows(table, mapping)
    except RemittanceError as error:
        return Preview(remittance, table.headers, mapping, {}, None, str(error))
    claims = _claims(remittance.insurer_id, {normalise_reference(row.reference) for row in rows})
    match = rules.match_remittance((ClaimedLine(line.claim_reference or "", line_outcome(line))
                                    for line in claims.values()), rows)
    return Preview(remittance, table.headers, mapping, {}, match)


@dataclass(frozen=True)
class Applied:
    matched: int
    unchanged: int
    unmatched: int
    disputed: int
    paid_cents: int
    closed_batches: list[str]


def apply(remittance: RemittanceImport, user=None, paid_on: date | None = None) -> Applied:
    """Record every matched row's outcome, close the batches that are complete, keep the mapping for the insurer.
    What the insurer paid goes on the patients' invoices dated `paid_on` (default today: the day the money came).
    All or nothing: the unit of work commits once (or rolls back on RemittanceError)."""
    if remittance.status == RemittanceStatus.APPLIED:
        applied = nl_datetime(remittance.applied_at, clinic_timezone())  # stored in UTC, shown in clinic time
        raise RemittanceError(_l("This file was applied on %(moment)s; it is not applied twice.", moment=applied))
    result = preview(remittance)
    if result.errors or result.match is None:
        raise RemittanceError(result.problem or " ".join(str(e) for e in result.errors.values()))
    match = result.match
    claims = _claims(remittance.insurer_id, {normalise_reference(m.claim.reference) for m in match.matched})
    touched: dict[int, ClaimBatch] = {}
    lines = []
    try:
        for matched in match.matched:
            line = claims[normalise_reference(matched.claim.reference)]
            store_outcome(line, matched.outcome, user, paid_on)  # and the insurer's payment on the patient's invoice
            touched[line.batch_id] = line.batch
            lines.append(line)
        db.session.flush()
    except IntegrityError as error:  # the unit of work rolls back
        raise RemittanceError(_l("A line in this file was resubmitted in another batch meanwhile; record that line "
                                 "by hand. Nothing was applied.")) from error
    closed = [batch.number for batch in touched.values() if close_if_complete(batch, user)]
    remittance.status = RemittanceStatus.APPLIED.value
    remittance.applied_at = utc_now()
    remittance.applied_by_id = user_id(user)
    remittance.matched_count = len(match.matched)
    remittance.unmatched_count = len(match.unmatched)
    remittance.disputed_count = len(match.disputed)
    remittance.paid_cents = to_cents(match.matched_paid)
    settings = stored_settings(remittance.insurer_id)
    settings.remittance_mapping = dict(result.mapping)
    db.session.flush()
    _log_apply(remittance, lines, user)
    return Applied(len(match.matched), len(match.unchanged), len(match.unmatched), len(match.disputed),
                   to_cents(match.matched_paid), closed)


def _log_apply(remittance: RemittanceImport, lines: list[ClaimLine], user) -> None:
    if not lines:
        return
    patients = db.session.execute(
        select(ClaimLine.id, Invoice.patient_id)
        .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(ClaimLine.id.in_([line.id for line in lines])))
    per_patient: dict[int, list[str]] = defaultdict(list)
    by_id = {line.id: line for line in lines}
    for line_id, patient_id in patients:
        line = by_id[line_id]
        per_patient[patient_id].append(f"{line.claim_reference} {line.status}")
    for patient_id, outcomes in sorted(per_patient.items()):
        audit.record("update", patient_id, f"remittance import {remittance.id}",
                     f"insurer outcome recorded: {', '.join(outcomes)}", user=user)
