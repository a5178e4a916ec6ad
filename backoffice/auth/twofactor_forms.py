"""Forms of two-factor sign-in and re-authentication (views in views.py, rules in twofactor.py)."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, StringField, SubmitField
from wtforms.validators import DataRequired, Length

from ..formtools import strip


class TwoFactorCodeForm(FlaskForm):
    """The second step of signing in: a code from the app, or a recovery code."""

    code = StringField(
        _l("Code"), filters=[strip],
        validators=[DataRequired(message=_l("Enter the code from your app.")), Length(max=40)],
        description=_l("The 6-digit code from your authenticator app, or one of your recovery codes."),
        render_kw={"autocomplete": "one-time-code", "autofocus": True, "spellcheck": "false"},
    )
    submit = SubmitField(_l("Verify"))


class TwoFactorEnableForm(FlaskForm):
    code = StringField(
        _l("Code from the app"), filters=[strip],
        validators=[DataRequired(message=_l("Enter the code from your app.")), Length(max=20)],
        description=_l("After scanning, your app shows a 6-digit code: type it here to turn two-factor sign-in on."),
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField(_l("Turn on two-factor sign-in"))


class RecoveryCodesForm(FlaskForm):
    code = StringField(
        _l("Code from the app"), filters=[strip],
        validators=[DataRequired(message=_l("Enter the code from your app.")), Length(max=20)],
        render_kw={"autocomplete": "one-time-code", "inputmode": "numeric"},
    )
    submit = SubmitField(_l("Make new recovery codes"))


class ReauthenticateForm(FlaskForm):
    """Before a full BSN is shown: the password again, or a code from the app."""

    secret = PasswordField(
        _l("Password or code"),
        validators=[DataRequired(message=_l("Enter your password or a code from your app.")), Length(max=200)],
        description=_l("Your password, or the 6-digit code from your authenticator app."),
        render_kw={"autocomplete": "current-password", "autofocus": True},
    )
    submit = SubmitField(_l("Confirm"))


class ResetTwoFactorForm(FlaskForm):
    """An admin turns another user's two-factor sign-in off (a lost phone); only the CSRF token and a button."""

    submit = SubmitField(_l("Reset two-factor sign-in"))


class PracticeTwoFactorForm(FlaskForm):
    therapists_two_factor = BooleanField(
        _l("Therapists sign in with a second factor"),
        description=_l("Administrators and managers always do. Switched off, therapists sign in with their "
                       "password alone."),
    )
    submit = SubmitField(_l("Save sign-in setting"))
