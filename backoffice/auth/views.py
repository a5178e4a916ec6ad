from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from ..domain.roles import Permission
from ..extensions import db
from ..i18n import DEFAULT_LANGUAGE
from ..models import Therapist
from ..request_guards import local_path
from ..security import current_staff, permission_required, public
from .forms import ChangePasswordForm, LanguageForm, LoginForm, OnBehalfForm
from .services import TooManyAttempts, authenticate

bp = Blueprint("auth", __name__)
# The language form shares its page with the password form: its own prefix keeps the ids apart.
LANGUAGE_PREFIX = "account"


def _safe_next(target: str | None) -> str:
    # Only same-site paths: never let ?next= send a user to another host (nor break the Location header).
    if target and local_path(target):
        return target
    return url_for("main.index")


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = authenticate(
                form.email.data,
                form.password.data,
                request.remote_addr or "",
                current_app.config["LOGIN_MAX_FAILURES"],
                current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"],
            )
        except TooManyAttempts:
            minutes = current_app.config["LOGIN_FAILURE_WINDOW_SECONDS"] // 60
            flash(_("Too many failed sign-ins. Try again in %(minutes)s minutes.", minutes=minutes), "danger")
            return render_template("auth/login.html", form=form), 429
        if user is None:  # the failure is counted: the request's commit stores its LoginAttempt
            form.password.errors.append(_("Unknown e-mail address or wrong password."))
            status = 401
        else:
            session.clear()  # no carry-over from before sign-in (session fixation)
            session.permanent = True
            login_user(user)
            flash(_("Welcome, %(name)s.", name=user.name), "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@permission_required(Permission.SIGNED_IN)
def logout():
    current_staff().end_sessions()  # every copy of this session cookie stops working
    logout_user()
    session.clear()
    flash(_("You are signed out."), "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@permission_required(Permission.SIGNED_IN)
def change_password():
    """The user's own settings: the interface language and the password."""
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_staff()
        if not user.check_password(form.current_password.data):
            form.current_password.errors.append(_("This is not your current password."))
        else:
            user.set_password(form.new_password.data)
            user.end_sessions()  # sign out every other browser
            login_user(user)  # keep this browser signed in under the new session version
            flash(_("Your password is changed; other sessions are signed out."), "success")
            return redirect(url_for("main.index"))
    return render_template("auth/change_password.html", form=form, language_form=_language_form()), \
        422 if form.errors else 200


def _language_form() -> LanguageForm:
    return LanguageForm(prefix=LANGUAGE_PREFIX, language=current_staff().language or DEFAULT_LANGUAGE)


@bp.route("/account/language", methods=["POST"])
@permission_required(Permission.SIGNED_IN)
def change_language():
    """The user's own language (User.language), from their settings page."""
    form = LanguageForm(prefix=LANGUAGE_PREFIX)
    if form.validate_on_submit():
        current_staff().language = form.language.data
        session["language"] = form.language.data
        # Flashed after the change: the message is read on the next page, in the new language.
        with force_locale(form.language.data):
            flash(_("Your language is saved."), "success")
        return redirect(url_for("auth.change_password"))
    return render_template("auth/change_password.html", form=ChangePasswordForm(formdata=None),
                           language_form=form), 422


@bp.route("/account/on-behalf", methods=["GET", "POST"])
@permission_required(Permission.SIGNED_IN)
def on_behalf():
    form = OnBehalfForm(on_behalf_of=session.get("on_behalf_of", ""))
    names = db.session.scalars(db.select(Therapist.name).where(Therapist.active).order_by(Therapist.name)).all()
    form.on_behalf_of.choices = [("", _("myself"))] + [(name, name) for name in names if name != current_staff().name]
    if form.validate_on_submit():
        session["on_behalf_of"] = form.on_behalf_of.data
        if form.on_behalf_of.data:
            flash(_("The access log now records that you work on behalf of %(name)s.",
                    name=form.on_behalf_of.data), "info")
        else:
            flash(_("The access log now records that you work for yourself."), "info")
        return redirect(url_for("main.index"))
    return render_template("auth/on_behalf.html", form=form), 422 if form.errors else 200
