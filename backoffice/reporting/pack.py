"""The month-end pack for the accountant: one ZIP with the monthly report, the claim workbooks of the month and
every invoice and credit note issued in the month as a PDF.

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
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit
from ..clock import clinic_timezone
from ..domain.claims import BatchStatus
from ..domain.dutch import month_label, nl_datetime
from ..domain.reporting import Month
from ..extensions import db
from ..files import atomic_write
from ..i18n import dutch
from ..models import ClaimBatch
from . import queries, workbook

# Batches whose workbook went (or is about to go) to the insurer; drafts have none, cancelled ones never went.
EXPORTED_BATCH_STATUSES = (BatchStatus.EXPORTED, BatchStatus.SUBMITTED, BatchStatus.CLOSED)
PACK_STEPS = ("report", "claims", "invoices", "zip")

Progress = Callable[[str], None]


@dataclass
class PackResult:
    path: Path
    report_name: str
    claim_workbooks: list[str] = field(default_factory=list)
    documents: int = 0                                  # invoices and credit notes
    notes: list[str] = field(default_factory=list)      # what is missing and why

    @property
    def entries(self) -> int:
        return 1 + len(self.claim_workbooks) + self.documents


def default_filename(month: Month) -> str:
    return f"maandafsluiting-{month.iso}.zip"


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


def _copy_entries(archive: zipfile.ZipFile, source_zip: Path, folder: str) -> None:
    """Copied entry by entry (the PDFs are compressed already): never the whole batch in memory."""
    with zipfile.ZipFile(source_zip) as source:
        for info in source.infolist():
            copy = zipfile.ZipInfo(f"{folder}{info.filename}", date_time=info.date_time)
            copy.compress_type = zipfile.ZIP_STORED
            copy.external_attr = info.external_attr
            with source.open(info) as reader, archive.open(copy, "w") as writer:
                shutil.copyfileobj(reader, writer, 1 << 20)


def _contents_text(month: Month, result: PackResult, generated: datetime) -> str:
    """The pack's table of contents, in Dutch like the rest of the pack."""
    with dutch():
        lines = [_("Month-end pack %(month)s", month=month_label(month)),
                 _("Generated %(moment)s", moment=nl_datetime(generated, clinic_timezone())), "",
                 f"{result.report_name}  " + _("monthly report (Excel)")]
        lines += [f"declaraties/{name}  " + _("claim workbook") for name in result.claim_workbooks]
        lines.append("facturen/  " + _("%(count)s invoices and credit notes issued in the month (PDF, as issued)",
                                       count=result.documents))
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
    target.parent.mkdir(parents=True, exist_ok=True)
    reference = reference or f"month-end pack {month.iso}"
    with tempfile.TemporaryDirectory(prefix="pack-") as scratch:
        scratch_dir = Path(scratch)
        report = queries.build_report(month, today=today)
        report_name = workbook.default_filename(month)
        workbook.write_report(report, scratch_dir / report_name)
        result = PackResult(path=target, report_name=report_name)
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
        report_progress("claims")

        batch_zip = None
        try:
            printed = print_batch("invoices", month.first, month.last, scratch_dir / "print", user=user,
                                  on_behalf_of=on_behalf_of, reference=reference)
            batch_zip, result.documents = printed.zip_path, printed.count
        except BatchError as error:
            result.notes.append(str(error))
        report_progress("invoices")

        generated = report.generated_at.astimezone(clinic_timezone()).replace(microsecond=0)
        with atomic_write(target) as handle, zipfile.ZipFile(handle, "w") as archive:
            _add_file(archive, scratch_dir / report_name, report_name, generated)
            for path, name in claim_files:
                _add_file(archive, path, f"declaraties/{name}", generated)
            if batch_zip is not None:
                _copy_entries(archive, batch_zip, "facturen/")
            contents = zipfile.ZipInfo("inhoud.txt", date_time=_stamp(generated))
            contents.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(contents, _contents_text(month, result, generated))
        report_progress("zip")

    audit.record("export", None, f"month-end pack {month.iso}",
                 f"{reference}: monthly report, {len(result.claim_workbooks)} claim workbook(s), "
                 f"{result.documents} invoices and credit notes", on_behalf_of=on_behalf_of, user=user)
    return result
