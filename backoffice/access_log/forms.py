from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectField, SubmitField, ValidationError
from wtforms.validators import NumberRange, Optional

from ..models import ACCESS_ACTIONS


def _optional_int(value):
    if value in (None, ""):
        return None
    return int(value)


class AccessLogFilterForm(FlaskForm):
    """Filters read from the query string: a GET form changes nothing, so it needs no CSRF token."""

    class Meta:
        csrf = False

    user_id = SelectField("User", coerce=_optional_int, validate_choice=False)
    patient_id = IntegerField("Patient id", validators=[Optional(), NumberRange(min=1)])
    action = SelectField("Action", choices=[("", "any")] + [(a, a) for a in ACCESS_ACTIONS], default="")
    date_from = DateField("From", validators=[Optional()])
    date_to = DateField("Until", validators=[Optional()])
    submit = SubmitField("Filter")

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError("The end date lies before the start date.")
