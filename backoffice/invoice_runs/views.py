"""Bulk invoicing pages: choose what to invoice, follow the run, see what was made, left out and sent. Thin:
services.py does the work. A run of up to 20 patients is done in the request; a larger one, and every e-mailing,
is handed to the print queue once the request has stored the run (unit_of_work.after_commit), as print jobs are.
No view commits (unit_of_work.py)."""

from __future__ import annotations

from datetime import date

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _

from .. import audit, unit_of_work
from ..care import services as care
from ..clock import clinic_today
from ..domain.dutch import nl_date, parse_day
from ..domain.roles import Permission
from ..domain.statuses import InvoiceRunStatus
from ..extensions import db
from ..models import InvoiceRun
from ..printing import tasks
from ..printing.views import QUEUE_UNREACHABLE, progress_script_response
from ..security import current_staff, permission_required
from . import services
from .forms import BulkInvoiceForm

bp = Blueprint("invoice_runs", __name__, url_prefix="/invoices/bulk")


def _day_arg(text: str | None) -> date:
    """?up_to= as typed (24-11-2026) or ISO; today when absent or not a day (never a 500)."""
    try:
        return parse_day(text or "") if text else clinic_today()
    except ValueError:
        return clinic_today()


def _hand_to_queue(run_id: int, sending: bool = False, retry_failed: bool = False) -> None:
    try:
        if sending:
            tasks.enqueue_invoice_sending(run_id, retry_failed)
        else:
            tasks.enqueue_invoice_run(run_id)
    except Exception:  # the queue is unreachable: say so on the run (a unit of its own) instead of leaving it
        unit_of_work.rollback()
        unit_of_work.run(lambda: services.mark_failed(run_id, str(QUEUE_UNREACHABLE)))
        flash(QUEUE_UNREACHABLE, "danger")


def _start(form: BulkInvoiceForm):
    """Start the run the form asks for; None (with the refusal on the form) when it cannot."""
    user = current_staff()
    if form.everything.data:
        if form.up_to.data is None:
            form.up_to.errors.append(_("Enter the date up to which to invoice."))
            return None
        if form.up_to.data > clinic_today():
            form.up_to.errors.append(_("Choose a day up to today (%(date)s).", date=nl_date(clinic_today())))
            return None
        selection = services.Selection(up_to=form.up_to.data)
    else:
        if not form.treatment_ids.data:
            form.treatment_ids.errors.append(_("Tick at least one treatment to invoice."))
            return None
        selection = services.Selection(treatment_ids=tuple(form.treatment_ids.data))
    try:
        run = services.request_run(selection, bool(form.send_email.data), user,
                                   on_behalf_of=session.get("on_behalf_of", ""))
    except services.RunError as error:
        unit_of_work.discard()
        (form.up_to if form.everything.data else form.treatment_ids).errors.append(str(error))
        return None
    run_id = run.id
    if services.in_request(run):
        done = services.execute(run_id, background=False)
        if done is not None and done.status == InvoiceRunStatus.RUNNING:  # issued; the e-mails go on the queue
            unit_of_work.after_commit(lambda: _hand_to_queue(run_id, sending=True))
    else:
        unit_of_work.after_commit(lambda: _hand_to_queue(run_id))
    return redirect(url_for("invoice_runs.show", run_id=run_id))


@bp.route("", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def new():
    form = BulkInvoiceForm()
    if form.validate_on_submit():
        started = _start(form)
        if started is not None:
            return started
    up_to = form.up_to.data if request.method == "POST" and form.up_to.data else _day_arg(request.args.get("up_to"))
    if request.method == "GET":
        form.up_to.data = up_to
    user = current_staff()
    own = care.own_patient_ids(user)
    after, before = services.GROUP_ORDER.cursors(request.args)
    page = services.uninvoiced_page(up_to, current_app.config["PAGE_SIZE"], after, before, only_patients=own)
    if page.items:
        audit.record_shown("view", "treatments not yet invoiced", [group.patient.id for group in page.items])
    services.fail_stale_runs()
    return render_template("invoice_runs/new.html", form=form, page=page, up_to=up_to,
                           summary=services.summary(up_to, own), runs=services.recent_runs(user),
                           ticked=set(form.treatment_ids.data or [])), 422 if form.errors else 200


def _run(run_id: int) -> InvoiceRun:
    run = db.get_or_404(InvoiceRun, run_id)
    if not services.may_see(run, current_staff()):
        abort(404)  # a therapist limited to their own patients: someone else's run does not exist for them
    return run


@bp.route("/<int:run_id>")
@permission_required(Permission.INVOICES_WRITE)
def show(run_id: int):
    services.fail_stale_runs()
    run = _run(run_id)
    result = services.result(run)
    if result.patient_ids:
        audit.record_shown("view", f"invoice run {run.id}", result.patient_ids)
    return render_template("invoice_runs/show.html", run=run, result=result)


def _status(run: InvoiceRun) -> dict:
    done = run.done_count + run.mail_done_count
    total = run.total_count + (run.mail_total_count if run.send_email else 0)
    finished = run.status == InvoiceRunStatus.DONE
    return {"id": run.id, "status": run.status, "done": done, "total": total,
            "percent": 100 if finished else (int(100 * done / total) if total else 0), "error": run.error}


@bp.route("/<int:run_id>/status")
@permission_required(Permission.INVOICES_WRITE)
def status(run_id: int):
    services.fail_stale_runs()
    return jsonify(_status(_run(run_id)))


@bp.route("/<int:run_id>/send-again", methods=["POST"])
@permission_required(Permission.INVOICES_WRITE)
def send_again(run_id: int):
    """Send the run's failed e-mails again, in the background."""
    run = _run(run_id)
    try:
        services.request_retry(run)
    except services.RunError as error:
        unit_of_work.discard()
        flash(str(error), "warning")
    else:
        unit_of_work.after_commit(lambda: _hand_to_queue(run_id, sending=True, retry_failed=True))
        flash(_("Sending the failed e-mails again."), "info")
    return redirect(url_for("invoice_runs.show", run_id=run_id))


@bp.route("/progress.js")
@permission_required(Permission.INVOICES_WRITE)
def progress_script():
    # The print job page's script (the same page structure).
    return progress_script_response()
