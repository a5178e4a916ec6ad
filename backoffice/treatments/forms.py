from __future__ import annotations

from decimal import Decimal, InvalidOperation

from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import TextInput

from ..clock import clinic_today
from ..domain.indications import INDICATIONS, BodyArea
from ..domain.money import format_euro, from_cents, round_cents
from ..formtools import strip

FITZPATRICK_TYPES = [(1, "I"), (2, "II"), (3, "III"), (4, "IV"), (5, "V"), (6, "VI")]


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


def indication_choices() -> dict[str, list[tuple[str, str]]]:
    """Grouped for the select: the group says medical or cosmetic, which decides VAT and reimbursement."""
    groups: dict[str, list[tuple[str, str]]] = {"Medical (VAT-exempt, possibly reimbursable)": [],
                                                "Cosmetic (21 % VAT, never reimbursed)": []}
    medical, cosmetic = groups.keys()
    for indication, info in INDICATIONS.items():
        groups[medical if info.medical else cosmetic].append((indication.value, info.label))
    return groups


def area_choices() -> list[tuple[str, str]]:
    return [(area.value, area.value.replace("_", " ").capitalize()) for area in BodyArea]


class CommaDecimalField(DecimalField):
    """Accepts the Dutch decimal comma (85,50) as well as a point. A text input with inputmode="decimal": a browser
    number field drops the comma before the server sees it (199,50 arrived as 19950)."""

    widget = TextInput()

    def __init__(self, *args, **kwargs):
        kwargs["render_kw"] = {"inputmode": "decimal", **(kwargs.get("render_kw") or {})}
        super().__init__(*args, **kwargs)

    def process_formdata(self, valuelist):
        if valuelist and valuelist[0]:
            text = valuelist[0].strip().replace(" ", "")
            if "," in text:
                text = text.replace(".", "").replace(",", ".")
            try:
                self.data = Decimal(text)
            except (InvalidOperation, ValueError):
                self.data = None
                raise ValueError(self.gettext("Not a valid decimal value.")) from None
            if not self.data.is_finite():
                self.data = None
                raise ValueError(self.gettext("Not a valid decimal value."))
        else:
            self.data = None


class TreatmentForm(FlaskForm):
    therapist_id = SelectField("Therapist", coerce=int, validators=[DataRequired()])
    treatment_date = DateField("Date", validators=[DataRequired(message="Enter a valid date.")])
    catalogue_item_id = SelectField("Treatment (catalogue)", coerce=int, validators=[DataRequired()])
    indication = SelectField("Indication", choices=indication_choices(), validators=[DataRequired()],
                             description="The indication decides medical or cosmetic, not the device.")
    body_area = SelectField("Body area", choices=area_choices(), validators=[DataRequired()])
    session_number = IntegerField("Session", default=1,
                                  validators=[InputRequired(message="Enter the session number."), NumberRange(min=1)])
    series_total = IntegerField("Of a series of", validators=[Optional(), NumberRange(min=1)])
    device = StringField("Device", filters=[strip], validators=[Length(max=100)])
    wavelength_nm = IntegerField("Wavelength (nm)", validators=[Optional(), NumberRange(min=190, max=11000)])
    fluence_j_cm2 = CommaDecimalField("Fluence (J/cm²)", places=2, validators=[Optional()])
    pulse_width_ms = CommaDecimalField("Pulse width (ms)", places=2, validators=[Optional()])
    spot_size_mm = CommaDecimalField("Spot size (mm)", places=2, validators=[Optional()])
    passes = IntegerField("Passes", validators=[Optional(), NumberRange(min=1, max=100)])
    fitzpatrick = SelectField("Fitzpatrick skin type", coerce=_optional_int,
                              choices=[("", "—")] + FITZPATRICK_TYPES)
    notes = TextAreaField("Notes", filters=[strip])
    price = CommaDecimalField("Price (EUR, incl. VAT)", places=2, validators=[Optional()],
                              description="Leave empty for the catalogue price.")
    price_change_reason = StringField("Reason for a different price", filters=[strip],
                                      validators=[Length(max=200)])
    referral_id = SelectField("Referral used", coerce=_optional_int)
    submit = SubmitField("Record treatment")

    # Set by the view: catalogue item id -> price in cents, to check a changed price has a reason.
    catalogue_prices: dict[int, int] = {}

    def validate_treatment_date(self, field):
        if field.data and field.data > clinic_today():
            raise ValidationError("The treatment date lies in the future.")
        if field.data and field.data.year < 2000:
            raise ValidationError("Check the year.")

    def validate_series_total(self, field):
        if field.data is not None and self.session_number.data and field.data < self.session_number.data:
            raise ValidationError("The series cannot be shorter than the session number.")

    @staticmethod
    def _positive(field):
        if field.data is not None and not (Decimal("0") < field.data < Decimal("1000000")):
            raise ValidationError("Enter a number greater than 0.")

    def validate_fluence_j_cm2(self, field):
        self._positive(field)

    def validate_pulse_width_ms(self, field):
        self._positive(field)

    def validate_spot_size_mm(self, field):
        self._positive(field)

    def validate_price(self, field):
        if field.data is None:
            return
        if field.data < 0 or field.data >= Decimal("100000"):
            raise ValidationError("Enter a price from 0 to 99.999,99.")
        if round_cents(field.data) != field.data:
            raise ValidationError("Enter the price in whole cents.")

    def validate_price_change_reason(self, field):
        catalogue = self.catalogue_prices.get(self.catalogue_item_id.data)
        price = self.price.data
        if catalogue is None or price is None or self.price.errors:
            return
        if round_cents(price) != from_cents(catalogue) and not field.data:
            raise ValidationError(
                f"The price differs from the catalogue price ({format_euro(from_cents(catalogue))}): give the reason."
            )
