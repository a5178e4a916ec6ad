from __future__ import annotations

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, unit_of_work
from ..domain.roles import Permission
from ..extensions import db
from ..intakes import services as intake_services
from ..invoicing.patient_documents import patient_documents
from ..models import ID_DOCUMENT_TYPES, Insurance, Insurer, Package, Patient
from ..paging import Keyset
from ..referrals import services as referral_services
from ..security import can, current_staff, permission_required
from . import services
from .forms import EndInsuranceForm, InsuranceForm, PatientForm, WithdrawForm

bp = Blueprint("patients", __name__, url_prefix="/patients")

# The patient list's order, by name then id (the index ix_patients_last_name_first_name), paged by key.
LIST_ORDER = Keyset((Patient.last_name, Patient.first_name, Patient.id))


def _patient(patient_id: int) -> Patient:
    return db.get_or_404(Patient, patient_id)


@bp.route("/")
@permission_required(Permission.PATIENTS_READ)
def list_patients():
    q = request.args.get("q", "")
    after, before = LIST_ORDER.cursors(request.args)
    page = LIST_ORDER.page(services.search_query(q), current_app.config["PAGE_SIZE"], after, before)
    if q:
        # The search words may hold a BSN: log that a search happened, not what was typed.
        audit.record("search", None, "patient list", f"{len(page.items)} shown")
    return render_template("patients/list.html", page=page, q=q, args={"q": q} if q else {})


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def create():
    form = PatientForm()
    if form.validate_on_submit():
        try:
            patient = services.create_patient(form.to_input(), current_staff())
        except services.DuplicateBsn as error:
            unit_of_work.discard()
            form.bsn.errors.append(str(error))
        else:
            flash(_("Patient %(name)s added.", name=patient.full_name), "success")
            return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=None), 422 if form.errors else 200


@bp.route("/<int:patient_id>")
@permission_required(Permission.PATIENTS_READ)
def detail(patient_id: int):
    patient = _patient(patient_id)
    audit.record("view", patient, "patient")
    from ..treatments.services import patient_treatments

    # The page is built here from the services, not by template globals: templates run no queries.
    treatments = patient_treatments(patient.id) if can(Permission.TREATMENTS_READ) else None
    invoice_documents = patient_documents(patient.id) if can(Permission.INVOICES_READ) else None
    id_document = _(ID_DOCUMENT_TYPES[patient.id_document_type]) \
        if patient.id_document_type in ID_DOCUMENT_TYPES else ""
    return render_template("patients/detail.html", patient=patient, treatments=treatments, id_document=id_document,
                           intake=intake_services.overview(patient),
                           referral_rows=referral_services.rows(patient), invoice_documents=invoice_documents)


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def edit(patient_id: int):
    patient = _patient(patient_id)
    form = PatientForm(obj=patient)
    if request.method == "GET":
        form.bsn.data = patient.get_bsn() or ""
        form.id_document_type.data = patient.id_document_type or ""
        audit.record("view", patient, "patient edit form", "full BSN shown" if patient.bsn_encrypted else "")
    elif form.validate_on_submit():
        try:
            changed = services.update_patient(patient, form.to_input(), current_staff())
        except services.DuplicateBsn as error:
            # The changes made before the refusal were flushed: drop them, or the request's commit stores them.
            unit_of_work.discard()
            form.bsn.errors.append(str(error))
        else:
            flash(_("Saved.") if changed else _("Nothing changed."), "success")
            return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=patient), 422 if form.errors else 200


def _insurance_form(insurance: Insurance | None = None) -> InsuranceForm:
    form = InsuranceForm(obj=insurance)
    insurers = db.session.scalars(select(Insurer).order_by(Insurer.name)).all()
    form.insurer_id.choices = [(i.id, f"{i.name} ({i.uzovi})") for i in insurers if i.active or
                               (insurance and insurance.insurer_id == i.id)]
    packages = db.session.scalars(select(Package).join(Insurer).order_by(Insurer.name, Package.name)).all()
    form.package_insurers = [(p.id, p.name, p.insurer_id) for p in packages]
    # Each package names its insurer (data-for): the browser lists only the chosen insurer's packages.
    form.package_id.choices = [("", _("— none —"))] + [
        (p.id, f"{p.insurer.name}: {p.name}", {"data-for": str(p.insurer_id)}) for p in packages]
    return form


@bp.route("/<int:patient_id>/insurances/new", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def add_insurance(patient_id: int):
    patient = _patient(patient_id)
    form = _insurance_form()
    if form.validate_on_submit():
        services.save_insurance(patient, None, form.to_input(), current_staff())
        flash(_("Insurance added."), "success")
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
    if insurance.withdrawn:
        flash(_("This insurance was withdrawn and can no longer be changed."), "warning")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    form = _insurance_form(insurance)
    if form.validate_on_submit():
        services.save_insurance(patient, insurance, form.to_input(), current_staff())
        flash(_("Insurance saved."), "success")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_template("patients/insurance_form.html", form=form, patient=patient), 422 if form.errors else 200


def _insurance_label(insurance: Insurance) -> str:
    return f"{insurance.insurer.name}, {insurance.policy_number}"


@bp.route("/<int:patient_id>/insurances/<int:insurance_id>/end", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def end_insurance(patient_id: int, insurance_id: int):
    """End an insurance (the patient changed insurer): the history up to the last day keeps using it."""
    patient = _patient(patient_id)
    insurance = _insurance(patient, insurance_id)
    if insurance.withdrawn:
        flash(_("This insurance was withdrawn and can no longer be changed."), "warning")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    form = EndInsuranceForm(valid_from=insurance.valid_from)
    if request.method == "GET":
        form.valid_until.data = insurance.valid_until
    if form.validate_on_submit():
        services.end_insurance(insurance, form.valid_until.data, current_staff())
        flash(_("Insurance %(insurance)s ended.", insurance=_insurance_label(insurance)), "success")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_template("patients/insurance_end.html", form=form, patient=patient, insurance=insurance), \
        422 if form.errors else 200


@bp.route("/<int:patient_id>/insurances/<int:insurance_id>/withdraw", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def withdraw_insurance(patient_id: int, insurance_id: int):
    """Withdraw an insurance recorded in error: it stays in the history (struck through), never used again."""
    patient = _patient(patient_id)
    insurance = _insurance(patient, insurance_id)
    if insurance.withdrawn:
        flash(_("This insurance was already withdrawn."), "warning")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    form = WithdrawForm()
    if form.validate_on_submit():
        services.withdraw_insurance(insurance, form.reason.data or "", current_staff())
        flash(_("Insurance %(insurance)s withdrawn.", insurance=_insurance_label(insurance)), "info")
        return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_template("patients/insurance_withdraw.html", form=form, patient=patient, insurance=insurance), \
        422 if form.errors else 200
