from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from sqlalchemy import select

from .. import audit, unit_of_work
from ..clock import clinic_today
from ..domain.dutch import nl_date
from ..domain.indications import INDICATIONS, TECHNIQUE_LABELS, BodyArea, Indication
from ..domain.money import format_euro, from_cents, to_cents
from ..domain.referrals import REFERRER_LABELS
from ..domain.roles import Permission
from ..extensions import db
from ..intakes.services import screening_for
from ..models import CatalogueItem, Insurer, Patient, Referral, Therapist, Treatment
from ..security import current_staff, permission_required
from . import services
from .forms import FITZPATRICK_TYPES, TreatmentForm

bp = Blueprint("treatments", __name__, url_prefix="/treatments")

INPUT_FIELDS = ("therapist_id", "treatment_date", "catalogue_item_id", "indication", "body_area", "session_number",
                "series_total", "device", "wavelength_nm", "fluence_j_cm2", "pulse_width_ms", "spot_size_mm", "passes",
                "fitzpatrick", "notes", "price_change_reason", "referral_id")

_REFERRER_LABELS = {str(kind): label for kind, label in REFERRER_LABELS.items()}
_TECHNIQUE_LABELS = {str(technique): label for technique, label in TECHNIQUE_LABELS.items()}
_FITZPATRICK_LABELS = dict(FITZPATRICK_TYPES)


def _referral_label(referral: Referral, today: date) -> str:
    who = f"{_REFERRER_LABELS.get(referral.referrer_type, referral.referrer_type)} {referral.referrer_name}"
    state = "valid today" if referral.referral_date <= today <= referral.valid_until else (
        "expired" if today > referral.valid_until else "not yet valid")
    return f"{who}, {nl_date(referral.referral_date)} – {nl_date(referral.valid_until)} ({state})"


def _treatment_form(patient: Patient) -> TreatmentForm:
    form = TreatmentForm()
    therapists = db.session.scalars(select(Therapist).where(Therapist.active).order_by(Therapist.name)).all()
    form.therapist_id.choices = [(t.id, t.name) for t in therapists]
    items = db.session.scalars(select(CatalogueItem).where(CatalogueItem.active).order_by(CatalogueItem.name)).all()
    form.catalogue_item_id.choices = [
        (i.id, f"{i.name} ({i.code}) — {format_euro(from_cents(i.price_cents))}") for i in items
    ]
    form.catalogue_prices = {i.id: i.price_cents for i in items}
    today = clinic_today()
    referrals = db.session.scalars(
        select(Referral).where(Referral.patient_id == patient.id).order_by(Referral.referral_date.desc())
    ).all()
    form.referral_id.choices = [("", "— none —")] + [(r.id, _referral_label(r, today)) for r in referrals]
    if request.method == "GET":
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
    screening = None
    if form.validate_on_submit():
        screening = screening_for(patient, form.treatment_date.data, BodyArea(form.body_area.data))
        try:
            treatment = services.record_treatment(patient, _input(form), screening, current_staff())
        except services.TreatmentBlocked:
            unit_of_work.discard()  # nothing of the refused treatment is stored; the form shows the findings
        else:
            for warning in screening.warnings:
                flash(warning.message, "warning")
            flash("Treatment recorded. " + services.headline(treatment.stored_assessment()) + ".", "success")
            return redirect(url_for("treatments.detail", treatment_id=treatment.id))
    blocked = screening is not None and not screening.allowed
    status = 422 if form.errors or blocked else 200
    return render_template("treatments/form.html", form=form, patient=patient, screening=screening,
                           blocked=blocked), status


def _treatment(treatment_id: int) -> Treatment:
    return db.get_or_404(Treatment, treatment_id)


@bp.route("/<int:treatment_id>")
@permission_required(Permission.TREATMENTS_READ)
def detail(treatment_id: int):
    treatment = _treatment(treatment_id)
    assessment = treatment.stored_assessment()
    audit.record("view", treatment.patient_id, f"treatment {treatment.id}")
    indication = INDICATIONS[Indication(treatment.indication)]
    technique = treatment.catalogue_item.technique
    return render_template(
        "treatments/detail.html", treatment=treatment, assessment=assessment,
        headline=services.headline(assessment), indication=indication,
        technique=_TECHNIQUE_LABELS.get(technique, technique) if technique else "",
        fitzpatrick=_FITZPATRICK_LABELS.get(treatment.fitzpatrick or 0, ""),
    )


@bp.route("/<int:treatment_id>/reassess", methods=["POST"])
@permission_required(Permission.TREATMENTS_WRITE)
def reassess(treatment_id: int):
    treatment = _treatment(treatment_id)
    before, after = services.reassess(treatment)
    changes = services.assessment_changes(before, after)
    if changes:
        flash("Re-assessed with today's rules: " + "; ".join(changes) + ".", "warning")
    else:
        flash("Re-assessed with today's rules: nothing changed.", "info")
    return redirect(url_for("treatments.detail", treatment_id=treatment.id))


@bp.route("/")
@permission_required(Permission.TREATMENTS_READ)
def list_treatments():
    filters = services.parse_filters(request.args)
    after, before = services.LIST_ORDER.cursors(request.args)
    patient = db.session.get(Patient, filters.patient_id) if filters.patient_id is not None else None
    if filters.patient_id is not None and patient is None:
        abort(404)  # e.g. ?patient_id=-1: no such patient, and nothing to log against one
    page = services.list_page(filters, current_app.config["PAGE_SIZE"], after=after, before=before)
    if filters.q or filters.patient_id:
        # Log that a patient was looked up, never the words typed (they may hold a BSN).
        audit.record("search", filters.patient_id, "treatment list",
                     "treatments of this patient" if filters.patient_id else "patient search")
    therapists = db.session.scalars(select(Therapist).order_by(Therapist.name)).all()
    insurers = db.session.scalars(select(Insurer).order_by(Insurer.name)).all()
    args = {k: v for k, v in request.args.items() if k not in ("after", "before") and v}
    return render_template("treatments/list.html", page=page, filters=filters, therapists=therapists,
                           insurers=insurers, patient=patient, args=args, indications=INDICATIONS,
                           Indication=Indication)

