from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, SubmitField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length, Optional

from ..clock import clinic_today
from ..domain.indications import INDICATIONS
from ..domain.referrals import DEFAULT_VALIDITY_MONTHS, ReferrerType
from ..domain.validators import agb_error, clean_digits
from ..fields import DutchDateField
from ..formtools import Check, strip
from ..labels import choices
from ..patients.forms import WithdrawForm
from .services import ReferralInput

__all__ = ["ReferralForm", "WithdrawForm"]

MEDICAL_INDICATIONS = [indication for indication, info in INDICATIONS.items() if info.medical]


class BlankableSelectField(SelectField):
    """A select whose stored value may be NULL: shown (and kept when not posted) as the empty choice."""

    def process_data(self, value):
        super().process_data("" if value is None else value)


class ReferralForm(FlaskForm):
    referrer_type = SelectField(_l("Referrer"), choices=choices("referrer"), validators=[DataRequired()])
    referrer_name = StringField(_l("Referrer's name"), filters=[strip], validators=[DataRequired(), Length(max=200)])
    referrer_agb = StringField(_l("Referrer's AGB code"), filters=[strip, lambda v: clean_digits(v) if v else v],
                               validators=[Check(agb_error)], description=_l("Optional; 8 digits."),
                               render_kw={"inputmode": "numeric", "maxlength": 8})
    referral_date = DutchDateField(_l("Referral date"), validators=[DataRequired(message=_l("Enter a valid date."))])
    diagnosis = TextAreaField(_l("Diagnosis"), filters=[strip], render_kw={"rows": 3})
    indication = BlankableSelectField(_l("Referred for (indication)"), choices=[("", _l("Not recorded"))], default="",
                             coerce=lambda value: value or "", validate_choice=True,
                             description=_l("Some insurers only pay when the referral names the treatment's "
                                            "indication."))
    valid_until = DutchDateField(_l("Valid until"), validators=[Optional()],
                                 description=_l("Empty: %(months)s months from the referral date.",
                                                months=DEFAULT_VALIDITY_MONTHS))
    submit = SubmitField(_l("Save"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.indication.choices = [("", _("Not recorded")), *choices("indication", MEDICAL_INDICATIONS)]

    def validate_referral_date(self, field):
        if field.data and field.data > clinic_today():
            raise ValidationError(_("The referral date lies in the future."))

    def validate_valid_until(self, field):
        if field.data and self.referral_date.data and field.data < self.referral_date.data:
            raise ValidationError(_("A referral cannot end before its date."))

    def to_input(self) -> ReferralInput:
        """The validated form as the service's input."""
        return ReferralInput(
            referrer_type=ReferrerType(self.referrer_type.data), referrer_name=self.referrer_name.data or "",
            referral_date=self.referral_date.data, referrer_agb=self.referrer_agb.data or "",
            diagnosis=self.diagnosis.data or "", valid_until=self.valid_until.data,
            indication=self.indication.data or None,
        )
