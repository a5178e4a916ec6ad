"""The month-end pack for the accountant: one ZIP with the monthly report, the invoice register and the payments
list as CSV, the claim workbooks of the month and every invoice and credit note issued in the month as a PDF, and
a contents list (inhoud.txt) naming every file with its total.

File names carry numbers, never patient names (factuur-2026-00012.pdf, creditnota-C2026-00002.pdf): the pack
leaves the practice, and a name in a file name is health data in every folder listing. The register and the
payments list name patients by number.

The CSV files are what a Dutch accountant's Excel opens with a double click: ';' between fields and a decimal
comma, UTF-8 with a byte-order mark, dates as dd-mm-jjjj, amounts from integer cents without a thousands
separator, no text that could run as a formula: written by the shared writer (backoffice/documents/spreadsheets.py)
that the list exports use too.

Reuses the other features' own services: the claim workbooks are exported again through
backoffice.claims.export.export_batch (the same bytes as the first export, checked against its SHA-256, and
each patient in it logged); the invoices and credit notes are the PDFs stored at issue (checked against their
SHA-256, each logged as printed, as batch printing logs them). The ZIP is written to a temporary file and renamed
over the target only once complete. The caller commits (the access-log entries).

Memory stays flat for a chain's month (bench/month_pack.py measures it): the invoice register and payments are
read page by page (books.py) into the workbook's sheets and streamed into the CSV entries, the PDFs are read
DOCUMENT_PAGE at a time and written straight into the ZIP, and the contents list's document lines wait in a
scratch file. The web asks for the pack as a background job (jobs.py); `flask report pack` builds it at once.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import TextIO

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit
from ..clock import clinic_timezone
from ..documents.spreadsheets import csv_stream
from ..domain.claims import BatchStatus
from ..domain.dutch import month_label, nl_datetime
from ..domain.ledger import Ledger, PaymentRow, RegisterRow
from ..domain.money import format_euro, from_cents
from ..domain.reporting import Month
from ..domain.statuses import InvoiceStatus
from ..extensions import db
from ..files import atomic_write, flat_zip, private_file, private_folder
from ..i18n import dutch
from ..models import ClaimBatch, CreditNote, Invoice
from . import books, queries, workbook
from .books import MonthBooks, Totals
from .workbook import Books

# Batches whose workbook went (or is about to go) to the insurer; drafts have none, cancelled ones never went.
EXPORTED_BATCH_STATUSES = (BatchStatus.EXPORTED, BatchStatus.SUBMITTED, BatchStatus.CLOSED)
PACK_STEPS = ("report", "claims", "invoices", "zip")
CONTENTS_NAME = "inhoud.txt"
INVOICE_FOLDER, CLAIM_FOLDER = "facturen/", "declaraties/"

Progress = Callable[[str], None]
DocumentProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class PackFile:
    """One file of the pack as the contents list names it."""

    name: str           # the path inside the ZIP
    what: str           # what it is (Dutch)
    total: Decimal      # its total (incl. VAT), as the contents list shows it


@dataclass
class PackResult:
    path: Path
    report_name: str
    claim_workbooks: list[str] = field(default_factory=list)
    documents: int = 0                                  # invoices and credit notes
    notes: list[str] = field(default_factory=list)      # what is missing and why
    # Every file but the documents and the contents list, in ZIP order (the documents' lines are in the contents).
    files: list[PackFile] = field(default_factory=list)
    documents_list: Path | None = None  # the (patient id, subject) of each document in it: read_documents_list

    @property
    def entries(self) -> int:
        return len(self.files) + self.documents + 1


def default_filename(month: Month) -> str:
    return f"maandafsluiting-{month.iso}.zip"


def register_filename(month: Month) -> str:
    return f"factuurregister-{month.iso}.csv"


def payments_filename(month: Month) -> str:
    return f"betalingen-{month.iso}.csv"


# ---- CSV for Excel with Dutch settings: the shared writer (documents/spreadsheets.py) ----------------------------


def register_csv(book: Ledger) -> bytes:
    """The invoice register as the workbook's sheet has it, with a total row; Dutch."""
    return b"".join(register_csv_stream(book, book.register, Totals(book.rates)))


def payments_csv(book: Ledger) -> bytes:
    return b"".join(payments_csv_stream(book.payments, Totals(book.rates)))


def register_csv_stream(book: Books, rows: Iterable[RegisterRow], totals: Totals) -> Iterator[bytes]:
    """The register CSV in pieces as `rows` come (added up into `totals`), the total row last; Dutch."""
    with dutch():
        row_values = workbook.register_values(book)
        values = (row_values(row) for row in totals.counted(rows))

        def with_total() -> Iterator[list]:
            yield from values
            yield [_("Total"), "", "", "", ""] + [totals.net(rate) for rate in book.rates] + [
                totals.vat, totals.total, totals.paid, totals.open]

        yield from csv_stream(workbook.register_headers(book), with_total())


def payments_csv_stream(rows: Iterable[PaymentRow], totals: Totals) -> Iterator[bytes]:
    with dutch():
        row_values = workbook.payment_values()
        values = (row_values(row) for row in totals.counted_payments(rows))

        def with_total() -> Iterator[list]:
            yield from values
            yield [_("Total"), "", "", "", totals.payments, ""]

        yield from csv_stream(workbook.payment_headers(), with_total())


def claim_batches_of(month: Month) -> list[ClaimBatch]:
    """Exported batches whose claim period overlaps the month."""
    return list(db.session.scalars(
        select(ClaimBatch)
        .where(ClaimBatch.status.in_(EXPORTED_BATCH_STATUSES), ClaimBatch.period_start <= month.last,
               ClaimBatch.period_end >= month.first)
        .order_by(ClaimBatch.number)
    ))


def _stamp(moment: datetime) -> tuple[int, int, int, int, int, int]:
    return max(moment.timetuple()[:6], (1980, 1, 1, 0, 0, 0))


def _add_file(archive: zipfile.ZipFile, source: Path, name: str, moment: datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=_stamp(moment))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o640 << 16
    with source.open("rb") as reader, archive.open(info, "w") as writer:
        shutil.copyfileobj(reader, writer, 1 << 20)


_DOCUMENT_PREFIX = {"invoice": "factuur", "credit note": "creditnota"}
DOCUMENT_PAGE = 20  # PDFs read per query: one page of them in memory at a time
LOG_FLUSH = 500  # access-log entries added between two flushes: stored entries leave the session's memory


def read_documents_list(path: Path) -> Iterator[tuple[int | None, str]]:
    """The (patient id, subject) of each document in a pack, one line at a time, as build_pack wrote them: a
    chain's month holds thousands, and the list is read twice (the "print" entries, each download's "export"
    entries) without ever being in memory whole."""
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            patient, subject = line.rstrip("\n").split("\t", 1)
            yield (int(patient) if patient else None), subject


def record_documents(action: str, path: Path, detail: str, user=None, on_behalf_of: str = "") -> int:
    """One access-log entry per document of the list at `path`; flushed every LOG_FLUSH so that the stored
    entries leave memory (the caller commits). Returns the number of entries."""
    count = 0
    for count, (patient_id, subject) in enumerate(read_documents_list(path), 1):
        audit.record(action, patient_id, subject, detail, on_behalf_of=on_behalf_of, user=user)
        if count % LOG_FLUSH == 0:
            db.session.flush()
    return count


@dataclass(frozen=True)
class _Document:
    kind: str               # "invoice" or "credit note" (the access log's subject starts with it)
    number: str
    issue_date: date
    patient_id: int | None
    pdf: bytes | None
    sha256: str | None
    total_cents: int

    @property
    def subject(self) -> str:
        return f"{self.kind} {self.number}"

    @property
    def name(self) -> str:
        return f"{INVOICE_FOLDER}{_DOCUMENT_PREFIX[self.kind]}-{self.number}.pdf"


def _documents(month: Month) -> Iterator[_Document]:
    """The month's issued invoices, then its credit notes, each in number order (as batch printing orders them),
    with the PDF bytes stored at issue: DOCUMENT_PAGE of them per query."""
    invoices = (select(Invoice.number, Invoice.issue_date, Invoice.patient_id, Invoice.pdf, Invoice.pdf_sha256,
                       Invoice.total_gross_cents, Invoice.series_year, Invoice.sequence)
                .where(Invoice.status == InvoiceStatus.ISSUED, Invoice.issue_date >= month.first,
                       Invoice.issue_date <= month.last))
    for page in books.pages(invoices, Invoice.series_year, Invoice.sequence, size=DOCUMENT_PAGE):
        for number, issued, patient_id, pdf, sha256, cents, *_key in page:
            yield _Document("invoice", number or "", issued, patient_id, pdf, sha256, int(cents or 0))
    notes = (select(CreditNote.number, CreditNote.issue_date, Invoice.patient_id, CreditNote.pdf,
                    CreditNote.pdf_sha256, CreditNote.total_gross_cents, CreditNote.series_year, CreditNote.sequence)
             .join(Invoice, Invoice.id == CreditNote.invoice_id)
             .where(CreditNote.issue_date >= month.first, CreditNote.issue_date <= month.last))
    for page in books.pages(notes, CreditNote.series_year, CreditNote.sequence, size=DOCUMENT_PAGE):
        for number, issued, patient_id, pdf, sha256, cents, *_key in page:
            yield _Document("credit note", number, issued, patient_id, pdf, sha256, int(cents or 0))


def _write_documents(archive: zipfile.ZipFile, month: Month, result: PackResult, listing: TextIO,
                     printed: TextIO, progress: DocumentProgress) -> None:
    """Each stored PDF into the pack as it is read (stored: PDFs are compressed already), named by its number
    (the batch print names them for the desk, with the patient's name); its contents-list line goes to `listing`,
    its patient and subject (for the access log) to `printed`. A PDF that no longer matches its SHA-256 is left
    out, with a note."""
    from ..printing.services import count_documents, nothing_to_print

    total = count_documents("invoices", month.first, month.last)
    if total == 0:
        with dutch():
            result.notes.append(nothing_to_print("invoices", month.first, month.last) or "")
        return
    progress(0, total)
    with dutch():
        what = {"invoice": _("invoice (PDF, as issued)"), "credit note": _("credit note (PDF, as issued)")}
        altered = _("The stored PDF of %(subject)s does not match its SHA-256: it was altered and is left out.")
    for done, document in enumerate(_documents(month), 1):
        if document.pdf is None or hashlib.sha256(document.pdf).hexdigest() != document.sha256:
            result.notes.append(altered % {"subject": document.subject})
        else:
            day = document.issue_date
            info = zipfile.ZipInfo(document.name, date_time=(day.year, day.month, day.day, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            info.external_attr = 0o640 << 16
            archive.writestr(info, document.pdf)
            listing.write("\t".join((document.name, what[document.kind],
                                     format_euro(from_cents(document.total_cents)))) + "\n")
            printed.write(f"{document.patient_id or ''}\t{document.subject}\n")
            result.documents += 1
        if done % DOCUMENT_PAGE == 0 or done == total:
            progress(done, total)


def _write_contents(archive: zipfile.ZipFile, month: Month, result: PackResult, generated: datetime,
                    listing: Path) -> None:
    """The pack's table of contents, in Dutch like the rest of the pack: every file with what it is and its total;
    the documents' lines are copied from `listing` as they were written."""
    info = zipfile.ZipInfo(CONTENTS_NAME, date_time=_stamp(generated))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o640 << 16
    with dutch():
        head = [_("Month-end pack %(month)s", month=month_label(month)),
                _("Generated %(moment)s", moment=nl_datetime(generated, clinic_timezone())), "",
                _("%(count)s files; invoices and credit notes issued in the month: %(documents)s.",
                  count=len(result.files) + result.documents, documents=result.documents), "",
                "\t".join((_("File"), _("Contents"), _("Total")))]
        head += ["\t".join((f.name, f.what, format_euro(f.total))) for f in result.files]
        tail = ["", _("Notes:")] + [f"- {note}" for note in result.notes] if result.notes else []
    with archive.open(info, "w") as writer:
        writer.write(("\n".join(head) + "\n").encode("utf-8"))
        with listing.open("rb") as lines:
            shutil.copyfileobj(lines, writer, 1 << 20)
        if tail:
            writer.write(("\n".join(tail) + "\n").encode("utf-8"))


def _add_stream(archive: zipfile.ZipFile, pieces: Iterable[bytes], name: str, moment: datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=_stamp(moment))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o640 << 16
    with archive.open(info, "w") as writer:
        for piece in pieces:
            writer.write(piece)


def build_pack(month: Month, target: str | os.PathLike[str], user=None, on_behalf_of: str = "",
               today: date | None = None, progress: Progress | None = None, reference: str = "",
               documents_progress: DocumentProgress | None = None,
               documents_list: str | os.PathLike[str] | None = None) -> PackResult:
    """Write the month-end pack of `month` to `target` and add the access-log entries (the caller commits).

    `progress(step)` is called as each of PACK_STEPS is done, `documents_progress(done, total)` as the invoices
    and credit notes are copied. Memory stays flat whatever the month's size: the register and payments are read
    page by page into the workbook's sheets and the CSVs, the PDFs DOCUMENT_PAGE at a time straight into the ZIP,
    and each document's (patient id, subject) goes to a file, `documents_list` when given (the job keeps it beside
    the ZIP for logging each download), from which the "print" entries are logged once the ZIP is complete.
    """
    from ..printing.services import describe

    report_progress = progress or (lambda step: None)
    target = Path(target)
    private_folder(target.parent, own=False)
    reference = reference or f"month-end pack {month.iso}"
    with tempfile.TemporaryDirectory(prefix="pack-") as scratch:
        scratch_dir = Path(scratch)
        # Kept beside the ZIP (patient numbers and document numbers): 0600, as every file the app writes.
        printed = private_file(documents_list) if documents_list is not None else scratch_dir / "printed.tsv"
        with atomic_write(target) as handle, flat_zip(handle, scratch_dir / "directory.bin") as archive:
            result = _write_pack(archive, month, target, scratch_dir, printed, user, today, report_progress,
                                 documents_progress or (lambda done, total: None))
        report_progress("zip")
        if documents_list is not None:
            result.documents_list = printed
        detail = f"batch print: {describe('invoices', month.first, month.last)}, {reference}"
        record_documents("print", printed, detail, user=user, on_behalf_of=on_behalf_of)
    audit.record("export", None, f"month-end pack {month.iso}",
                 f"{reference}: monthly report, {len(result.claim_workbooks)} claim workbook(s), "
                 f"{result.documents} invoices and credit notes", on_behalf_of=on_behalf_of, user=user)
    return result


def _write_pack(archive: zipfile.ZipFile, month: Month, target: Path, scratch_dir: Path, printed: Path, user,
                today: date | None, report_progress: Progress, documents_progress: DocumentProgress) -> PackResult:
    """Every entry of the pack (to be `target`) into `archive`; each document's (patient id, subject) into the
    file `printed`."""
    from ..claims.common import ClaimError
    from ..claims.export import export_batch

    report = queries.build_report(month, today=today)  # the month's books are read page by page (MonthBooks)
    book = MonthBooks.of(month, report.as_of)
    generated = report.generated_at.astimezone(clinic_timezone()).replace(microsecond=0)
    report_name = workbook.default_filename(month)
    workbook.write_report(report, scratch_dir / report_name, book)
    result = PackResult(path=target, report_name=report_name)
    _add_file(archive, scratch_dir / report_name, report_name, generated)
    register, payments = book.totals(), book.totals()
    _add_stream(archive, register_csv_stream(book, book.register(), register), register_filename(month),
                generated)
    _add_stream(archive, payments_csv_stream(book.payments(), payments), payments_filename(month), generated)
    with dutch():
        result.files += [
            PackFile(report_name, _("monthly report (Excel) with the invoice register and payments; revenue "
                                    "incl. VAT"), report.overview.month.revenue.gross),
            PackFile(register_filename(month), _("invoice register (CSV): %(count)s invoices and credit notes; "
                                                 "total incl. VAT", count=register.count), register.total),
            PackFile(payments_filename(month), _("payments (CSV): %(count)s payments; total",
                                                 count=payments.count), payments.payments),
        ]
    report_progress("report")

    for batch in claim_batches_of(month):
        try:
            exported = export_batch(batch, user=user)
        except (ClaimError, OSError) as error:
            with dutch():
                result.notes.append(_("claim batch %(number)s left out: %(error)s", number=batch.number,
                                      error=error))
            continue
        _add_file(archive, exported.path, f"{CLAIM_FOLDER}{exported.filename}", generated)
        result.claim_workbooks.append(exported.filename)
        with dutch():
            result.files.append(PackFile(f"{CLAIM_FOLDER}{exported.filename}",
                                         _("claim workbook (Excel): %(count)s lines claimed, incl. VAT",
                                           count=exported.claimed), exported.claimed_amount))
    report_progress("claims")

    listing = scratch_dir / "documents.txt"
    with listing.open("w", encoding="utf-8", newline="\n") as lines, \
            printed.open("w", encoding="utf-8", newline="\n") as patients:
        _write_documents(archive, month, result, lines, patients, documents_progress)
    report_progress("invoices")
    _write_contents(archive, month, result, generated, listing)
    return result
