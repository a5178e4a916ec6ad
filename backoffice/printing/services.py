"""Batch printing: every invoice (and credit note) or every insurer declaration of a period, as one merged PDF
and as a ZIP of single PDFs.

- Invoices and credit notes are printed from the PDFs stored at issue (checked against their SHA-256): the
  batch holds exactly the bytes the patient received, and nothing is rendered again.
- Declarations are rendered now (they are not stored), on every core: see rendering.py.
- The files appear complete or not at all (output.py). The access log gets one "print" entry per document,
  added only once the files are written; the caller commits them together with the job's outcome.

A PrintJob row carries a web request's batch through the queue (tasks.py); `run_job` is what the worker runs.
Progress is committed on the job row while the documents are rendered: everything read from the database is
turned into plain data before the first progress commit, so the commits expire nothing still needed.

A worker that dies mid-job cannot say so: `fail_stale_jobs` marks a job failed once it has been queued or
running for PRINT_JOB_STALE_SECONDS without a sign of progress (the job pages and the consumer's start call it).
The worker's sign of progress is the job's `progress_at`, set with each progress commit.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import cast

from flask import current_app
from flask_babel import gettext
from flask_babel import gettext as _
from sqlalchemy import and_, exists, func, or_, select, update
from sqlalchemy.orm import selectinload, undefer

from .. import audit, unit_of_work
from ..clock import utc_now
from ..documents.data import DeclarationDocument
from ..domain.dutch import nl_date
from ..domain.statuses import InvoiceStatus, PrintJobStatus
from ..errors import ServiceError
from ..extensions import db
from ..files import private_folder
from ..i18n import dutch
from ..invoicing.declarations import declaration_document
from ..invoicing.services import MissingData
from ..models import (
    PRINT_JOB_KINDS,
    CreditNote,
    CreditNoteLine,
    Insurance,
    Invoice,
    InvoiceLine,
    InvoiceRun,
    PackJob,
    Patient,
    PrintJob,
    Therapist,
    Treatment,
)
from . import rendering
from .output import PrintedDocument, slug, write_batch

log = logging.getLogger(__name__)

MAX_PERIOD_DAYS = 366
FILE_PREFIX = {"invoices": "facturen", "declarations": "declaraties"}
FORMATS = {"pdf": "application/pdf", "zip": "application/zip"}

Progress = Callable[[int, int], None]


class BatchError(ServiceError):
    """The batch cannot be printed; the message says why, for the user."""


@dataclass
class BatchResult:
    pdf_path: Path
    zip_path: Path
    pages: int
    entries: list[tuple[int | None, str]]           # (patient id, subject) per printed document
    skipped: list[str] = field(default_factory=list)  # documents left out and why

    @property
    def count(self) -> int:
        return len(self.entries)


# ---- period and naming ----------------------------------------------------------------------------------

def check_period(kind: str, start: date, end: date) -> None:
    if kind not in PRINT_JOB_KINDS:
        raise BatchError(f"Unknown kind {kind!r}: choose one of {', '.join(PRINT_JOB_KINDS)}.")
    if end < start:
        raise BatchError("The end date lies before the start date.")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise BatchError(f"A batch covers at most {MAX_PERIOD_DAYS} days; print a long period in parts.")


def describe(kind: str, start: date, end: date) -> str:
    return f"{PRINT_JOB_KINDS[kind].lower()} {nl_date(start)} t/m {nl_date(end)}"


def batch_stem(kind: str, start: date, end: date) -> str:
    """'facturen_2026-10-01_2026-10-31': the merged PDF and the ZIP are this plus .pdf / .zip."""
    return f"{FILE_PREFIX[kind]}_{start.isoformat()}_{end.isoformat()}"


def output_dir() -> Path:
    """Where print jobs write their files: PRINT_OUTPUT_DIR (app config, else environment), by default
    instance/print_jobs."""
    configured = current_app.config.get("PRINT_OUTPUT_DIR") or os.environ.get("PRINT_OUTPUT_DIR", "").strip()
    # Printed invoices hold patient data: the folder is the app's own, 0700 (files.private_folder).
    return private_folder(Path(configured) if configured else Path(current_app.instance_path) / "print_jobs")


# ---- what is in a period --------------------------------------------------------------------------------

def _issued_in(start: date, end: date):
    return and_(Invoice.status == InvoiceStatus.ISSUED, Invoice.issue_date >= start, Invoice.issue_date <= end)


def _has_declared_line():
    """An invoice line an insurer is asked to pay: reimbursable and not credited (as declarations.declared_lines)."""
    credited = exists().where(CreditNoteLine.invoice_line_id == InvoiceLine.id)
    return exists().where(InvoiceLine.invoice_id == Invoice.id, InvoiceLine.reimbursable.is_(True), ~credited)


def count_documents(kind: str, start: date, end: date) -> int:
    """How many documents a batch of this period holds at most (declarations with missing data are skipped)."""
    if kind == "invoices":
        invoices = db.session.scalar(select(func.count(Invoice.id)).where(_issued_in(start, end))) or 0
        credit_notes = db.session.scalar(select(func.count(CreditNote.id)).where(
            CreditNote.issue_date >= start, CreditNote.issue_date <= end)) or 0
        return invoices + credit_notes
    return db.session.scalar(
        select(func.count(Invoice.id)).where(_issued_in(start, end), _has_declared_line())) or 0


def nothing_to_print(kind: str, start: date, end: date) -> str | None:
    """Why a batch of this period would be empty, or None when it has documents."""
    if count_documents(kind, start, end):
        return None
    if kind == "invoices":
        return _("Nothing to print: no issued invoices or credit notes between %(start)s and %(end)s.",
                 start=nl_date(start), end=nl_date(end))
    return _("Nothing to print: no issued invoices with reimbursable lines (nothing to declare) between %(start)s "
             "and %(end)s.", start=nl_date(start), end=nl_date(end))


def _patient_name(snapshot: dict | None, fallback: str = "") -> str:
    return ((snapshot or {}).get("patient") or {}).get("name") or fallback


def _issued_on(invoice: Invoice) -> date:
    if invoice.issue_date is None:  # _issued_in selects issued invoices only, which all carry their date
        raise BatchError(f"Invoice {invoice.number} has no issue date.")
    return invoice.issue_date


def _stored(document: Invoice | CreditNote, subject: str) -> bytes:
    pdf = document.pdf
    if pdf is None or hashlib.sha256(pdf).hexdigest() != document.pdf_sha256:
        raise BatchError(f"The stored PDF of {subject} does not match its SHA-256: it was altered. "
                         "Nothing was printed.")
    return pdf


def _invoice_documents(start: date, end: date) -> list[PrintedDocument]:
    """Issued invoices, then credit notes, each in number order, with the PDF bytes stored at issue."""
    invoices = db.session.scalars(
        select(Invoice).options(undefer(Invoice.pdf)).where(_issued_in(start, end))
        .order_by(Invoice.series_year, Invoice.sequence)
    ).all()
    credit_notes = db.session.scalars(
        select(CreditNote).options(undefer(CreditNote.pdf), selectinload(CreditNote.invoice))
        .where(CreditNote.issue_date >= start, CreditNote.issue_date <= end)
        .order_by(CreditNote.series_year, CreditNote.sequence)
    ).all()
    documents = []
    for invoice in invoices:
        name = _patient_name(invoice.snapshot)
        subject = f"invoice {invoice.number}"
        documents.append(PrintedDocument(
            filename=f"factuur-{invoice.number}-{slug(name)}.pdf", title=f"Factuur {invoice.number}, {name}",
            pdf=_stored(invoice, subject), day=_issued_on(invoice), patient_id=invoice.patient_id, subject=subject,
        ))
    for note in credit_notes:
        name = _patient_name(note.snapshot)
        subject = f"credit note {note.number}"
        documents.append(PrintedDocument(
            filename=f"creditnota-{note.number}-{slug(name)}.pdf", title=f"Creditnota {note.number}, {name}",
            pdf=_stored(note, subject), day=note.issue_date, patient_id=note.invoice.patient_id, subject=subject,
        ))
    return documents


def _declarable_invoices(start: date, end: date) -> list[Invoice]:
    lines = selectinload(Invoice.lines)
    therapist = lines.selectinload(InvoiceLine.treatment).selectinload(Treatment.therapist)
    insurances = selectinload(Invoice.patient).selectinload(Patient.insurances)
    return list(db.session.scalars(
        select(Invoice)
        .options(lines.selectinload(InvoiceLine.credit_line),
                 therapist.selectinload(Therapist.kp_registrations),
                 therapist.selectinload(Therapist.nvh_memberships),
                 insurances.selectinload(Insurance.insurer), insurances.selectinload(Insurance.package))
        .where(_issued_in(start, end), _has_declared_line())
        .order_by(Invoice.series_year, Invoice.sequence)
    ))


@dataclass
class _Declarations:
    """Builds the declarations one by one (a generator for the render pool) and keeps what goes with each."""

    invoices: list[Invoice]
    meta: list[PrintedDocument] = field(default_factory=list)  # without the PDF bytes yet
    skipped: list[str] = field(default_factory=list)

    def documents(self) -> Iterator[DeclarationDocument]:
        for invoice in self.invoices:
            try:
                doc = declaration_document(invoice)
            except MissingData as error:
                self.skipped.append(f"{invoice.number}: {error}")
                continue
            subject = f"declaration {invoice.number}"
            self.meta.append(PrintedDocument(
                filename=f"declaratie-{invoice.number}-{slug(doc.patient.name)}.pdf",
                title=f"Declaratie {invoice.number}, {doc.patient.name}", pdf=b"", day=doc.issue_date,
                patient_id=invoice.patient_id, subject=subject,
            ))
            yield doc


def _render_declarations(start: date, end: date, total: int, workers: int | None,
                         progress: Progress) -> tuple[list[PrintedDocument], list[str]]:
    invoices = _declarable_invoices(start, end)
    if workers is None and len(invoices) < rendering.POOL_THRESHOLD:
        workers = 0  # a few documents: starting worker processes would take longer than rendering them
    batch = _Declarations(invoices)
    pdfs = []
    for pdf in rendering.render_all("declaration", batch.documents(), workers,
                                    on_rendered=lambda done: progress(done + len(batch.skipped), total)):
        pdfs.append(pdf)
    documents = [dataclasses.replace(meta, pdf=pdf) for meta, pdf in zip(batch.meta, pdfs, strict=True)]
    return documents, batch.skipped


# ---- the batch ------------------------------------------------------------------------------------------

def print_batch(kind: str, start: date, end: date, out_dir: Path, stem: str | None = None, user=None,
                on_behalf_of: str = "", workers: int | None = None, progress: Progress | None = None,
                reference: str = "") -> BatchResult:
    """Write <stem>.pdf (merged) and <stem>.zip (single PDFs) into `out_dir` and log each printed document.

    `progress(done, total)` is called as documents are gathered or rendered (skipped ones count as done).
    Raises BatchError when there is nothing to print or when every document had to be skipped.
    """
    check_period(kind, start, end)
    report = progress or (lambda done, total: None)
    total = count_documents(kind, start, end)
    if total == 0:
        raise BatchError(nothing_to_print(kind, start, end))
    report(0, total)
    if kind == "invoices":
        documents, skipped = _invoice_documents(start, end), list[str]()
        report(len(documents), len(documents))
    else:
        documents, skipped = _render_declarations(start, end, total, workers, report)
    if not documents:
        raise BatchError(_("None of the %(count)s declarations could be printed: %(why)s", count=len(skipped),
                           why=" ".join(skipped)))

    stem = stem or batch_stem(kind, start, end)
    pdf_path, zip_path = out_dir / f"{stem}.pdf", out_dir / f"{stem}.zip"
    with dutch():  # the merged PDF's title: a printed document is Dutch
        title = f"{gettext(PRINT_JOB_KINDS[kind])} {nl_date(start)} t/m {nl_date(end)}"
    pages = write_batch(documents, pdf_path, zip_path, title=title)

    detail = f"batch print: {describe(kind, start, end)}" + (f", {reference}" if reference else "")
    for document in documents:
        audit.record("print", document.patient_id, document.subject, detail, on_behalf_of=on_behalf_of, user=user)
    return BatchResult(pdf_path=pdf_path, zip_path=zip_path, pages=pages,
                       entries=[(d.patient_id, d.subject) for d in documents], skipped=skipped)


# ---- print jobs (web) -----------------------------------------------------------------------------------

def request_job(kind: str, start: date, end: date, user=None, on_behalf_of: str = "") -> PrintJob:
    """A queued job; the caller hands job.id to the queue once it is stored (tasks.enqueue after commit)."""
    check_period(kind, start, end)
    job = PrintJob(kind=kind, period_start=start, period_end=end, status=PrintJobStatus.QUEUED.value,
                   requested_by_id=getattr(user, "id", None), on_behalf_of=on_behalf_of or "")
    db.session.add(job)
    db.session.flush()
    return job


def recent_jobs(limit: int = 20) -> list[PrintJob]:
    return list(db.session.scalars(
        select(PrintJob).options(selectinload(PrintJob.requested_by))
        .order_by(PrintJob.created_at.desc(), PrintJob.id.desc()).limit(limit)
    ))


def _now() -> datetime:
    return utc_now()


def _job_progress(job_id: int, interval: float = 0.3) -> Progress:
    """Store the job's progress (a checkpoint) at most every `interval` seconds (and always the last step)."""
    last = [0.0]

    def report(done: int, total: int) -> None:
        now = time.monotonic()
        if done < total and done != 0 and now - last[0] < interval:
            return
        last[0] = now
        job = db.session.get_one(PrintJob, job_id)
        job.done_count, job.total_count, job.progress_at = done, total, _now()
        unit_of_work.checkpoint()

    return report


def mark_failed(job_id: int, message: str) -> PrintJob:
    job = db.session.get_one(PrintJob, job_id)
    job.status, job.error, job.finished_at = PrintJobStatus.FAILED.value, message, _now()
    return job


def run_job(job_id: int, workers: int | None = None) -> PrintJob | None:
    """Run a queued job to done or failed. A background job: each step is stored with unit_of_work.checkpoint(),
    since a worker has no request to commit it and the job's page follows its progress.

    A job that is not queued (already run by a retried or doubled task) is left alone.
    """
    job = db.session.get(PrintJob, job_id)
    if job is None or job.status != PrintJobStatus.QUEUED:
        return job
    job.status, job.started_at = PrintJobStatus.RUNNING.value, _now()
    unit_of_work.checkpoint()
    kind, start, end, user, on_behalf_of = (job.kind, job.period_start, job.period_end, job.requested_by,
                                            job.on_behalf_of)
    stem = f"{batch_stem(kind, start, end)}_job{job_id}"
    try:
        result = print_batch(kind, start, end, output_dir(), stem, user=user, on_behalf_of=on_behalf_of,
                             workers=workers, progress=_job_progress(job_id), reference=f"print job {job_id}")
    except Exception as error:
        unit_of_work.discard()  # nothing of the failed batch (its access-log entries) is stored
        if isinstance(error, BatchError):
            message = str(error)
        else:
            log.exception("print job %s failed", job_id)
            message = f"Printing failed ({error.__class__.__name__}); the server log has the details."
        job = mark_failed(job_id, message)
        unit_of_work.checkpoint()
        return job
    job = db.session.get_one(PrintJob, job_id)
    job.status, job.finished_at = PrintJobStatus.DONE.value, _now()
    job.done_count = job.total_count = max(job.total_count, result.count + len(result.skipped))
    job.document_count = result.count
    job.pdf_path, job.zip_path = result.pdf_path.name, result.zip_path.name
    job.documents = [[patient_id, subject] for patient_id, subject in result.entries]
    job.notes = "\n".join(result.skipped)
    unit_of_work.checkpoint()  # with the access-log entries print_batch added
    return job


# ---- stale jobs: the worker stopped --------------------------------------------------------------------

STALE_ERROR = ("The print worker stopped before this job was finished; start it again (make run starts it) "
               "and print again.")


def stale_after() -> timedelta:
    """PRINT_JOB_STALE_SECONDS (default 600): how long a queued or running job may show no progress."""
    return timedelta(seconds=int(current_app.config.get("PRINT_JOB_STALE_SECONDS", 600)))


def last_progress(job: PrintJob | InvoiceRun | PackJob) -> datetime:
    """When a background job last showed progress: queued, started, or the worker's latest progress commit."""
    return max(moment for moment in (job.created_at, job.started_at, job.progress_at) if moment is not None)


# The kinds of background job the worker runs; each has status, created_at, started_at, progress_at, error and
# finished_at, and the same four statuses (queued, running, done, failed).
JOB_MODELS: tuple[type[PrintJob] | type[InvoiceRun] | type[PackJob], ...] = (PrintJob, InvoiceRun, PackJob)


def worker_alive(cutoff: datetime) -> bool:
    """Whether the worker showed progress on any kind of job since `cutoff` (it runs them all, one at a time)."""
    running = PrintJobStatus.RUNNING.value
    return bool(db.session.scalar(select(or_(*(
        exists().where(model.status == running, or_(model.progress_at >= cutoff, model.started_at >= cutoff))
        for model in JOB_MODELS)))))


def fail_stale(model: type[PrintJob] | type[InvoiceRun] | type[PackJob], error: str, label: str,
               include_queued: bool = True, now: datetime | None = None) -> list[int]:
    """Mark failed the running (and, with `include_queued`, queued) jobs of `model` that showed no progress for
    PRINT_JOB_STALE_SECONDS: their worker stopped, or none runs. A queued job waiting behind one that still
    progresses, of any kind, is left waiting. Returns the ids marked; the unit of work stores them. One query when
    nothing is stale. The one definition behind print jobs, bulk invoicing runs and month-end packs."""
    now = now or _now()
    cutoff = now - stale_after()
    queued_status, running_status = PrintJobStatus.QUEUED.value, PrintJobStatus.RUNNING.value
    old = [and_(model.status == running_status, or_(model.started_at < cutoff, model.started_at.is_(None)))]
    if include_queued:
        old.append(and_(model.status == queued_status, model.created_at < cutoff))
    candidates = cast(list[PrintJob | InvoiceRun | PackJob],
                      db.session.scalars(select(model).where(or_(*old)).order_by(model.id)).all())
    if not candidates:
        return []
    running = [job for job in candidates if job.status == running_status]
    stale = [job for job in running if last_progress(job) < cutoff]
    queued = [job for job in candidates if job.status == queued_status]
    if queued and not (len(stale) < len(running) or worker_alive(cutoff)):
        stale += queued
    if not stale:
        return []
    ids = [job.id for job in stale]
    # Only while still queued or running: a worker that finished meanwhile keeps its "done".
    unfinished = model.status.in_((queued_status, running_status))
    db.session.execute(update(model).where(model.id.in_(ids), unfinished)
                       .values(status=PrintJobStatus.FAILED.value, error=error, finished_at=now))
    for job_id in ids:
        log.warning("%s %s marked failed: no progress for %s", label, job_id, stale_after())
    return ids


def fail_stale_jobs(include_queued: bool = True, now: datetime | None = None) -> list[int]:
    """Print jobs without progress (fail_stale)."""
    return fail_stale(PrintJob, STALE_ERROR, "print job", include_queued, now)


def repeat_job(job: PrintJob, user=None, on_behalf_of: str = "") -> PrintJob:
    """A new queued job of the same kind and period ("print again"); the caller commits and enqueues it."""
    empty = nothing_to_print(job.kind, job.period_start, job.period_end)
    if empty:
        raise BatchError(empty)
    return request_job(job.kind, job.period_start, job.period_end, user=user, on_behalf_of=on_behalf_of)


def job_file(job: PrintJob, fmt: str, user=None) -> tuple[Path, str]:
    """The finished job's PDF or ZIP and a download name; each document in it is logged as exported."""
    if fmt not in FORMATS:
        raise BatchError(f"Unknown format {fmt!r}.")
    name = job.pdf_path if fmt == "pdf" else job.zip_path
    if job.status != PrintJobStatus.DONE or not name:
        raise BatchError(_("This print job has no files (yet)."))
    folder = output_dir().resolve()
    path = (folder / name).resolve()
    if path.parent != folder or not path.is_file():
        raise BatchError(_("The files of this print job are no longer there; start the job again."))
    for patient_id, subject in job.documents or []:
        audit.record("export", patient_id, subject, f"downloaded the batch {fmt.upper()} of print job {job.id}",
                     user=user)
    return path, f"{batch_stem(job.kind, job.period_start, job.period_end)}.{fmt}"
