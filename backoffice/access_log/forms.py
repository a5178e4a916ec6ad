from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, SubmitField, ValidationError
from wtforms.validators import NumberRange, Optional

from ..fields import DutchDateField
from ..models import ACCESS_ACTIONS

# The log's actions as people read them (the stored codes stay English: the log is evidence, not interface).
ACTION_LABELS = {
    "view": _l("view"),
    "create": _l("create"),
    "update": _l("update"),
    "delete": _l("delete"),
    "print": _l("print"),
    "export": _l("export"),
    "search": _l("search"),
}


def _optional_int(value):
    if value in (None, ""):
        return None
    return int(value)


class AccessLogFilterForm(FlaskForm):
    """Filters read from the query string: a GET form changes nothing, so it needs no CSRF token."""

    class Meta:
        csrf = False

    user_id = SelectField(_l("User"), coerce=_optional_int, validate_choice=False)
    patient_id = IntegerField(_l("Patient id"), validators=[Optional(), NumberRange(min=1)])
    action = SelectField(_l("Action"), default="",
                         choices=[("", _l("any"))] + [(a, ACTION_LABELS.get(a, a)) for a in ACCESS_ACTIONS])
    date_from = DutchDateField(_l("From"), validators=[Optional()])
    date_to = DutchDateField(_l("Until"), validators=[Optional()])
    submit = SubmitField(_l("Filter"))

    def validate_date_to(self, field):
        if field.data and self.date_from.data and field.data < self.date_from.data:
            raise ValidationError(_("The end date lies before the start date."))
