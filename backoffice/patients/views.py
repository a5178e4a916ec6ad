from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select

from .. import audit
from ..domain.roles import Permission
from ..extensions import db
from ..models import Insurance, Insurer, Package, Patient
from ..security import permission_required
from . import services
from .forms import InsuranceForm, PatientForm

bp = Blueprint("patients", __name__, url_prefix="/patients")


def _patient(patient_id: int) -> Patient:
    return db.get_or_404(Patient, patient_id)


@bp.route("/")
@permission_required(Permission.PATIENTS_READ)
def list_patients():
    q = request.args.get("q", "")
    page = db.paginate(services.search_query(q), per_page=current_app.config["PAGE_SIZE"], error_out=False)
    if q:
        # The search words may hold a BSN: log that a search happened, not what was typed.
        audit.record("search", None, "patient list", f"{page.total} found")
        db.session.commit()
    return render_template("patients/list.html", page=page, q=q)


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def create():
    form = PatientForm()
    if form.validate_on_submit():
        try:
            patient = services.create_patient(form.data)
        except services.DuplicateBsn as error:
            form.bsn.errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Patient {patient.full_name} added.", "success")
            return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=None), 422 if form.errors else 200


@bp.route("/<int:patient_id>")
@permission_required(Permission.PATIENTS_READ)
def detail(patient_id: int):
    patient = _patient(patient_id)
    audit.record("view", patient, "patient")
    db.session.commit()
    return render_template("patients/detail.html", patient=patient)


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def edit(patient_id: int):
    patient = _patient(patient_id)
    form = PatientForm(obj=patient)
    if request.method == "GET":
        form.bsn.data = patient.get_bsn() or ""
        form.id_document_type.data = patient.id_document_type or ""
        audit.record("view", patient, "patient edit form", "full BSN shown" if patient.bsn_encrypted else "")
        db.session.commit()
    elif form.validate_on_submit():
        try:
            changed = services.update_patient(patient, form.data)
        except services.DuplicateBsn as error:
            form.bsn.errors.append(str(error))
        else:
            db.session.commit()
            flash("Saved." if changed else "Nothing changed.", "success")
            return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=patient), 422 if form.errors else 200


def _insurance_form(insurance: Insurance | None = None) -> InsuranceForm:
    form = InsuranceForm(obj=insurance)
    insurers = db.session.scalars(select(Insurer).order_by(Insurer.name)).all()
    form.insurer_id.choices = [(i.id, f"{i.name} ({i.uzovi})") for i in insurers if i.active or
                               (insurance and insurance.insurer_id == i.id)]
    packages = db.session.scalars(select(Package).join(Insurer).order_by(Insurer.name, Package.name)).all()
    form.package_insurers = [(p.id, p.name, p.insurer_id) for p in packages]
    form.package_id.choices = [("", "— none —")] + [(p.id, f"{p.insurer.name}: {p.name}") for p in packages]
    return form


@bp.route("/<int:patient_id>/insurances/new", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def add_insurance(patient_id: int):
    patient = _patient(patient_id)
    form = _insurance_form()
    if form.validate_on_submit():
        services.save_insurance(patient, None, form.data)
        db.session.commit()
        flash("Insurance added.", "success")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_template("patients/insurance_form.html", form=form, patient=patient), 422 if form.errors else 200


def _insurance(patient: Patient, insurance_id: int) -> Insurance:
    insurance = db.get_or_404(Insurance, insurance_id)
    if insurance.patient_id != patient.id:
        abort(404)
    return insurance


@bp.route("/<int:patient_id>/insurances/<int:insurance_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def edit_insurance(patient_id: int, insurance_id: int):
    patient = _patient(patient_id)
    insurance = _insurance(patient, insurance_id)
    form = _insurance_form(insurance)
    if form.validate_on_submit():
        services.save_insurance(patient, insurance, form.data)
        db.session.commit()
        flash("Insurance saved.", "success")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_template("patients/insurance_form.html", form=form, patient=patient), 422 if form.errors else 200


@bp.route("/<int:patient_id>/insurances/<int:insurance_id>/delete", methods=["POST"])
@permission_required(Permission.PATIENTS_WRITE)
def delete_insurance(patient_id: int, insurance_id: int):
    patient = _patient(patient_id)
    services.delete_insurance(_insurance(patient, insurance_id))
    db.session.commit()
    flash("Insurance removed.", "info")
    return redirect(url_for("patients.detail", patient_id=patient.id))


@bp.app_context_processor
def _can():
    return {"can": lambda permission: current_user.is_authenticated and current_user.can(permission)}
