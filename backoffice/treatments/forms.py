"""The treatment form (recording and correcting), in sections; every text translatable (lazy: built at import)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from flask_babel import format_decimal
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from markupsafe import Markup
from wtforms import (
    BooleanField,
    IntegerField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import Select, html_params

from ..clock import clinic_today
from ..domain.indications import INDICATIONS, Indication, Technique, fits
from ..domain.money import format_euro, from_cents, round_cents
from ..fields import DecimalNLField, DutchDateField, MoneyField
from ..formtools import strip
from ..labels import choices, indication_label

FITZPATRICK_TYPES = [(1, "I"), (2, "II"), (3, "III"), (4, "IV"), (5, "V"), (6, "VI")]
# The key of a catalogue item without a technique, for the indication select's data-for (static/app.js).
NO_TECHNIQUE = "none"


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


def technique_key(technique: str | None) -> str:
    """A catalogue item's key for the dependent indication select: its technique, or "none"."""
    return technique or NO_TECHNIQUE


def _techniques_for(indication: Indication) -> str:
    """The technique keys an indication is offered for (data-for), with the items without a technique."""
    return " ".join([t.value for t in Technique if fits(t, indication)] + [NO_TECHNIQUE])


def indication_choices(rows: Iterable[Any] | None = None) -> list[tuple[str, Any, dict[str, str]]]:
    """An empty "choose" first (no medical default), then each indication with the techniques it fits and whether
    it is medical. `rows`: the practice's indications (models.ClinicalIndication, set by the view); without them
    the built-in set."""
    if rows is None:
        return [("", _l("Choose the indication…"), {})] + [
            (value, label, {"data-for": _techniques_for(Indication(value)),
                            "data-medical": _flag(INDICATIONS[Indication(value)].medical)})
            for value, label in choices("indication")
        ]
    return [("", _l("Choose the indication…"), {})] + [
        (row.code, _l(row.label), {
            "data-for": " ".join([t.code for t in row.techniques] + [Technique.OTHER.value, NO_TECHNIQUE]),
            "data-medical": _flag(row.medical)})
        for row in rows
    ]


def _flag(value: bool) -> str:
    return "true" if value else "false"


def area_choices() -> list[tuple[str, Any]]:
    return [("", _l("Choose the body area…"))] + choices("body_area")


class IndicationSelect(Select):
    """The indication select in two groups, medical and cosmetic (the group decides VAT and reimbursement), after
    the empty "choose" option, which belongs to neither."""

    def __call__(self, field: Any, **kwargs: Any) -> Markup:
        kwargs.setdefault("id", field.id)
        if field.flags.required:
            kwargs.setdefault("required", True)
        html = [f"<select {html_params(name=field.name, **kwargs)}>"]
        groups: dict[bool, list[str]] = {True: [], False: []}
        for value, label, selected, render_kw in field.iter_choices():
            option = self.render_option(value, label, selected, **render_kw)
            if not value:
                html.append(option)
            else:
                groups[render_kw.get("data-medical") == "true"].append(option)
        for medical, options in groups.items():
            group = _("Medical (VAT-exempt, possibly reimbursable)") if medical else _(
                "Cosmetic (21 % VAT, never reimbursed)")
            html.append(f"<optgroup {html_params(label=group)}>{''.join(options)}</optgroup>")
        html.append("</select>")
        return Markup("".join(html))  # noqa: S704 - built from render_option and html_params, which escape


class TreatmentForm(FlaskForm):
    catalogue_item_id = SelectField(_l("Treatment (catalogue)"), coerce=_optional_int,
                                    validators=[DataRequired(message=_l("Choose the treatment."))])
    indication = SelectField(_l("Indication"), choices=indication_choices(), widget=IndicationSelect(),
                             validators=[DataRequired(message=_l("Choose the indication."))],
                             render_kw={"data-depends-on": "catalogue_item_id"},
                             description=_l("The indication decides medical or cosmetic, not the device."))
    body_area = SelectField(_l("Body area"), choices=area_choices(),
                            validators=[DataRequired(message=_l("Choose the body area."))])
    therapist_id = SelectField(_l("Therapist"), coerce=_optional_int,
                               validators=[DataRequired(message=_l("Choose the therapist."))])
    treatment_date = DutchDateField(_l("Date"), validators=[DataRequired(message=_l("Enter a valid date."))])
    session_number = IntegerField(_l("Session"), default=1, validators=[
        InputRequired(message=_l("Enter the session number.")),
        NumberRange(min=1, message=_l("Enter a session number of 1 or more."))])
    series_total = IntegerField(_l("Of a series of"), validators=[
        Optional(), NumberRange(min=1, message=_l("Enter a number of sessions of 1 or more."))])
    referral_id = SelectField(_l("Referral used"), coerce=_optional_int)
    price = MoneyField(_l("Price (EUR, incl. VAT)"), validators=[Optional()],
                       description=_l("Leave empty for the catalogue price."))
    price_change_reason = StringField(_l("Reason for a different price"), filters=[strip],
                                      validators=[Length(max=200, message=_l("At most 200 characters."))])
    price_confirmed = BooleanField(_l("Yes, this price is right"))
    device = StringField(_l("Device"), filters=[strip],
                         validators=[Length(max=100, message=_l("At most 100 characters."))])
    wavelength_nm = IntegerField(_l("Wavelength (nm)"), validators=[
        Optional(), NumberRange(min=190, max=11000, message=_l("Enter a wavelength from 190 to 11000 nm."))])
    fluence_j_cm2 = DecimalNLField(_l("Fluence (J/cm²)"), places=2, validators=[Optional()])
    pulse_width_ms = DecimalNLField(_l("Pulse width (ms)"), places=2, validators=[Optional()])
    spot_size_mm = DecimalNLField(_l("Spot size (mm)"), places=2, validators=[Optional()])
    passes = IntegerField(_l("Passes"), validators=[
        Optional(), NumberRange(min=1, max=100, message=_l("Enter 1 to 100 passes."))])
    fitzpatrick = SelectField(_l("Fitzpatrick skin type"), coerce=_optional_int,
                              choices=[("", "—")] + FITZPATRICK_TYPES)
    notes = TextAreaField(_l("Notes"), filters=[strip])
    submit = SubmitField(_l("Record treatment"))

    # The form in sections (legend, field names), laid out side by side on a wide screen.
    SECTIONS: tuple[tuple[Any, tuple[str, ...]], ...] = (
        (_l("What and where"), ("catalogue_item_id", "indication", "body_area")),
        (_l("Who and when"), ("therapist_id", "treatment_date", "session_number", "series_total", "referral_id")),
        (_l("Price"), ("price", "price_change_reason", "price_confirmed")),
        (_l("Device and laser settings"), ("device", "wavelength_nm", "fluence_j_cm2", "pulse_width_ms",
                                           "spot_size_mm", "passes", "fitzpatrick")),
        (_l("Notes"), ("notes",)),
    )

    # Set by the view: catalogue item id -> price in cents (a changed price needs a reason) and -> technique
    # (the indication must fit it); the share of the catalogue price beyond which a price needs a confirmation.
    catalogue_prices: dict[int, int] = {}
    catalogue_techniques: dict[int, str | None] = {}
    confirm_share: float = 0.5

    def validate_treatment_date(self, field):
        if field.data and field.data > clinic_today():
            raise ValidationError(_("The treatment date lies in the future."))
        if field.data and field.data.year < 2000:
            raise ValidationError(_("Check the year."))

    def validate_series_total(self, field):
        if field.data is not None and self.session_number.data and field.data < self.session_number.data:
            raise ValidationError(_("The series cannot be shorter than the session number."))

    def validate_indication(self, field):
        item_id = self.catalogue_item_id.data
        if not field.data or item_id not in self.catalogue_techniques:
            return
        technique = self.catalogue_techniques[item_id]
        offered_for = next((kw.get("data-for", "").split() for value, _label, kw in
                            (c for c in field.choices if len(c) == 3) if value == field.data), [])
        if technique and technique != Technique.OTHER and technique not in offered_for:
            raise ValidationError(_("%(indication)s is not treated with this treatment: choose an indication that "
                                    "fits it, or another treatment.", indication=indication_label(field.data)))

    @staticmethod
    def _positive(field):
        if field.data is not None and not (Decimal("0") < field.data < Decimal("1000000")):
            raise ValidationError(_("Enter a number greater than 0."))

    def validate_fluence_j_cm2(self, field):
        self._positive(field)

    def validate_pulse_width_ms(self, field):
        self._positive(field)

    def validate_spot_size_mm(self, field):
        self._positive(field)

    def validate_price(self, field):
        if field.data is None:
            return
        if field.data <= 0:
            raise ValidationError(_("Enter a price above EUR 0,00, or leave it empty for the catalogue price."))
        if field.data >= Decimal("100000"):
            raise ValidationError(_("Enter a price below EUR 100.000,00."))
        if round_cents(field.data) != field.data:
            raise ValidationError(_("Enter the price in whole cents."))

    def _catalogue_price(self) -> Decimal | None:
        """The chosen catalogue item's price when a valid, different price was typed; else None."""
        cents = self.catalogue_prices.get(self.catalogue_item_id.data)
        price = self.price.data
        if cents is None or price is None or self.price.errors or round_cents(price) == from_cents(cents):
            return None
        return from_cents(cents)

    def validate_price_change_reason(self, field):
        catalogue = self._catalogue_price()
        if catalogue is not None and not field.data:
            raise ValidationError(_("The price differs from the catalogue price (%(price)s): give the reason.",
                                    price=format_euro(catalogue)))

    def validate_price_confirmed(self, field):
        catalogue = self._catalogue_price()
        if catalogue is None or catalogue <= 0 or field.data:
            return
        share = abs(self.price.data - catalogue) / catalogue
        if share > Decimal(str(self.confirm_share)):
            raise ValidationError(_(
                "The price differs by %(share)s %% from the catalogue price %(price)s: check it and tick to "
                "confirm.", share=format_decimal(round(share * 100), format="#,##0"), price=format_euro(catalogue)))

    def selected_label(self, name: str) -> str:
        """The label of the chosen option of a select (for the summary above a correction)."""
        field = self[name]
        return next((str(label) for value, label, selected, _kw in field.iter_choices() if selected), "")


class TreatmentCorrectionForm(TreatmentForm):
    """Correcting a recorded treatment: the same fields, and why (kept with the earlier version)."""

    correction_reason = TextAreaField(_l("Reason for the correction"), filters=[strip], validators=[
        DataRequired(message=_l("Give the reason for the correction.")),
        Length(max=500, message=_l("At most 500 characters."))],
        description=_l("Kept with the earlier version of the treatment, with your name and the time."))
    submit = SubmitField(_l("Save correction"))

    SECTIONS = TreatmentForm.SECTIONS + ((_l("Correction"), ("correction_reason",)),)
