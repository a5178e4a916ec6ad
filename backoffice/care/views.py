"""Break the glass, the care team on the patient page, the practice setting and the admins' list of
break-the-glass entries."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..access_log.views import NEWEST_FIRST
from ..domain.roles import Permission
from ..extensions import db
from ..models import Patient, Therapist
from ..practice.services import get_practice
from ..security import current_staff, permission_required
from . import access, services
from .forms import AssignForm, BreakGlassForm, PatientAccessSettingForm

bp = Blueprint("care", __name__)


def _to_patient(patient: Patient):
    return redirect(url_for("patients.detail", patient_id=patient.id))


@bp.route("/patients/<int:patient_id>/break-the-glass", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_READ)
def break_glass(patient_id: int):
    patient = db.get_or_404(Patient, patient_id)
    user = current_staff()
    form = BreakGlassForm()
    if access.may_open(user, patient.id):
        return redirect(access.safe_next(form.next.data or request.args.get("next"), patient.id))
    if form.validate_on_submit():
        services.break_glass(patient, form.reason.data, user)
        access.grant(patient.id)
        flash(_("Access granted for %(minutes)s minutes. Your reason is in the access log.",
                minutes=current_app.config["BREAK_GLASS_MINUTES"]), "warning")
        return redirect(access.safe_next(form.next.data, patient.id))
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    return access.refusal(patient.id, form, status=200)


@bp.route("/patients/<int:patient_id>/care-team", methods=["POST"])
@permission_required(Permission.CARE_TEAM_MANAGE)
def assign(patient_id: int):
    patient = db.get_or_404(Patient, patient_id)
    form = AssignForm()
    form.therapist_id.choices = [(t.id, t.name) for t in services.assignable_therapists(patient)]
    if form.validate_on_submit():
        therapist = db.session.get(Therapist, form.therapist_id.data)
        if therapist is not None and services.assign(patient, therapist, current_staff()):
            flash(_("%(name)s is assigned to this patient.", name=therapist.name), "success")
    else:
        flash(_("Choose an active therapist who is not assigned yet."), "warning")
    return _to_patient(patient)


@bp.route("/patients/<int:patient_id>/care-team/take-on", methods=["POST"])
@permission_required(Permission.PATIENTS_WRITE)
def take_on(patient_id: int):
    """The signed-in therapist takes on the patient (reached only with access to the record: access.py)."""
    patient = db.get_or_404(Patient, patient_id)
    if services.take_on(patient, current_staff()):
        flash(_("You are assigned to this patient."), "success")
    else:
        flash(_("Only an active therapist who is not assigned yet can take on a patient."), "warning")
    return _to_patient(patient)


@bp.route("/patients/<int:patient_id>/care-team/<int:therapist_id>/remove", methods=["POST"])
@permission_required(Permission.CARE_TEAM_MANAGE)
def unassign(patient_id: int, therapist_id: int):
    patient = db.get_or_404(Patient, patient_id)
    if not services.unassign(patient, therapist_id, current_staff()):
        abort(404)
    flash(_("The therapist is no longer assigned to this patient."), "info")
    return _to_patient(patient)


@bp.route("/practice/patient-access", methods=["GET", "POST"])
@permission_required(Permission.PRACTICE_WRITE)
def setting():
    """The practice setting: therapists see only their own patients (off by default)."""
    practice = get_practice()
    form = PatientAccessSettingForm(obj=practice)
    if form.validate_on_submit():
        changed = services.set_scoping(bool(form.therapists_own_patients_only.data), current_staff())
        flash(_("Saved.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("practice.show"))
    return render_template("care/setting.html", form=form), 422 if form.errors else 200


@bp.route("/access-log/break-the-glass")
@permission_required(Permission.ACCESS_LOG_READ)
def break_glass_log():
    """Every break-the-glass entry, newest first: who opened which record without a care relationship, and why."""
    after, before = NEWEST_FIRST.cursors(request.args)
    page = NEWEST_FIRST.page(services.break_glass_entries(), current_app.config["PAGE_SIZE"], after, before)
    return render_template("care/break_glass_log.html", page=page)
