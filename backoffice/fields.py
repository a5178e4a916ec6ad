"""Form fields for what Dutch staff type: amounts and decimals with a comma, dates as dd-mm-jjjj, months as
"november 2026". One parser each (backoffice/domain/dutch.py, domain/months.py); the fields only word the
message in the user's language and refill the field the Dutch way.

Never a browser number field for money or decimals: Chromium's <input type=number> drops the comma before the
server sees it (199,50 arrived as 19950). These are text inputs with `inputmode` for the tablet's keyboard; the
date and month fields get a picker button from static/app.js (data-picker) that writes the typed form back.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from wtforms import Field
from wtforms.widgets import TextInput

from .domain.dutch import AmbiguousNumber, amount_nl, decimal_nl, month_label, nl_date, parse_day, parse_decimal
from .domain.months import Month
from .domain.validators import DIGITS_ONLY, foreign_digits


def _with_attributes(kwargs: dict[str, Any], **attributes: Any) -> dict[str, Any]:
    kwargs["render_kw"] = {**attributes, **(kwargs.get("render_kw") or {})}
    return kwargs


def _refuse_foreign_digits(field: Field, text: str) -> None:
    """Digits other than 0-9 (full-width ０-９, Arabic-Indic ٠-٩, superscript ²) get the message that says so."""
    if foreign_digits(text):
        field.data = None
        raise ValueError(_(DIGITS_ONLY))


class DecimalNLField(Field):
    """A decimal typed the Dutch way: 12,5 or 12.5 (fluence, pulse width, spot size). `1,234` is refused as
    ambiguous, with a message saying what to type."""

    widget = TextInput()
    data: Any  # checked by the form's validators (DataRequired), as with WTForms' own fields
    currency = False

    def __init__(self, label: Any = None, validators: Any = None, places: int = 2, **kwargs: Any):
        super().__init__(label, validators, **_with_attributes(kwargs, inputmode="decimal", autocomplete="off"))
        self.places = places

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        return amount_nl(self.data) if self.currency else decimal_nl(self.data)

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]) if valuelist else ""
        if not text.strip():
            self.data = None
            return
        _refuse_foreign_digits(self, text)
        try:
            self.data = parse_decimal(text, self.places, currency=self.currency)
        except AmbiguousNumber:
            self.data = None
            raise ValueError(self.ambiguous_message(text)) from None
        except ValueError:
            self.data = None
            raise ValueError(self.invalid_message()) from None

    def ambiguous_message(self, text: str) -> str:
        return _("“%(text)s” is ambiguous: type 1234 or 1.234,00 for a thousand and more, or 1,23 for a decimal "
                 "number.", text=text)

    def invalid_message(self) -> str:
        return _("Type a number such as 12,5 (at most %(places)d decimals).", places=self.places)


class MoneyField(DecimalNLField):
    """An amount in euros: 199,50, 1.234,56, 1234,56, EUR 1.234,56 or € 12,5; refilled as 1.234,56."""

    currency = True

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any):
        kwargs.pop("places", None)
        super().__init__(label, validators, places=2, **_with_attributes(kwargs, placeholder="0,00"))

    def invalid_message(self) -> str:
        return _("Type an amount in euros such as 199,50 or 1.234,56 (at most 2 decimals).")


class DutchDateField(Field):
    """A day typed as dd-mm-jjjj (24-11-2026; also 24/11/2026) or picked (the picker sends 2026-11-24)."""

    widget = TextInput()
    data: Any  # checked by the form's validators (DataRequired), as with WTForms' own fields

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any):
        super().__init__(label, validators, **_with_attributes(
            kwargs, placeholder=_l("dd-mm-yyyy"), inputmode="numeric", autocomplete="off", **{"data-picker": "date"}))

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return nl_date(self.data) if isinstance(self.data, date) else ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]) if valuelist else ""
        if not text.strip():
            self.data = None
            return
        _refuse_foreign_digits(self, text)
        try:
            self.data = parse_day(text)
        except ValueError:
            self.data = None
            raise ValueError(_("Type a date as dd-mm-yyyy, e.g. 24-11-2026.")) from None


class MonthField(Field):
    """A month typed as november 2026, 11-2026 or 2026-11, or picked; refilled as the app shows months."""

    widget = TextInput()
    data: Any  # checked by the form's validators (DataRequired), as with WTForms' own fields

    def __init__(self, label: Any = None, validators: Any = None, **kwargs: Any):
        super().__init__(label, validators, **_with_attributes(
            kwargs, placeholder=_l("november 2026"), autocomplete="off", **{"data-picker": "month"}))

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        return month_label(self.data) if isinstance(self.data, Month) else ""

    def process_formdata(self, valuelist: list[Any]) -> None:
        text = str(valuelist[0]) if valuelist else ""
        if not text.strip():
            self.data = None
            return
        _refuse_foreign_digits(self, text)
        try:
            self.data = Month.parse(text)
        except ValueError:
            self.data = None
            raise ValueError(_("Type a month such as november 2026, 11-2026 or 2026-11.")) from None


__all__ = ["DecimalNLField", "DutchDateField", "MoneyField", "MonthField", "Decimal"]
