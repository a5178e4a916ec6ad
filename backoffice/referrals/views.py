from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from .. import audit, unit_of_work
from ..domain.roles import Permission
from ..extensions import db
from ..models import Patient, Referral
from ..security import current_staff, permission_required
from . import services
from .forms import ReferralForm

bp = Blueprint("referrals", __name__, url_prefix="/patients/<int:patient_id>/referrals")


def _patient(patient_id: int) -> Patient:
    return db.get_or_404(Patient, patient_id)


def _referral(patient: Patient, referral_id: int) -> Referral:
    referral = db.get_or_404(Referral, referral_id)
    if referral.patient_id != patient.id:
        abort(404)
    return referral


def _render_form(form: ReferralForm, patient: Patient, referral: Referral | None):
    return render_template("referrals/form.html", form=form, patient=patient, referral=referral), \
        422 if form.errors else 200


@bp.route("/")
@permission_required(Permission.PATIENTS_READ)
def list_referrals(patient_id: int):
    patient = _patient(patient_id)
    audit.record("view", patient, "referrals")
    return render_template("referrals/list.html", patient=patient, referral_rows=services.rows(patient))


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def create(patient_id: int):
    patient = _patient(patient_id)
    form = ReferralForm()
    if form.validate_on_submit():
        services.create_referral(patient, form.to_input(), current_staff())
        flash("Referral added.", "success")
        return redirect(url_for("referrals.list_referrals", patient_id=patient.id))
    return _render_form(form, patient, None)


@bp.route("/<int:referral_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def edit(patient_id: int, referral_id: int):
    patient = _patient(patient_id)
    referral = _referral(patient, referral_id)
    form = ReferralForm(obj=referral)
    if request.method == "GET":
        audit.record("view", patient, f"referral {referral.id} edit form")
    elif form.validate_on_submit():
        changed = services.update_referral(referral, form.to_input(), current_staff())
        flash("Referral saved." if changed else "Nothing changed.", "success")
        return redirect(url_for("referrals.list_referrals", patient_id=patient.id))
    return _render_form(form, patient, referral)


@bp.route("/<int:referral_id>/delete", methods=["POST"])
@permission_required(Permission.PATIENTS_WRITE)
def delete(patient_id: int, referral_id: int):
    patient = _patient(patient_id)
    referral = _referral(patient, referral_id)
    try:
        services.delete_referral(referral, current_staff())
    except services.ReferralInUse as error:
        unit_of_work.discard()
        flash(str(error), "danger")
    else:
        flash("Referral deleted.", "info")
    return redirect(url_for("referrals.list_referrals", patient_id=patient.id))
