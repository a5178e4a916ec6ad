from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, Email, EqualTo, Length

from ..auth.forms import MIN_PASSWORD_LENGTH
from ..domain.roles import Role
from ..formtools import strip

ROLE_CHOICES = [(role.value, role.value.title()) for role in Role]


def _lower(value):
    return value.lower() if isinstance(value, str) else value


def _password_fields(label: str):
    password = PasswordField(
        label,
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH,
                                           message=f"Use at least {MIN_PASSWORD_LENGTH} characters.")],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        "Repeat password",
        validators=[DataRequired(), EqualTo("password", message="The passwords differ.")],
        render_kw={"autocomplete": "new-password"},
    )
    return password, confirm


class UserCreateForm(FlaskForm):
    email = EmailField("E-mail (login)", filters=[strip, _lower],
                       validators=[DataRequired(), Email(check_deliverability=False), Length(max=200)])
    name = StringField("Name", filters=[strip], validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=True)
    password, confirm = _password_fields("Initial password")
    submit = SubmitField("Create user")


class UserEditForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=[DataRequired(), Length(max=200)])
    role = SelectField("Role", choices=ROLE_CHOICES, validate_choice=True,
                       description="Changing the role signs the user out everywhere.")
    active = BooleanField("Active",
                          description="An inactive user cannot sign in; deactivating signs them out.")
    submit = SubmitField("Save")


class ResetPasswordForm(FlaskForm):
    password, confirm = _password_fields("New password")
    submit = SubmitField("Set password")
