"""E-mail pages: send a document (invoice, credit note, declaration, aftercare sheet) to the patient, retry a
failed sending, and the practice's message templates. Thin: the use cases are in services.py and templates.py.

The send pages are routes about one patient's record (invoice_id, credit_note_id, treatment_id), so the care
relationship check (care/access.py) covers them like the documents' own pages."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import audit, unit_of_work
from ..domain.patient_mail import (
    KIND_LABELS,
    KIND_PLACEHOLDERS,
    PLACEHOLDERS,
    SENDING_LABELS,
    MessageKind,
    SendingKind,
    TemplateError,
)
from ..domain.roles import Permission
from ..errors import ServiceError
from ..extensions import db
from ..models import CreditNote, DocumentSending, Invoice, Patient, Treatment
from ..security import current_staff, permission_required
from . import services, templates
from .forms import SendForm, TemplateForm

bp = Blueprint("mail", __name__, url_prefix="/mail")
templates_bp = Blueprint("mail_templates", __name__, url_prefix="/practice/mail-templates")

@bp.app_template_filter("sending_kind")
def sending_kind_label(kind: str) -> str:
    """What a sending sent, in the reader's language (the sendings table on the invoice and treatment pages)."""
    try:
        return _(SENDING_LABELS[SendingKind(kind)])
    except ValueError:
        return kind


def _invoice_page(invoice_id: int):
    return redirect(url_for("invoices.detail", invoice_id=invoice_id))


def _treatment_page(treatment_id: int):
    return redirect(url_for("treatments.detail", treatment_id=treatment_id))


def _outcome(sending: DocumentSending, what: str) -> None:
    if sending.sent:
        flash(_("%(document)s sent by e-mail to %(address)s.", document=what, address=sending.to_address), "success")
    else:
        flash(_("%(document)s was NOT sent to %(address)s: %(reason)s You can retry below.", document=what,
                address=sending.to_address, reason=sending.error), "danger")


def _send_page(kind: SendingKind, document: Invoice | CreditNote | Treatment, patient: Patient, subject: str,
               what: str, back):
    """The send form: the address (the patient's own unless another is typed) and the message to be sent."""
    form = SendForm()
    if request.method == "GET":
        form.to.data = patient.email or ""
    elif form.validate_on_submit():
        try:
            sending = services.send_by_kind(kind, document, current_staff(), form.to.data or None)
        except services.AddressRefused as error:
            unit_of_work.discard()
            form.to.errors = [*form.to.errors, str(error)]
        except ServiceError as error:  # the document cannot be printed now (missing data), a draft
            unit_of_work.discard()
            flash(str(error), "danger")
            return back
        else:
            _outcome(sending, what)
            return back
    try:  # after a refused send too: the rollback expired the document and patient, read again on access
        draft = services.draft(kind, document)
    except ServiceError as error:
        unit_of_work.discard()
        flash(str(error), "danger")
        return back
    audit.record("view", patient.id, subject, "e-mail form")
    return render_template("mail/send.html", form=form, draft=draft, patient=patient, what=what,
                           earlier=services.sendings_of(kind, document), back_url=back.location), \
        422 if form.errors else 200


@bp.route("/invoices/<int:invoice_id>", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def send_invoice(invoice_id: int):
    invoice = db.get_or_404(Invoice, invoice_id)
    return _send_page(SendingKind.INVOICE, invoice, invoice.patient, f"invoice {invoice.number}",
                      _("Invoice %(number)s", number=invoice.number), _invoice_page(invoice_id))


@bp.route("/invoices/<int:invoice_id>/declaration", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def send_declaration(invoice_id: int):
    invoice = db.get_or_404(Invoice, invoice_id)
    return _send_page(SendingKind.DECLARATION, invoice, invoice.patient, f"declaration {invoice.number}",
                      _("The declaration of invoice %(number)s", number=invoice.number), _invoice_page(invoice_id))


@bp.route("/credit-notes/<int:credit_note_id>", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def send_credit_note(credit_note_id: int):
    note = db.get_or_404(CreditNote, credit_note_id)
    return _send_page(SendingKind.CREDIT_NOTE, note, note.invoice.patient, f"credit note {note.number}",
                      _("Credit note %(number)s", number=note.number), _invoice_page(note.invoice_id))


@bp.route("/treatments/<int:treatment_id>/aftercare", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def send_aftercare(treatment_id: int):
    treatment = db.get_or_404(Treatment, treatment_id)
    return _send_page(SendingKind.AFTERCARE, treatment, treatment.patient, f"treatment {treatment.id}",
                      _("The aftercare sheet"), _treatment_page(treatment_id))


def _retry(sending: DocumentSending, back):
    what = _(SENDING_LABELS[SendingKind(sending.kind)])
    if sending.sent:
        flash(_("%(document)s was sent already; nothing was sent again.", document=what), "info")
        return back
    _outcome(services.retry(sending, current_staff()), what)
    return back


@bp.route("/invoices/<int:invoice_id>/sendings/<int:sending_id>/retry", methods=["POST"])
@permission_required(Permission.INVOICES_WRITE)
def retry_invoice_sending(invoice_id: int, sending_id: int):
    sending = db.get_or_404(DocumentSending, sending_id)
    if sending.invoice_id != invoice_id:
        abort(404)
    return _retry(sending, _invoice_page(invoice_id))


@bp.route("/treatments/<int:treatment_id>/sendings/<int:sending_id>/retry", methods=["POST"])
@permission_required(Permission.INVOICES_WRITE)
def retry_treatment_sending(treatment_id: int, sending_id: int):
    sending = db.get_or_404(DocumentSending, sending_id)
    if sending.treatment_id != treatment_id:
        abort(404)
    return _retry(sending, _treatment_page(treatment_id))


# ---- the practice's message templates -------------------------------------------------------------------------

def _kind(value: str) -> MessageKind:
    try:
        return MessageKind(value)
    except ValueError:
        abort(404)


@templates_bp.route("/")
@permission_required(Permission.PRACTICE_WRITE)
def index():
    rows = [(kind, templates.stored(kind), templates.current(kind)) for kind in MessageKind]
    return render_template("mail/templates.html", rows=rows, labels=KIND_LABELS)


@templates_bp.route("/<kind>", methods=["GET", "POST"])
@permission_required(Permission.PRACTICE_WRITE)
def edit(kind: str):
    chosen = _kind(kind)
    stored = templates.stored(chosen)
    form = TemplateForm(chosen)
    if request.method == "GET":
        text = templates.current(chosen)
        form.subject.data, form.body.data = text.subject, text.body
    elif form.validate_on_submit() and form.submit.data:  # "Preview" only shows the text filled in below
        try:
            templates.save(chosen, form.subject.data or "", form.body.data or "", current_staff())
        except templates.TemplateRefused as error:
            unit_of_work.discard()
            form.body.errors = [*form.body.errors, str(error)]
        else:
            flash(_("The message \"%(kind)s\" is saved; it is used from the next e-mail on.",
                    kind=_(KIND_LABELS[chosen])), "success")
            return redirect(url_for("mail_templates.index"))
    preview = None
    if not form.errors:
        try:
            preview = templates.preview(chosen, form.subject.data or "", form.body.data or "")
        except TemplateError as error:  # a stored text from before a placeholder was withdrawn
            form.body.errors = [*form.body.errors, str(error)]
    return render_template("mail/template_form.html", form=form, kind=chosen, label=KIND_LABELS[chosen],
                           stored=stored, preview=preview, placeholders=[
                               (name, PLACEHOLDERS[name]) for name in KIND_PLACEHOLDERS[chosen]]), \
        422 if form.errors else 200


@templates_bp.route("/<kind>/reset", methods=["POST"])
@permission_required(Permission.PRACTICE_WRITE)
def reset(kind: str):
    chosen = _kind(kind)
    if templates.reset(chosen):
        flash(_("The message \"%(kind)s\" is the default text again.", kind=_(KIND_LABELS[chosen])), "success")
    else:
        flash(_("The message \"%(kind)s\" was already the default text.", kind=_(KIND_LABELS[chosen])), "info")
    return redirect(url_for("mail_templates.index"))
