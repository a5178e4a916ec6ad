"""Removing files that hold patient data once they are no longer needed (`flask cleanup`, daily from cron).

After FILE_RETENTION_DAYS (default 30) days, by the file's modification time:
- print output (PRINT_OUTPUT_DIR, by default instance/print_jobs): the merged PDFs and ZIPs of batch prints. The
  documents stay in the database; the job's page then offers to print again. Files of a job still queued or
  running are never removed;
- exported claim workbooks (CLAIMS_DIR/exports, by default instance/claims/exports): downloading a batch writes
  its workbook again from the frozen lines (the same bytes, checked against the stored SHA-256);
- month-end packs (instance/month_packs, reporting/jobs.py), except those of a job still queued or running: the
  job's page then offers to build the pack again;
- report scratch files (instance/reports) left behind by an interrupted download;
- the development mail outbox (MAIL_OUTBOX_DIR, by default instance/outbox): each .eml file is a whole e-mail to a
  patient with its PDF attached. What was sent stays on record in the database (document_sendings), and a retry
  builds the message again.
Uploaded remittance files (CLAIMS_DIR/remittances) are kept: an import's page reads its file again.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from sqlalchemy import select

from .. import audit, clock
from ..claims.export import EXPORT_FOLDER
from ..claims.settings import claims_dir
from ..domain.statuses import PrintJobStatus
from ..extensions import db
from ..mail.transport import outbox_folder
from ..models import PrintJob
from ..printing.services import output_dir
from ..reporting import jobs as pack_jobs

DEFAULT_RETENTION_DAYS = 30
_JOB_FILE = re.compile(r"_job(\d+)\.")
_PACK_FILE = re.compile(r"_pack(\d+)\.")


@dataclass(frozen=True)
class Entry:
    path: Path
    reason: str
    size: int = 0


@dataclass
class CleanupReport:
    days: int
    cutoff: datetime
    removed: list[Entry] = field(default_factory=list)
    kept: list[Entry] = field(default_factory=list)

    @property
    def bytes(self) -> int:
        return sum(entry.size for entry in self.removed)


def retention_days() -> int:
    return int(current_app.config.get("FILE_RETENTION_DAYS") or DEFAULT_RETENTION_DAYS)


def _old_files(folder: Path, cutoff: datetime) -> Iterator[tuple[Path, int]]:
    if not folder.is_dir():
        return
    limit = cutoff.timestamp()
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not path.is_file():
            continue
        stat = path.stat()
        if stat.st_mtime < limit:
            yield path, stat.st_size


def _unfinished_job_ids() -> set[int]:
    unfinished = (PrintJobStatus.QUEUED.value, PrintJobStatus.RUNNING.value)
    return set(db.session.scalars(select(PrintJob.id).where(PrintJob.status.in_(unfinished))))


def _candidates(cutoff: datetime) -> Iterator[tuple[Path, int, str, str | None]]:
    """(path, size, what it is, why it is kept or None) for every file older than `cutoff`."""
    unfinished = _unfinished_job_ids()
    for path, size in _old_files(output_dir(), cutoff):
        match = _JOB_FILE.search(path.name)
        busy = match is not None and int(match.group(1)) in unfinished
        yield path, size, "print output", "its print job is still queued or running" if busy else None
    unfinished_packs = pack_jobs.unfinished_ids()
    for path, size in _old_files(Path(current_app.instance_path) / pack_jobs.FOLDER, cutoff):
        match = _PACK_FILE.search(path.name)
        busy = match is not None and int(match.group(1)) in unfinished_packs
        yield path, size, "month-end pack", "its pack job is still queued or running" if busy else None
    for path, size in _old_files(claims_dir() / EXPORT_FOLDER, cutoff):
        yield path, size, "claim workbook (written again on download)", None
    for path, size in _old_files(Path(current_app.instance_path) / "reports", cutoff):
        yield path, size, "report scratch file", None
    for path, size in _old_files(outbox_folder(), cutoff):
        yield path, size, "e-mail in the development outbox", None


def remove_old_files(days: int | None = None, dry_run: bool = False, now: datetime | None = None) -> CleanupReport:
    """Remove (or with `dry_run` only list) the files past the retention period; one access-log line says so."""
    days = days or retention_days()
    cutoff = (now or clock.utc_now()) - timedelta(days=days)
    report = CleanupReport(days=days, cutoff=cutoff)
    for path, size, what, keep_because in _candidates(cutoff):
        if keep_because:
            report.kept.append(Entry(path, keep_because, size))
            continue
        if not dry_run:
            path.unlink(missing_ok=True)
        report.removed.append(Entry(path, what, size))
    if report.removed and not dry_run:
        audit.record("delete", None, "file retention",
                     f"{len(report.removed)} file(s) older than {days} days removed ({report.bytes} bytes)")
    return report
