from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import audit
from ..domain.indications import INDICATIONS, TECHNIQUE_LABELS, BodyArea, Indication
from ..domain.money import format_euro, from_cents, to_cents
from ..domain.referrals import REFERRER_LABELS
from ..domain.roles import Permission
from ..extensions import db
from ..intakes.services import screening_for
from ..models import CatalogueItem, Insurer, Patient, Referral, Therapist, Treatment
from ..security import permission_required
from . import services
from .forms import FITZPATRICK_TYPES, TreatmentForm

bp = Blueprint("treatments", __name__, url_prefix="/treatments")

INPUT_FIELDS = ("therapist_id", "treatment_date", "catalogue_item_id", "indication", "body_area", "session_number",
                "series_total", "device", "wavelength_nm", "fluence_j_cm2", "pulse_width_ms", "spot_size_mm", "passes",
                "fitzpatrick", "notes", "price_change_reason", "referral_id")


def _referral_label(referral: Referral, today: date) -> str:
    who = f"{REFERRER_LABELS.get(referral.referrer_type, referral.referrer_type)} {referral.referrer_name}"
    state = "valid today" if referral.referral_date <= today <= referral.valid_until else (
        "expired" if today > referral.valid_until else "not yet valid")
    return f"{who}, {referral.referral_date:%d-%m-%Y} – {referral.valid_until:%d-%m-%Y} ({state})"


def _treatment_form(patient: Patient) -> TreatmentForm:
    form = TreatmentForm()
    therapists = db.session.scalars(select(Therapist).where(Therapist.active).order_by(Therapist.name)).all()
    form.therapist_id.choices = [(t.id, t.name) for t in therapists]
    items = db.session.scalars(select(CatalogueItem).where(CatalogueItem.active).order_by(CatalogueItem.name)).all()
    form.catalogue_item_id.choices = [
        (i.id, f"{i.name} ({i.code}) — {format_euro(from_cents(i.price_cents))}") for i in items
    ]
    form.catalogue_prices = {i.id: i.price_cents for i in items}
    today = date.today()
    referrals = db.session.scalars(
        select(Referral).where(Referral.patient_id == patient.id).order_by(Referral.referral_date.desc())
    ).all()
    form.referral_id.choices = [("", "— none —")] + [(r.id, _referral_label(r, today)) for r in referrals]
    if request.method == "GET":
        form.treatment_date.data = today
        own = getattr(current_user, "therapist", None)
        if own is not None and own.active:
            form.therapist_id.data = own.id
        valid = [r for r in referrals if r.referral_date <= today <= r.valid_until]
        if len(valid) == 1:
            form.referral_id.data = valid[0].id
    return form


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
            treatment = services.record_treatment(patient, _input(form), screening, current_user)
        except services.TreatmentBlocked:
            pass  # nothing was added; the form shows the blocking findings
        else:
            db.session.commit()
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
    db.session.commit()
    indication = INDICATIONS[Indication(treatment.indication)]
    technique = treatment.catalogue_item.technique
    return render_template(
        "treatments/detail.html", treatment=treatment, assessment=assessment,
        headline=services.headline(assessment), indication=indication,
        technique=TECHNIQUE_LABELS.get(technique, technique) if technique else "",
        fitzpatrick=dict(FITZPATRICK_TYPES).get(treatment.fitzpatrick, ""),
    )


@bp.route("/<int:treatment_id>/reassess", methods=["POST"])
@permission_required(Permission.TREATMENTS_WRITE)
def reassess(treatment_id: int):
    treatment = _treatment(treatment_id)
    before, after = services.reassess(treatment)
    db.session.commit()
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
    after = services.Cursor.parse(request.args.get("after"))
    before = None if after else services.Cursor.parse(request.args.get("before"))
    page = services.list_page(filters, current_app.config["PAGE_SIZE"], after=after, before=before)
    if filters.q or filters.patient_id:
        # Log that a patient was looked up, never the words typed (they may hold a BSN).
        audit.record("search", filters.patient_id, "treatment list",
                     "treatments of this patient" if filters.patient_id else "patient search")
        db.session.commit()
    therapists = db.session.scalars(select(Therapist).order_by(Therapist.name)).all()
    insurers = db.session.scalars(select(Insurer).order_by(Insurer.name)).all()
    patient = db.session.get(Patient, filters.patient_id) if filters.patient_id else None
    args = {k: v for k, v in request.args.items() if k not in ("after", "before") and v}
    return render_template("treatments/list.html", page=page, filters=filters, therapists=therapists,
                           insurers=insurers, patient=patient, args=args, indications=INDICATIONS,
                           Indication=Indication)


@bp.app_template_global()
def patient_treatments(patient_id: int, limit: int = 20):
    """For the patient page: the latest treatments (one query)."""
    return services.recent_treatments(patient_id, limit)


@bp.app_template_global()
def patient_reimbursement(patient_id: int):
    """For the patient page: each rule of each current insurance with cap, used and left this year."""
    return services.reimbursement_overview(patient_id)
