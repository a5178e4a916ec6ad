from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField, SelectMultipleField, StringField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..domain.indications import INDICATIONS, Indication
from ..fields import DutchDateField
from ..formtools import strip
from ..labels import choices
from ..patients.forms import WithdrawForm
from .services import AuthorisationInput

__all__ = ["AuthorisationForm", "WithdrawForm"]

MEDICAL_INDICATIONS = [indication for indication, info in INDICATIONS.items() if info.medical]


class AuthorisationForm(FlaskForm):
    insurer_id = SelectField(_l("Insurer"), coerce=int, validators=[DataRequired(message=_l("Choose the insurer."))])
    number = StringField(_l("Authorisation number"), filters=[strip],
                         validators=[DataRequired(message=_l("Enter the authorisation number.")), Length(max=40)])
    valid_from = DutchDateField(_l("Valid from"), validators=[DataRequired(message=_l("Enter a valid date."))])
    valid_until = DutchDateField(_l("Valid until"), validators=[DataRequired(message=_l("Enter a valid date."))])
    indications = SelectMultipleField(_l("Indications covered"), validate_choice=True,
                                      validators=[DataRequired(message=_l("Choose at least one indication."))])
    max_treatments = IntegerField(_l("Maximum number of treatments"), validators=[
        Optional(), NumberRange(min=1, max=999, message=_l("Enter 1 or more, or leave it empty."))],
        description=_l("As the authorisation states; empty: no maximum."))
    notes = TextAreaField(_l("Notes"), filters=[strip], render_kw={"rows": 2})
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.indications.choices = choices("indication", MEDICAL_INDICATIONS)

    def validate_valid_until(self, field):
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            from wtforms import ValidationError

            raise ValidationError(_("An authorisation cannot end before it starts."))

    def to_input(self) -> AuthorisationInput:
        return AuthorisationInput(
            insurer_id=self.insurer_id.data, number=self.number.data or "", valid_from=self.valid_from.data,
            valid_until=self.valid_until.data, indications=tuple(Indication(i) for i in self.indications.data or ()),
            max_treatments=self.max_treatments.data, notes=self.notes.data or "",
        )
