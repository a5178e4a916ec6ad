"""The month-end pack as a background job: the manager asks for a month's pack, the print queue's worker builds it
(pack.build_pack) and the job's page follows its steps and documents until the download is there.

As batch printing (backoffice/printing/services.py) does with PrintJob:
- `request_job` adds a queued PackJob; the view hands its id to the queue once the request has stored it
  (printing.tasks.enqueue_pack after commit). `run_job` is what the worker runs: each step is stored with
  unit_of_work.checkpoint() so that the job's page sees it; the pack's access-log entries of claim workbooks are
  stored with those steps (the worker read them), the "print" entries of the documents and the pack's own
  "export" entry with the outcome. A failed job stores no ZIP and says why; "build again" is a new job.
- A worker that stops mid-job cannot say so: `fail_stale_jobs` marks failed a job that showed no progress for
  PRINT_JOB_STALE_SECONDS (the job pages call it, and the consumer at start).
- The ZIPs live in instance/month_packs (`pack_dir`), named maandafsluiting-YYYY-MM_packN.zip; `flask cleanup`
  removes them after the retention period, as print output, except those of a job still queued or running.
- Downloading a finished pack logs, as the synchronous download did, the pack's "export" entry (the manager's home
  reads it: the month's close) and one "export" entry per document in it, read from the list of the pack's
  documents kept beside the ZIP (`documents_list_path`, one line per document: a chain's month holds thousands,
  never all in memory at once).
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import audit, unit_of_work
from ..clock import utc_now
from ..domain.reporting import Month
from ..domain.statuses import PrintJobStatus
from ..errors import ServiceError
from ..extensions import db
from ..files import private_folder
from ..models.printing import PackJob
from ..printing.services import fail_stale
from . import pack

log = logging.getLogger(__name__)

FOLDER = "month_packs"
STEPS = pack.PACK_STEPS
PROGRESS_INTERVAL = 0.3  # seconds between two stored counts of documents copied


class PackJobError(ServiceError):
    """The pack cannot be downloaded (yet); the message says why, for the user."""


def pack_dir() -> Path:
    """instance/month_packs, the app's own (0700): the packs hold patient data (the invoices)."""
    return private_folder(Path(current_app.instance_path) / FOLDER)


def job_month(job: PackJob) -> Month:
    return Month(job.month.year, job.month.month)


def file_stem(month: Month, job_id: int) -> str:
    return f"{pack.default_filename(month).removesuffix('.zip')}_pack{job_id}"


def documents_list_path(job: PackJob) -> Path:
    """The list of the (patient id, subject) of each document in the job's ZIP, beside it (cleanup removes the
    two together: both carry the job's number)."""
    return pack_dir() / f"{file_stem(job_month(job), job.id)}.documents.tsv"


def request_job(month: Month, user=None, on_behalf_of: str = "") -> PackJob:
    """A queued job for `month`; the caller hands job.id to the queue once it is stored (after commit)."""
    job = PackJob(month=month.first, status=PrintJobStatus.QUEUED.value, requested_by_id=getattr(user, "id", None),
                  on_behalf_of=on_behalf_of or "")
    db.session.add(job)
    db.session.flush()
    return job


def recent_jobs(month: Month | None = None, limit: int = 10) -> list[PackJob]:
    query = select(PackJob).options(selectinload(PackJob.requested_by))
    if month is not None:
        query = query.where(PackJob.month == month.first)
    return list(db.session.scalars(query.order_by(PackJob.created_at.desc(), PackJob.id.desc()).limit(limit)))


def steps_done(job: PackJob) -> int:
    return STEPS.index(job.step) + 1 if job.step in STEPS else 0


def percent(job: PackJob) -> int:
    """The steps count a quarter each; the invoices' quarter moves with the documents copied."""
    if job.status == PrintJobStatus.DONE:
        return 100
    done = steps_done(job)
    share = job.done_count / job.total_count if job.total_count and done == STEPS.index("invoices") else 0.0
    return min(99, int(100 * (done + share) / len(STEPS)))


def mark_failed(job_id: int, message: str) -> PackJob:
    job = db.session.get_one(PackJob, job_id)
    job.status, job.error, job.finished_at = PrintJobStatus.FAILED.value, message, utc_now()
    return job


class _Progress:
    """Stores the job's step and documents (a checkpoint), the documents at most every PROGRESS_INTERVAL."""

    def __init__(self, job_id: int):
        self.job_id, self.last = job_id, 0.0

    def _store(self, **values) -> None:
        job = db.session.get_one(PackJob, self.job_id)
        for name, value in values.items():
            setattr(job, name, value)
        job.progress_at = utc_now()
        unit_of_work.checkpoint()
        self.last = time.monotonic()

    def step(self, step: str) -> None:
        self._store(step=step)

    def documents(self, done: int, total: int) -> None:
        if 0 < done < total and time.monotonic() - self.last < PROGRESS_INTERVAL:
            return
        self._store(done_count=done, total_count=total)


def run_job(job_id: int) -> PackJob | None:
    """Build a queued job's pack to done or failed. A job that is not queued (a retried or doubled task) is left
    alone."""
    job = db.session.get(PackJob, job_id)
    if job is None or job.status != PrintJobStatus.QUEUED:
        return job
    job.status, job.started_at = PrintJobStatus.RUNNING.value, utc_now()
    unit_of_work.checkpoint()
    month, user, on_behalf_of = job_month(job), job.requested_by, job.on_behalf_of
    target, documents = pack_dir() / f"{file_stem(month, job_id)}.zip", documents_list_path(job)
    progress = _Progress(job_id)
    try:
        result = pack.build_pack(month, target, user=user, on_behalf_of=on_behalf_of, progress=progress.step,
                                 documents_progress=progress.documents, documents_list=documents,
                                 reference=f"month-end pack {month.iso}, pack job {job_id}")
    except Exception as error:
        unit_of_work.discard()  # the documents' entries of a pack that was not made are not stored
        target.unlink(missing_ok=True)
        documents.unlink(missing_ok=True)
        log.exception("month-end pack job %s failed", job_id)
        job = mark_failed(job_id, _("Building the pack failed (%(error)s); the server log has the details.",
                                    error=error.__class__.__name__))
        unit_of_work.checkpoint()
        return job
    job = db.session.get_one(PackJob, job_id)
    job.status, job.finished_at, job.step = PrintJobStatus.DONE.value, utc_now(), STEPS[-1]
    job.document_count = result.documents
    job.done_count = job.total_count = max(job.total_count, result.documents)
    job.zip_path, job.size_bytes = target.name, target.stat().st_size
    job.notes = "\n".join(result.notes)
    unit_of_work.checkpoint()  # with the access-log entries build_pack added
    return job


STALE_ERROR = ("The worker stopped before this pack was finished; start it again (make run starts it) and build "
               "the pack again.")


def fail_stale_jobs(include_queued: bool = True, now: datetime | None = None) -> list[int]:
    """Packs without progress for PRINT_JOB_STALE_SECONDS, as print jobs (printing/services.py: fail_stale, the one
    definition): their worker stopped, or none runs."""
    return fail_stale(PackJob, STALE_ERROR, "month-end pack job", include_queued, now or utc_now())


def unfinished_ids() -> set[int]:
    unfinished = (PrintJobStatus.QUEUED.value, PrintJobStatus.RUNNING.value)
    return set(db.session.scalars(select(PackJob.id).where(PackJob.status.in_(unfinished))))


def job_file(job: PackJob, user=None) -> tuple[Path, str]:
    """The finished job's ZIP and its download name; the pack and each document in it are logged as exported."""
    if job.status != PrintJobStatus.DONE or not job.zip_path:
        raise PackJobError(_("This month-end pack is not ready (yet)."))
    folder = pack_dir().resolve()
    path = (folder / job.zip_path).resolve()
    if path.parent != folder or not path.is_file():
        raise PackJobError(_("The file of this month-end pack is no longer there; build the pack again."))
    documents = documents_list_path(job)
    if job.document_count and not job.documents and not documents.is_file():
        # What the ZIP holds could not be logged: no download (NEN 7513), a new pack is built in minutes.
        raise PackJobError(_("The file of this month-end pack is no longer there; build the pack again."))
    month = job_month(job)
    name = pack.default_filename(month)
    detail = f"downloaded {name} of pack job {job.id}"
    for patient_id, subject in job.documents or []:  # jobs finished before the list beside the ZIP
        audit.record("export", patient_id, subject, detail, user=user)
    if documents.is_file():
        pack.record_documents("export", documents, detail, user=user)
    audit.record("export", None, f"month-end pack {month.iso}", detail, user=user)
    return path, name
