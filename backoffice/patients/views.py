from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select

from .. import audit, exports, unit_of_work
from ..auth import twofactor
from ..care import services as care
from ..domain.roles import Permission, Role
from ..domain.validators import bsn_error
from ..extensions import db
from ..intakes import services as intake_services
from ..invoicing.patient_documents import patient_documents
from ..models import ID_DOCUMENT_TYPES, Insurance, Insurer, Package, Patient, User
from ..referrals import services as referral_services
from ..security import current_staff, permission_required
from . import services
from .forms import BsnSearchForm, EndInsuranceForm, InsuranceForm, PatientForm, WithdrawForm

bp = Blueprint("patients", __name__, url_prefix="/patients")


def _patient(patient_id: int) -> Patient:
    return db.get_or_404(Patient, patient_id)


@bp.route("/")
@permission_required(Permission.PATIENTS_READ)
def list_patients():
    values = list_page(request.args, current_staff())
    page, q = values["page"], values["q"]
    # Names, dates of birth and postcodes on screen: one entry naming the patients shown, never the words typed.
    if q or page.items:
        audit.record_shown("search" if q else "view", "patient list", [p.id for p in page.items],
                           "patient search" if q else "")
    return render_template("patients/list.html", **values)


def list_page(args, user: User) -> dict[str, Any]:
    """The patient list's page as `user` sees it, and the rest of its template's values (the view adds the access
    log; bench_routes.py renders the same without it, to measure what sign-in and logging cost)."""
    q = services.list_search(args)
    after, before = services.LIST_ORDER.cursors(args)
    # A therapist limited to their own patients (backoffice/care/) finds only those.
    query = services.list_query(q, user)
    page = services.LIST_ORDER.page(query, current_app.config["PAGE_SIZE"], after, before)
    return {"page": page, "q": q, "args": {"q": q} if q else {}, "bsn_form": BsnSearchForm(formdata=None)}


@bp.route("/export")
@permission_required(Permission.PATIENTS_READ)
def export():
    """Every patient the list's search finds (not just a page), as Excel or CSV; logged (backoffice/exports/)."""
    return exports.respond(exports.patients(services.list_search(request.args), current_staff()),
                           exports.export_format(request.args))


@bp.route("/find-by-bsn", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_READ)
def find_by_bsn():
    """Search by BSN: a POST, so the number never travels in a URL (and so in no server log). One patient found:
    their page; none or several (a policy number of these digits): the results here."""
    form = BsnSearchForm()
    found = None
    if form.validate_on_submit():
        limit = current_app.config["PAGE_SIZE"]
        query = care.visible_patients(services.bsn_search_query(form.bsn.data), current_staff())
        found = db.session.scalars(query.limit(limit)).all()
        audit.record_shown("search", "patient search by BSN", [p.id for p in found])
        if len(found) == 1:
            return redirect(url_for("patients.detail", patient_id=found[0].id))
        if not found and bsn_error(form.bsn.data):
            form.bsn.errors.append(str(bsn_error(form.bsn.data)))  # a typing slip: it fails the eleven-test
    return render_template("patients/bsn_search.html", form=form, found=found), 422 if form.errors else 200


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
            if current_staff().role == Role.THERAPIST:
                care.take_on(patient, current_staff())  # the therapist who adds a patient takes them on
            flash(_("Patient %(name)s added.", name=patient.full_name), "success")
            return redirect(url_for("patients.detail", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=None), 422 if form.errors else 200


@bp.route("/<int:patient_id>")
@permission_required(Permission.PATIENTS_READ)
def detail(patient_id: int):
    patient = _patient(patient_id)
    # ?bsn=full asks for the full BSN (a flag, never the number): within minutes of the password or a code only.
    full_bsn = None
    if request.args.get("bsn") == "full" and patient.bsn_encrypted:
        if not twofactor.recently_reauthenticated():
            return redirect(url_for("auth.reauthenticate",
                                    next=url_for("patients.detail", patient_id=patient.id, bsn="full")))
        full_bsn = patient.get_bsn()
    page = render_template("patients/detail.html", **detail_page(patient, current_staff(), full_bsn))
    # Logged once the page is built: the entry is stored by the request's commit all the same (no commit, no page),
    # and its INSERT takes the access log's lock until that commit (audit_chain.py). Logged first, the queries and
    # the rendering ran under the lock too, and every patient page of every worker waited for the one before.
    audit.record("view", patient, "patient", "full BSN shown" if full_bsn else "")
    return page


def detail_page(patient: Patient, user: User, full_bsn: str | None = None) -> dict[str, Any]:
    """The patient page's template values as `user` sees them (the view adds the access log; bench_routes.py
    renders the same without it)."""
    from ..treatments.services import patient_treatments

    # The page is built here from the services, not by template globals: templates run no queries.
    treatments = patient_treatments(patient.id) if user.can(Permission.TREATMENTS_READ) else None
    invoice_documents = patient_documents(patient.id) if user.can(Permission.INVOICES_READ) else None
    id_document = _(ID_DOCUMENT_TYPES[patient.id_document_type]) \
        if patient.id_document_type in ID_DOCUMENT_TYPES else ""
    return {"patient": patient, "treatments": treatments, "id_document": id_document,
            "intake": intake_services.overview(patient), "referral_rows": referral_services.rows(patient),
            "invoice_documents": invoice_documents, "care_team": care.care_team(patient, user), "full_bsn": full_bsn}


@bp.route("/<int:patient_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.PATIENTS_WRITE)
def edit(patient_id: int):
    patient = _patient(patient_id)
    form = PatientForm(obj=patient)
    # The full BSN only within minutes of the password or a code (auth/twofactor.py); else masked, kept when empty.
    kept = False
    if request.method == "GET":
        full = twofactor.recently_reauthenticated() or not patient.bsn_encrypted
        form.bsn.data = (patient.get_bsn() or "") if full else ""
        form.bsn_kept.data = "" if full else "1"
        form.id_document_type.data = patient.id_document_type or ""
        audit.record("view", patient, "patient edit form", "full BSN shown" if full and patient.bsn_encrypted else "")
    else:
        kept = form.bsn_kept.data == "1" and not form.bsn.data
        if kept:
            form.bsn.data = patient.get_bsn() or ""
        if form.validate_on_submit():
            try:
                changed = services.update_patient(patient, form.to_input(), current_staff())
            except services.DuplicateBsn as error:
                # The changes made before the refusal were flushed: drop them, or the request's commit stores them.
                unit_of_work.discard()
                form.bsn.errors.append(str(error))
            else:
                flash(_("Saved.") if changed else _("Nothing changed."), "success")
                return redirect(url_for("patients.detail", patient_id=patient.id))
    bsn_reveal_url = None
    if form.bsn_kept.data == "1" and patient.bsn_encrypted:
        if kept:
            form.bsn.data = ""  # shown again: still masked
        form.bsn.render_kw = {**(form.bsn.render_kw or {}), "placeholder": patient.bsn_masked}
        form.bsn.description = _("Shown masked. Leave it empty to keep the number, or type a new one.")
        bsn_reveal_url = url_for("auth.reauthenticate", next=url_for("patients.edit", patient_id=patient.id))
    return render_template("patients/form.html", form=form, patient=patient, bsn_reveal_url=bsn_reveal_url), \
        422 if form.errors else 200


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
