"""Batch printing pages: start a job, follow its progress, download the PDF or ZIP, print a job again. Thin:
services.py does the work, tasks.py queues it once the request's commit has stored the job
(unit_of_work.after_commit). Reading a job (page, list, status) first fails the jobs whose worker stopped
(services.fail_stale_jobs), so nothing shows "running" forever. No view commits (unit_of_work.py)."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint, Response, flash, jsonify, redirect, render_template, send_file, session, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from .. import unit_of_work
from ..domain.roles import Permission
from ..domain.statuses import PrintJobStatus
from ..extensions import db
from ..models import PRINT_JOB_KINDS, PrintJob
from ..security import current_staff, permission_required
from . import services, tasks
from .forms import PrintJobForm

bp = Blueprint("printing", __name__, url_prefix="/printing")

PROGRESS_SCRIPT = Path(__file__).resolve().parent / "static" / "progress.js"


QUEUE_UNREACHABLE = _l("The print queue could not be reached; try again later.")


def _queue(job: PrintJob):
    """Hand the new job to the queue once the request has stored it (a worker must find the row), and show its
    page."""
    job_id = job.id
    unit_of_work.after_commit(lambda: _hand_to_queue(job_id))
    return redirect(url_for("printing.job", job_id=job_id))


def _hand_to_queue(job_id: int) -> None:
    try:
        tasks.enqueue(job_id)
    except Exception:  # the queue is unreachable: say so on the job (a unit of its own) instead of leaving it queued
        unit_of_work.rollback()
        unit_of_work.run(lambda: services.mark_failed(job_id, str(QUEUE_UNREACHABLE)))
        flash(QUEUE_UNREACHABLE, "danger")


def _fail_stale_jobs() -> None:
    services.fail_stale_jobs()


@bp.route("/", methods=["GET", "POST"])
@permission_required(Permission.DOCUMENTS_PRINT)
def index():
    form = PrintJobForm()
    if form.validate_on_submit():
        kind, start, end = form.kind.data, form.date_from.data, form.date_to.data
        empty = services.nothing_to_print(kind, start, end)
        if empty:
            form.date_to.errors.append(empty)
        else:
            return _queue(services.request_job(kind, start, end, user=current_staff(),
                                               on_behalf_of=session.get("on_behalf_of", "")))
    _fail_stale_jobs()
    return render_template("printing/index.html", form=form, jobs=services.recent_jobs(), kinds=PRINT_JOB_KINDS)


@bp.route("/jobs/<int:job_id>")
@permission_required(Permission.DOCUMENTS_PRINT)
def job(job_id: int):
    _fail_stale_jobs()
    return render_template("printing/job.html", job=db.get_or_404(PrintJob, job_id), kinds=PRINT_JOB_KINDS)


@bp.route("/jobs/<int:job_id>/again", methods=["POST"])
@permission_required(Permission.DOCUMENTS_PRINT)
def print_again(job_id: int):
    """A new job of the same kind and period (after a failure, or when the files are gone)."""
    old = db.get_or_404(PrintJob, job_id)
    try:
        job = services.repeat_job(old, user=current_staff(), on_behalf_of=session.get("on_behalf_of", ""))
    except services.BatchError as error:
        unit_of_work.discard()
        flash(str(error), "warning")
        return redirect(url_for("printing.job", job_id=job_id))
    flash(_("Printing again as job %(id)s.", id=job.id), "info")
    return _queue(job)


def _status(job: PrintJob) -> dict:
    done = job.status == PrintJobStatus.DONE
    return {
        "id": job.id, "status": job.status, "done": job.done_count, "total": job.total_count,
        "percent": 100 if done else (int(100 * job.done_count / job.total_count) if job.total_count else 0),
        "error": job.error,
        "pdf_url": url_for("printing.download_pdf", job_id=job.id) if done else None,
        "zip_url": url_for("printing.download_zip", job_id=job.id) if done else None,
    }


@bp.route("/jobs/<int:job_id>/status")
@permission_required(Permission.DOCUMENTS_PRINT)
def status(job_id: int):
    _fail_stale_jobs()
    return jsonify(_status(db.get_or_404(PrintJob, job_id)))


def _download(job_id: int, fmt: str):
    job = db.get_or_404(PrintJob, job_id)
    try:
        path, name = services.job_file(job, fmt, user=current_staff())
    except services.BatchError as error:  # a download: back to the job's page, not an error page
        unit_of_work.discard()
        flash(str(error), "warning")
        return redirect(url_for("printing.job", job_id=job_id))
    response = send_file(path, mimetype=services.FORMATS[fmt], as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/jobs/<int:job_id>/download.pdf")
@permission_required(Permission.DOCUMENTS_PRINT)
def download_pdf(job_id: int):
    return _download(job_id, "pdf")


@bp.route("/jobs/<int:job_id>/download.zip")
@permission_required(Permission.DOCUMENTS_PRINT)
def download_zip(job_id: int):
    return _download(job_id, "zip")


@bp.route("/progress.js")
@permission_required(Permission.DOCUMENTS_PRINT)
def progress_script():
    return progress_script_response()


def progress_script_response() -> Response:
    """The job pages' polling script (static/progress.js), for each blueprint that shows a job's progress. Served
    by the app itself: the CSP allows scripts from 'self' only, never inline."""
    return Response(PROGRESS_SCRIPT.read_bytes(), mimetype="text/javascript")
