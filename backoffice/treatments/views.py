from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select

from .. import audit, exports, unit_of_work
from ..care import services as care
from ..clinical import services as clinical
from ..clock import clinic_today
from ..domain.dutch import decimal_nl, nl_date
from ..domain.indications import INDICATIONS, BodyArea, Indication
from ..domain.money import format_euro, from_cents, to_cents
from ..domain.roles import Permission
from ..extensions import db
from ..intakes.services import screening_for
from ..labels import body_area_label, indication_label, referrer_label
from ..mail import services as mail
from ..models import CatalogueItem, Insurer, Patient, Referral, Therapist, Treatment, TreatmentCorrection
from ..patients.forms import WithdrawForm
from ..security import current_staff, permission_required
from . import services
from .forms import FITZPATRICK_TYPES, TreatmentCorrectionForm, TreatmentForm, indication_choices, technique_key

bp = Blueprint("treatments", __name__, url_prefix="/treatments")

# The form fields that go to the service as they are (the price goes as cents, see _input).
INPUT_FIELDS = tuple(name for name in services.CORRECTABLE_FIELDS if name != "price_cents")

_FITZPATRICK_LABELS = dict(FITZPATRICK_TYPES)

# How the correction history names a field (the form's labels).
FIELD_LABELS: dict[str, Any] = {
    "therapist_id": _l("Therapist"), "treatment_date": _l("Date"), "catalogue_item_id": _l("Treatment (catalogue)"),
    "indication": _l("Indication"), "body_area": _l("Body area"), "price_cents": _l("Price"),
    "session_number": _l("Session"), "series_total": _l("Of a series of"),
    "price_change_reason": _l("Reason for a different price"), "referral_id": _l("Referral used"),
    "device": _l("Device"), "wavelength_nm": _l("Wavelength (nm)"), "fluence_j_cm2": _l("Fluence (J/cm²)"),
    "pulse_width_ms": _l("Pulse width (ms)"), "spot_size_mm": _l("Spot size (mm)"), "passes": _l("Passes"),
    "fitzpatrick": _l("Fitzpatrick skin type"), "notes": _l("Notes"),
}


def _referral_label(referral: Referral, today: date) -> str:
    who = f"{referrer_label(referral.referrer_type)} {referral.referrer_name}"
    if referral.referral_date <= today <= referral.valid_until:
        state = _("valid today")
    elif today > referral.valid_until:
        state = _("expired")
    else:
        state = _("not yet valid")
    return f"{who}, {nl_date(referral.referral_date)} – {nl_date(referral.valid_until)} ({state})"


def _treatment_form(patient: Patient, form_class: type[TreatmentForm] = TreatmentForm,
                    treatment: Treatment | None = None) -> TreatmentForm:
    """The form with its choices: active therapists and catalogue items (and the treatment's own when it is
    corrected), the patient's referrals."""
    form = form_class(obj=treatment) if treatment is not None and request.method == "GET" else form_class()
    therapists = db.session.scalars(
        select(Therapist).where(or_(Therapist.active, Therapist.id == (treatment.therapist_id if treatment else -1)))
        .order_by(Therapist.name)).all()
    form.therapist_id.choices = [("", _("Choose the therapist…"))] + [(t.id, t.name) for t in therapists]
    items = db.session.scalars(
        select(CatalogueItem).where(or_(CatalogueItem.active,
                                        CatalogueItem.id == (treatment.catalogue_item_id if treatment else -1)))
        .order_by(CatalogueItem.name)).all()
    form.catalogue_item_id.choices = [("", _("Choose the treatment…"), {})] + [
        (i.id, f"{i.name} ({i.code}) — {format_euro(from_cents(i.price_cents))}",
         {"data-key": technique_key(i.technique)}) for i in items
    ]
    # The practice's indications (backoffice/clinical/): the active ones, and the treatment's own when corrected.
    form.indication.choices = indication_choices(
        clinical.indications(active_only=True, keep=treatment.indication if treatment else None))
    form.catalogue_prices = {i.id: i.price_cents for i in items}
    form.catalogue_techniques = {i.id: i.technique for i in items}
    form.confirm_share = current_app.config["PRICE_DEVIATION_CONFIRM_SHARE"]
    today = clinic_today()
    # Withdrawn referrals are never used again (a corrected treatment keeps showing its own).
    own_referral = treatment.referral_id if treatment is not None else None
    referrals = db.session.scalars(
        select(Referral).where(Referral.patient_id == patient.id,
                               or_(Referral.withdrawn_at.is_(None), Referral.id == own_referral))
        .order_by(Referral.referral_date.desc())
    ).all()
    form.referral_id.choices = [("", _("— none —"))] + [(r.id, _referral_label(r, today)) for r in referrals]
    if request.method == "GET" and treatment is None:
        _prefill(form, referrals, today)
    return form


def _prefill(form: TreatmentForm, referrals: Sequence[Referral], today: date) -> None:
    """A new form: today, the signed-in therapist, and the referral when exactly one is valid today."""
    form.treatment_date.data = today
    own = current_staff().therapist
    if own is not None and own.active:
        form.therapist_id.data = own.id
    valid = [r for r in referrals if r.referral_date <= today <= r.valid_until]
    if len(valid) == 1:
        form.referral_id.data = valid[0].id


def _repeat(form: TreatmentForm, patient: Patient) -> services.PreviousSession | None:
    """"Repeat the previous session" (?repeat=<catalogue item id>): the treatment, indication, body area and the
    device and laser settings of the patient's previous session of that treatment, as session n+1 (of N)."""
    item_id = request.args.get("repeat", type=int)
    if item_id is None:
        return None
    previous = services.previous_session(patient.id, item_id)
    if previous is None:
        flash(_("This patient has no earlier session of that treatment."), "warning")
        return None
    for name in services.REPEATED_FIELDS:
        getattr(form, name).data = getattr(previous.treatment, name)
    form.session_number.data = previous.next_number
    form.series_total.data = previous.series_total
    return previous


def _patient_from_args() -> Patient:
    patient_id = request.args.get("patient_id", type=int)
    if patient_id is None:
        abort(404)
    return db.get_or_404(Patient, patient_id)


def _input(form: TreatmentForm) -> services.TreatmentInput:
    values = {name: getattr(form, name).data for name in INPUT_FIELDS}
    price = form.price.data
    catalogue_cents = form.catalogue_prices[form.catalogue_item_id.data]
    values["price_cents"] = to_cents(price) if price is not None else catalogue_cents
    if values["price_cents"] == catalogue_cents:
        values["price_change_reason"] = ""
    return services.TreatmentInput(**values)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.TREATMENTS_WRITE)
def create():
    patient = _patient_from_args()
    form = _treatment_form(patient)
    repeated = _repeat(form, patient) if request.method == "GET" else None
    screening = None
    if form.validate_on_submit():
        screening = screening_for(patient, form.treatment_date.data, BodyArea(form.body_area.data),
                                  form.catalogue_techniques.get(form.catalogue_item_id.data))
        cascaded: list[services.CapChange] = []
        try:
            treatment = services.record_treatment(patient, _input(form), screening, current_staff(), cascaded)
        except services.TreatmentBlocked:
            unit_of_work.discard()  # nothing of the refused treatment is stored; the form shows the findings
        except services.PriceNotPositive as error:
            unit_of_work.discard()
            form.price.errors = [*form.price.errors, str(error)]
        else:
            for warning in screening.warnings:
                flash(warning.message, "warning")
            flash(_("Treatment recorded. %(headline)s.", headline=services.headline(treatment.stored_assessment())),
                  "success")
            _flash_cascade(cascaded)
            return redirect(url_for("treatments.detail", treatment_id=treatment.id))
    blocked = screening is not None and not screening.allowed
    status = 422 if form.errors or blocked else 200
    return render_template("treatments/form.html", form=form, patient=patient, screening=screening,
                           blocked=blocked, repeated=repeated,
                           previous_sessions=services.previous_sessions(patient.id)), status


def _flash_cascade(changes: Sequence[services.CapChange]) -> None:
    """Later treatments under the same cap whose amounts changed on re-assessment (each re-assessment is logged
    with before and after; one that only changed what is left of the cap is not announced)."""
    shown = [change for change in changes if change.amounts_changed]
    if shown:
        flash(_("Later treatments under the same cap were re-assessed: %(changes)s.",
                changes="; ".join(change.words() for change in shown)), "warning")


def _treatment(treatment_id: int) -> Treatment:
    return db.get_or_404(Treatment, treatment_id)


def _names(model: Any, ids: set[Any], attribute: str) -> dict[int, str]:
    if not ids:
        return {}
    return {row.id: getattr(row, attribute) for row in db.session.scalars(select(model).where(model.id.in_(ids)))}


def _history(corrections: Sequence[TreatmentCorrection]) -> list[dict[str, Any]]:
    """Each correction with the earlier values of the fields it changed, in words."""
    therapists = _names(Therapist, {c.previous.get("therapist_id") for c in corrections} - {None}, "name")
    items = _names(CatalogueItem, {c.previous.get("catalogue_item_id") for c in corrections} - {None}, "name")

    def shown(name: str, value: Any) -> str:
        if value in (None, ""):
            return "—"
        if name == "therapist_id":
            return therapists.get(value, str(value))
        if name == "catalogue_item_id":
            return items.get(value, str(value))
        if name == "indication":
            return indication_label(value)
        if name == "body_area":
            return body_area_label(value)
        if name == "price_cents":
            return format_euro(from_cents(int(value)))
        if name == "treatment_date":
            return nl_date(date.fromisoformat(value))
        if name in ("fluence_j_cm2", "pulse_width_ms", "spot_size_mm"):
            return decimal_nl(Decimal(value))
        if name == "fitzpatrick":
            return _FITZPATRICK_LABELS.get(value, str(value))
        return str(value)

    def change(c: TreatmentCorrection, name: str) -> tuple[str, str]:
        if name == "withdrawn":  # the withdrawal: before it, the treatment counted as performed
            return _("Withdrawn"), _("until then recorded as performed; insurer amount %(amount)s",
                                     amount=format_euro(Decimal(c.previous_assessment.get("insurer_amount", "0"))))
        return FIELD_LABELS.get(name, name), shown(name, c.previous.get(name))

    return [{"correction": c, "changes": [change(c, name) for name in c.changed_fields]} for c in corrections]


@bp.route("/<int:treatment_id>")
@permission_required(Permission.TREATMENTS_READ)
def detail(treatment_id: int):
    treatment = _treatment(treatment_id)
    assessment = treatment.stored_assessment()
    audit.record("view", treatment.patient_id, f"treatment {treatment.id}")
    return render_template(
        "treatments/detail.html", treatment=treatment, assessment=assessment,
        headline=services.headline(assessment), indication=INDICATIONS[Indication(treatment.indication)],
        fitzpatrick=_FITZPATRICK_LABELS.get(treatment.fitzpatrick or 0, ""),
        invoice=services.invoice_of(treatment), history=_history(treatment.corrections), decimal_nl=decimal_nl,
        sendings=mail.sendings_for(treatment_ids=[treatment.id]),
    )


def _refused(treatment: Treatment, error: services.TreatmentInvoiced):
    return render_template("treatments/correction_refused.html", treatment=treatment, invoice=error.invoice,
                           message=str(error)), error.status


@bp.route("/<int:treatment_id>/correct", methods=["GET", "POST"])
@permission_required(Permission.TREATMENTS_WRITE)
def correct(treatment_id: int):
    """Correct a treatment that is on no invoice; the earlier version is kept, the treatment re-assessed."""
    treatment = _treatment(treatment_id)
    invoice = services.invoice_of(treatment)
    if invoice is not None:
        return _refused(treatment, services.TreatmentInvoiced(invoice))
    form = _treatment_form(treatment.patient, TreatmentCorrectionForm, treatment)
    assert isinstance(form, TreatmentCorrectionForm)
    general_error = None
    if form.validate_on_submit():
        data = _input(form)
        # Moved to another day or area, or another treatment (its technique has its own contraindications and
        # minimum age): the intake screening applies there as when recording.
        moved = (data.treatment_date, data.body_area, data.catalogue_item_id) != (
            treatment.treatment_date, treatment.body_area, treatment.catalogue_item_id)
        screening = screening_for(treatment.patient, data.treatment_date, BodyArea(data.body_area),
                                  form.catalogue_techniques.get(data.catalogue_item_id)) if moved else None
        cascaded: list[services.CapChange] = []
        try:
            _correction, changes = services.correct_treatment(treatment, data, form.correction_reason.data,
                                                              current_staff(), screening, cascaded)
        except services.TreatmentInvoiced as error:
            unit_of_work.discard()
            return _refused(treatment, error)
        except services.PriceNotPositive as error:
            unit_of_work.discard()
            form.price.errors = [*form.price.errors, str(error)]
        except services.ServiceError as error:  # nothing changed, no reason, refused by the screening
            unit_of_work.discard()
            general_error = str(error)
        else:
            flash(_("Treatment corrected; the earlier version is kept in its history."), "success")
            if changes:
                flash(_("Re-assessed: %(changes)s.", changes="; ".join(changes)), "warning")
            _flash_cascade(cascaded)
            return redirect(url_for("treatments.detail", treatment_id=treatment.id))
    else:
        audit.record("view", treatment.patient_id, f"treatment {treatment.id}", "correction form")
    status = 422 if form.errors or general_error else 200
    return render_template("treatments/correct.html", form=form, treatment=treatment, patient=treatment.patient,
                           general_error=general_error), status


@bp.route("/<int:treatment_id>/withdraw", methods=["GET", "POST"])
@permission_required(Permission.TREATMENTS_WRITE)
def withdraw(treatment_id: int):
    """Withdraw a treatment recorded in error: kept in the history with who, when and why; it takes nothing from a
    cap and is never invoiced; later treatments under its cap are re-assessed."""
    treatment = _treatment(treatment_id)
    if treatment.withdrawn:
        flash(_("This treatment was withdrawn; it can no longer be changed."), "warning")
        return redirect(url_for("treatments.detail", treatment_id=treatment.id))
    invoice = services.invoice_of(treatment)
    if invoice is not None:
        return _refused(treatment, services.TreatmentInvoiced(invoice))
    form = WithdrawForm()
    if form.validate_on_submit():
        cascaded: list[services.CapChange] = []
        services.withdraw_treatment(treatment, form.reason.data or "", current_staff(), cascaded)
        flash(_("Treatment of %(date)s withdrawn; it stays in the history.", date=nl_date(treatment.treatment_date)),
              "info")
        _flash_cascade(cascaded)
        return redirect(url_for("treatments.detail", treatment_id=treatment.id))
    if request.method == "GET":
        audit.record("view", treatment.patient_id, f"treatment {treatment.id}", "withdrawal form")
    return render_template("treatments/withdraw.html", form=form, treatment=treatment,
                           patient=treatment.patient), 422 if form.errors else 200


@bp.route("/<int:treatment_id>/reassess", methods=["POST"])
@permission_required(Permission.TREATMENTS_WRITE)
def reassess(treatment_id: int):
    treatment = _treatment(treatment_id)
    before, after = services.reassess(treatment)
    changes = services.assessment_changes(before, after)
    if changes:
        flash(_("Re-assessed with today's rules: %(changes)s.", changes="; ".join(changes)), "warning")
    else:
        flash(_("Re-assessed with today's rules: nothing changed."), "info")
    return redirect(url_for("treatments.detail", treatment_id=treatment.id))


@bp.route("/")
@permission_required(Permission.TREATMENTS_READ)
def list_treatments():
    filters = services.parse_filters(request.args)
    after, before = services.LIST_ORDER.cursors(request.args)
    patient = db.session.get(Patient, filters.patient_id) if filters.patient_id is not None else None
    if filters.patient_id is not None and patient is None:
        abort(404)  # e.g. ?patient_id=-1: no such patient, and nothing to log against one
    page = services.list_page(filters, current_app.config["PAGE_SIZE"], after=after, before=before,
                              patients=care.own_patient_ids(current_staff()))
    therapists = db.session.scalars(select(Therapist).order_by(Therapist.name)).all()
    insurers = db.session.scalars(select(Insurer).order_by(Insurer.name)).all()
    args = {k: v for k, v in request.args.items() if k not in ("after", "before") and v}
    shown = render_template("treatments/list.html", page=page, filters=filters, therapists=therapists,
                            insurers=insurers, patient=patient, args=args)
    # Logged once the page is built, as the patient page is: the request's commit stores the entry all the same
    # (no commit, no page), and its INSERT takes the access log's lock until that commit (audit_chain.py). Logged
    # first, the autoflush before the next query took the lock, and the queries and the rendering ran under it.
    if filters.patient_id:
        audit.record("search", filters.patient_id, "treatment list", "treatments of this patient")
    elif filters.q or page.items:
        # One entry naming the patients shown, never the words typed.
        audit.record_shown("search" if filters.q else "view", "treatment list",
                           [treatment.patient_id for treatment in page.items], "patient search" if filters.q else "")
    return shown


@bp.route("/export")
@permission_required(Permission.TREATMENTS_READ)
def export():
    """Every treatment the list's filters show (not just a page), as Excel or CSV; logged (backoffice/exports/)."""
    return exports.respond(exports.treatments(services.parse_filters(request.args), current_staff()),
                           exports.export_format(request.args))
