"""The manager's dashboard (month picker, key figures, charts, year-to-date trend) and the downloads of the
monthly report workbook and the month-end pack. Every download is logged in the access log.

The dashboard reads the facts of each month and the receivables through the summary table (cache.py), which
triggers empty in the same transaction as any write they were read from: after a change only what it touched is
read again from the raw rows. The downloads always calculate everything afresh."""

from __future__ import annotations

import contextlib
from pathlib import Path

from babel.dates import format_date
from flask import Blueprint, Response, abort, current_app, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.routing import BuildError

from .. import audit
from ..clock import clinic_today
from ..domain.reporting import Month, default_month, reference_date
from ..domain.roles import Permission
from ..files import scratch_file
from ..i18n import current_language
from ..security import permission_required
from . import cache, charts, pack, queries, workbook

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
    month = _month_arg()
    report = queries.build_report(month)
    path = _scratch_file(".xlsx")
    try:
        workbook.write_report(report, path)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    name = workbook.default_filename(month)
    audit.record("export", None, f"monthly report {month.iso}", f"downloaded {name}")
    return _send_temporary(path, XLSX, name)


@bp.route("/pack.zip")
@permission_required(Permission.REPORTS_READ)
def download_pack():
    month = _month_arg()
    path = _scratch_file(".zip")
    try:
        pack.build_pack(month, path, reference=f"month-end pack {month.iso}, downloaded")
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return _send_temporary(path, "application/zip", pack.default_filename(month))
