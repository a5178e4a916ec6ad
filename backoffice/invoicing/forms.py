"""Forms of the invoice pages. Issue, remove-line and delete buttons are plain POST forms with the CSRF token
(CSRFProtect checks every POST); these are the forms with fields."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField, SelectMultipleField, StringField, SubmitField, ValidationError
from wtforms.validators import DataRequired, InputRequired, Length

from ..clock import clinic_today
from ..domain.money import round_cents
from ..formtools import strip
from ..models import PAYMENT_METHODS
from ..treatments.forms import CommaDecimalField


class Choices(SelectMultipleField):
    """Several ids from the offered list; anything else gets `invalid_message` (the page was stale)."""

    def __init__(self, *args, invalid_message: str, **kwargs):
        super().__init__(*args, coerce=int, **kwargs)
        self.invalid_message = invalid_message

    def pre_validate(self, form):
        offered = {value for value, _label in self.choices or ()}
        if any(value not in offered for value in self.data or ()):
            raise ValidationError(self.invalid_message)


class DraftForm(FlaskForm):
    treatment_ids = Choices(
        "Treatments to invoice", validators=[DataRequired(message="Choose at least one treatment to invoice.")],
        invalid_message="A chosen treatment can no longer be invoiced (it is on an invoice now, or it is not a "
                        "treatment of this patient). Check the list and choose again.")
    submit = SubmitField("Create draft invoice")


class CreditForm(FlaskForm):
    line_ids = Choices("Lines to credit", validators=[DataRequired(message="Choose at least one line to credit.")],
                       invalid_message="A chosen line is already credited or not on this invoice. Choose again.")
    reason = StringField("Reason", filters=[strip],
                         validators=[DataRequired(message="Give the reason for the credit note."), Length(max=500)],
                         description="Printed on the credit note.")
    submit = SubmitField("Issue credit note")


class PaymentForm(FlaskForm):
    paid_on = DateField("Paid on", validators=[DataRequired(message="Enter a valid date.")])
    method = SelectField("Method", choices=list(PAYMENT_METHODS.items()), validators=[DataRequired()])
    amount = CommaDecimalField("Amount (EUR)", places=2, validators=[InputRequired(message="Enter the amount.")],
                               description="Negative for a refund.")
    note = StringField("Note", filters=[strip], validators=[Length(max=200)])
    submit = SubmitField("Record payment")

    def validate_paid_on(self, field):
        if field.data and field.data > clinic_today() + timedelta(days=1):
            raise ValidationError("The payment date lies in the future.")
        if field.data and field.data.year < 2000:
            raise ValidationError("Check the year.")

    def validate_amount(self, field):
        if field.data is None:
            return
        if field.data == 0:
            raise ValidationError("A payment needs an amount other than 0.")
        if abs(field.data) >= Decimal("1000000"):
            raise ValidationError("Enter an amount below 1.000.000,00.")
        if round_cents(field.data) != field.data:
            raise ValidationError("Enter the amount in whole cents.")
