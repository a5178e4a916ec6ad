from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SubmitField
from wtforms.validators import DataRequired


class ExportPatientForm(FlaskForm):
    submit = SubmitField(_l("Download patient data (ZIP)"))


class DeletePatientForm(FlaskForm):
    confirm = BooleanField(_l("I understand that this patient's personal data are erased for good"),
                           validators=[DataRequired(message=_l("Tick the box to confirm."))])
    submit = SubmitField(_l("Delete patient"))
