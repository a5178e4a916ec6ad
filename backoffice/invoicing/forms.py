"""Forms of the invoice pages. Issue, remove-line and delete buttons are plain POST forms with the CSRF token
(CSRFProtect checks every POST); these are the forms with fields. Texts are English message ids, translated
lazily (the classes are built at import, the page in each user's language)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField, SubmitField, ValidationError
from wtforms.validators import DataRequired, InputRequired, Length

from ..clock import clinic_today
from ..domain.money import round_cents
from ..fields import DutchDateField, MoneyField
from ..formtools import strip
from ..models import DESK_PAYMENT_METHODS

METHOD_CHOICES = [(value, _l(label)) for value, label in DESK_PAYMENT_METHODS.items()]


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
        _l("Treatments to invoice"),
        validators=[DataRequired(message=_l("Choose at least one treatment to invoice."))],
        invalid_message=_l("A chosen treatment can no longer be invoiced (it is on an invoice now, or it is not a "
                           "treatment of this patient). Check the list and choose again."))
    submit = SubmitField(_l("Create draft invoice"))


class CreditForm(FlaskForm):
    line_ids = Choices(_l("Lines to credit"),
                       validators=[DataRequired(message=_l("Choose at least one line to credit."))],
                       invalid_message=_l("A chosen line is already credited or not on this invoice. Choose again."))
    reason = StringField(_l("Reason"), filters=[strip],
                         validators=[DataRequired(message=_l("Give the reason for the credit note.")),
                                     Length(max=500)],
                         description=_l("Printed on the credit note."))
    submit = SubmitField(_l("Issue credit note"))


class _MoneyForm(FlaskForm):
    paid_on = DutchDateField(_l("Paid on"), validators=[DataRequired(message=_l("Enter a valid date."))])
    method = SelectField(_l("Method"), choices=METHOD_CHOICES, validators=[DataRequired()])
    amount = MoneyField(_l("Amount (EUR)"), validators=[InputRequired(message=_l("Enter the amount."))])
    note = StringField(_l("Note"), filters=[strip], validators=[Length(max=200)])

    def validate_paid_on(self, field):
        if field.data and field.data > clinic_today() + timedelta(days=1):
            raise ValidationError(_l("The payment date lies in the future."))
        if field.data and field.data.year < 2000:
            raise ValidationError(_l("Check the year."))

    def validate_amount(self, field):
        if field.data is None:
            return
        if field.data <= 0:
            raise ValidationError(_l("Enter an amount above 0."))
        if field.data >= Decimal("1000000"):
            raise ValidationError(_l("Enter an amount below 1.000.000,00."))
        if round_cents(field.data) != field.data:
            raise ValidationError(_l("Enter the amount in whole cents."))


class PaymentForm(_MoneyForm):
    """Money received. Above the open balance only as an overpayment to refund (the service checks the balance)."""

    overpayment = BooleanField(
        _l("Overpayment to refund"),
        description=_l("Tick only when more than the open balance was really received: the excess is shown as "
                       "to be refunded."))
    submit = SubmitField(_l("Record payment"))


class RefundForm(_MoneyForm):
    """Money paid back to the patient, at most what was paid too much."""

    submit = SubmitField(_l("Record refund"))


class ReversalForm(FlaskForm):
    reason = StringField(_l("Reason for the reversal"), filters=[strip],
                         validators=[DataRequired(message=_l("Give the reason for the reversal.")),
                                     Length(max=200)])
    submit = SubmitField(_l("Reverse payment"))
