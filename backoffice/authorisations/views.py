from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, unit_of_work
from ..domain.roles import Permission
from ..extensions import db
from ..models import Insurer, Patient, PriorAuthorisation
from ..security import current_staff, permission_required
from . import services
from .forms import AuthorisationForm, WithdrawForm

bp = Blueprint("authorisations", __name__, url_prefix="/patients/<int:patient_id>/authorisations")


@bp.app_template_global("prior_authorisations_of")
def prior_authorisations_of(patient_id: int) -> list[PriorAuthorisation]:
    """For the patient page's section (the page itself logs the view of the record)."""
    return services.authorisations_of(patient_id)


def _patient(patient_id: int) -> Patient:
    return db.get_or_404(Patient, patient_id)


def _authorisation(patient: Patient, authorisation_id: int) -> PriorAuthorisation:
    authorisation = db.get_or_404(PriorAuthorisation, authorisation_id)
    if authorisation.patient_id != patient.id:
        abort(404)
    return authorisation


def _to_list(patient: Patient):
    return redirect(url_for("authorisations.list_authorisations", patient_id=patient.id))


@bp.route("/")
@permission_required(Permission.PATIENTS_READ)
def list_authorisations(patient_id: int):
    patient = _patient(patient_id)
    audit.record("view", patient, "prior authorisations")
    return render_template("authorisations/list.html", patient=patient,
                           authorisations=services.authorisations_of(patient.id))


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def create(patient_id: int):
    patient = _patient(patient_id)
    form = AuthorisationForm()
    form.insurer_id.choices = [(i.id, i.name) for i in db.session.scalars(
        select(Insurer).where(Insurer.active.is_(True)).order_by(Insurer.name))]
    if form.validate_on_submit():
        try:
            services.create_authorisation(patient, form.to_input(), current_staff())
        except services.AuthorisationRefused as error:
            unit_of_work.discard()
            form[error.field or "number"].errors.append(str(error))
        else:
            flash(_("Prior authorisation added."), "success")
            return _to_list(patient)
    return render_template("authorisations/form.html", form=form, patient=patient), 422 if form.errors else 200


@bp.route("/<int:authorisation_id>/withdraw", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def withdraw(patient_id: int, authorisation_id: int):
    """Withdraw an authorisation: kept in the history with who, when and why; no new assessment uses it."""
    patient = _patient(patient_id)
    authorisation = _authorisation(patient, authorisation_id)
    if authorisation.withdrawn:
        flash(_("This authorisation was already withdrawn."), "warning")
        return _to_list(patient)
    form = WithdrawForm()
    if form.validate_on_submit():
        services.withdraw_authorisation(authorisation, form.reason.data or "", current_staff())
        flash(_("Prior authorisation %(number)s withdrawn.", number=authorisation.number), "info")
        return _to_list(patient)
    audit.record("view", patient, f"prior authorisation {authorisation.id} withdraw form")
    return render_template("authorisations/withdraw.html", form=form, patient=patient,
                           authorisation=authorisation), 422 if form.errors else 200
