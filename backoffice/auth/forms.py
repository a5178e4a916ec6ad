from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

from ..i18n import LANGUAGES
from .passwords import MIN_PASSWORD_LENGTH


class LoginForm(FlaskForm):
    email = EmailField(_l("E-mail"), validators=[DataRequired(message=_l("Enter your e-mail address."))],
                       render_kw={"autocomplete": "username"})
    password = PasswordField(_l("Password"), validators=[DataRequired(message=_l("Enter your password."))],
                             render_kw={"autocomplete": "current-password"})
    submit = SubmitField(_l("Sign in"))


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(_l("Current password"),
                                     validators=[DataRequired(message=_l("Enter your current password."))],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(
        _l("New password"),
        validators=[DataRequired(message=_l("Enter a new password.")),
                    Length(min=MIN_PASSWORD_LENGTH,
                           message=_l("Use at least %(count)s characters.", count=MIN_PASSWORD_LENGTH))],
        render_kw={"autocomplete": "new-password"},
    )
    confirm = PasswordField(
        _l("Repeat new password"),
        validators=[DataRequired(message=_l("Repeat the new password.")),
                    EqualTo("new_password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"},
    )
    submit = SubmitField(_l("Change password"))


class LanguageForm(FlaskForm):
    """The user's own interface language (User.language)."""

    language = SelectField(_l("Language"), choices=list(LANGUAGES.items()), validate_choice=True,
                           description=_l("The language of the screens. Printed documents and the monthly "
                                          "report are always in Dutch."))
    submit = SubmitField(_l("Save language"))


class OnBehalfForm(FlaskForm):
    """NEN 7513 asks on whose behalf a record was used, e.g. an assistant working for a therapist."""

    on_behalf_of = SelectField(_l("Working on behalf of"), validate_choice=True)
    submit = SubmitField(_l("Set"))
