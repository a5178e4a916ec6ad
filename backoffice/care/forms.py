from __future__ import annotations

import re

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, HiddenField, SelectField, SubmitField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length

from ..domain.validators import bsn_error
from ..formtools import strip

REASON_MIN_LENGTH = 15
REASON_MAX_LENGTH = 500
# Nine digits, perhaps with spaces, dots or dashes between them, not inside a longer number.
_NINE_DIGITS = re.compile(r"(?<![0-9])[0-9](?:[ .\-]?[0-9]){8}(?![0-9])", re.ASCII)


class BreakGlassForm(FlaskForm):
    """Why a therapist opens the record of a patient they have no care relationship with."""

    reason = TextAreaField(
        _l("Reason"), filters=[strip],
        validators=[DataRequired(message=_l("Say why you need this record.")),
                    Length(min=REASON_MIN_LENGTH, max=REASON_MAX_LENGTH,
                           message=_l("Write the reason in %(min)d to %(max)d characters.",
                                      min=REASON_MIN_LENGTH, max=REASON_MAX_LENGTH))],
        description=_l("For example: covering for a sick colleague, the patient is at the desk with a question."),
        render_kw={"rows": 3})
    next = HiddenField()
    submit = SubmitField(_l("Open the record"))

    def validate_reason(self, field):
        # The reason goes into the access log, where a BSN must never be.
        if any(bsn_error(match.group()) is None for match in _NINE_DIGITS.finditer(field.data or "")):
            raise ValidationError(_("Do not write a BSN in the reason."))


class AssignForm(FlaskForm):
    therapist_id = SelectField(_l("Therapist"), coerce=int,
                               validate_choice=True)
    submit = SubmitField(_l("Assign"))


class PatientAccessSettingForm(FlaskForm):
    therapists_own_patients_only = BooleanField(_l("Therapists see only their own patients"))
    submit = SubmitField(_l("Save"))
