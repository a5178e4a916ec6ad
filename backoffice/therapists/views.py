from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import undefer

from ..clock import clinic_today
from ..domain.roles import Permission
from ..extensions import db
from ..models import KpRegistration, NvhMembership, Therapist
from ..security import current_staff, permission_required
from . import services
from .forms import CheckOnDateForm, KpRegistrationForm, NvhMembershipForm, TherapistForm, required

bp = Blueprint("therapists", __name__, url_prefix="/therapists")


def _therapist(therapist_id: int) -> Therapist:
    return db.get_or_404(Therapist, therapist_id)


def _to_detail(therapist: Therapist):
    return redirect(url_for("therapists.detail", therapist_id=therapist.id))


def _status(form) -> int:
    return 422 if form.errors else 200


@bp.route("/")
@permission_required(Permission.THERAPISTS_READ)
def list_therapists():
    q = request.args.get("q", "")
    after, before = services.LIST_ORDER.cursors(request.args)
    page = services.LIST_ORDER.page(services.search_query(q), current_app.config["PAGE_SIZE"], after, before)
    today, warn_days = clinic_today(), current_app.config["CREDENTIAL_WARNING_DAYS"]
    rows = [(therapist, therapist.badge(today, warn_days)) for therapist in page.items]
    return render_template("therapists/list.html", page=page, rows=rows, q=q, args={"q": q} if q else {})


def _therapist_form(therapist: Therapist | None = None) -> TherapistForm:
    form = TherapistForm(obj=therapist)
    form.user_id.choices = [("", _("— no account —"))] + [
        (user.id, f"{user.name} <{user.email}>") for user in services.linkable_users(therapist)
    ]
    return form


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.THERAPISTS_WRITE)
def create():
    form = _therapist_form()
    if form.validate_on_submit():
        therapist = services.save_therapist(None, form.to_input())
        flash(_("Therapist %(name)s added.", name=therapist.name), "success")
        return _to_detail(therapist)
    return render_template("therapists/form.html", form=form, therapist=None), _status(form)


@bp.route("/<int:therapist_id>")
@permission_required(Permission.THERAPISTS_READ)
def detail(therapist_id: int):
    therapist = _therapist(therapist_id)
    status = therapist.badge(clinic_today(), current_app.config["CREDENTIAL_WARNING_DAYS"])
    check_form = CheckOnDateForm(formdata=request.args if "on" in request.args else None)
    check = None
    if "on" in request.args and check_form.validate():
        check = therapist.eligibility_on(required(check_form.on.data))
    elif "on" not in request.args:
        check_form.on.data = clinic_today()
    return render_template("therapists/detail.html", therapist=therapist, status=status,
                           check_form=check_form, check=check)


@bp.route("/<int:therapist_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.THERAPISTS_WRITE)
def edit(therapist_id: int):
    therapist = _therapist(therapist_id)
    form = _therapist_form(therapist)
    if form.validate_on_submit():
        services.save_therapist(therapist, form.to_input())
        flash(_("Therapist saved."), "success")
        return _to_detail(therapist)
    return render_template("therapists/form.html", form=form, therapist=therapist), _status(form)


# ---- NVH memberships ---------------------------------------------------------------------------------

def _membership(therapist: Therapist, membership_id: int) -> NvhMembership:
    membership = db.get_or_404(NvhMembership, membership_id)
    if membership.therapist_id != therapist.id:
        abort(404)
    return membership


@bp.route("/<int:therapist_id>/nvh/new", methods=["GET", "POST"], endpoint="add_membership")
@bp.route("/<int:therapist_id>/nvh/<int:membership_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.THERAPISTS_WRITE)
def edit_membership(therapist_id: int, membership_id: int | None = None):
    therapist = _therapist(therapist_id)
    membership = _membership(therapist, membership_id) if membership_id else None
    form = NvhMembershipForm(obj=membership)
    if form.validate_on_submit():
        services.save_membership(therapist, membership, form.to_input())
        flash(_("NVH membership saved."), "success")
        return _to_detail(therapist)
    return render_template("therapists/membership_form.html", form=form, therapist=therapist,
                           membership=membership), _status(form)


@bp.route("/<int:therapist_id>/nvh/<int:membership_id>/delete", methods=["POST"])
@permission_required(Permission.THERAPISTS_WRITE)
def delete_membership(therapist_id: int, membership_id: int):
    therapist = _therapist(therapist_id)
    services.delete_membership(_membership(therapist, membership_id))
    flash(_("NVH membership removed."), "info")
    return _to_detail(therapist)


# ---- KP registrations --------------------------------------------------------------------------------

def _registration(therapist: Therapist, registration_id: int, with_evidence: bool = False) -> KpRegistration:
    options = [undefer(KpRegistration.evidence)] if with_evidence else []
    registration = db.get_or_404(KpRegistration, registration_id, options=options)
    if registration.therapist_id != therapist.id:
        abort(404)
    return registration


@bp.route("/<int:therapist_id>/kp/new", methods=["GET", "POST"], endpoint="add_registration")
@bp.route("/<int:therapist_id>/kp/<int:registration_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.THERAPISTS_WRITE)
def edit_registration(therapist_id: int, registration_id: int | None = None):
    therapist = _therapist(therapist_id)
    registration = _registration(therapist, registration_id) if registration_id else None
    form = KpRegistrationForm(obj=registration)
    if form.validate_on_submit():
        services.save_registration(therapist, registration, form.to_input(), current_staff())
        flash(_("KP registration saved; you are recorded as the person who checked it."), "success")
        return _to_detail(therapist)
    return render_template("therapists/registration_form.html", form=form, therapist=therapist,
                           registration=registration), _status(form)


@bp.route("/<int:therapist_id>/kp/<int:registration_id>/delete", methods=["POST"])
@permission_required(Permission.THERAPISTS_WRITE)
def delete_registration(therapist_id: int, registration_id: int):
    therapist = _therapist(therapist_id)
    services.delete_registration(_registration(therapist, registration_id))
    flash(_("KP registration removed."), "info")
    return _to_detail(therapist)


@bp.route("/<int:therapist_id>/kp/<int:registration_id>/evidence")
@permission_required(Permission.THERAPISTS_READ)
def evidence(therapist_id: int, registration_id: int):
    registration = _registration(_therapist(therapist_id), registration_id, with_evidence=True)
    if registration.evidence is None:
        abort(404)
    response = send_file(
        BytesIO(registration.evidence),
        mimetype=registration.evidence_mimetype or "application/octet-stream",
        as_attachment=True,
        download_name=registration.evidence_filename or "kp-evidence",
    )
    response.headers["Cache-Control"] = "no-store"  # send_file's no-cache would still let it be stored
    return response
