"""Invoice pages: the list of all invoices, draft from a patient's treatments, issue, download, credit, payments,
overdue list, and the declaration and aftercare PDFs. Thin: the use cases are in services.py and declarations.py.
No view commits: the request is one unit of work (unit_of_work.py). A refused action posted from the invoice page
is answered by the error handler (errors.py: rolled back, flashed, back to that page); a view that shows the
refusal itself (in its form, or on a download's page) first discards the use case's changes. Every page or
download that shows a patient's data writes the access log."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _

from .. import audit, exports, unit_of_work
from ..care import services as care
from ..clock import clinic_today
from ..domain import invoicing as rules
from ..domain.dutch import nl_date
from ..domain.money import format_euro, from_cents
from ..domain.roles import Permission
from ..domain.statuses import InvoiceStatus
from ..domain.texts import Text
from ..extensions import db
from ..mail import services as mail
from ..models import PAYMENT_METHODS, SETTLEMENT_KINDS, CreditNote, Invoice, InvoiceLine, Patient, Payment, Treatment
from ..printing import tasks
from ..printing.views import progress_script_response
from ..reminders import services as reminders
from ..security import current_staff, permission_required
from . import declarations, documents, insurer_parts, payment_list, services
from .forms import CreditForm, DraftForm, PaymentForm, RefundForm, ReversalForm
from .services import InvoiceError, MissingData

bp = Blueprint("invoices", __name__, url_prefix="/invoices")


def _invoice(invoice_id: int) -> Invoice:
    return db.get_or_404(Invoice, invoice_id)


def _subject(invoice: Invoice) -> str:
    return f"invoice {invoice.number}" if invoice.number else f"invoice draft {invoice.id}"


def _to_invoice(invoice_id: int):
    return redirect(url_for("invoices.detail", invoice_id=invoice_id))


def _pdf_response(data: bytes, filename: str) -> Response:
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _pdf_download(produce, filename: str, back):
    """Produce the PDF (which writes its access-log entry), or drop what it did and go `back` with the refusal
    (a MissingData message names every missing field): a download refused goes back to its page, not to an
    error page."""
    try:
        data = produce()
    except InvoiceError as error:
        unit_of_work.discard()
        flash(str(error), "danger")
        return back
    return _pdf_response(data, filename)


# ---- draft ------------------------------------------------------------------------------------------------

def _treatment_label(treatment: Treatment) -> str:
    kind = _("medical") if treatment.medical else _("cosmetic")
    return (f"{nl_date(treatment.treatment_date)} {treatment.catalogue_item.name} ({kind}), "
            f"{treatment.therapist.name}, {format_euro(from_cents(treatment.price_cents))}")


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def create():
    patient_id = request.args.get("patient_id", type=int)
    if patient_id is None:
        return _choose_patient()
    patient = db.get_or_404(Patient, patient_id)
    treatments = services.invoiceable_treatments(patient)
    form = DraftForm()
    form.treatment_ids.choices = [(t.id, _treatment_label(t)) for t in treatments]
    if request.method == "GET":
        form.treatment_ids.data = [t.id for t in treatments]
    elif form.validate_on_submit():
        try:
            invoice = services.draft_invoice(patient, form.treatment_ids.data, current_staff())
        except InvoiceError as error:
            unit_of_work.discard()
            form.treatment_ids.errors.append(str(error))
        else:
            flash(_("Draft invoice with %(num)d treatment(s) created: check it, then issue it.",
                    num=len(invoice.lines)), "success")
            return _to_invoice(invoice.id)
    audit.record("view", patient_id, "invoiceable treatments")
    return render_template("invoices/new.html", form=form, patient=db.session.get(Patient, patient_id),
                           treatments=treatments), 422 if form.errors else 200


def _choose_patient():
    """/invoices/new without a patient: the patients with treatments not yet invoiced (each to draft one invoice),
    and the way to bulk invoicing (backoffice/invoice_runs/)."""
    from ..invoice_runs import services as runs

    today = clinic_today()
    own = care.own_patient_ids(current_staff())
    after, before = runs.GROUP_ORDER.cursors(request.args)
    page = runs.uninvoiced_page(today, current_app.config["PAGE_SIZE"], after, before, only_patients=own)
    if page.items:
        audit.record_shown("view", "treatments not yet invoiced", [group.patient.id for group in page.items])
    return render_template("invoices/choose_patient.html", page=page, summary=runs.summary(today, own), today=today)


@bp.route("/<int:invoice_id>/lines/<int:line_id>/remove", methods=["POST"])
@permission_required(Permission.INVOICES_WRITE)
def remove_line(invoice_id: int, line_id: int):
    services.remove_line(_invoice(invoice_id), line_id, current_staff())
    flash(_("Treatment removed from the draft; it can be invoiced again."), "info")
    return _to_invoice(invoice_id)


@bp.route("/<int:invoice_id>/delete", methods=["POST"])
@permission_required(Permission.INVOICES_WRITE)
def delete(invoice_id: int):
    invoice = _invoice(invoice_id)
    patient_id = invoice.patient_id
    services.delete_draft(invoice, current_staff())
    flash(_("Draft invoice deleted; its treatments can be invoiced again."), "info")
    return redirect(url_for("patients.detail", patient_id=patient_id))


# ---- issue and view ---------------------------------------------------------------------------------------

@bp.route("/<int:invoice_id>/issue", methods=["POST"])
@permission_required(Permission.INVOICES_WRITE)
def issue(invoice_id: int):
    """Idempotent: a double-click or a resubmitted form finds the invoice issued and shows it.

    With a print worker the draft is checked here and issued by the worker right after (its PDF is not rendered in
    the request: services.request_issue); without one, or when an earlier request went stale, it is issued here."""
    invoice = _invoice(invoice_id)
    if invoice.status == InvoiceStatus.ISSUED:
        flash(_("Invoice %(number)s was already issued; nothing changed.", number=invoice.number), "info")
        return _to_invoice(invoice_id)
    earlier = services.issue_request(invoice)  # one the worker failed or never ran: issued here this time
    background = tasks.in_background() and (earlier is None or services.issue_pending(earlier))
    try:
        if background:
            request_ = services.request_issue(invoice, current_staff())
        else:
            invoice = services.issue_invoice(invoice, current_staff())
    except MissingData as error:
        unit_of_work.discard()
        invoice = _invoice(invoice_id)
        audit.record("view", invoice.patient_id, _subject(invoice), "issue refused: data missing")
        return _render_detail(invoice, refused=error.fields), 422
    if not background:
        flash(_("Invoice %(number)s issued.", number=invoice.number), "success")
    elif request_ is not None:
        unit_of_work.after_commit(lambda: tasks.enqueue_issue(invoice_id))
        flash(_("The invoice is being issued: its number and PDF follow in a moment."), "info")
    return _to_invoice(invoice_id)


@bp.route("/<int:invoice_id>/issue-status")
@permission_required(Permission.INVOICES_READ)
def issue_status(invoice_id: int):
    """What the invoice page polls while the worker issues the draft: "running" until it is issued ("done") or the
    request failed or went stale ("failed"). Only a status, no patient data: not logged (the page itself is)."""
    invoice = _invoice(invoice_id)
    if invoice.status == InvoiceStatus.ISSUED:
        status = "done"
    else:
        status = "running" if services.issue_pending(services.issue_request(invoice)) else "failed"
    return jsonify({"status": status})


@bp.route("/progress.js")
@permission_required(Permission.INVOICES_READ)
def progress_script():
    return progress_script_response()


def _render_detail(invoice: Invoice, refused: list[str | Text] | None = None):
    status = services.invoice_status(invoice)
    issue_request = services.issue_request(invoice)
    by_rate: tuple[object, ...]  # the printed VAT lines of an issued invoice, or the draft's totals per rate
    if invoice.status == InvoiceStatus.ISSUED:
        by_rate = services.invoice_document(invoice).vat_totals
        missing: list[str | Text] = []
    else:
        by_rate = rules.totals(documents.line_amounts(line) for line in invoice.lines).by_rate
        missing = refused if refused is not None else list(services.missing_for_invoice(invoice))
    declarable = invoice.status == InvoiceStatus.ISSUED and bool(declarations.declared_lines(invoice))
    return render_template(
        "invoices/detail.html", invoice=invoice, patient=invoice.patient, status=status, by_rate=by_rate,
        missing=missing, refused=refused is not None, declarable=declarable,
        declaration_missing=declarations.missing_for_declaration(invoice) if declarable else [],
        claim_missing=services.claim_gaps_for_invoice(invoice) if invoice.status == InvoiceStatus.DRAFT else [],
        open_lines=[line for line in invoice.lines if line.credit_line is None],
        payment_methods=PAYMENT_METHODS, line_shares=insurer_parts.line_shares(invoice),
        settlement_kinds=SETTLEMENT_KINDS,
        sendings=mail.sendings_for(invoice_ids=[invoice.id]) if invoice.status == InvoiceStatus.ISSUED else [],
        reminder_panel=reminders.invoice_panel(invoice),
        issue_request=issue_request, issue_pending=services.issue_pending(issue_request),
    )


@bp.route("/<int:invoice_id>")
@permission_required(Permission.INVOICES_READ)
def detail(invoice_id: int):
    invoice = _invoice(invoice_id)
    audit.record("view", invoice.patient_id, _subject(invoice))
    return _render_detail(invoice)


# ---- documents --------------------------------------------------------------------------------------------

@bp.route("/<int:invoice_id>/pdf")
@permission_required(Permission.INVOICES_READ)
def pdf(invoice_id: int):
    """The bytes stored at issue, every time."""
    invoice = _invoice(invoice_id)
    return _pdf_download(lambda: services.invoice_pdf(invoice, current_staff()), f"factuur-{invoice.number}.pdf",
                         _to_invoice(invoice_id))


@bp.route("/credit-notes/<int:credit_note_id>/pdf")
@permission_required(Permission.INVOICES_READ)
def credit_note_pdf(credit_note_id: int):
    credit_note = db.get_or_404(CreditNote, credit_note_id)
    return _pdf_download(lambda: services.credit_note_pdf(credit_note, current_staff()),
                         f"creditnota-{credit_note.number}.pdf", _to_invoice(credit_note.invoice_id))


@bp.route("/<int:invoice_id>/declaration.pdf")
@permission_required(Permission.INVOICES_READ)
def declaration_pdf(invoice_id: int):
    invoice = _invoice(invoice_id)
    return _pdf_download(lambda: declarations.declaration_pdf(invoice, current_staff()),
                         f"declaratie-{invoice.number}.pdf", _to_invoice(invoice_id))


@bp.route("/treatments/<int:treatment_id>/aftercare.pdf")
@permission_required(Permission.TREATMENTS_READ)
def aftercare_pdf(treatment_id: int):
    treatment = db.get_or_404(Treatment, treatment_id)
    return _pdf_download(lambda: declarations.aftercare_pdf(treatment, current_staff()),
                         f"nazorg-{treatment.treatment_date.isoformat()}-{treatment.id}.pdf",
                         redirect(url_for("treatments.detail", treatment_id=treatment_id)))


# ---- credit and payments ----------------------------------------------------------------------------------

def _line_label(line: InvoiceLine) -> str:
    return (f"{nl_date(line.treatment_date)} {line.description}, "
            f"{format_euro(from_cents(line.gross_cents))}")


@bp.route("/<int:invoice_id>/credit", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def credit(invoice_id: int):
    invoice = _invoice(invoice_id)
    open_lines = [line for line in invoice.lines if line.credit_line is None]
    if invoice.status != InvoiceStatus.ISSUED or not open_lines:
        flash(_("Only an issued invoice with lines not yet credited can be credited."), "warning")
        return _to_invoice(invoice_id)
    form = CreditForm()
    form.line_ids.choices = [(line.id, _line_label(line)) for line in open_lines]
    if form.validate_on_submit():
        try:
            note = services.credit_invoice(invoice, form.line_ids.data, form.reason.data, current_staff())
        except InvoiceError as error:  # MissingData included
            unit_of_work.discard()
            form.line_ids.errors.append(str(error))
        else:
            flash(_("Credit note %(note)s issued for %(num)d line(s) of invoice %(number)s; the treatments can be "
                    "invoiced again.", note=note.number, num=len(note.lines), number=invoice.number), "success")
            return _to_invoice(invoice_id)
    invoice = _invoice(invoice_id)
    audit.record("view", invoice.patient_id, _subject(invoice), "credit form")
    return render_template("invoices/credit.html", form=form, invoice=invoice), 422 if form.errors else 200


def _money_form_page(invoice: Invoice, form, template: str, what: str):
    invoice = _invoice(invoice.id)
    audit.record("view", invoice.patient_id, _subject(invoice), what)
    return render_template(template, form=form, invoice=invoice, status=services.invoice_status(invoice)), \
        422 if form.errors else 200


@bp.route("/<int:invoice_id>/payments/new", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def add_payment(invoice_id: int):
    invoice = _invoice(invoice_id)
    if invoice.status != InvoiceStatus.ISSUED:
        flash(_("Payments are recorded against issued invoices only."), "warning")
        return _to_invoice(invoice_id)
    form = PaymentForm()
    if request.method == "GET":
        form.paid_on.data = clinic_today()
        balance = services.invoice_status(invoice).balance
        form.amount.data = balance if balance > 0 else None
    elif form.validate_on_submit():
        try:
            payment = services.record_payment(invoice, form.paid_on.data, form.method.data, form.amount.data,
                                              form.note.data or "", current_staff(),
                                              overpayment=bool(form.overpayment.data))
        except InvoiceError as error:
            unit_of_work.discard()
            form.amount.errors.append(str(error))
        else:
            if payment.overpayment:
                flash(_("Payment of %(amount)s recorded as an overpayment: %(refund)s is to be refunded.",
                        amount=format_euro(form.amount.data),
                        refund=format_euro(-services.invoice_status(invoice).balance)), "warning")
            else:
                flash(_("Payment of %(amount)s recorded.", amount=format_euro(form.amount.data)), "success")
            return _to_invoice(invoice_id)
    return _money_form_page(invoice, form, "invoices/payment.html", "payment form")


@bp.route("/<int:invoice_id>/refunds/new", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def add_refund(invoice_id: int):
    """Money paid back to the patient after an overpayment (at most what was paid too much)."""
    invoice = _invoice(invoice_id)
    if invoice.status != InvoiceStatus.ISSUED:
        flash(_("Payments are recorded against issued invoices only."), "warning")
        return _to_invoice(invoice_id)
    form = RefundForm()
    if request.method == "GET":
        form.paid_on.data = clinic_today()
        balance = services.invoice_status(invoice).balance
        form.amount.data = -balance if balance < 0 else None
    elif form.validate_on_submit():
        try:
            services.record_refund(invoice, form.paid_on.data, form.method.data, form.amount.data,
                                   form.note.data or "", current_staff())
        except InvoiceError as error:
            unit_of_work.discard()
            form.amount.errors.append(str(error))
        else:
            flash(_("Refund of %(amount)s recorded.", amount=format_euro(form.amount.data)), "success")
            return _to_invoice(invoice_id)
    return _money_form_page(invoice, form, "invoices/refund.html", "refund form")


@bp.route("/<int:invoice_id>/payments/<int:payment_id>/reverse", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def reverse_payment(invoice_id: int, payment_id: int):
    """A payment recorded in error is reversed by a reversal entry with a reason; nothing is deleted."""
    invoice = _invoice(invoice_id)
    payment = db.get_or_404(Payment, payment_id)
    if payment.invoice_id != invoice.id:
        abort(404)
    if payment.reverses_id is not None or payment.reversal is not None:
        flash(_("This payment was reversed already, or is itself a reversal: nothing to reverse."), "warning")
        return _to_invoice(invoice_id)
    form = ReversalForm()
    if form.validate_on_submit():
        try:
            services.reverse_payment(invoice, payment.id, form.reason.data, current_staff())
        except InvoiceError as error:
            unit_of_work.discard()
            form.reason.errors.append(str(error))
        else:
            flash(_("Payment of %(amount)s of %(date)s reversed; the balance is restored.",
                    amount=format_euro(from_cents(payment.amount_cents)), date=nl_date(payment.paid_on)), "success")
            return _to_invoice(invoice_id)
    invoice = _invoice(invoice_id)
    audit.record("view", invoice.patient_id, _subject(invoice), "payment reversal form")
    return render_template("invoices/reverse.html", form=form, invoice=invoice,
                           payment=db.session.get(Payment, payment_id), payment_methods=PAYMENT_METHODS), \
        422 if form.errors else 200


@bp.route("/<int:invoice_id>/lines/<int:line_id>/settle", methods=["POST"])
@permission_required(Permission.CLAIMS_WRITE)
def settle_shortfall(invoice_id: int, line_id: int):
    """Direct billing: what the insurer did not pay of a line's part goes to the patient or is written off."""
    invoice = _invoice(invoice_id)
    try:
        settlement = insurer_parts.settle_shortfall(invoice, line_id, request.form.get("kind", ""),
                                                    request.form.get("reason", ""), current_staff())
    except insurer_parts.SettlementError as error:
        unit_of_work.discard()
        flash(str(error), "danger")
    else:
        flash(insurer_parts.settled_message(settlement), "success")
    return _to_invoice(invoice_id)


@bp.route("/")
@permission_required(Permission.INVOICES_READ)
def list_invoices():
    filters = services.parse_list_filters(request.args)
    after = services.ListCursor.parse(request.args.get("after"))
    before = None if after else services.ListCursor.parse(request.args.get("before"))
    page = services.list_invoices(filters, current_app.config["PAGE_SIZE"], after=after, before=before,
                                  only_patients=care.own_patient_ids(current_staff()))
    # As the patient list: one entry naming the patients shown, never the words typed.
    shown = [row.invoice.patient_id for row in page.rows]
    if filters.q or shown:
        audit.record_shown("search" if filters.q else "view", "invoice list", shown,
                           "patient search" if filters.q else "")
    args = {k: v for k, v in request.args.items() if k not in ("after", "before") and v}
    return render_template("invoices/list.html", page=page, filters=filters, args=args,
                           statuses=services.LIST_STATUSES, month_text=request.args.get("month", ""))


@bp.route("/overdue")
@permission_required(Permission.INVOICES_READ)
def overdue():
    after, before = services.OVERDUE_ORDER.cursors(request.args)
    page = services.overdue_page(current_app.config["PAGE_SIZE"], after, before,
                                 patients=care.own_patient_ids(current_staff()))
    if page.items:
        audit.record_shown("view", "overdue invoice list", [row.invoice.patient_id for row in page.items])
    return render_template("invoices/overdue.html", rows=page.items, page=page,
                           term_days=int(current_app.config.get("INVOICE_PAYMENT_TERM_DAYS", 14)),
                           reminder_stages=reminders.stages_for(row.invoice.id for row in page.items))


@bp.route("/payments")
@permission_required(Permission.INVOICES_READ)
def payments():
    """Every payment, refund and reversal, newest first, by month, method and patient."""
    filters = payment_list.parse_filters(request.args)
    after, before = payment_list.LIST_ORDER.cursors(request.args)
    page = payment_list.list_page(filters, current_app.config["PAGE_SIZE"], after, before,
                                  only_patients=care.own_patient_ids(current_staff()))
    shown = [payment.invoice.patient_id for payment in page.items]
    if filters.q or shown:
        audit.record_shown("search" if filters.q else "view", "payment list", shown,
                           "patient search" if filters.q else "")
    args = {k: v for k, v in request.args.items() if k not in ("after", "before") and v}
    return render_template("invoices/payments.html", page=page, filters=filters, args=args,
                           methods=PAYMENT_METHODS, month_text=request.args.get("month", ""))


# ---- exports of the lists (backoffice/exports/): every row the filters show, logged ----------------------------

@bp.route("/export")
@permission_required(Permission.INVOICES_READ)
def export():
    return exports.respond(exports.invoices(services.parse_list_filters(request.args), current_staff()),
                           exports.export_format(request.args))


@bp.route("/overdue/export")
@permission_required(Permission.INVOICES_READ)
def export_overdue():
    return exports.respond(exports.overdue(current_staff()), exports.export_format(request.args))


@bp.route("/payments/export")
@permission_required(Permission.INVOICES_READ)
def export_payments():
    return exports.respond(exports.payments(payment_list.parse_filters(request.args), current_staff()),
                           exports.export_format(request.args))
