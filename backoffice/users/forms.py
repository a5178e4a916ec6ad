from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from ..auth.passwords import MIN_PASSWORD_LENGTH
from ..domain.roles import Role
from ..formtools import strip
from ..i18n import DEFAULT_LANGUAGE, LANGUAGES

ROLE_LABELS = {Role.ADMIN: _l("Administrator"), Role.THERAPIST: _l("Therapist"), Role.MANAGER: _l("Manager")}
ROLE_CHOICES = [(role.value, ROLE_LABELS[role]) for role in Role]
LANGUAGE_CHOICES = list(LANGUAGES.items())


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _password_fields(label):
    password = PasswordField(
        label,
        validators=[DataRequired(message=_l("Enter a password.")),
                    Length(min=MIN_PASSWORD_LENGTH,
                           message=_l("Use at least %(count)s characters.", count=MIN_PASSWORD_LENGTH))],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat password"),
        validators=[DataRequired(message=_l("Repeat the password.")),
                    EqualTo("password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


def _language_field():
    return SelectField(_l("Language"), choices=LANGUAGE_CHOICES, default=DEFAULT_LANGUAGE, validate_choice=True,
                       description=_l("The language of the screens for this user; printed documents are "
                                      "always in Dutch."))


class UserCreateForm(FlaskForm):
    email = EmailField(_l("E-mail (to sign in)"), filters=[strip, _lower],
                       validators=[DataRequired(message=_l("Enter an e-mail address.")),
                                   Email(check_deliverability=False, message=_l("Enter a valid e-mail address.")),
                                   Length(max=200)])
    name = StringField(_l("Name"), filters=[strip],
                       validators=[DataRequired(message=_l("Enter the user's name.")), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validate_choice=True)
    language = _language_field()
    password, confirm = _password_fields(_l("Initial password"))
    submit = SubmitField(_l("Create user"))


class UserEditForm(FlaskForm):
    name = StringField(_l("Name"), filters=[strip],
                       validators=[DataRequired(message=_l("Enter the user's name.")), Length(max=200)])
    role = SelectField(_l("Role"), choices=ROLE_CHOICES, validate_choice=True,
                       description=_l("Changing the role signs the user out everywhere."))
    language = _language_field()
    active = BooleanField(_l("Active"),
                          description=_l("An inactive user cannot sign in; deactivating signs them out."))
    submit = SubmitField(_l("Save"))


class ResetPasswordForm(FlaskForm):
    password, confirm = _password_fields(_l("New password"))
    submit = SubmitField(_l("Set password"))
