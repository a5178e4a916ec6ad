from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField, ValidationError
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from ..fields import MoneyField
from ..formtools import strip
from ..labels import choices


class CatalogueItemForm(FlaskForm):
    code = StringField(_l("Code"), filters=[strip],
                       validators=[DataRequired(message=_l("Enter a code.")),
                                   Length(max=20, message=_l("At most 20 characters."))],
                       description=_l("The clinic's own short code, unique, e.g. FRAC-FACE."))
    name = StringField(_l("Name"), filters=[strip],
                       validators=[DataRequired(message=_l("Enter a name.")),
                                   Length(max=200, message=_l("At most 200 characters."))])
    technique = SelectField(_l("Technique"), choices=[("", _l("— none —"))] + choices("technique"),
                            description=_l("Some insurers want the hair-removal technique on the invoice."))
    prestatiecode = StringField(
        _l("Vektis prestatiecode"), filters=[strip, lambda v: v.upper() if isinstance(v, str) else v],
        validators=[Regexp(r"^[0-9A-Z]{0,10}$", message=_l("Up to 10 digits or letters."))],
        description=_l("Optional; from Vektis code list 075 (Prestatiecodelijst huidtherapie)."),
    )
    price = MoneyField(_l("Price incl. VAT (EUR)"),
                       validators=[InputRequired(message=_l("Enter a price, e.g. 149,95."))])
    duration_minutes = IntegerField(_l("Duration (minutes)"), default=30,
                                    validators=[InputRequired(message=_l("Enter the duration in minutes.")),
                                                NumberRange(min=1, max=600,
                                                            message=_l("Enter 1 to 600 minutes."))])
    active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))

    def validate_price(self, field):
        if field.data is None:
            return
        if field.data <= 0:
            raise ValidationError(_("Enter a price above EUR 0,00."))
        if field.data >= Decimal("100000"):
            raise ValidationError(_("Enter a price below EUR 100.000,00."))
