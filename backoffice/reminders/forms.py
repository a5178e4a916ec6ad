"""The payment reminder settings: the days, and the collection-cost scale (brackets, minimum, maximum, VAT)."""

from __future__ import annotations

from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import FieldList, Form, FormField, IntegerField, SubmitField
from wtforms.validators import InputRequired, NumberRange, Optional

from ..domain import reminders as rules
from ..fields import DecimalNLField, MoneyField

BRACKET_ROWS = 8  # rows shown for the scale; empty ones are left out


def _days(label, low: int, high: int, description=None) -> IntegerField:
    return IntegerField(label, description=description, validators=[
        InputRequired(message=_l("Enter a number of days.")),
        NumberRange(min=low, max=high, message=_l("Enter %(low)s to %(high)s.", low=low, high=high))])


class BracketForm(Form):
    """One row of the scale (a sub-form: the page's own form carries the CSRF token)."""

    start = MoneyField(_l("From (EUR)"), validators=[Optional(), NumberRange(min=0, message=_l("Enter 0 or more."))])
    rate = DecimalNLField(_l("Percentage"), places=2, validators=[
        Optional(), NumberRange(min=0, max=100, message=_l("Enter 0 to 100."))])

    def filled(self) -> bool:
        return self.start.data is not None or self.rate.data is not None


class ReminderSettingsForm(FlaskForm):
    friendly_after_days = _days(_l("Payment reminder: days after the due date"), 1, 365)
    friendly_term_days = _days(_l("Payment reminder: days to pay"), 1, 90,
                               _l("The pay-by date printed on the payment reminder."))
    formal_after_days = _days(_l("14-day letter: days after the payment reminder"), 1, 365)
    formal_term_days = _days(_l("14-day letter: days to pay"), rules.LEGAL_TERM_DAYS, 90,
                             _l("Counted from the day after the letter is received; the law asks at least 14."))
    receipt_days = _days(_l("Days for a letter to arrive"), 0, 10,
                         _l("The 14-day letter assumes it arrives this many days after its date."))
    costs_minimum = MoneyField(_l("Minimum collection costs (EUR)"), validators=[
        InputRequired(message=_l("Enter the minimum (0 for none).")),
        NumberRange(min=0, message=_l("Enter 0 or more."))])
    costs_maximum = MoneyField(_l("Maximum collection costs (EUR)"), validators=[
        Optional(), NumberRange(min=0, message=_l("Enter 0 or more."))], description=_l("Empty: no maximum."))
    costs_vat_rate = IntegerField(_l("VAT on the collection costs (%)"), default=0, validators=[
        InputRequired(message=_l("Enter the VAT rate (0 for none).")),
        NumberRange(min=0, max=100, message=_l("Enter 0 to 100."))],
        description=_l("0 unless the practice may and does add VAT (it cannot deduct it, and the letter says so)."))
    brackets = FieldList(FormField(BracketForm), min_entries=BRACKET_ROWS, max_entries=BRACKET_ROWS)
    submit = SubmitField(_l("Save"))

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for row in self.brackets:
            if row.form.start.data is not None and row.form.rate.data is None:
                row.form.rate.errors.append(_l("Enter the percentage of this bracket."))
                valid = False
            elif row.form.rate.data is not None and row.form.start.data is None:
                row.form.start.errors.append(_l("Enter the amount this bracket starts at."))
                valid = False
        return valid

    def fill(self, policy: rules.ReminderPolicy, scale: rules.CostScale) -> None:
        """The current settings into the fields (a GET)."""
        for name in ("friendly_after_days", "friendly_term_days", "formal_after_days", "formal_term_days",
                     "receipt_days"):
            self[name].data = getattr(policy, name)
        self.costs_minimum.data = scale.minimum
        self.costs_maximum.data = scale.maximum
        self.costs_vat_rate.data = int(scale.vat_rate)
        for row, bracket in zip(self.brackets, scale.brackets, strict=False):
            row.form.start.data, row.form.rate.data = bracket.start, bracket.rate

    def policy(self) -> rules.ReminderPolicy:
        """The days entered (raises ValueError with the domain's words when they cannot be used)."""
        return rules.ReminderPolicy(
            friendly_after_days=self.friendly_after_days.data, friendly_term_days=self.friendly_term_days.data,
            formal_after_days=self.formal_after_days.data, receipt_days=self.receipt_days.data,
            formal_term_days=self.formal_term_days.data)

    def scale(self) -> rules.CostScale:
        """The scale entered, brackets sorted by their start (raises ValueError when it cannot be used)."""
        brackets = sorted((rules.Bracket(Decimal(row.form.start.data), Decimal(row.form.rate.data))
                           for row in self.brackets if row.form.filled()), key=lambda bracket: bracket.start)
        return rules.CostScale(tuple(brackets), Decimal(self.costs_minimum.data),
                               Decimal(self.costs_maximum.data) if self.costs_maximum.data is not None else None,
                               Decimal(self.costs_vat_rate.data))
