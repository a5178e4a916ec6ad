"""Payment reminder pages: send an invoice's next reminder by hand, download a reminder's stored PDF, the list of
reminders to print and post, and the reminder settings with the collection-cost scale. Thin: the use cases are in
services.py; no view commits (the request is one unit of work)."""

from __future__ import annotations

from decimal import Decimal

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import audit, unit_of_work
from ..care import services as care
from ..domain import reminders as rules
from ..domain.dutch import decimal_nl, euro
from ..domain.roles import Permission
from ..extensions import db
from ..models import Invoice, InvoiceReminder
from ..security import current_staff, permission_required
from . import services
from .forms import ReminderSettingsForm

bp = Blueprint("reminders", __name__)


def _to_invoice(invoice_id: int):
    return redirect(url_for("invoices.detail", invoice_id=invoice_id))


@bp.route("/invoices/<int:invoice_id>/reminders/send", methods=["POST"])
@permission_required(Permission.INVOICES_WRITE)
def send_next(invoice_id: int):
    """Make the invoice's next reminder now and send it by e-mail, or list it to print. A refusal (nothing due,
    paid meanwhile, sent already: a double click) reaches the error handler: rolled back, flashed, back here."""
    invoice = db.get_or_404(Invoice, invoice_id)
    outcome = services.send_next(invoice, current_staff(), by_hand=True)
    what = services.stage_label(outcome.reminder.stage)
    if outcome.sending is None:
        flash(_("%(what)s made: the patient has no e-mail address, so print it and post it (PDF on this page).",
                what=what), "warning")
    elif outcome.failed:
        flash(_("%(what)s made, but the e-mail to %(address)s failed: %(error)s. Try again later or print it.",
                what=what, address=outcome.sending.to_address, error=outcome.sending.error), "danger")
    else:
        flash(_("%(what)s sent by e-mail to %(address)s.", what=what, address=outcome.sending.to_address), "success")
    return _to_invoice(invoice_id)


@bp.route("/invoices/<int:invoice_id>/reminders/<int:reminder_id>.pdf")
@permission_required(Permission.INVOICES_READ)
def pdf(invoice_id: int, reminder_id: int):
    """The PDF stored when the reminder was made, every time (checked against its SHA-256)."""
    reminder = db.get_or_404(InvoiceReminder, reminder_id)
    if reminder.invoice_id != invoice_id:
        abort(404)
    try:
        data = services.reminder_pdf(reminder, current_staff())
    except services.ReminderError as error:
        unit_of_work.discard()
        flash(str(error), "danger")
        return _to_invoice(invoice_id)
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{services.file_name(reminder)}"'
    return response


@bp.route("/reminders/")
@permission_required(Permission.INVOICES_READ)
def to_print():
    after, before = services.TO_PRINT_ORDER.cursors(request.args)
    page = services.to_print_page(current_app.config["PAGE_SIZE"], after, before,
                                  patients=care.own_patient_ids(current_staff()))
    if page.items:
        audit.record_shown("view", "reminders to print", [reminder.invoice.patient_id for reminder in page.items])
    return render_template("reminders/to_print.html", page=page, stage_label=services.stage_label)


@bp.route("/reminders/settings")
@permission_required(Permission.PRACTICE_READ)
def settings():
    scale = services.cost_scale()
    return render_template("reminders/settings.html", policy=services.policy(), scale=scale,
                           brackets=[(euro(b.start), decimal_nl(b.rate)) for b in scale.brackets],
                           vat_rate=decimal_nl(scale.vat_rate), examples=_examples())


def _examples() -> list[tuple[str, str]]:
    """What the current scale charges for a few open amounts (shown beside the scale)."""
    scale = services.cost_scale()
    return [(euro(Decimal(amount)), euro(rules.collection_costs(Decimal(amount), scale).total))
            for amount in ("150", "2700", "12000")]


@bp.route("/reminders/settings/edit", methods=["GET", "POST"])
@permission_required(Permission.PRACTICE_WRITE)
def edit_settings():
    form = ReminderSettingsForm()
    if request.method == "GET":
        form.fill(services.policy(), services.cost_scale())
    elif form.validate_on_submit():
        try:
            policy, scale = form.policy(), form.scale()
        except ValueError as error:
            form.form_errors.append(str(error))
        else:
            changed = services.save_settings(policy, scale, current_staff())
            flash(_("Reminder settings saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("reminders.settings"))
    return render_template("reminders/settings_form.html", form=form), \
        422 if form.errors or form.form_errors else 200
