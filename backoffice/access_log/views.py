"""Reading the NEN 7513 access log. There are deliberately no routes that change or delete entries:
the log is append-only (ORM guard and database triggers in models.py)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime, time, timedelta

from flask import Blueprint, Response, current_app, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import audit
from ..clock import clinic_timezone
from ..domain.roles import Permission, Role
from ..extensions import db
from ..models import AccessLog, Patient, User
from ..paging import Keyset
from ..security import permission_required
from ..users.forms import ROLE_LABELS
from .forms import ACTION_LABELS, AccessLogFilterForm

bp = Blueprint("access_log", __name__, url_prefix="/access-log")

CSV_COLUMNS = (_l("time"), _l("user e-mail"), _l("user role"), _l("on behalf of"), _l("patient id"), _l("action"),
               _l("subject"), _l("detail"), _l("ip address"))
# A cell starting with one of these becomes a live formula in a spreadsheet (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")

# The log's order, by time and then id, paged by key: it is the fastest-growing table, and OFFSET/COUNT cost
# grows with it. Newest first when browsing, oldest first for one patient (the overview NEN 7513 gives).
NEWEST_FIRST = Keyset((AccessLog.at, AccessLog.id), descending=True)
OLDEST_FIRST = Keyset((AccessLog.at, AccessLog.id))


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


def _filtered_query(form: AccessLogFilterForm):
    query = select(AccessLog).options(selectinload(AccessLog.patient))

    def value(field):
        return None if field.errors else field.data

    if value(form.user_id) is not None:
        query = query.where(AccessLog.user_id == form.user_id.data)
    if value(form.patient_id) is not None:
        query = query.where(AccessLog.patient_id == form.patient_id.data)
    if value(form.action):
        query = query.where(AccessLog.action == form.action.data)
    if value(form.date_from):
        query = query.where(AccessLog.at >= _start_of_day(form.date_from.data))
    if value(form.date_to):
        query = query.where(AccessLog.at < _start_of_day(form.date_to.data + timedelta(days=1)))
    return query


@bp.route("/")
@permission_required(Permission.ACCESS_LOG_READ)
def browse():
    form = _filter_form()
    after, before = NEWEST_FIRST.cursors(request.args)
    page = NEWEST_FIRST.page(_filtered_query(form), current_app.config["PAGE_SIZE"], after, before)
    args = {name: value for name, value in request.args.items() if value}
    return render_template("access_log/browse.html", form=form, page=page, args=args), 422 if form.errors else 200


def _safe_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def log_csv(entries: Iterable[AccessLog]) -> str:
    """The entries as CSV text (UTF-8 with BOM so spreadsheet programs read the names correctly)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([str(column) for column in CSV_COLUMNS])
    zone = clinic_timezone()
    for entry in entries:
        writer.writerow([_safe_cell(cell) for cell in (
            entry.at.astimezone(zone).isoformat(timespec="seconds"), entry.user_email, entry.user_role,
            entry.on_behalf_of, entry.patient_id, entry.action, entry.subject, entry.detail, entry.ip_address,
        )])
    return "\ufeff" + buffer.getvalue()


@bp.route("/patients/<int:patient_id>")
@permission_required(Permission.ACCESS_LOG_READ)
def patient_log(patient_id: int):
    """One patient's log, oldest first: what the patient may ask for (NEN 7513)."""
    patient = db.get_or_404(Patient, patient_id)
    query = (select(AccessLog).where(AccessLog.patient_id == patient.id)
             .order_by(AccessLog.at, AccessLog.id))
    if request.args.get("format") == "csv":
        entries = db.session.scalars(query).all()
        body = log_csv(entries)
        # Logged after reading, so the export holds exactly the rows that existed when it was asked for.
        audit.record("export", patient, "access log", f"CSV, {len(entries)} entries")
        return Response(body, mimetype="text/csv", headers={
            "Content-Disposition": f"attachment; filename=access-log-patient-{patient.id}.csv"})
    after, before = OLDEST_FIRST.cursors(request.args)
    page = OLDEST_FIRST.page(query, current_app.config["PAGE_SIZE"], after, before)
    html = render_template("access_log/patient.html", patient=patient, page=page)
    audit.record("view", patient, "access log")
    return html
