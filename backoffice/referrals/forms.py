from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, StringField, SubmitField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length, Optional

from ..clock import clinic_today
from ..domain.referrals import DEFAULT_VALIDITY_MONTHS, REFERRER_LABELS, ReferrerType
from ..domain.validators import agb_error, clean_digits
from ..formtools import Check, strip
from .services import ReferralInput


class ReferralForm(FlaskForm):
    referrer_type = SelectField("Referrer", choices=[(t.value, REFERRER_LABELS[t]) for t in ReferrerType],
                                validators=[DataRequired()])
    referrer_name = StringField("Referrer's name", filters=[strip], validators=[DataRequired(), Length(max=200)])
    referrer_agb = StringField("Referrer's AGB code", filters=[strip, lambda v: clean_digits(v) if v else v],
                               validators=[Check(agb_error)],
                               description="Optional; 8 digits.", render_kw={"inputmode": "numeric", "maxlength": 8})
    referral_date = DateField("Referral date", validators=[DataRequired(message="Enter a valid date.")])
    diagnosis = TextAreaField("Diagnosis", filters=[strip], render_kw={"rows": 3})
    valid_until = DateField("Valid until", validators=[Optional()],
                            description=f"Empty: {DEFAULT_VALIDITY_MONTHS} months from the referral date.")
    submit = SubmitField("Save")

    def validate_referral_date(self, field):
        if field.data and field.data > clinic_today():
            raise ValidationError("The referral date lies in the future.")

    def validate_valid_until(self, field):
        if field.data and self.referral_date.data and field.data < self.referral_date.data:
            raise ValidationError("A referral cannot end before its date.")

    def to_input(self) -> ReferralInput:
        """The validated form as the service's input."""
        return ReferralInput(
            referrer_type=ReferrerType(self.referrer_type.data), referrer_name=self.referrer_name.data or "",
            referral_date=self.referral_date.data, referrer_agb=self.referrer_agb.data or "",
            diagnosis=self.diagnosis.data or "", valid_until=self.valid_until.data,
        )
