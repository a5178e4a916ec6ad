from __future__ import annotations

from decimal import Decimal

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, SubmitField, ValidationError
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange

from ..domain import prestatiecodes
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
    prestatiecode_list = StringField(
        _l("Vektis code list"), filters=[strip], default=prestatiecodes.HUIDTHERAPIE,
        validators=[Length(max=3, message=_l("Enter the code list as 3 digits, e.g. 075."))],
        description=_l("075 is the Prestatiecodelijst huidtherapie."),
    )
    prestatiecode = StringField(
        _l("Vektis prestatiecode"), filters=[strip, lambda v: v.upper() if isinstance(v, str) else v],
        validators=[Length(max=10, message=_l("Enter the prestatiecode as 4 to 6 letters or digits, e.g. 1234."))],
        description=_l("The code as the Vektis list gives it. Required unless the technique serves cosmetic "
                       "treatments only: insurers check it on every claim and declaration."),
    )
    price = MoneyField(_l("Price incl. VAT (EUR)"),
                       validators=[InputRequired(message=_l("Enter a price, e.g. 149,95."))])
    duration_minutes = IntegerField(_l("Duration (minutes)"), default=30,
                                    validators=[InputRequired(message=_l("Enter the duration in minutes.")),
                                                NumberRange(min=1, max=600,
                                                            message=_l("Enter 1 to 600 minutes."))])
    active = BooleanField(_l("Active"), default=True)
    submit = SubmitField(_l("Save"))

    def validate_prestatiecode_list(self, field):
        if (error := prestatiecodes.code_list_error(field.data)) is not None:
            raise ValidationError(str(error))
        if not field.data and self._needs_code():
            raise ValidationError(_("Enter the Vektis code list (075 for skin therapy): this treatment can be "
                                    "reimbursed."))

    def validate_prestatiecode(self, field):
        if (error := prestatiecodes.code_error(field.data)) is not None:
            raise ValidationError(str(error))
        if not field.data and self._needs_code():
            raise ValidationError(_("Enter the prestatiecode: this treatment can be reimbursed, and an invoice "
                                    "with a reimbursable line is not issued without it."))

    def _needs_code(self) -> bool:
        technique = self.technique.data or None
        # An unknown technique is refused by its own field; judge the code as for "no technique" meanwhile.
        known = {value for value, _label in self.technique.choices}
        return prestatiecodes.can_be_reimbursable(technique if technique in known else None)

    def validate_price(self, field):
        if field.data is None:
            return
        if field.data <= 0:
            raise ValidationError(_("Enter a price above EUR 0,00."))
        if field.data >= Decimal("100000"):
            raise ValidationError(_("Enter a price below EUR 100.000,00."))
