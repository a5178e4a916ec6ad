from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DecimalField, IntegerField, SelectField, StringField, SubmitField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Regexp

from ..domain.indications import TECHNIQUE_LABELS, Technique
from ..formtools import strip


class CatalogueItemForm(FlaskForm):
    code = StringField("Code", filters=[strip], validators=[DataRequired(), Length(max=20)],
                       description="The clinic's own short code, unique, e.g. FRAC-FACE.")
    name = StringField("Name", filters=[strip], validators=[DataRequired(), Length(max=200)])
    technique = SelectField("Technique",
                            choices=[("", "— none —")] + [(t.value, TECHNIQUE_LABELS[t]) for t in Technique],
                            description="Some insurers want the hair-removal technique on the invoice.")
    prestatiecode = StringField(
        "Vektis prestatiecode", filters=[strip, lambda v: v.upper() if isinstance(v, str) else v],
        validators=[Regexp(r"^[0-9A-Z]{0,10}$", message="Up to 10 digits or letters.")],
        description="Optional; from Vektis code list 075 (Prestatiecodelijst huidtherapie).",
    )
    price = DecimalField("Price incl. VAT (EUR)", places=2,
                         validators=[InputRequired(message="Enter a price, e.g. 149.95."),
                                     NumberRange(min=0, message="The price cannot be negative.")],
                         render_kw={"inputmode": "decimal"})
    duration_minutes = IntegerField("Duration (minutes)", default=30,
                                    validators=[InputRequired(), NumberRange(min=1, max=600)])
    active = BooleanField("Active", default=True)
    submit = SubmitField("Save")
