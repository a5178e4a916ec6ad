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
each patient in it logged), and the invoices come from backoffice.printing's batch service (the PDFs stored at
issue, each logged as printed). The ZIP is written to a temporary file and renamed over the target only once
complete. The caller commits (the access-log entries).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit
from ..clock import clinic_timezone
from ..documents.spreadsheets import csv_bytes
from ..domain.claims import BatchStatus
from ..domain.dutch import month_label, nl_datetime
from ..domain.ledger import Ledger
from ..domain.money import format_euro, from_cents
from ..domain.reporting import Month
from ..extensions import db
from ..files import atomic_write, private_folder
from ..i18n import dutch
from ..models import ClaimBatch, CreditNote, Invoice
from . import queries, workbook

# Batches whose workbook went (or is about to go) to the insurer; drafts have none, cancelled ones never went.
EXPORTED_BATCH_STATUSES = (BatchStatus.EXPORTED, BatchStatus.SUBMITTED, BatchStatus.CLOSED)
PACK_STEPS = ("report", "claims", "invoices", "zip")
CONTENTS_NAME = "inhoud.txt"
INVOICE_FOLDER, CLAIM_FOLDER = "facturen/", "declaraties/"

Progress = Callable[[str], None]


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
    files: list[PackFile] = field(default_factory=list)  # every file but the contents list, in ZIP order

    @property
    def entries(self) -> int:
        return len(self.files) + 1


def default_filename(month: Month) -> str:
    return f"maandafsluiting-{month.iso}.zip"


def register_filename(month: Month) -> str:
    return f"factuurregister-{month.iso}.csv"


def payments_filename(month: Month) -> str:
    return f"betalingen-{month.iso}.csv"


# ---- CSV for Excel with Dutch settings: the shared writer (documents/spreadsheets.py) ----------------------------


def register_csv(book: Ledger) -> bytes:
    """The invoice register as the workbook's sheet has it, with a total row; Dutch."""
    with dutch():
        rows = [workbook.register_values(book, row) for row in book.register]
        total = [_("Total"), "", "", "", ""] + [book.net(rate) for rate in book.rates] + [
            book.vat, book.total, book.paid, book.open]
        return csv_bytes(workbook.register_headers(book), rows, total)


def payments_csv(book: Ledger) -> bytes:
    with dutch():
        rows = [workbook.payment_values(row) for row in book.payments]
        return csv_bytes(workbook.payment_headers(), rows, [_("Total"), "", "", "", book.payments_total, ""])


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


def _add_bytes(archive: zipfile.ZipFile, data: bytes, name: str, moment: datetime) -> None:
    info = zipfile.ZipInfo(name, date_time=_stamp(moment))
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o640 << 16
    archive.writestr(info, data)


_DOCUMENT_PREFIX = {"invoice": "factuur", "credit note": "creditnota"}


def _document_name(subject: str) -> tuple[str, str, str]:
    """("invoice", "2026-00012", "factuur-2026-00012.pdf") from the print batch's subject "invoice 2026-00012"."""
    for kind, prefix in _DOCUMENT_PREFIX.items():
        if subject.startswith(kind + " "):
            number = subject[len(kind) + 1:]
            return kind, number, f"{prefix}-{number}.pdf"
    raise ValueError(f"not an invoice or credit note: {subject}")


def _document_totals(month: Month) -> dict[tuple[str, str], Decimal]:
    totals = {("invoice", number or ""): from_cents(cents) for number, cents in db.session.execute(
        select(Invoice.number, Invoice.total_gross_cents).where(Invoice.issue_date.between(month.first, month.last)))}
    totals.update({("credit note", number): from_cents(cents) for number, cents in db.session.execute(
        select(CreditNote.number, CreditNote.total_gross_cents)
        .where(CreditNote.issue_date.between(month.first, month.last)))})
    return totals


def _copy_documents(archive: zipfile.ZipFile, source_zip: Path, subjects: list[str],
                    totals: dict[tuple[str, str], Decimal]) -> list[PackFile]:
    """The print batch's PDFs, entry by entry (compressed already: stored; never the whole batch in memory), renamed
    to their numbers: the batch names them for the desk, with the patient's name. Its entries come in the order of
    its documents (`subjects`); each entry's old name is checked to start with the number it gets."""
    files = []
    with dutch(), zipfile.ZipFile(source_zip) as source:
        for info, subject in zip(source.infolist(), subjects, strict=True):
            kind, number, name = _document_name(subject)
            if not info.filename.startswith(name.removesuffix(".pdf")):
                raise ValueError(f"print batch entry {info.filename} is not {subject}")
            copy = zipfile.ZipInfo(f"{INVOICE_FOLDER}{name}", date_time=info.date_time)
            copy.compress_type = zipfile.ZIP_STORED
            copy.external_attr = info.external_attr
            with source.open(info) as reader, archive.open(copy, "w") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)
            what = _("invoice (PDF, as issued)") if kind == "invoice" else _("credit note (PDF, as issued)")
            files.append(PackFile(copy.filename, what, totals.get((kind, number), Decimal("0.00"))))
    return files


def _contents_text(month: Month, result: PackResult, generated: datetime) -> str:
    """The pack's table of contents, in Dutch like the rest of the pack: every file with what it is and its total."""
    with dutch():
        lines = [_("Month-end pack %(month)s", month=month_label(month)),
                 _("Generated %(moment)s", moment=nl_datetime(generated, clinic_timezone())), "",
                 _("%(count)s files; invoices and credit notes issued in the month: %(documents)s.",
                   count=len(result.files), documents=result.documents), "",
                 "\t".join((_("File"), _("Contents"), _("Total")))]
        lines += ["\t".join((f.name, f.what, format_euro(f.total))) for f in result.files]
        if result.notes:
            lines += ["", _("Notes:")] + [f"- {note}" for note in result.notes]
    return "\n".join(lines) + "\n"


def build_pack(month: Month, target: str | os.PathLike[str], user=None, on_behalf_of: str = "",
               today: date | None = None, progress: Progress | None = None, reference: str = "") -> PackResult:
    """Write the month-end pack of `month` to `target` and add the access-log entries (the caller commits)."""
    from ..claims.common import ClaimError
    from ..claims.export import export_batch
    from ..printing.services import BatchError, print_batch

    report_progress = progress or (lambda step: None)
    target = Path(target)
    private_folder(target.parent, own=False)
    reference = reference or f"month-end pack {month.iso}"
    with tempfile.TemporaryDirectory(prefix="pack-") as scratch:
        scratch_dir = Path(scratch)
        report = queries.build_report(month, today=today)
        book = report.ledger
        if book is None:  # build_report with detail (the default) always reads the month's books
            raise ValueError("the report has no invoice register")
        report_name = workbook.default_filename(month)
        workbook.write_report(report, scratch_dir / report_name)
        result = PackResult(path=target, report_name=report_name)
        with dutch():
            result.files += [
                PackFile(report_name, _("monthly report (Excel) with the invoice register and payments; revenue "
                                        "incl. VAT"), report.overview.month.revenue.gross),
                PackFile(register_filename(month), _("invoice register (CSV): %(count)s invoices and credit notes; "
                                                     "total incl. VAT", count=len(book.register)), book.total),
                PackFile(payments_filename(month), _("payments (CSV): %(count)s payments; total",
                                                     count=len(book.payments)), book.payments_total),
            ]
        report_progress("report")

        claim_files: list[tuple[Path, str]] = []
        for batch in claim_batches_of(month):
            try:
                exported = export_batch(batch, user=user)
            except (ClaimError, OSError) as error:
                with dutch():
                    result.notes.append(_("claim batch %(number)s left out: %(error)s", number=batch.number,
                                          error=error))
                continue
            claim_files.append((exported.path, exported.filename))
            result.claim_workbooks.append(exported.filename)
            with dutch():
                result.files.append(PackFile(f"{CLAIM_FOLDER}{exported.filename}",
                                             _("claim workbook (Excel): %(count)s lines claimed, incl. VAT",
                                               count=exported.claimed), exported.claimed_amount))
        report_progress("claims")

        batch_zip, subjects = None, []
        try:
            printed = print_batch("invoices", month.first, month.last, scratch_dir / "print", user=user,
                                  on_behalf_of=on_behalf_of, reference=reference)
            batch_zip, result.documents = printed.zip_path, printed.count
            subjects = [subject for _patient, subject in printed.entries]
        except BatchError as error:
            result.notes.append(str(error))
        report_progress("invoices")

        generated = report.generated_at.astimezone(clinic_timezone()).replace(microsecond=0)
        with atomic_write(target) as handle, zipfile.ZipFile(handle, "w") as archive:
            _add_file(archive, scratch_dir / report_name, report_name, generated)
            _add_bytes(archive, register_csv(book), register_filename(month), generated)
            _add_bytes(archive, payments_csv(book), payments_filename(month), generated)
            for path, name in claim_files:
                _add_file(archive, path, f"{CLAIM_FOLDER}{name}", generated)
            if batch_zip is not None:
                result.files += _copy_documents(archive, batch_zip, subjects, _document_totals(month))
            _add_bytes(archive, _contents_text(month, result, generated).encode("utf-8"), CONTENTS_NAME,
                       generated)
        report_progress("zip")

    audit.record("export", None, f"month-end pack {month.iso}",
                 f"{reference}: monthly report, {len(result.claim_workbooks)} claim workbook(s), "
                 f"{result.documents} invoices and credit notes", on_behalf_of=on_behalf_of, user=user)
    return result
