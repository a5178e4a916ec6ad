from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, SelectField, SubmitField
from wtforms.validators import DataRequired, EqualTo, Length

MIN_PASSWORD_LENGTH = 10


class LoginForm(FlaskForm):
    email = EmailField("E-mail", validators=[DataRequired()])
    password = PasswordField("Password", validators=[DataRequired()])
    submit = SubmitField("Sign in")


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField("Current password", validators=[DataRequired()])
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(min=MIN_PASSWORD_LENGTH, message="Use at least 10 characters.")],
    )
    confirm = PasswordField(
        "Repeat new password", validators=[DataRequired(), EqualTo("new_password", message="The passwords differ.")]
    )
    submit = SubmitField("Change password")


class OnBehalfForm(FlaskForm):
    """NEN 7513 asks on whose behalf a record was used, e.g. an assistant working for a therapist."""

    on_behalf_of = SelectField("Working on behalf of", validate_choice=True)
    submit = SubmitField("Set")
