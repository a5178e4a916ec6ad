from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import audit
from ..domain.dutch import nl_date
from ..domain.roles import Permission
from ..extensions import db
from ..models import Patient, Referral
from ..security import current_staff, permission_required
from . import services
from .forms import ReferralForm, WithdrawForm

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
        flash(_("Referral added."), "success")
        return redirect(url_for("referrals.list_referrals", patient_id=patient.id))
    return _render_form(form, patient, None)


@bp.route("/<int:referral_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def edit(patient_id: int, referral_id: int):
    patient = _patient(patient_id)
    referral = _referral(patient, referral_id)
    if referral.withdrawn:
        flash(_("This referral was withdrawn and can no longer be changed."), "warning")
        return redirect(url_for("referrals.list_referrals", patient_id=patient.id))
    form = ReferralForm(obj=referral)
    if request.method == "GET":
        audit.record("view", patient, f"referral {referral.id} edit form")
    elif form.validate_on_submit():
        changed = services.update_referral(referral, form.to_input(), current_staff())
        flash(_("Referral saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("referrals.list_referrals", patient_id=patient.id))
    return _render_form(form, patient, referral)


@bp.route("/<int:referral_id>/withdraw", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def withdraw(patient_id: int, referral_id: int):
    """Withdraw a referral: kept in the history with who, when and why; no new treatment or assessment uses it."""
    patient = _patient(patient_id)
    referral = _referral(patient, referral_id)
    if referral.withdrawn:
        flash(_("This referral was already withdrawn."), "warning")
        return redirect(url_for("referrals.list_referrals", patient_id=patient.id))
    form = WithdrawForm()
    if form.validate_on_submit():
        services.withdraw_referral(referral, form.reason.data or "", current_staff())
        flash(_("Referral of %(date)s withdrawn.", date=nl_date(referral.referral_date)), "info")
        return redirect(url_for("referrals.list_referrals", patient_id=patient.id))
    return render_template("referrals/withdraw.html", form=form, patient=patient, referral=referral,
                           row=services.row(referral)), 422 if form.errors else 200
