"""Invoice pages: the list of all invoices, draft from a patient's treatments, issue, download, credit, payments,
overdue list, and the declaration and aftercare PDFs. Thin: the use cases are in services.py and declarations.py;
each view commits once, and every page or download that shows a patient's data writes the access log."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from .. import audit
from ..domain import invoicing as rules
from ..domain.money import format_euro, from_cents
from ..domain.roles import Permission
from ..extensions import db
from ..models import PAYMENT_METHODS, CreditNote, Invoice, InvoiceLine, Patient, Treatment
from ..security import permission_required
from . import declarations, documents, services
from .forms import CreditForm, DraftForm, PaymentForm
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
    """Produce the PDF (which writes its access-log entry) and commit, or roll back and go `back` with the
    refusal (a MissingData message names every missing field)."""
    try:
        data = produce()
    except InvoiceError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return back
    db.session.commit()
    return _pdf_response(data, filename)


# ---- draft ------------------------------------------------------------------------------------------------

def _treatment_label(treatment: Treatment) -> str:
    kind = "medical" if treatment.medical else "cosmetic"
    return (f"{treatment.treatment_date:%d-%m-%Y} {treatment.catalogue_item.name} ({kind}), "
            f"{treatment.therapist.name}, {format_euro(from_cents(treatment.price_cents))}")


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def create():
    patient_id = request.args.get("patient_id", type=int)
    if patient_id is None:
        abort(404)
    patient = db.get_or_404(Patient, patient_id)
    treatments = services.invoiceable_treatments(patient)
    form = DraftForm()
    form.treatment_ids.choices = [(t.id, _treatment_label(t)) for t in treatments]
    if request.method == "GET":
        form.treatment_ids.data = [t.id for t in treatments]
    elif form.validate_on_submit():
        try:
            invoice = services.draft_invoice(patient, form.treatment_ids.data, current_user)
        except InvoiceError as error:
            db.session.rollback()
            form.treatment_ids.errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Draft invoice with {len(invoice.lines)} treatment(s) created: check it, then issue it.",
                  "success")
            return _to_invoice(invoice.id)
    audit.record("view", patient_id, "invoiceable treatments")
    db.session.commit()
    return render_template("invoices/new.html", form=form, patient=db.session.get(Patient, patient_id),
                           treatments=treatments), 422 if form.errors else 200


@bp.route("/<int:invoice_id>/lines/<int:line_id>/remove", methods=["POST"])
@permission_required(Permission.INVOICES_WRITE)
def remove_line(invoice_id: int, line_id: int):
    invoice = _invoice(invoice_id)
    try:
        services.remove_line(invoice, line_id, current_user)
    except InvoiceError as error:
        db.session.rollback()
        flash(str(error), "danger")
    else:
        db.session.commit()
        flash("Treatment removed from the draft; it can be invoiced again.", "info")
    return _to_invoice(invoice_id)


@bp.route("/<int:invoice_id>/delete", methods=["POST"])
@permission_required(Permission.INVOICES_WRITE)
def delete(invoice_id: int):
    invoice = _invoice(invoice_id)
    patient_id = invoice.patient_id
    try:
        services.delete_draft(invoice, current_user)
    except InvoiceError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return _to_invoice(invoice_id)
    db.session.commit()
    flash("Draft invoice deleted; its treatments can be invoiced again.", "info")
    return redirect(url_for("patients.detail", patient_id=patient_id))


# ---- issue and view ---------------------------------------------------------------------------------------

@bp.route("/<int:invoice_id>/issue", methods=["POST"])
@permission_required(Permission.INVOICES_WRITE)
def issue(invoice_id: int):
    """Idempotent: a double-click or a resubmitted form finds the invoice issued and shows it."""
    invoice = _invoice(invoice_id)
    if invoice.status == "issued":
        flash(f"Invoice {invoice.number} was already issued; nothing changed.", "info")
        return _to_invoice(invoice_id)
    try:
        invoice = services.issue_invoice(invoice, current_user)
    except MissingData as error:
        db.session.rollback()
        invoice = _invoice(invoice_id)
        audit.record("view", invoice.patient_id, _subject(invoice), "issue refused: data missing")
        db.session.commit()
        return _render_detail(invoice, refused=error.fields), 422
    except InvoiceError as error:
        db.session.rollback()
        flash(str(error), "danger")
        return _to_invoice(invoice_id)
    db.session.commit()
    flash(f"Invoice {invoice.number} issued.", "success")
    return _to_invoice(invoice_id)


def _render_detail(invoice: Invoice, refused: list[str] | None = None):
    status = services.invoice_status(invoice)
    if invoice.status == "issued":
        by_rate = services.invoice_document(invoice).vat_totals
        missing: list[str] = []
    else:
        by_rate = rules.totals(documents.line_amounts(line) for line in invoice.lines).by_rate
        missing = refused if refused is not None else services.missing_for_invoice(invoice)
    declarable = invoice.status == "issued" and bool(declarations.declared_lines(invoice))
    return render_template(
        "invoices/detail.html", invoice=invoice, patient=invoice.patient, status=status, by_rate=by_rate,
        missing=missing, refused=refused is not None, declarable=declarable,
        declaration_missing=declarations.missing_for_declaration(invoice) if declarable else [],
        open_lines=[line for line in invoice.lines if line.credit_line is None],
        payment_methods=PAYMENT_METHODS,
    )


@bp.route("/<int:invoice_id>")
@permission_required(Permission.INVOICES_READ)
def detail(invoice_id: int):
    invoice = _invoice(invoice_id)
    audit.record("view", invoice.patient_id, _subject(invoice))
    db.session.commit()
    return _render_detail(invoice)


# ---- documents --------------------------------------------------------------------------------------------

@bp.route("/<int:invoice_id>/pdf")
@permission_required(Permission.INVOICES_READ)
def pdf(invoice_id: int):
    """The bytes stored at issue, every time."""
    invoice = _invoice(invoice_id)
    return _pdf_download(lambda: services.invoice_pdf(invoice, current_user), f"factuur-{invoice.number}.pdf",
                         _to_invoice(invoice_id))


@bp.route("/credit-notes/<int:credit_note_id>/pdf")
@permission_required(Permission.INVOICES_READ)
def credit_note_pdf(credit_note_id: int):
    credit_note = db.get_or_404(CreditNote, credit_note_id)
    return _pdf_download(lambda: services.credit_note_pdf(credit_note, current_user),
                         f"creditnota-{credit_note.number}.pdf", _to_invoice(credit_note.invoice_id))


@bp.route("/<int:invoice_id>/declaration.pdf")
@permission_required(Permission.INVOICES_READ)
def declaration_pdf(invoice_id: int):
    invoice = _invoice(invoice_id)
    return _pdf_download(lambda: declarations.declaration_pdf(invoice, current_user),
                         f"declaratie-{invoice.number}.pdf", _to_invoice(invoice_id))


@bp.route("/treatments/<int:treatment_id>/aftercare.pdf")
@permission_required(Permission.TREATMENTS_READ)
def aftercare_pdf(treatment_id: int):
    treatment = db.get_or_404(Treatment, treatment_id)
    return _pdf_download(lambda: declarations.aftercare_pdf(treatment, current_user),
                         f"nazorg-{treatment.treatment_date:%Y-%m-%d}-{treatment.id}.pdf",
                         redirect(url_for("treatments.detail", treatment_id=treatment_id)))


# ---- credit and payments ----------------------------------------------------------------------------------

def _line_label(line: InvoiceLine) -> str:
    return (f"{line.treatment_date:%d-%m-%Y} {line.description}, "
            f"{format_euro(from_cents(line.gross_cents))}")


@bp.route("/<int:invoice_id>/credit", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def credit(invoice_id: int):
    invoice = _invoice(invoice_id)
    open_lines = [line for line in invoice.lines if line.credit_line is None]
    if invoice.status != "issued" or not open_lines:
        flash("Only an issued invoice with lines not yet credited can be credited.", "warning")
        return _to_invoice(invoice_id)
    form = CreditForm()
    form.line_ids.choices = [(line.id, _line_label(line)) for line in open_lines]
    if form.validate_on_submit():
        try:
            note = services.credit_invoice(invoice, form.line_ids.data, form.reason.data, current_user)
        except InvoiceError as error:  # MissingData included
            db.session.rollback()
            form.line_ids.errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Credit note {note.number} issued for {len(note.lines)} line(s) of invoice "
                  f"{invoice.number}; the treatments can be invoiced again.", "success")
            return _to_invoice(invoice_id)
    invoice = _invoice(invoice_id)
    audit.record("view", invoice.patient_id, _subject(invoice), "credit form")
    db.session.commit()
    return render_template("invoices/credit.html", form=form, invoice=invoice), 422 if form.errors else 200


@bp.route("/<int:invoice_id>/payments/new", methods=["GET", "POST"])
@permission_required(Permission.INVOICES_WRITE)
def add_payment(invoice_id: int):
    invoice = _invoice(invoice_id)
    if invoice.status != "issued":
        flash("Payments are recorded against issued invoices only.", "warning")
        return _to_invoice(invoice_id)
    form = PaymentForm()
    if request.method == "GET":
        form.paid_on.data = date.today()
        balance = services.invoice_status(invoice).balance
        form.amount.data = balance if balance > 0 else None
    elif form.validate_on_submit():
        try:
            services.record_payment(invoice, form.paid_on.data, form.method.data, form.amount.data,
                                    form.note.data or "", current_user)
        except InvoiceError as error:
            db.session.rollback()
            form.amount.errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Payment of {format_euro(form.amount.data)} recorded.", "success")
            return _to_invoice(invoice_id)
    invoice = _invoice(invoice_id)
    audit.record("view", invoice.patient_id, _subject(invoice), "payment form")
    db.session.commit()
    return render_template("invoices/payment.html", form=form, invoice=invoice), 422 if form.errors else 200


@bp.route("/")
@permission_required(Permission.INVOICES_READ)
def list_invoices():
    filters = services.parse_list_filters(request.args)
    after = services.ListCursor.parse(request.args.get("after"))
    before = None if after else services.ListCursor.parse(request.args.get("before"))
    page = services.list_invoices(filters, current_app.config["PAGE_SIZE"], after=after, before=before)
    if filters.q:
        # As the patient list: log that a patient was searched for, never the words typed (they may hold a BSN).
        audit.record("search", None, "invoice list", f"patient search, {len(page.rows)} shown")
        db.session.commit()
    args = {k: v for k, v in request.args.items() if k not in ("after", "before") and v}
    return render_template("invoices/list.html", page=page, filters=filters, args=args,
                           statuses=services.LIST_STATUSES)


@bp.route("/overdue")
@permission_required(Permission.INVOICES_READ)
def overdue():
    size = current_app.config["PAGE_SIZE"]
    rows = services.overdue_invoices(after=services.overdue_cursor(request.args.get("after")), limit=size + 1)
    rows, more = rows[:size], len(rows) > size
    for patient_id in dict.fromkeys(row.invoice.patient_id for row in rows):
        audit.record("view", patient_id, "overdue invoice list")
    db.session.commit()
    after = f"{rows[-1].invoice.due_date.isoformat()}_{rows[-1].invoice.number}" if more else None
    return render_template("invoices/overdue.html", rows=rows, after=after, paged=bool(request.args.get("after")))


# ---- the patient's documents (patient page) ----------------------------------------------------------------

@bp.app_template_global()
def patient_invoice_documents(patient_id: int) -> dict:
    """Drafts, issued invoices with their status, and credit notes of one patient (newest first)."""
    invoices = db.session.scalars(
        select(Invoice)
        .options(selectinload(Invoice.payments), selectinload(Invoice.credit_notes),
                 selectinload(Invoice.lines).selectinload(InvoiceLine.credit_line))
        .where(Invoice.patient_id == patient_id)
        .order_by(Invoice.id.desc())
    ).all()
    return {
        "drafts": [invoice for invoice in invoices if invoice.status == "draft"],
        "issued": [(invoice, services.invoice_status(invoice)) for invoice in invoices if invoice.status == "issued"],
        "credit_notes": sorted((note for invoice in invoices for note in invoice.credit_notes),
                               key=lambda note: note.id, reverse=True),
    }
