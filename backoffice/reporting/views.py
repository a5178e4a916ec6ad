"""The manager's dashboard (month picker, key figures, charts, year-to-date trend), the download of the monthly
report workbook and the month-end pack, built in the background (jobs.py) with a page that follows its progress.
Every download is logged in the access log. No view commits (unit_of_work.py).

The dashboard reads the facts of each month and the receivables through the summary table (cache.py), which
triggers empty in the same transaction as any write they were read from: after a change only what it touched is
read again from the raw rows. The downloads always calculate everything afresh."""

from __future__ import annotations

import contextlib
from pathlib import Path

from babel.dates import format_date
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response as WerkzeugResponse

from .. import audit, unit_of_work
from ..clock import clinic_today
from ..domain.reporting import Month, default_month, reference_date
from ..domain.roles import Permission
from ..domain.statuses import PrintJobStatus
from ..extensions import db
from ..files import scratch_file
from ..i18n import current_language
from ..models.printing import PackJob
from ..printing import tasks
from ..printing.views import QUEUE_UNREACHABLE
from ..security import current_staff, permission_required
from . import cache, charts, jobs, queries, workbook
from .books import MonthBooks

bp = Blueprint("reports", __name__, url_prefix="/reports")

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# The claims feature's list page, when it is installed (first endpoint found wins).
CLAIMS_ENDPOINTS = ("claims.index", "claims.list_batches")


def _month_arg() -> Month:
    text = request.args.get("month", "").strip()
    if not text:
        return default_month(clinic_today())
    try:
        return Month.parse(text)
    except ValueError:
        abort(400, description=_("%(text)s is not a month: write e.g. november 2026.", text=repr(text)))


def _optional_url(endpoints, **values) -> str | None:
    for endpoint in endpoints:
        if endpoint in current_app.view_functions:
            with contextlib.suppress(BuildError):
                return url_for(endpoint, **values)
    return None


def month_name(month: Month, short: bool = False) -> str:
    """A month in the reader's language: november 2026 (Dutch), November 2026 (English); short: nov / Nov."""
    return format_date(month.first, "LLL" if short else "LLLL yyyy", locale=current_language()).rstrip(".")


def _charts(report) -> dict:
    labels = [month_name(figures.month, short=True) for figures in report.trend]
    result = {
        "revenue": charts.line_chart(
            _("Revenue per month"), labels,
            [charts.Series(_("incl. VAT"), [f.revenue.gross for f in report.trend]),
             charts.Series(_("excl. VAT"), [f.revenue.net for f in report.trend])],
            test_id="chart-revenue"),
        "split": charts.bar_chart(
            _("Medical vs cosmetic revenue per month"), labels,
            [charts.Series(_("medical"), [f.medical_gross for f in report.trend]),
             charts.Series(_("cosmetic"), [f.cosmetic_gross for f in report.trend])],
            test_id="chart-split"),
        "claims": None,
    }
    if report.insurers:
        result["claims"] = charts.bar_chart(
            _("Claims outcome per insurer (year to date)"), [i.name for i in report.insurers],
            [charts.Series(_("paid"), [i.claims.ytd.paid for i in report.insurers], "#20c997"),
             charts.Series(_("rejected"), [i.claims.ytd.rejected for i in report.insurers], "#dc3545"),
             charts.Series(_("outstanding"), [i.claims.ytd.outstanding for i in report.insurers], "#fd7e14")],
            test_id="chart-claims")
    return result


@bp.route("/")
@permission_required(Permission.REPORTS_READ)
def dashboard():
    month = _month_arg()
    today = clinic_today()
    fresh = request.args.get("fresh") == "1"
    kept = cache.dashboard_facts(month, reference_date(month, today), fresh=fresh)
    report = queries.build_report(month, today=today, facts=kept.facts, receivables=kept.receivables,
                                  now=kept.calculated_at, detail=False)
    return render_template(
        "reporting/dashboard.html", report=report, month=month, charts=_charts(report),
        previous=month.previous(), next=month.next() if month.next().first <= today else None,
        claims_url=_optional_url(CLAIMS_ENDPOINTS), month_name=month_name,
    )


def _send_temporary(path: Path, mimetype: str, name: str) -> Response:
    """Stream a file made only for this download and remove it once sent (or once the client gives up)."""
    size = path.stat().st_size

    def chunks():
        try:
            with path.open("rb") as handle:
                while chunk := handle.read(1 << 16):
                    yield chunk
        finally:
            path.unlink(missing_ok=True)

    response = Response(chunks(), mimetype=mimetype, direct_passthrough=True)
    response.headers["Content-Length"] = str(size)
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _scratch_file(suffix: str) -> Path:
    return scratch_file(Path(current_app.instance_path) / "reports", suffix)


@bp.route("/monthly.xlsx")
@permission_required(Permission.REPORTS_READ)
def download_report():
    """The monthly report workbook; with `books=1` also the month's invoice register and payments (read page by
    page, as in the month-end pack)."""
    month = _month_arg()
    with_books = request.args.get("books") == "1"
    report = queries.build_report(month, side_by_side=True)  # nothing written before: see read_side_by_side
    path = _scratch_file(".xlsx")
    try:
        workbook.write_report(report, path, MonthBooks.of(month, report.as_of) if with_books else None)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    name = workbook.default_filename(month, with_books)
    audit.record("export", None, f"monthly report {month.iso}",
                 f"downloaded {name}" + (" (with the invoice register and payments)" if with_books else ""))
    return _send_temporary(path, XLSX, name)


# ---- the month-end pack: a background job (jobs.py) ------------------------------------------------------------

# The job's page asks the browser to load it again every few seconds while the pack is being built (the Refresh
# header: no script, which the CSP would refuse inline anyway).
REFRESH_SECONDS = 2


def _form_month() -> Month:
    try:
        return Month.parse(request.form.get("month", "").strip())
    except ValueError:
        abort(400, description=_("%(text)s is not a month: write e.g. november 2026.",
                                 text=repr(request.form.get("month", ""))))


def _queue_pack(job: PackJob) -> WerkzeugResponse:
    """Hand the new job to the queue once the request has stored it (the worker must find the row); its page."""
    job_id = job.id
    unit_of_work.after_commit(lambda: _hand_to_queue(job_id))
    return redirect(url_for("reports.pack_job", job_id=job_id))


def _hand_to_queue(job_id: int) -> None:
    try:
        tasks.enqueue_pack(job_id)
    except Exception:  # the queue is unreachable: say so on the job (a unit of its own) instead of leaving it queued
        unit_of_work.rollback()
        unit_of_work.run(lambda: jobs.mark_failed(job_id, str(QUEUE_UNREACHABLE)))
        flash(QUEUE_UNREACHABLE, "danger")


@bp.route("/pack.zip")
@permission_required(Permission.REPORTS_READ)
def download_pack():
    """The old download link (bookmarks, the manager's habits): the pack is now built in the background."""
    return redirect(url_for("reports.pack_page", month=_month_arg().iso))


@bp.route("/pack", methods=["GET", "POST"])
@permission_required(Permission.REPORTS_READ)
def pack_page():
    """GET: the month's packs and a button to build one; POST: build the month's pack in the background."""
    if request.method == "POST":
        month = _form_month()
        return _queue_pack(jobs.request_job(month, user=current_staff(),
                                            on_behalf_of=session.get("on_behalf_of", "")))
    month = _month_arg()
    jobs.fail_stale_jobs()
    return render_template("reporting/pack.html", month=month, jobs=jobs.recent_jobs(month), month_name=month_name,
                           steps=jobs.STEPS)


def _job(job_id: int) -> PackJob:
    jobs.fail_stale_jobs()
    return db.get_or_404(PackJob, job_id)


@bp.route("/packs/<int:job_id>")
@permission_required(Permission.REPORTS_READ)
def pack_job(job_id: int):
    job = _job(job_id)
    response = make_response(render_template(
        "reporting/pack_job.html", job=job, month=jobs.job_month(job), month_name=month_name, steps=jobs.STEPS,
        steps_done=jobs.steps_done(job), percent=jobs.percent(job)))
    if job.status in (PrintJobStatus.QUEUED, PrintJobStatus.RUNNING):
        response.headers["Refresh"] = str(REFRESH_SECONDS)
    return response


@bp.route("/packs/<int:job_id>/status")
@permission_required(Permission.REPORTS_READ)
def pack_status(job_id: int):
    job = _job(job_id)
    done = job.status == PrintJobStatus.DONE
    return jsonify({
        "id": job.id, "month": jobs.job_month(job).iso, "status": job.status, "step": job.step,
        "steps_done": jobs.steps_done(job), "steps": len(jobs.STEPS), "done": job.done_count,
        "total": job.total_count, "percent": jobs.percent(job), "error": job.error,
        "download_url": url_for("reports.download_pack_job", job_id=job.id) if done else None,
    })


@bp.route("/packs/<int:job_id>/again", methods=["POST"])
@permission_required(Permission.REPORTS_READ)
def pack_again(job_id: int):
    """A new job for the same month (after a failure, or when the file is gone)."""
    old = _job(job_id)
    job = jobs.request_job(jobs.job_month(old), user=current_staff(), on_behalf_of=session.get("on_behalf_of", ""))
    flash(_("Building the pack again as job %(id)s.", id=job.id), "info")
    return _queue_pack(job)


@bp.route("/packs/<int:job_id>/download.zip")
@permission_required(Permission.REPORTS_READ)
def download_pack_job(job_id: int):
    job = _job(job_id)
    try:
        path, name = jobs.job_file(job, user=current_staff())
    except jobs.PackJobError as error:  # a download: back to the job's page, not an error page
        unit_of_work.discard()
        flash(str(error), "warning")
        return redirect(url_for("reports.pack_job", job_id=job_id))
    response = send_file(path, mimetype="application/zip", as_attachment=True, download_name=name)
    response.headers["Cache-Control"] = "no-store"
    return response
