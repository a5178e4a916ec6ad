from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from .. import audit
from ..clinical import services as clinical_services
from ..domain.dutch import nl_date
from ..domain.roles import Permission
from ..extensions import db
from ..models import Intake, Patient
from ..security import current_staff, permission_required
from . import services
from .forms import IntakeForm, intake_form_class

bp = Blueprint("intakes", __name__, url_prefix="/patients/<int:patient_id>/intakes")


def _patient(patient_id: int) -> Patient:
    return db.get_or_404(Patient, patient_id)


def _intake(patient: Patient, intake_id: int) -> Intake:
    intake = db.get_or_404(Intake, intake_id)
    if intake.patient_id != patient.id:
        abort(404)
    return intake


def _form(intake: Intake | None = None) -> IntakeForm:
    """The intake form for the practice's list: its active contraindications and medications, and those the edited
    intake records (kept, so a deactivated one is not silently dropped)."""
    recorded: set[str] = set()
    if intake is not None:
        stored = intake.to_domain()
        recorded = {str(e.kind) for e in stored.contraindications} | {str(u.medication) for u in stored.medications}
    rules = [row.to_domain() for row in clinical_services.contraindications() if row.active or row.code in recorded]
    return intake_form_class(rules)(obj=intake)


def _render_form(form: IntakeForm, patient: Patient, intake: Intake | None):
    return render_template("intakes/form.html", form=form, patient=patient, intake=intake), \
        422 if form.errors else 200


@bp.route("/")
@permission_required(Permission.PATIENTS_READ)
def list_intakes(patient_id: int):
    patient = _patient(patient_id)
    audit.record("view", patient, "intake history")
    return render_template("intakes/list.html", patient=patient, intakes=patient.intakes,
                           describe=services.describe_contraindication)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def create(patient_id: int):
    patient = _patient(patient_id)
    form = _form()
    if request.method == "GET":
        form.consent_by.data = patient.full_name
    if form.validate_on_submit():
        intake = services.create_intake(patient, form.to_input(), current_staff())
        flash(_("Intake of %(date)s saved.", date=nl_date(intake.intake_date)), "success")
        return redirect(url_for("intakes.detail", patient_id=patient.id, intake_id=intake.id))
    return _render_form(form, patient, None)


@bp.route("/<int:intake_id>")
@permission_required(Permission.PATIENTS_READ)
def detail(patient_id: int, intake_id: int):
    patient = _patient(patient_id)
    intake = _intake(patient, intake_id)
    audit.record("view", patient, f"intake {intake.id}")
    domain_intake = intake.to_domain()
    return render_template(
        "intakes/detail.html", patient=patient, intake=intake,
        contraindications=[services.describe_contraindication(e) for e in domain_intake.contraindications],
        medications=[services.describe_medication(u) for u in domain_intake.medications],
    )


@bp.route("/<int:intake_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def edit(patient_id: int, intake_id: int):
    patient = _patient(patient_id)
    intake = _intake(patient, intake_id)
    form = _form(intake)
    if request.method == "GET":
        form.fill_from(intake.to_domain())
        audit.record("view", patient, f"intake {intake.id} edit form")
    elif form.validate_on_submit():
        changed = services.update_intake(intake, form.to_input(), current_staff())
        flash(_("Intake corrected.") if changed else _("Nothing changed."), "success")
        return redirect(url_for("intakes.detail", patient_id=patient.id, intake_id=intake.id))
    return _render_form(form, patient, intake)
