from __future__ import annotations

from flask import Blueprint, current_app, flash, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from flask_babel import force_locale
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from .. import audit
from ..domain.roles import PUBLIC, Permission
from ..extensions import db
from ..i18n import DEFAULT_LANGUAGE
from ..models import Therapist, User
from ..request_guards import local_path
from ..security import current_staff, permission_required, public, required_permission
from . import sessions, twofactor
from .forms import ChangePasswordForm, LanguageForm, LoginForm, OnBehalfForm
from .passwords import password_problem
from .services import AUDIT_SIGN_IN, AUDIT_SIGN_OUT, LoginLimits, TooManyAttempts, authenticate, check_current_password
from .twofactor_forms import (
    PracticeTwoFactorForm,
    ReauthenticateForm,
    RecoveryCodesForm,
    ResetTwoFactorForm,
    TwoFactorCodeForm,
    TwoFactorEnableForm,
)

bp = Blueprint("auth", __name__)
bp.before_app_request(sessions.check)  # the session's lifetimes, on every request of the app
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
            user = authenticate(form.email.data, form.password.data, request.remote_addr or "", _limits(),
                                current_app.config["PASSWORD_HASH_METHOD"], sessions.known_device_user_id())
        except TooManyAttempts as refused:
            flash(wait_message(refused.retry_after), "danger")
            return render_template("auth/login.html", form=form), 429
        if user is None:  # the failure is counted: the request's commit stores its LoginAttempt
            form.password.errors.append(_("Unknown e-mail address or wrong password."))
            status = 401
        elif user.two_factor_enabled:  # the second step: until the code, the session holds only a pending marker
            twofactor.begin_pending(user)
            return redirect(url_for("auth.two_factor_code", next=request.args.get("next")))
        else:
            response = complete_sign_in(user)
            twofactor.mark_reauthenticated()  # the password was just typed: a full BSN may be shown for a while
            return response
    return render_template("auth/login.html", form=form), status


def complete_sign_in(user: User) -> ResponseReturnValue:
    """Sign `user` in (every check passed) and go to the page asked for."""
    session.clear()  # no carry-over from before sign-in (session fixation)
    sessions.start()
    login_user(user)
    audit.record(AUDIT_SIGN_IN, None, "sign-in", user=user)
    flash(_("Welcome, %(name)s.", name=user.name), "success")
    response = redirect(_safe_next(request.args.get("next")))
    sessions.remember_device(response, user)
    return response


def _limits() -> LoginLimits:
    return LoginLimits.from_config(current_app.config)


def wait_message(seconds: int) -> str:
    if seconds <= 90:
        return _("Too many failed attempts. Try again in %(seconds)s seconds.", seconds=seconds)
    return _("Too many failed sign-ins. Try again in %(minutes)s minutes.", minutes=-(-seconds // 60))


@bp.route("/logout", methods=["POST"])
@permission_required(Permission.SIGNED_IN)
def logout():
    audit.record(AUDIT_SIGN_OUT, None, "sign-out")
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
        refusal = _current_password_refusal(user, form.current_password.data)
        weak = None if refusal else password_problem(form.new_password.data, user.email, user.name,
                                                      current=form.current_password.data)
        if refusal:
            form.current_password.errors.append(refusal)
        elif weak:
            form.new_password.errors.append(weak)
        else:
            user.set_password(form.new_password.data)
            user.end_sessions()  # sign out every other browser
            login_user(user)  # keep this browser signed in under the new session version
            flash(_("Your password is changed; other sessions are signed out."), "success")
            return redirect(url_for("main.index"))
    return render_template("auth/change_password.html", form=form, language_form=_language_form()), \
        422 if form.errors else 200


def _current_password_refusal(user: User, password: str) -> str | None:
    try:
        if check_current_password(user, password, request.remote_addr or "", _limits()):
            return None
    except TooManyAttempts as refused:
        return wait_message(refused.retry_after)
    return _("This is not your current password.")


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


# --- Two-factor sign-in (twofactor.py) -----------------------------------------------------------------------------

# Where a user whose role requires a second factor, but who has none yet, may go: the enrolment page and sign-out.
ENROLMENT_ENDPOINTS = frozenset({"auth.two_factor", "auth.logout"})


@bp.before_app_request
def _enrolment_gate():
    """Signed in by password, but the role requires a second factor not yet set up: only the enrolment page."""
    if not current_user.is_authenticated or request.endpoint is None or request.endpoint in ENROLMENT_ENDPOINTS:
        return None
    if required_permission(current_app, request.endpoint) == PUBLIC:
        return None
    user = current_staff()
    if user.two_factor_enabled or not twofactor.enrolment_due(user):
        return None
    if request.method == "GET":
        flash(_("Set up two-factor sign-in first: your role requires it."), "warning")
    return redirect(url_for("auth.two_factor"))


@bp.app_context_processor
def _two_factor_helpers() -> dict:
    def demo_accounts_exempt() -> bool:
        """In development with demo accounts: the sign-in page says they need no second factor."""
        if current_app.config.get("BACKOFFICE_ENV") != "development":
            return False
        return db.session.scalar(db.select(User.id).where(User.demo).limit(1)) is not None

    return {"two_factor_demo_note": demo_accounts_exempt}


@bp.route("/login/code", methods=["GET", "POST"])
@public
def two_factor_code():
    """The second step of signing in. Nobody is signed in yet: the session holds only the pending marker."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    user = twofactor.pending_user()
    if user is None:
        twofactor.end_pending()
        flash(_("Sign in with your password first."), "info")
        return redirect(url_for("auth.login", next=request.args.get("next")))
    form = TwoFactorCodeForm()
    if form.validate_on_submit():
        if twofactor.verify_second_factor(user, form.code.data):
            twofactor.record_success(user)
            response = complete_sign_in(user)  # clears the session: the pending marker goes with it
            twofactor.mark_reauthenticated()
            left = twofactor.recovery_codes_left(user)
            if left <= 2:
                flash(_("You have %(count)s recovery codes left: make new ones under My settings.", count=left),
                      "warning")
            return response
        if twofactor.record_failure(user):
            twofactor.end_pending()
            flash(_("Too many wrong codes. Sign in with your password again."), "danger")
            return redirect(url_for("auth.login"))
        form.code.errors.append(_("This code is not right, or it was used already."))
    return render_template("auth/two_factor_code.html", form=form, cancel_form=ResetTwoFactorForm(prefix="cancel")), \
        422 if form.errors else 200


@bp.route("/login/code/cancel", methods=["POST"])
@public
def two_factor_cancel():
    """Leave the pending sign-in (the sign-out of someone not yet signed in)."""
    form = ResetTwoFactorForm(prefix="cancel")
    if form.validate_on_submit():
        twofactor.end_pending()
    return redirect(url_for("auth.login"))


@bp.route("/account/two-factor", methods=["GET", "POST"])
@permission_required(Permission.SIGNED_IN)
def two_factor():
    """Two-factor sign-in in the user's own settings: set it up (QR code, then a code to confirm), or see that it
    is on and make new recovery codes."""
    user = current_staff()
    if user.two_factor_enabled:
        return render_template("auth/two_factor.html", user=user, required=twofactor.required(user),
                               codes_left=twofactor.recovery_codes_left(user), recovery_form=RecoveryCodesForm())
    secret = twofactor.pending_secret(user)
    form = TwoFactorEnableForm()
    if form.validate_on_submit():
        codes = twofactor.enable(user, form.code.data)
        if codes is not None:
            audit.record("update", None, f"user {user.id} two-factor", "two-factor sign-in turned on")
            flash(_("Two-factor sign-in is on."), "success")
            return render_template("auth/two_factor_recovery_codes.html", codes=codes)
        form.code.errors.append(_("This code is not right. Check that the time on your phone is correct."))
    uri = twofactor.provisioning_uri(user, secret)
    return render_template("auth/two_factor.html", user=user, form=form, qr=twofactor.qr_data_uri(uri),
                           secret=twofactor.grouped(secret), required=twofactor.required(user)), \
        422 if form.errors else 200


@bp.route("/account/two-factor/recovery-codes", methods=["POST"])
@permission_required(Permission.SIGNED_IN)
def new_recovery_codes():
    user = current_staff()
    form = RecoveryCodesForm()
    if not user.two_factor_enabled:
        return redirect(url_for("auth.two_factor"))
    if form.validate_on_submit():
        if twofactor.verify_totp(user, form.code.data):
            twofactor.record_success(user)
            codes = twofactor.new_recovery_codes(user)
            audit.record("update", None, f"user {user.id} two-factor", "new recovery codes")
            return render_template("auth/two_factor_recovery_codes.html", codes=codes)
        if twofactor.record_failure(user):
            return redirect(url_for("auth.login"))  # every session ended: sign in again
        form.code.errors.append(_("This code is not right, or it was used already."))
    return render_template("auth/two_factor.html", user=user, required=twofactor.required(user),
                           codes_left=twofactor.recovery_codes_left(user), recovery_form=form), 422


@bp.route("/account/confirm", methods=["GET", "POST"])
@permission_required(Permission.SIGNED_IN)
def reauthenticate():
    """The password (or a code) again before a full BSN is shown; then back to the page that asked."""
    user = current_staff()
    target = _safe_next(request.args.get("next"))
    form = ReauthenticateForm()
    if form.validate_on_submit():
        if twofactor.check_password_or_code(user, form.secret.data):
            twofactor.record_success(user)
            twofactor.mark_reauthenticated()
            return redirect(target)
        if twofactor.record_failure(user):
            logout_user()
            session.clear()
            flash(_("Too many wrong attempts: you are signed out."), "danger")
            return redirect(url_for("auth.login"))
        form.secret.errors.append(_("This is not your password, or the code is not right."))
    return render_template("auth/two_factor_reauthenticate.html", form=form, target=target,
                           minutes=twofactor.reauth_seconds() // 60), 422 if form.errors else 200


@bp.route("/users/<int:user_id>/two-factor/reset", methods=["POST"])
@permission_required(Permission.USERS_MANAGE)
def reset_two_factor(user_id: int):
    """An admin turns another user's second factor off (a lost phone); that user's sessions end."""
    user = db.get_or_404(User, user_id)
    form = ResetTwoFactorForm()
    if form.validate_on_submit():
        twofactor.reset(user)
        audit.record("update", None, f"user {user.id} two-factor",
                     f"two-factor sign-in of {user.email} reset by an administrator")
        if user.id == current_staff().id:
            login_user(user)  # keep this browser signed in under the new session version
        flash(_("Two-factor sign-in of %(email)s is reset; they set it up again at their next sign-in.",
                email=user.email), "success")
    return redirect(url_for("users.edit", user_id=user.id))


@bp.route("/practice/two-factor", methods=["POST"])
@permission_required(Permission.PRACTICE_WRITE)
def practice_two_factor():
    """The practice setting: whether therapists sign in with a second factor (admins and managers always do)."""
    from ..practice.services import forget_access_settings, get_or_create_practice

    form = PracticeTwoFactorForm()
    if form.validate_on_submit():
        practice = get_or_create_practice()
        if practice.therapists_two_factor != form.therapists_two_factor.data:
            practice.therapists_two_factor = form.therapists_two_factor.data
            forget_access_settings()
            audit.record("update", None, "practice two-factor",
                         "therapists sign in with a second factor: " + ("on" if practice.therapists_two_factor
                                                                         else "off"))
        flash(_("Sign-in setting saved."), "success")
    return redirect(url_for("practice.show"))
