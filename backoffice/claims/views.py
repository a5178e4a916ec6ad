"""Claim pages: batches (build, validate, export, submit, outcomes, resubmit), remittance import with mapping and
preview, patient-submitted claims, outcome statistics and per-insurer settings. Thin: the use cases are in the
modules beside this one (batches, validation, export, outcomes, patient_claims, settings, remittance). No view
commits: the request is one unit of work (unit_of_work.py). A refused action posted from the page it returns to
is answered by the error handler (errors.py: rolled back, flashed, back to that page); a view that shows the
refusal in its own form first discards the use case's changes. Every page or download that shows patients' data
writes the access log."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    has_request_context,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from .. import audit, exports, unit_of_work
from ..care import services as care
from ..clock import clinic_today
from ..domain import claim_reasons
from ..domain.claim_lifecycle import BATCH_STATUS_LABELS, LINE_STATUS_LABELS
from ..domain.claims import DEFAULT_COLUMN_KEYS, BatchStatus, ClaimTemplate, LineStatus
from ..domain.dutch import nl_date
from ..domain.money import format_euro, from_cents
from ..domain.months import Month
from ..domain.roles import Permission
from ..domain.statuses import RemittanceStatus
from ..extensions import db
from ..i18n import current_language
from ..models import REMITTANCE_FIELDS, ClaimBatch, ClaimLine, Insurer, InvoiceLine, PatientClaim, RemittanceImport
from ..security import can, current_staff, permission_required
from . import batches, line_list, remittance, validation
from .common import ClaimError, claim_period, period_label
from .export import export_batch
from .forms import (
    MappingForm,
    NewBatchForm,
    OutcomeForm,
    PatientClaimForm,
    RemittanceUploadForm,
    SettingsForm,
    parse_template,
    template_text,
)
from .outcomes import outcome_statistics, record_line_outcome
from .patient_claims import patient_claimable_lines, record_patient_claim, recorded_patient_claims
from .remittance import FIELD_LABELS, RemittanceError
from .settings import claim_template, save_settings, settings_for

bp = Blueprint("claims", __name__, url_prefix="/claims")

STATUS_COLOURS = {"draft": "secondary", "exported": "info", "submitted": "primary", "closed": "success",
                  "cancelled": "dark", "pending": "secondary", "paid": "success", "partly_paid": "warning",
                  "rejected": "danger", "previewed": "info", "applied": "success"}


REMITTANCE_STATUS_LABELS = {RemittanceStatus.PREVIEWED.value: _l("previewed"),
                            RemittanceStatus.APPLIED.value: _l("applied")}
STATUS_LABELS = {**{s.value: _l(label) for s, label in BATCH_STATUS_LABELS.items()},
                 **{s.value: _l(label) for s, label in LINE_STATUS_LABELS.items()}, **REMITTANCE_STATUS_LABELS}


def _reader_language() -> str:
    """The language claim reasons are shown in: the signed-in user's (Dutch outside a request)."""
    return current_language() if has_request_context() else claim_reasons.DEFAULT_LANGUAGE


@bp.record_once
def _reasons_in_the_readers_language(state) -> None:
    claim_reasons.set_language_source(_reader_language)


def claim_status_label(status: str) -> str:
    """A batch, claim line or remittance status as a word in the reader's language (never the stored code)."""
    label = STATUS_LABELS.get(str(status))
    return str(label) if label is not None else str(status)


@bp.app_context_processor
def _claim_helpers():
    return {"claim_status_colour": lambda status: STATUS_COLOURS.get(status, "secondary"),
            "claim_status_label": claim_status_label, "rejection_reason": claim_reasons.stored_reason,
            "internal_reason_codes": claim_reasons.INTERNAL_CODES,
            "batch_period": lambda batch: period_label(batch.period_start, batch.period_end)}


def _insurers(direct: bool | None = None) -> list[Insurer]:
    insurers = list(db.session.scalars(select(Insurer).where(Insurer.active).order_by(Insurer.name)))
    if direct is None:
        return insurers
    return [i for i in insurers if bool(settings_for(i.id).direct_billing) == direct]


def _to_batch(batch_id: int):
    return redirect(url_for("claims.batch", batch_id=batch_id))


# ---- batches ----------------------------------------------------------------------------------------------


@bp.route("/")
@permission_required(Permission.CLAIMS_READ)
def index():
    return render_template("claims/index.html", batches=batches.batches())


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.CLAIMS_WRITE)
def new_batch():
    form = NewBatchForm()
    insurers = _insurers(direct=True)
    form.insurer_id.choices = [(i.id, f"{i.name} ({i.uzovi})") for i in insurers]
    if request.method == "GET" and not form.period.data:
        form.period.data = Month.of(clinic_today()).previous()
        form.insurer_id.data = request.args.get("insurer_id", type=int)
    if form.validate_on_submit():
        insurer = db.get_or_404(Insurer, form.insurer_id.data)
        try:
            batch = batches.create_batch(insurer, *claim_period(form.period.data), user=current_staff())
        except ClaimError as error:
            unit_of_work.discard()
            form.period.errors.append(str(error))
        else:
            totals = batches.batch_totals(batch.id)
            flash(_("Batch %(number)s built: %(included)s line(s) included, %(excluded)s excluded.",
                    number=batch.number, included=totals.included, excluded=totals.excluded), "success")
            return _to_batch(batch.id)
    return render_template("claims/new.html", form=form), 422 if form.errors else 200


def _outcome_form(view: batches.LineView) -> OutcomeForm:
    """The outcome form of one included line, filled with what is recorded (or the amount claimed)."""
    line = view.line
    form = OutcomeForm(formdata=None, prefix=f"line{line.id}")
    form.paid.data = from_cents(line.paid_cents if line.status != LineStatus.PENDING else line.claimed_cents)
    form.reason_code.data = line.rejection_code
    form.reason_text.data = line.rejection_text
    return form


def _resubmittable(included: list[batches.LineView]) -> list[batches.LineView]:
    """Rejected lines not yet claimed again in a batch that is not cancelled."""
    rejected = [v for v in included if v.line.status == LineStatus.REJECTED]
    if not rejected:
        return []
    again = set(db.session.scalars(
        select(ClaimLine.resubmission_of_id).join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
        .where(ClaimLine.resubmission_of_id.in_([v.line.id for v in rejected]),
               ClaimBatch.status != BatchStatus.CANCELLED.value)))
    return [v for v in rejected if v.line.id not in again]


def _render_batch(batch: ClaimBatch, outcome_forms: dict[int, OutcomeForm] | None = None, status: int = 200):
    lines = batches.batch_lines(batch)
    if lines:  # one entry naming the patients on the page (bench: one INSERT, not one per patient)
        audit.record_shown("view", f"claim batch {batch.number}", sorted({view.patient_id for view in lines}))
    included = [v for v in lines if v.line.included]
    excluded = [v for v in lines if not v.line.included]
    forms = {}
    if batch.status == BatchStatus.SUBMITTED.value and can(Permission.CLAIMS_WRITE):
        given = outcome_forms or {}
        forms = {view.line.id: given.get(view.line.id) or _outcome_form(view) for view in included}
    return render_template(
        "claims/batch.html", batch=batch, included=included, excluded=excluded, forms=forms,
        totals=batches.batch_totals(batch.id), resubmittable=_resubmittable(included),
        period=period_label(batch.period_start, batch.period_end),
        missing=batches.missing_data(lines) if batch.status == BatchStatus.DRAFT.value else [],
    ), status


@bp.route("/<int:batch_id>")
@permission_required(Permission.CLAIMS_READ)
def batch(batch_id: int):
    return _render_batch(db.get_or_404(ClaimBatch, batch_id))


@bp.route("/<int:batch_id>/validate", methods=["POST"])
@permission_required(Permission.CLAIMS_WRITE)
def validate(batch_id: int):
    result = validation.validate(db.get_or_404(ClaimBatch, batch_id), user=current_staff())
    flash(_("Validated again: %(included)s line(s) included, %(excluded)s excluded.",
            included=len(result.included), excluded=len(result.excluded)), "info")
    return _to_batch(batch_id)


@bp.route("/<int:batch_id>/export", methods=["POST"])
@permission_required(Permission.CLAIMS_WRITE)
def export(batch_id: int):
    batch = db.get_or_404(ClaimBatch, batch_id)
    result = export_batch(batch, current_staff())
    flash(_("Batch %(number)s exported: %(claimed)s line(s) claimed, %(excluded)s excluded. Download the workbook, "
            "send it to the insurer, then mark the batch submitted.", number=batch.number, claimed=result.claimed,
            excluded=result.excluded), "success")
    return _to_batch(batch_id)


@bp.route("/<int:batch_id>/workbook")
@permission_required(Permission.CLAIMS_READ)
def workbook(batch_id: int):
    """The exported workbook, written again from the frozen lines: the same bytes every time."""
    batch = db.get_or_404(ClaimBatch, batch_id)
    if batch.status in (BatchStatus.DRAFT.value, BatchStatus.CANCELLED.value):
        flash(_("Export the batch first: a draft has no workbook."), "warning")
        return _to_batch(batch_id)
    try:
        result = export_batch(batch, current_staff())
    except ClaimError as error:  # a download: back to the batch page with the refusal, not an error page
        unit_of_work.discard()
        flash(str(error), "danger")
        return _to_batch(batch_id)
    return send_file(result.path, as_attachment=True, download_name=result.filename, max_age=0,
                     mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@bp.route("/<int:batch_id>/submit", methods=["POST"])
@permission_required(Permission.CLAIMS_WRITE)
def submit(batch_id: int):
    batch = batches.mark_submitted(db.get_or_404(ClaimBatch, batch_id), current_staff())
    flash(_("Batch %(number)s marked as submitted: record the insurer's outcome per line or import its reply.",
            number=batch.number), "success")
    return _to_batch(batch_id)


@bp.route("/<int:batch_id>/cancel", methods=["POST"])
@permission_required(Permission.CLAIMS_WRITE)
def cancel(batch_id: int):
    batch = batches.cancel_batch(db.get_or_404(ClaimBatch, batch_id), current_staff())
    flash(_("Batch %(number)s cancelled; its lines can be claimed in another batch.", number=batch.number), "info")
    return _to_batch(batch_id)


@bp.route("/lines/<int:line_id>/outcome", methods=["POST"])
@permission_required(Permission.CLAIMS_WRITE)
def outcome(line_id: int):
    line = db.get_or_404(ClaimLine, line_id)
    batch = line.batch
    form = OutcomeForm(prefix=f"line{line.id}")
    if not form.validate_on_submit() or form.paid.data is None:  # InputRequired: None only when invalid
        return _render_batch(batch, {line.id: form}, 422)
    try:
        record_line_outcome(line, form.paid.data, form.reason_code.data or "", form.reason_text.data or "",
                            user=current_staff())
    except ClaimError as error:
        unit_of_work.discard()
        line, batch = db.session.get_one(ClaimLine, line_id), db.session.get_one(ClaimBatch, batch.id)
        form.paid.errors = [*form.paid.errors, str(error)]
        return _render_batch(batch, {line.id: form}, 422)
    message = _("Outcome of %(reference)s recorded: %(status)s.", reference=line.claim_reference,
                status=claim_status_label(line.status))
    if batch.status == BatchStatus.CLOSED.value:
        message += " " + _("Every line has an outcome: batch %(number)s is closed.", number=batch.number)
    flash(message, "success")
    return _to_batch(batch.id)


@bp.route("/<int:batch_id>/resubmit", methods=["POST"])
@permission_required(Permission.CLAIMS_WRITE)
def resubmit(batch_id: int):
    batch = db.get_or_404(ClaimBatch, batch_id)
    wanted = {int(v) for v in request.form.getlist("line_id") if v.isdigit()}
    lines = list(db.session.scalars(select(ClaimLine).where(ClaimLine.batch_id == batch.id,
                                                            ClaimLine.id.in_(wanted or {-1}))))
    new = batches.resubmit(lines, current_staff())
    flash(_("%(count)s rejected line(s) resubmitted in the new batch %(number)s.", count=len(lines),
            number=new.number), "success")
    return _to_batch(new.id)


# ---- remittances ------------------------------------------------------------------------------------------------


@bp.route("/remittances/new", methods=["GET", "POST"])
@permission_required(Permission.CLAIMS_WRITE)
def new_remittance():
    form = RemittanceUploadForm()
    form.insurer_id.choices = [(i.id, f"{i.name} ({i.uzovi})") for i in _insurers(direct=True)]
    if request.method == "GET":
        form.insurer_id.data = request.args.get("insurer_id", type=int)
    if form.validate_on_submit():
        insurer = db.get_or_404(Insurer, form.insurer_id.data)
        upload = form.file.data
        try:
            imported = remittance.upload(insurer, upload.read(), upload.filename or "", current_staff())
        except RemittanceError as error:
            unit_of_work.discard()
            form.file.errors.append(str(error))
        else:
            return redirect(url_for("claims.remittance_page", import_id=imported.id))
    recent = db.session.scalars(select(RemittanceImport).order_by(RemittanceImport.id.desc()).limit(20)).all()
    return render_template("claims/remittance_new.html", form=form, recent=recent), 422 if form.errors else 200


def _render_remittance(imported: RemittanceImport, form: MappingForm | None = None, status: int = 200):
    try:
        shown = remittance.preview(imported)
    except RemittanceError as error:
        flash(str(error), "danger")
        return redirect(url_for("claims.new_remittance"))
    if form is None:
        form = MappingForm(formdata=None, data=shown.mapping)
        for field, message in shown.errors.items():
            getattr(form, field).errors = [message]
    form.offer(shown.headers)
    return render_template("claims/remittance.html", imported=imported, shown=shown, form=form,
                           labels=FIELD_LABELS), status


@bp.route("/remittances/<int:import_id>")
@permission_required(Permission.CLAIMS_READ)
def remittance_page(import_id: int):
    return _render_remittance(db.get_or_404(RemittanceImport, import_id))


@bp.route("/remittances/<int:import_id>/mapping", methods=["POST"])
@permission_required(Permission.CLAIMS_WRITE)
def remittance_mapping(import_id: int):
    imported = db.get_or_404(RemittanceImport, import_id)
    form = MappingForm()
    try:
        form.offer(remittance.preview(imported).headers)
    except RemittanceError as error:
        flash(str(error), "danger")
        return redirect(url_for("claims.new_remittance"))
    if not form.validate_on_submit():
        return _render_remittance(imported, form, 422)
    errors = remittance.set_mapping(imported, {f: getattr(form, f).data for f in REMITTANCE_FIELDS})
    if errors:
        unit_of_work.discard()
        for field, message in errors.items():
            getattr(form, field).errors = [*getattr(form, field).errors, message]
        return _render_remittance(db.session.get_one(RemittanceImport, import_id), form, 422)
    flash(_("Columns chosen: check the preview, then apply."), "info")
    return redirect(url_for("claims.remittance_page", import_id=import_id))


@bp.route("/remittances/<int:import_id>/apply", methods=["POST"])
@permission_required(Permission.CLAIMS_WRITE)
def remittance_apply(import_id: int):
    applied = remittance.apply(db.get_or_404(RemittanceImport, import_id), current_staff())
    message = _("Applied: %(matched)s line(s) recorded (%(paid)s paid); %(unmatched)s unmatched and %(disputed)s "
                "disputed row(s) left as they were.", matched=applied.matched,
                paid=format_euro(from_cents(applied.paid_cents)), unmatched=applied.unmatched,
                disputed=applied.disputed)
    if applied.closed_batches:
        message += " " + _("Closed: %(batches)s.", batches=", ".join(applied.closed_batches))
    flash(message, "success")
    return redirect(url_for("claims.remittance_page", import_id=import_id))


# ---- patient-submitted claims --------------------------------------------------------------------------------


@bp.route("/patient-claims")
@permission_required(Permission.CLAIMS_READ)
def patient_claims():
    rows = recorded_patient_claims()
    if rows:
        audit.record_shown("view", "patient-submitted claims",
                           sorted({patient.id for _claim, _line, _number, patient in rows}))
    return render_template("claims/patient_claims.html", rows=rows, insurers=_insurers())


def _patient_claim_form(form: PatientClaimForm, insurer: Insurer, claim: PatientClaim | None):
    if claim is not None:
        line = claim.invoice_line
        form.invoice_line_id.choices = [(line.id, _("%(date)s %(description)s (invoice %(number)s)",
                                                    date=nl_date(line.treatment_date), description=line.description,
                                                    number=line.invoice.number))]
        return
    form.invoice_line_id.choices = [
        (line.id, _("%(date)s %(patient)s: %(description)s, invoice %(number)s, insurer amount %(amount)s",
                    date=nl_date(line.treatment_date), patient=patient.full_name, description=line.description,
                    number=number, amount=format_euro(from_cents(line.insurer_amount_cents))))
        for line, number, patient in patient_claimable_lines(insurer.id)]


def _save_patient_claim(form: PatientClaimForm, insurer: Insurer, claim: PatientClaim | None):
    line = db.session.get(InvoiceLine, form.invoice_line_id.data)
    if line is None:
        abort(404)
    answered = form.outcome.data == "answered"
    submitted_on = form.submitted_on.data
    if submitted_on is None:  # InputRequired: the form was valid, so there is a date
        abort(400)
    return record_patient_claim(
        line, insurer.id, submitted_on, paid=form.paid.data if answered else None,
        paid_on=form.paid_on.data if answered else None, reason_code=form.reason_code.data or "",
        reason_text=form.reason_text.data or "", user=current_staff(), claim=claim)


@bp.route("/patient-claims/new", methods=["GET", "POST"])
@permission_required(Permission.CLAIMS_WRITE)
def new_patient_claim():
    insurer_id = request.args.get("insurer_id", type=int)
    if insurer_id is None:
        return render_template("claims/patient_claim_insurer.html", insurers=_insurers())
    insurer = db.get_or_404(Insurer, insurer_id)
    form = PatientClaimForm()
    _patient_claim_form(form, insurer, None)
    if request.method == "GET":
        form.submitted_on.data = clinic_today()
    if form.validate_on_submit():
        try:
            _save_patient_claim(form, insurer, None)
        except ClaimError as error:
            unit_of_work.discard()
            form.invoice_line_id.errors.append(str(error))
        else:
            flash(_("Patient-submitted claim recorded."), "success")
            return redirect(url_for("claims.patient_claims"))
    return render_template("claims/patient_claim_form.html", form=form, insurer=insurer, claim=None), \
        422 if form.errors else 200


@bp.route("/patient-claims/<int:claim_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.CLAIMS_WRITE)
def edit_patient_claim(claim_id: int):
    claim = db.get_or_404(PatientClaim, claim_id)
    insurer = claim.insurer
    form = PatientClaimForm(obj=None)
    _patient_claim_form(form, insurer, claim)
    if request.method == "GET":
        form.invoice_line_id.data = claim.invoice_line_id
        form.submitted_on.data = claim.submitted_on
        form.outcome.data = "pending" if claim.status == LineStatus.PENDING else "answered"
        form.paid.data = from_cents(claim.paid_cents) if claim.status != LineStatus.PENDING else None
        form.paid_on.data = claim.paid_on
        form.reason_code.data, form.reason_text.data = claim.rejection_code, claim.rejection_text
        audit.record("view", claim.invoice_line.invoice.patient_id, f"patient claim {claim.id}")
    elif form.validate_on_submit():
        try:
            _save_patient_claim(form, insurer, claim)
        except ClaimError as error:
            unit_of_work.discard()
            form.paid.errors = [*form.paid.errors, str(error)]
        else:
            flash(_("Patient-submitted claim updated."), "success")
            return redirect(url_for("claims.patient_claims"))
    return render_template("claims/patient_claim_form.html", form=form, insurer=insurer, claim=claim), \
        422 if form.errors else 200


# ---- outcomes and settings -------------------------------------------------------------------------------------


@bp.route("/lines")
@permission_required(Permission.CLAIMS_READ)
def lines():
    """The claim lines of every batch not cancelled, newest first, by insurer, status, month and patient."""
    filters = line_list.parse_filters(request.args)
    after, before = line_list.LIST_ORDER.cursors(request.args)
    page = line_list.list_page(filters, current_app.config["PAGE_SIZE"], after, before,
                               only_patients=care.own_patient_ids(current_staff()))
    shown = [line.invoice_line.invoice.patient_id for line in page.items]
    if filters.q or shown:
        audit.record_shown("search" if filters.q else "view", "claim line list", shown,
                           "patient search" if filters.q else "")
    args = {k: v for k, v in request.args.items() if k not in ("after", "before") and v}
    insurers = list(db.session.scalars(select(Insurer).order_by(Insurer.name)))
    return render_template("claims/lines.html", page=page, filters=filters, args=args, insurers=insurers,
                           statuses=line_list.STATUSES, month_text=request.args.get("month", ""),
                           reason_text=lambda line: line_list.reason_text(line, _reader_language()))


@bp.route("/lines/export")
@permission_required(Permission.CLAIMS_READ)
def export_lines():
    """Every claim line the list's filters show, as Excel or CSV; logged (backoffice/exports/)."""
    return exports.respond(exports.claim_lines(line_list.parse_filters(request.args), current_staff()),
                           exports.export_format(request.args))


@bp.route("/outcomes")
@permission_required(Permission.CLAIMS_READ)
def outcomes():
    return render_template("claims/outcomes.html", per_insurer=outcome_statistics(per_indication=False),
                           per_indication=outcome_statistics(per_indication=True))


@bp.route("/settings")
@permission_required(Permission.CLAIMS_READ)
def settings():
    rows = []
    for insurer in _insurers():
        current = settings_for(insurer.id)
        rows.append((insurer, current, claim_template(current)))
    return render_template("claims/settings.html", rows=rows)


@bp.route("/settings/<int:insurer_id>", methods=["GET", "POST"])
@permission_required(Permission.CLAIMS_WRITE)
def edit_settings(insurer_id: int):
    insurer = db.get_or_404(Insurer, insurer_id)
    current = settings_for(insurer.id)
    form = SettingsForm()
    if request.method == "GET":
        form.direct_billing.data = bool(current.direct_billing)
        form.deadline_months.data = current.deadline_months
        form.bsn_required.data = bool(current.bsn_required)
        form.template.data = template_text(ClaimTemplate.from_config(current.template)) if current.template else ""
    if form.validate_on_submit():
        save_settings(insurer, direct_billing=form.direct_billing.data,
                               deadline_months=form.deadline_months.data, bsn_required=form.bsn_required.data,
                               template=parse_template(form.template.data), user=current_staff())
        flash(_("Claim settings of %(insurer)s saved.", insurer=insurer.name), "success")
        return redirect(url_for("claims.settings"))
    return render_template("claims/settings_form.html", form=form, insurer=insurer,
                           default_keys=DEFAULT_COLUMN_KEYS), 422 if form.errors else 200
