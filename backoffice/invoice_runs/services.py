"""Bulk invoicing: one invoice per patient for a selection of treatments (the ticked ones, or everything not yet
invoiced up to a day), issued in one go, with what was left out and why; then, when asked, each invoice e-mailed.

- A run is an InvoiceRun row. Up to IN_REQUEST_MAX patients it runs in the request that asked for it; more run
  as a background job on the print queue (printing/tasks.py), progress stored with unit_of_work.checkpoint()
  after each chunk of patients, as print jobs do. E-mailing always runs on the queue.
- Each patient's invoice issues completely or not at all: the draft, its check, its number and its document are
  made inside a savepoint of their own, so one patient's refusal (missing data, a treatment invoiced meanwhile)
  rolls back only that patient and the others go on.
- The PDFs are the cost. They are rendered in the print pool (printing/rendering.py), on every core: each
  patient's document is handed to the pool as soon as it is numbered, so building and rendering overlap, and the
  chunk's PDFs are stored (with their SHA-256, in the one UPDATE from draft to issued that the guards allow) before
  the chunk's commit. A number is taken only in the transaction that stores its invoice: when a PDF fails, the
  chunk goes back to its savepoint (the counter with it) and is numbered again without that patient, so the
  series keeps no gaps.
- The access log gets what the single-invoice path writes (invoicing/services.py: draft created, invoice issued,
  PDF printed), in the name of the user who asked for the run.

A left-out reason is stored as a translatable text (domain/texts.py) and shown in the reader's language.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import BrokenExecutor, Future
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import and_, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import unit_of_work
from ..care import services as care
from ..clock import clinic_today, utc_now
from ..documents.data import InvoiceDocument
from ..domain.dutch import nl_date
from ..domain.statuses import InvoiceRunStatus, InvoiceStatus
from ..domain.texts import N_, Text, Words, as_json, join, msg
from ..errors import ServiceError
from ..extensions import db
from ..invoicing import services as invoicing
from ..invoicing.services import InvoiceError, MissingData, not_invoiced
from ..models import Invoice, InvoicedTreatment, InvoiceLine, InvoiceRun, Patient, Treatment, User
from ..paging import Cursor, Keyset, Page
from ..printing import rendering
from ..printing import services as printing

log = logging.getLogger(__name__)

# Up to this many patients a run is done in the request; more go to the background worker.
IN_REQUEST_MAX = 20
# In the background each chunk of patients is numbered, rendered, stored and committed together. While a chunk is
# under way its transaction holds the invoice counter, the access log's chain lock and, on SQLite, the database's
# write lock: other users' writes wait for its commit. So a chunk is sized to take about CHUNK_SECONDS (from the
# time the chunk before took per patient), between CHUNK_MIN and CHUNK_MAX patients; BULK_INVOICE_CHUNK fixes it.
# CHUNK_MIN keeps a few documents per worker process in each chunk: a chunk ends when its slowest PDF is done, and
# on a busy machine chunks of one document per worker left the pool idle a third of the time (1.4 x the batch
# printer's time against 1.1 x).
CHUNK_SECONDS = 2.0
CHUNK_FIRST, CHUNK_MIN, CHUNK_MAX = 8, 8, 100

Renderer = Callable[[InvoiceDocument], bytes]


class RunError(ServiceError):
    """The run cannot be started (or retried); the message says why, for the user."""

    status = 422


# ---- the reasons a patient or treatment is left out (English message ids, shown translated) ---------------

def _treatment_words(treatment_date: date, treatment_id: int) -> dict[str, Any]:
    return {"date": nl_date(treatment_date), "id": treatment_id}


def withdrawn_reason(treatment_date: date, treatment_id: int) -> Text:
    return msg("Treatment of %(date)s (#%(id)s) was withdrawn: withdrawn treatments are never invoiced.",
               **_treatment_words(treatment_date, treatment_id))


def on_invoice_reason(treatment_date: date, treatment_id: int, number: str | None) -> Text:
    if number:
        return msg("Treatment of %(date)s (#%(id)s) is already on invoice %(number)s.",
                   number=number, **_treatment_words(treatment_date, treatment_id))
    return msg("Treatment of %(date)s (#%(id)s) is already on a draft invoice.",
               **_treatment_words(treatment_date, treatment_id))


def draft_reason(draft_id: int) -> Text:
    return msg("This patient has a draft invoice (#%(id)s): issue or delete that draft first, then invoice the "
               "rest.", id=draft_id)


def missing_reason(fields: Sequence[Words]) -> Text:
    return msg("Cannot issue: missing %(fields)s.", fields=join(fields))


NOT_OWN_PATIENT = N_("Not one of your patients (no care relationship): not invoiced.")
NO_ADDRESS = N_("No e-mail address: not sent. Add it to the patient's record, then send the failed e-mails again.")
TAKEN_MEANWHILE = N_("A treatment was put on another invoice at the same moment: nothing issued; try again.")


def pdf_reason(error: BaseException) -> Text:
    return msg("The PDF could not be made (%(error)s): nothing was issued for this patient.",
               error=error.__class__.__name__)


def error_reason(error: BaseException) -> Text:
    return msg("Unexpected error (%(error)s; the server log has the details): nothing was issued for this patient.",
               error=error.__class__.__name__)


def _entry(patient_id: int, treatment_ids: Iterable[int], reason: Words, **extra: Any) -> dict[str, Any]:
    return {"patient_id": patient_id, "treatment_ids": list(treatment_ids), "reason": as_json(reason), **extra}


def reason_text(entry: dict[str, Any]) -> str:
    """The stored reason in the reader's language (a plain string, e.g. a service's refusal, as it was stored)."""
    return str(Text.from_json(entry.get("reason", "")))


# ---- what is not yet invoiced ------------------------------------------------------------------------------

def _uninvoiced(up_to: date):
    """Treatments not on any invoice (a credited one counts as free again), not withdrawn, up to `up_to`."""
    return and_(not_invoiced(), Treatment.treatment_date <= up_to)


@dataclass(frozen=True)
class Summary:
    patients: int
    treatments: int
    total_cents: int


def summary(up_to: date, only_patients=None) -> Summary:
    """How many patients and treatments are not yet invoiced up to `up_to`, and their total price (in SQL)."""
    query = select(func.count(func.distinct(Treatment.patient_id)), func.count(Treatment.id),
                   func.coalesce(func.sum(Treatment.price_cents), 0)).where(_uninvoiced(up_to))
    if only_patients is not None:
        query = query.where(Treatment.patient_id.in_(only_patients))
    patients, treatments, total = db.session.execute(query).one()
    return Summary(int(patients), int(treatments), int(total))


@dataclass(frozen=True)
class PatientGroup:
    """One patient's treatments not yet invoiced, with their count and total, and the patient's draft if any."""

    patient: Patient
    treatments: list[Treatment]
    count: int
    total_cents: int
    draft_id: int | None


GROUP_ORDER = Keyset((Patient.last_name, Patient.first_name, Patient.id))


def uninvoiced_page(up_to: date, per_page: int, after: Cursor | None = None, before: Cursor | None = None,
                    only_patients=None) -> Page[PatientGroup]:
    """One page of patients with treatments not yet invoiced up to `up_to` (by name, paged by key), each with
    those treatments, their count and total (summed in SQL) and the patient's draft invoice, if any."""
    totals = (select(Treatment.patient_id.label("patient_id"), func.count(Treatment.id).label("count"),
                     func.sum(Treatment.price_cents).label("total"))
              .where(_uninvoiced(up_to)).group_by(Treatment.patient_id))
    if only_patients is not None:
        totals = totals.where(Treatment.patient_id.in_(only_patients))
    sums = totals.subquery()
    query = select(Patient, sums.c.count, sums.c.total).join(sums, sums.c.patient_id == Patient.id)
    page = GROUP_ORDER.page(query, per_page, after, before, rows=True,
                            cursor_of=lambda row: GROUP_ORDER.cursor_of(row.Patient))
    ids = [row.Patient.id for row in page.items]
    treatments: dict[int, list[Treatment]] = {patient_id: [] for patient_id in ids}
    if ids:
        for treatment in db.session.scalars(
                select(Treatment).options(selectinload(Treatment.catalogue_item), selectinload(Treatment.therapist))
                .where(Treatment.patient_id.in_(ids), _uninvoiced(up_to))
                .order_by(Treatment.treatment_date, Treatment.id)):
            treatments[treatment.patient_id].append(treatment)
    drafts = _drafts(ids)
    return Page([PatientGroup(row.Patient, treatments[row.Patient.id], int(row.count), int(row.total or 0),
                              drafts.get(row.Patient.id)) for row in page.items], page.previous, page.next)


def _drafts(patient_ids: Iterable[int]) -> dict[int, int]:
    """patient id -> the id of the patient's (oldest) draft invoice, for the patients that have one."""
    ids = list(patient_ids)
    if not ids:
        return {}
    rows = db.session.execute(select(Invoice.patient_id, func.min(Invoice.id))
                              .where(Invoice.status == InvoiceStatus.DRAFT, Invoice.patient_id.in_(ids))
                              .group_by(Invoice.patient_id)).all()
    return {int(row[0]): int(row[1]) for row in rows}


# ---- starting a run ----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Selection:
    """Everything not yet invoiced up to a day, or the ticked treatments."""

    up_to: date | None = None
    treatment_ids: tuple[int, ...] = ()


def _patients_in(selection: Selection, user: User | None) -> int:
    if selection.up_to is not None:
        return summary(selection.up_to, care.own_patient_ids(user) if user is not None else None).patients
    return int(db.session.scalar(select(func.count(func.distinct(Treatment.patient_id)))
                                 .where(Treatment.id.in_(selection.treatment_ids))) or 0)


def request_run(selection: Selection, send_email: bool = False, user: User | None = None,
                on_behalf_of: str = "") -> InvoiceRun:
    """A queued run for `selection`; refused when it holds nothing to invoice. The caller runs it at once
    (`in_request(run)`) or hands it to the queue once it is stored (tasks.enqueue_invoice_run after commit)."""
    if selection.up_to is None and not selection.treatment_ids:
        raise RunError(_("Choose the treatments to invoice, or invoice everything up to a date."))
    own = care.own_patient_ids(user) if user is not None else None
    if selection.treatment_ids and own is not None and db.session.scalar(
            select(func.count(Treatment.id)).where(Treatment.id.in_(selection.treatment_ids),
                                                   Treatment.patient_id.not_in(own))):
        raise RunError(_("Some ticked treatments are not of your patients: tick only your own patients' treatments."))
    patients = _patients_in(selection, user)
    if patients == 0:
        if selection.up_to is not None:
            raise RunError(_("Nothing to invoice: every treatment up to %(date)s is on an invoice already.",
                             date=nl_date(selection.up_to)))
        raise RunError(_("None of the chosen treatments exists any more."))
    run = InvoiceRun(status=InvoiceRunStatus.QUEUED.value, up_to=selection.up_to,
                     treatment_ids=sorted(set(selection.treatment_ids)), send_email=bool(send_email),
                     total_count=patients, requested_by_id=getattr(user, "id", None),
                     on_behalf_of=on_behalf_of or "")
    db.session.add(run)
    db.session.flush()
    return run


def in_request(run: InvoiceRun) -> bool:
    """Whether the run is small enough to be done in the request that asked for it."""
    return run.total_count <= int(current_app.config.get("BULK_INVOICE_IN_REQUEST_MAX", IN_REQUEST_MAX))


# ---- planning: which treatments go on whose invoice, and what is left out --------------------------------

@dataclass
class Plan:
    treatments: dict[int, list[int]]  # patient id -> treatment ids for the patient's invoice, in name order
    left_out: list[dict[str, Any]]


def plan(run: InvoiceRun, user: User | None) -> Plan:
    """What the run invoices, read now (a treatment invoiced or withdrawn since the run was asked for is left
    out with its reason, as is a patient with a draft invoice or, for a therapist limited to their own patients,
    a patient without a care relationship)."""
    own = care.own_patient_ids(user) if user is not None else None
    left: list[dict[str, Any]] = []
    chosen: dict[int, list[int]] = {}
    if run.up_to is not None:
        query = (select(Treatment.id, Treatment.patient_id).join(Patient, Patient.id == Treatment.patient_id)
                 .where(_uninvoiced(run.up_to)))
        if own is not None:
            query = query.where(Treatment.patient_id.in_(own))
        for treatment_id, patient_id in db.session.execute(
                query.order_by(Patient.last_name, Patient.first_name, Patient.id, Treatment.treatment_date,
                               Treatment.id)):
            chosen.setdefault(patient_id, []).append(treatment_id)
    else:
        chosen, left = _plan_ticked(run.treatment_ids, own)
    drafts = _drafts(chosen)
    for patient_id, draft_id in drafts.items():
        left.append(_entry(patient_id, chosen.pop(patient_id), draft_reason(draft_id)))
    return Plan(chosen, left)


def _plan_ticked(treatment_ids: Sequence[int], own) -> tuple[dict[int, list[int]], list[dict[str, Any]]]:
    rows = db.session.execute(
        select(Treatment.id, Treatment.patient_id, Treatment.treatment_date, Treatment.withdrawn_at)
        .join(Patient, Patient.id == Treatment.patient_id).where(Treatment.id.in_(treatment_ids))
        .order_by(Patient.last_name, Patient.first_name, Patient.id, Treatment.treatment_date, Treatment.id)).all()
    numbers = dict(db.session.execute(
        select(InvoicedTreatment.treatment_id, Invoice.number)
        .join(InvoiceLine, InvoiceLine.id == InvoicedTreatment.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoicedTreatment.treatment_id.in_(treatment_ids))).all())
    visible = None
    if own is not None:
        patient_ids = {row.patient_id for row in rows}
        visible = set(db.session.scalars(select(Patient.id).where(Patient.id.in_(patient_ids),
                                                                  Patient.id.in_(own))))
    chosen: dict[int, list[int]] = {}
    left: list[dict[str, Any]] = []
    refused: dict[int, list[int]] = {}
    for row in rows:
        if visible is not None and row.patient_id not in visible:
            refused.setdefault(row.patient_id, []).append(row.id)
        elif row.withdrawn_at is not None:
            left.append(_entry(row.patient_id, [row.id], withdrawn_reason(row.treatment_date, row.id)))
        elif row.id in numbers:
            left.append(_entry(row.patient_id, [row.id], on_invoice_reason(row.treatment_date, row.id,
                                                                           numbers[row.id])))
        else:
            chosen.setdefault(row.patient_id, []).append(row.id)
    left += [_entry(patient_id, ids, msg(NOT_OWN_PATIENT)) for patient_id, ids in refused.items()]
    return chosen, left


# ---- issuing ---------------------------------------------------------------------------------------------

@dataclass
class ChunkResult:
    invoices: list[Invoice]
    left_out: list[dict[str, Any]]


class _Renderer:
    """Hands documents to the print pool (or to a renderer given by a test or a caller, in this process)."""

    def __init__(self, pool: rendering.RenderPool, renderer: Renderer | None):
        self.pool, self.renderer = pool, renderer

    def submit(self, doc: InvoiceDocument) -> Future[bytes]:
        if self.renderer is None:
            return self.pool.submit("invoice", doc)
        future: Future[bytes] = Future()
        try:
            future.set_result(self.renderer(doc))
        except Exception as error:  # read back as the pool's failures are
            future.set_exception(error)
        return future


def _prepare(patient_id: int, treatment_ids: list[int], practice, today: date,
             user: User | None) -> invoicing.PendingIssue:
    """Draft, check, number and build one patient's invoice inside a savepoint of its own: a refusal rolls back
    this patient only (its number with it: the counter row is written inside the savepoint)."""
    with db.session.begin_nested():
        patient = db.session.get_one(Patient, patient_id)
        invoice = invoicing.draft_invoice(patient, treatment_ids, user)
        invoicing.check_issuable(invoice, practice)
        return invoicing.number_draft(invoice, practice, today)


def issue_chunk(patients: Sequence[int], treatments: dict[int, list[int]], today: date, user: User | None,
                render: _Renderer) -> ChunkResult:
    """Issue one invoice for each of `patients` (in this order, so the numbers follow it), in the current
    transaction: every patient is issued completely or left out with the reason. The caller commits."""
    failed: dict[int, dict[str, Any]] = {}
    while True:
        chunk = db.session.begin_nested()  # a PDF that fails sends the chunk back here, numbers included
        practice = invoicing._practice()
        left: list[dict[str, Any]] = []
        pending: list[tuple[invoicing.PendingIssue, Future[bytes]]] = []
        for patient_id in patients:
            if patient_id in failed:
                continue
            ids = treatments[patient_id]
            try:
                issue = _prepare(patient_id, ids, practice, today, user)
            except MissingData as error:
                left.append(_entry(patient_id, ids, missing_reason(error.fields)))
            except InvoiceError as error:  # e.g. invoiced by someone else since the plan was read
                left.append(_entry(patient_id, ids, str(error)))
            except IntegrityError:  # the same, a moment later: the claim row's unique key refused it
                left.append(_entry(patient_id, ids, msg(TAKEN_MEANWHILE)))
            except Exception as error:
                log.exception("bulk invoicing: patient %s could not be invoiced", patient_id)
                left.append(_entry(patient_id, ids, error_reason(error)))
            else:
                pending.append((issue, render.submit(issue.doc)))  # rendering starts while the next is built
        # Each PDF is stored as it arrives, while the pool renders the next ones.
        invoices: list[Invoice] = []
        broken = False
        for issue, future in pending:
            try:
                pdf = future.result()
            except BrokenExecutor:
                raise  # the pool itself is gone (a worker was killed): the run fails; committed chunks stay issued
            except Exception as error:
                log.exception("bulk invoicing: the PDF for patient %s failed", issue.invoice.patient_id)
                failed[issue.invoice.patient_id] = _entry(issue.invoice.patient_id,
                                                          treatments[issue.invoice.patient_id], pdf_reason(error))
                broken = True
                continue
            if not broken:
                invoices.append(invoicing.store_issued(issue, pdf, user))
        if broken:
            chunk.rollback()  # the numbers taken go back; number the others again without the failed ones
            continue
        chunk.commit()
        return ChunkResult(invoices, left + list(failed.values()))


def _now() -> datetime:
    return utc_now()


def execute(run_id: int, *, background: bool = True, workers: int | None = None,
            renderer: Renderer | None = None, today: date | None = None) -> InvoiceRun | None:
    """Run a queued run: issue, then (background) send by e-mail when asked. In the background each chunk of
    patients is committed with its progress (unit_of_work.checkpoint()); in the request (`background=False`) it
    all belongs to the request's unit of work and the e-mailing is left to the queue (`send_pending`).

    A run that is not queued (already run by a retried or doubled task) is left alone.
    """
    run = db.session.get(InvoiceRun, run_id)
    if run is None or run.status != InvoiceRunStatus.QUEUED:
        return run
    day = today or clinic_today()
    run.status, run.started_at, run.progress_at, run.issue_date = InvoiceRunStatus.RUNNING.value, _now(), _now(), day
    _store(background)
    # In the request the run row itself is part of the unit of work: a failure goes back to this savepoint only.
    savepoint = None if background else db.session.begin_nested()
    try:
        _issue_all(run_id, day, background, workers, renderer)
    except Exception as error:
        return _fail(run_id, error, savepoint)
    if savepoint is not None:
        savepoint.commit()
    run = db.session.get_one(InvoiceRun, run_id)
    if run.send_email and run.invoice_ids:
        run.mail_total_count = len(run.invoice_ids)
        _store(background)
        if background:
            return send_pending(run_id)
        return run  # still running: the view queues the sending once this request has stored the invoices
    _finish(run)
    _store(background)
    return run


def _issue_all(run_id: int, today: date, background: bool, workers: int | None, renderer: Renderer | None) -> None:
    run = db.session.get_one(InvoiceRun, run_id)
    user = run.requested_by
    found = plan(run, user)
    patients = list(found.treatments)
    only_left_out = {entry["patient_id"] for entry in found.left_out} - set(patients)
    run.total_count = len(patients) + len(only_left_out)
    run.done_count = len(only_left_out)  # nothing to do for them
    run.left_out = list(found.left_out)
    fixed = current_app.config.get("BULK_INVOICE_CHUNK")
    size = int(fixed or CHUNK_FIRST) if background else max(len(patients), 1)
    if not background and workers is None:
        workers = 0  # a handful of documents in the web process: starting worker processes costs more
    with rendering.RenderPool(workers) as pool:
        render = _Renderer(pool, renderer)
        start = 0
        while start < len(patients):
            chunk, started = patients[start:start + size], time.monotonic()
            start += len(chunk)
            run = db.session.get_one(InvoiceRun, run_id)
            # A write before the first savepoint: SQLite's driver opens its transaction only at a write, and a
            # SAVEPOINT outside one would start (and, released, commit) a transaction of its own.
            run.progress_at = _now()
            db.session.flush()
            result = issue_chunk(chunk, found.treatments, today, run.requested_by, render)
            run.done_count += len(chunk)
            run.invoice_count += len(result.invoices)
            run.total_gross_cents += sum(invoice.total_gross_cents for invoice in result.invoices)
            run.invoice_ids = [*run.invoice_ids, *(invoice.id for invoice in result.invoices)]
            run.left_out = [*run.left_out, *result.left_out]
            run.progress_at = _now()
            _store(background)
            if not fixed:
                size = next_chunk_size(len(chunk), time.monotonic() - started)


def next_chunk_size(patients: int, seconds: float) -> int:
    """The size of the next chunk: about BULK_INVOICE_CHUNK_SECONDS at the pace of the last one."""
    target = float(current_app.config.get("BULK_INVOICE_CHUNK_SECONDS", CHUNK_SECONDS))
    per_patient = seconds / max(patients, 1)
    return max(CHUNK_MIN, min(CHUNK_MAX, int(target / per_patient) if per_patient > 0 else CHUNK_MAX))


def _store(background: bool) -> None:
    if background:
        unit_of_work.checkpoint()
    else:
        db.session.flush()


def _finish(run: InvoiceRun) -> None:
    run.status, run.finished_at, run.progress_at = InvoiceRunStatus.DONE.value, _now(), _now()


def _fail(run_id: int, error: Exception, savepoint) -> InvoiceRun:
    """Mark the run failed. In the background the chunk under way is rolled back (earlier chunks stay issued:
    they were committed whole); in the request (`savepoint`) everything the run did is dropped."""
    if isinstance(error, ServiceError):
        message = str(error)
    else:
        log.exception("bulk invoicing run %s failed", run_id)
        message = _("Invoicing stopped (%(error)s); the server log has the details. Invoices already issued stay "
                    "issued; start a new run for the rest.", error=error.__class__.__name__)
    if savepoint is not None:
        savepoint.rollback()
    else:
        unit_of_work.discard()
    run = mark_failed(run_id, message)
    _store(savepoint is None)
    return run


def mark_failed(run_id: int, message: str) -> InvoiceRun:
    run = db.session.get_one(InvoiceRun, run_id)
    run.status, run.error, run.finished_at = InvoiceRunStatus.FAILED.value, message, _now()
    return run


# ---- e-mailing the invoices ------------------------------------------------------------------------------

def latest_sendings(invoice_ids: Sequence[int]) -> dict[int, Any]:
    """invoice id -> the latest sending of that invoice (DocumentSending, backoffice/mail/), if any."""
    from ..models import DocumentSending

    if not invoice_ids:
        return {}
    latest: dict[int, Any] = {}
    for sending in db.session.scalars(
            select(DocumentSending).where(DocumentSending.invoice_id.in_(invoice_ids),
                                          DocumentSending.kind == "invoice")
            .order_by(DocumentSending.created_at, DocumentSending.id)):
        if sending.invoice_id is not None:
            latest[sending.invoice_id] = sending
    return latest


def _mail_progress(run_id: int) -> Callable[[int], None]:
    """Store each sending as soon as it is made: an e-mail that went out must not be sent again after a crash."""

    def report(done: int) -> None:
        run = db.session.get_one(InvoiceRun, run_id)
        run.mail_done_count, run.progress_at = done, _now()
        unit_of_work.checkpoint()

    return report


def send_pending(run_id: int, retry_failed: bool = False) -> InvoiceRun | None:
    """Background: e-mail each invoice of a running run that has not been sent yet (and, `retry_failed`, send
    the failed ones again), each sending recorded by the mail service; then the run is done. A sending that
    fails is recorded as failed (shown on the run's page, with a retry); one that cannot start (e.g. no e-mail
    address) is noted on the run with the reason."""
    from ..mail import services as mail

    run = db.session.get(InvoiceRun, run_id)
    if run is None or run.status != InvoiceRunStatus.RUNNING or not run.send_email:
        return run
    user = run.requested_by
    invoice_ids = list(run.invoice_ids)
    latest = latest_sendings(invoice_ids)
    todo = [i for i in invoice_ids if i not in latest or (retry_failed and latest[i].failed)]
    again = set(todo)
    run.left_out = [entry for entry in run.left_out if entry.get("invoice_id") not in again]
    run.mail_total_count, run.mail_done_count, run.progress_at = len(todo), 0, _now()
    unit_of_work.checkpoint()
    report = _mail_progress(run_id)
    problems: list[dict[str, Any]] = []
    for done, invoice_id in enumerate(todo, start=1):
        invoice = db.session.get_one(Invoice, invoice_id)
        # A write first, for the savepoint's sake (see _issue_all).
        db.session.get_one(InvoiceRun, run_id).progress_at = _now()
        db.session.flush()
        if not (invoice.patient.email or "").strip():
            problems.append(_entry(invoice.patient_id, [], msg(NO_ADDRESS), invoice_id=invoice_id, stage="mail"))
            report(done)
            continue
        try:
            with db.session.begin_nested():
                previous = latest.get(invoice_id)
                if previous is not None and previous.failed:
                    mail.retry(previous, user=user)
                else:
                    mail.send_invoice(invoice, user=user)
        except ServiceError as error:
            problems.append(_entry(invoice.patient_id, [], str(error), invoice_id=invoice_id, stage="mail"))
        except Exception as error:
            log.exception("bulk invoicing run %s: invoice %s could not be sent", run_id, invoice_id)
            problems.append(_entry(invoice.patient_id, [], msg(
                "Not sent (%(error)s; the server log has the details).", error=error.__class__.__name__),
                invoice_id=invoice_id, stage="mail"))
        report(done)
    run = db.session.get_one(InvoiceRun, run_id)
    run.left_out = [*run.left_out, *problems]
    _finish(run)
    unit_of_work.checkpoint()
    return run


def unsent(run: InvoiceRun, latest: dict[int, Any] | None = None) -> list[int]:
    """The run's invoices not sent (yet): no sending, or the last one failed."""
    latest = latest_sendings(run.invoice_ids) if latest is None else latest
    return [i for i in run.invoice_ids if i not in latest or latest[i].failed]


def request_retry(run: InvoiceRun) -> InvoiceRun:
    """Send the run's failed (or never sent) e-mails again, on the queue; refused when everything was sent or the
    run is still busy. A run that failed (its worker stopped) may send what it issued too."""
    if run.status not in (InvoiceRunStatus.DONE, InvoiceRunStatus.FAILED) or not run.send_email:
        raise RunError(_("Only a finished run that e-mails its invoices can send them again."))
    if not unsent(run):
        raise RunError(_("Every invoice of this run was sent: there is nothing to send again."))
    run.status, run.finished_at, run.progress_at, run.error = InvoiceRunStatus.RUNNING.value, None, _now(), ""
    db.session.flush()
    return run


# ---- reading runs ----------------------------------------------------------------------------------------

def may_see(run: InvoiceRun, user: User) -> bool:
    """A therapist limited to their own patients sees only the runs they asked for; everyone else sees all."""
    return not care.limited(user) or run.requested_by_id == user.id


def recent_runs(user: User, limit: int = 10) -> list[InvoiceRun]:
    query = select(InvoiceRun).order_by(InvoiceRun.created_at.desc(), InvoiceRun.id.desc()).limit(limit)
    if care.limited(user):
        query = query.where(InvoiceRun.requested_by_id == user.id)
    return list(db.session.scalars(query))


@dataclass(frozen=True)
class LeftOut:
    patient: Patient | None
    treatment_ids: list[int]
    reason: str
    invoice_id: int | None = None


@dataclass(frozen=True)
class RunResult:
    invoices: list[Invoice]
    left_out: list[LeftOut]        # patients and treatments not invoiced, with the reason
    not_sent: list[LeftOut]        # invoices whose e-mail could not start, with the reason
    sendings: dict[int, Any]       # invoice id -> latest sending
    to_send: int = 0               # invoices without a sending that went out

    @property
    def patient_ids(self) -> list[int]:
        ids = [invoice.patient_id for invoice in self.invoices]
        ids += [entry.patient.id for entry in self.left_out + self.not_sent if entry.patient is not None]
        return list(dict.fromkeys(ids))


def result(run: InvoiceRun) -> RunResult:
    """What the run made, what it left out and why (in the reader's language), and how the sendings went."""
    invoices = list(db.session.scalars(select(Invoice).options(selectinload(Invoice.patient))
                                       .where(Invoice.id.in_(run.invoice_ids))
                                       .order_by(Invoice.series_year, Invoice.sequence))) if run.invoice_ids else []
    patient_ids = {entry["patient_id"] for entry in run.left_out}
    patients = {patient.id: patient for patient in db.session.scalars(
        select(Patient).where(Patient.id.in_(patient_ids)))} if patient_ids else {}
    left: list[LeftOut] = []
    not_sent: list[LeftOut] = []
    for entry in run.left_out:
        reason = entry.get("reason")
        # A patient outside the reader's care relationship is not named (the run found no relationship).
        hidden = isinstance(reason, dict) and reason.get("msgid") == NOT_OWN_PATIENT
        item = LeftOut(None if hidden else patients.get(entry["patient_id"]), list(entry.get("treatment_ids") or []),
                       reason_text(entry), entry.get("invoice_id"))
        (not_sent if entry.get("stage") == "mail" else left).append(item)
    left.sort(key=lambda item: (item.patient.sort_name if item.patient else "", item.treatment_ids))
    if not run.send_email:
        return RunResult(invoices, left, not_sent, {})
    latest = latest_sendings(run.invoice_ids)
    return RunResult(invoices, left, not_sent, latest, len(unsent(run, latest)))


# ---- stale runs: the worker stopped ----------------------------------------------------------------------

STALE_ERROR = ("The worker stopped before this run was finished (make run starts it). Invoices already issued "
               "stay issued; start a new run for the rest.")


def fail_stale_runs(include_queued: bool = True, now: datetime | None = None) -> list[int]:
    """Runs without progress for PRINT_JOB_STALE_SECONDS, as print jobs (printing/services.py: fail_stale, the one
    definition): their worker stopped, or none runs. The unit of work stores what it marks."""
    return printing.fail_stale(InvoiceRun, STALE_ERROR, "bulk invoicing run", include_queued, now or _now())
