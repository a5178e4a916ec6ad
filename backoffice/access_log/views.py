"""Reading the NEN 7513 access log. There are deliberately no routes that change or delete entries:
the log is append-only (ORM guard and database triggers in models.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import audit
from ..clock import clinic_timezone
from ..domain.roles import Permission, Role
from ..extensions import db
from ..models import Patient, User
from ..security import permission_required
from ..users.forms import ROLE_LABELS
from . import services
from .forms import ACTION_LABELS, AccessLogFilterForm
from .services import NEWEST_FIRST, OLDEST_FIRST, LogFilter

bp = Blueprint("access_log", __name__, url_prefix="/access-log")

CSV_COLUMNS = (_l("time"), _l("user e-mail"), _l("user role"), _l("on behalf of"), _l("patient id"), _l("action"),
               _l("subject"), _l("detail"), _l("ip address"))
# A cell starting with one of these becomes a live formula in a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def role_label(role: str) -> str:
    """A stored role code in the reader's language (a code no longer known, as it is)."""
    try:
        return str(ROLE_LABELS[Role(role)])
    except (ValueError, KeyError):
        return role


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


@bp.app_template_global()
def access_log_labels() -> dict[str, object]:
    """For templates/access_log: the label functions (the stored codes stay in the log)."""
    return {"role": role_label, "action": action_label}


def _start_of_day(day) -> datetime:
    """Midnight at the clinic: the dates an administrator types are local dates."""
    return datetime.combine(day, time.min, tzinfo=clinic_timezone())


def _filter_form() -> AccessLogFilterForm:
    form = AccessLogFilterForm(formdata=request.args)
    users = db.session.scalars(select(User).order_by(User.email)).all()
    form.user_id.choices = [("", _("anyone"))] + [
        (user.id, f"{user.email} ({role_label(user.role)})") for user in users]
    if request.args:
        form.validate()
    return form


def _log_filter(form: AccessLogFilterForm) -> LogFilter:
    """The valid filters of the form (a field with an error filters nothing)."""

    def value(field):
        return None if field.errors else field.data

    date_from, date_to = value(form.date_from), value(form.date_to)
    return LogFilter(
        user_id=value(form.user_id),
        patient_id=value(form.patient_id),
        action=value(form.action) or None,
        since=_start_of_day(date_from) if date_from else None,
        until=_start_of_day(date_to + timedelta(days=1)) if date_to else None,
    )


@bp.route("/")
@permission_required(Permission.ACCESS_LOG_READ)
def browse():
    form = _filter_form()
    after, before = NEWEST_FIRST.cursors(request.args)
    page = services.browse_page(_log_filter(form), current_app.config["PAGE_SIZE"], after, before)
    args = {name: value for name, value in request.args.items() if value}
    return render_template("access_log/browse.html", form=form, page=page, args=args), 422 if form.errors else 200


def _safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _csv_line(cells: Sequence[Any]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer).writerow([_safe_cell(cell) for cell in cells])
    return buffer.getvalue()


def log_csv(entries: Iterable[Any], headers: Sequence[str] | None = None) -> Iterator[str]:
    """The entries (AccessLog objects or export rows) as CSV text, line by line: UTF-8 with BOM so spreadsheet
    programs read the names correctly."""
    zone = clinic_timezone()
    yield "\ufeff" + _csv_line(headers if headers is not None else [str(column) for column in CSV_COLUMNS])
    for entry in entries:
        yield _csv_line((
            entry.at.astimezone(zone).isoformat(timespec="seconds"), entry.user_email, entry.user_role,
            entry.on_behalf_of, entry.patient_id, entry.action, entry.subject, entry.detail, entry.ip_address,
        ))


# Lines per piece of the streamed export: few writes to the socket, little memory.
_CSV_PIECE = 200


def _streamed_csv(scope: services.ExportScope) -> Iterator[bytes]:
    """The export's body, read and sent chunk by chunk as the server sends it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    headers = [str(column) for column in CSV_COLUMNS]  # in the reader's language, while the request is there

    def pieces() -> Iterator[bytes]:
        # Runs after the request (and its unit of work, which stored the export's log entry) has ended: in an
        # application context of its own, with a session of its own. Nothing runs before the first piece is asked
        # for, so a response never read leaves nothing open (backoffice/exports/services.py does the same).
        with app.app_context():
            lines: list[str] = []
            for line in log_csv(services.export_rows(scope), headers):
                lines.append(line)
                if len(lines) == _CSV_PIECE:
                    yield "".join(lines).encode("utf-8")
                    lines.clear()
            if lines:
                yield "".join(lines).encode("utf-8")

    return pieces()


@bp.route("/patients/<int:patient_id>")
@permission_required(Permission.ACCESS_LOG_READ)
def patient_log(patient_id: int):
    """One patient's log, oldest first: what the patient may ask for (NEN 7513)."""
    patient = db.get_or_404(Patient, patient_id)
    if request.args.get("format") == "csv":
        # The entries there are now: the export's own entry, written next, is not one of them. The body streams
        # (memory stays flat however long the log); the entry is stored before a byte of it leaves.
        scope = services.export_scope(patient.id)
        audit.record("export", patient, "access log", f"CSV, {scope.count} entries")
        response = Response(_streamed_csv(scope), mimetype="text/csv", headers={
            "Content-Disposition": f"attachment; filename=access-log-patient-{patient.id}.csv"})
        response.headers["Cache-Control"] = "no-store"  # patient data: no copy in any cache
        return response
    after, before = OLDEST_FIRST.cursors(request.args)
    page = services.patient_page(patient.id, current_app.config["PAGE_SIZE"], after, before)
    html = render_template("access_log/patient.html", patient=patient, page=page)
    audit.record("view", patient, "access log")
    return html
