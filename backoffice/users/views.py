"""User accounts: administrators create users, change roles, deactivate them and reset passwords."""

from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import login_user

from .. import unit_of_work
from ..domain.roles import Permission
from ..extensions import db
from ..i18n import DEFAULT_LANGUAGE
from ..models import User
from ..security import current_staff, permission_required
from . import services
from .forms import ROLE_LABELS, ResetPasswordForm, UserCreateForm, UserEditForm

bp = Blueprint("users", __name__, url_prefix="/users")


def _refused(form, error: services.UserError) -> None:
    """Drop whatever the refused use case changed, and show the message at its field."""
    unit_of_work.discard()
    field = getattr(form, error.field, None) if error.field else None
    if field is None:
        field = form.name if hasattr(form, "name") else form.password
    field.errors = [*field.errors, str(error)]


def _status(form) -> int:
    return 422 if form.errors else 200


@bp.route("/")
@permission_required(Permission.USERS_MANAGE)
def list_users():
    q = request.args.get("q", "")
    after, before = services.LIST_ORDER.cursors(request.args)
    page = services.LIST_ORDER.page(services.search_query(q), current_app.config["PAGE_SIZE"], after, before)
    return render_template("users/list.html", page=page, q=q, args={"q": q} if q else {})


@bp.route("/new", methods=["GET", "POST"])
@permission_required(Permission.USERS_MANAGE)
def create():
    form = UserCreateForm()
    if form.validate_on_submit():
        try:
            user = services.create_user(form.email.data, form.name.data, form.role.data, form.password.data,
                                        language=form.language.data)
        except services.UserError as error:
            _refused(form, error)
        else:
            flash(_("User %(email)s (%(role)s) created.", email=user.email, role=_role(user.role)), "success")
            return redirect(url_for("users.list_users"))
    return render_template("users/form.html", form=form, user=None, title=_("New user")), _status(form)


def _role(role: str) -> str:
    label = next((label for value, label in ROLE_LABELS.items() if value == role), role)
    return str(label)


@bp.route("/<int:user_id>/edit", methods=["GET", "POST"])
@permission_required(Permission.USERS_MANAGE)
def edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = UserEditForm(obj=user)
    if not form.language.data:  # not chosen yet (Dutch), or a post without the field keeps what it was
        form.language.data = user.language or DEFAULT_LANGUAGE
    if form.validate_on_submit():
        try:
            changed = services.update_user(user, form.name.data, form.role.data, form.active.data,
                                           acting=current_staff(), language=form.language.data)
        except services.UserError as error:
            _refused(form, error)
        else:
            flash(_("User %(email)s saved.", email=user.email) if changed else _("Nothing changed."), "success")
            return redirect(url_for("users.list_users"))
    return render_template("users/form.html", form=form, user=user,
                           title=_("Edit %(email)s", email=user.email)), _status(form)


@bp.route("/<int:user_id>/password", methods=["GET", "POST"])
@permission_required(Permission.USERS_MANAGE)
def reset_password(user_id: int):
    user = db.get_or_404(User, user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(user, form.password.data)
        except services.UserError as error:
            _refused(form, error)
        else:
            if user.id == current_staff().id:
                login_user(user)  # keep this browser signed in under the new session version
            flash(_("New password set for %(email)s; their sessions are signed out.", email=user.email), "success")
            return redirect(url_for("users.list_users"))
    return render_template("users/form.html", form=form, user=user,
                           title=_("New password for %(email)s", email=user.email)), _status(form)


@bp.route("/<int:user_id>/active", methods=["POST"])
@permission_required(Permission.USERS_MANAGE)
def set_active(user_id: int):
    """Deactivate (signs the user out everywhere) or reactivate an account from the list, after confirmation."""
    user = db.get_or_404(User, user_id)
    active = request.form.get("active") == "1"
    try:
        services.update_user(user, user.name, user.role, active, acting=current_staff())
    except services.UserError as error:
        unit_of_work.discard()
        flash(str(error), "danger")
    else:
        message = (_("User %(email)s can sign in again.", email=user.email) if active
                   else _("User %(email)s is deactivated and signed out everywhere.", email=user.email))
        flash(message, "success")
    return redirect(url_for("users.list_users"))
