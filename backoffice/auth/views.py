from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask_login import current_user, login_user, logout_user

from ..domain.roles import Permission
from ..extensions import db
from ..models import Therapist
from ..request_guards import local_path
from ..security import current_staff, permission_required, public
from .forms import ChangePasswordForm, LoginForm, OnBehalfForm
from .services import TooManyAttempts, authenticate

bp = Blueprint("auth", __name__)


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
            flash(f"Too many failed sign-ins. Try again in {minutes} minutes.", "danger")
            return render_template("auth/login.html", form=form), 429
        if user is None:  # the failure is counted: the request's commit stores its LoginAttempt
            form.password.errors.append("Unknown e-mail address or wrong password.")
            status = 401
        else:
            session.clear()  # no carry-over from before sign-in (session fixation)
            session.permanent = True
            login_user(user)
            flash(f"Welcome, {user.name}.", "success")
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@permission_required(Permission.SIGNED_IN)
def logout():
    current_staff().end_sessions()  # every copy of this session cookie stops working
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@permission_required(Permission.SIGNED_IN)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        user = current_staff()
        if not user.check_password(form.current_password.data):
            form.current_password.errors.append("This is not your current password.")
        else:
            user.set_password(form.new_password.data)
            user.end_sessions()  # sign out every other browser
            login_user(user)  # keep this browser signed in under the new session version
            flash("Your password is changed; other sessions are signed out.", "success")
            return redirect(url_for("main.index"))
    return render_template("auth/change_password.html", form=form)


@bp.route("/account/on-behalf", methods=["GET", "POST"])
@permission_required(Permission.SIGNED_IN)
def on_behalf():
    form = OnBehalfForm(on_behalf_of=session.get("on_behalf_of", ""))
    names = db.session.scalars(db.select(Therapist.name).where(Therapist.active).order_by(Therapist.name)).all()
    form.on_behalf_of.choices = [("", "myself")] + [(name, name) for name in names if name != current_staff().name]
    if form.validate_on_submit():
        session["on_behalf_of"] = form.on_behalf_of.data
        who = form.on_behalf_of.data or "yourself"
        flash(f"The access log now records that you work on behalf of {who}.", "info")
        return redirect(url_for("main.index"))
    return render_template("auth/on_behalf.html", form=form), 422 if form.errors else 200
