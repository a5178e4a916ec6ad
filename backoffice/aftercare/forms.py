from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import StringField, SubmitField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Length

from ..domain.aftercare import lines, paragraphs
from ..formtools import strip

MAX_TEXT = 5000


def _has(split, message):
    def check(form, field):
        if not split(field.data or ""):
            raise ValidationError(message)
    return check


class AftercareTextForm(FlaskForm):
    """An aftercare text. Printed on a Dutch document: write it in Dutch."""

    title = StringField(_l("Heading"), filters=[strip],
                        validators=[DataRequired(message=_l("Enter a heading.")),
                                    Length(max=200, message=_l("At most 200 characters."))],
                        description=_l("Printed below the sheet's title, e.g. \"Nazorg na elektrisch epileren\"."))
    expectations = TextAreaField(
        _l("What the patient may expect"), filters=[strip], render_kw={"rows": 8},
        validators=[Length(max=MAX_TEXT, message=_l("At most 5000 characters.")),
                    _has(paragraphs, _l("Enter at least one paragraph."))],
        description=_l("Paragraphs, separated by a blank line. In Dutch: the sheet is always Dutch."))
    instructions = TextAreaField(
        _l("Instructions"), filters=[strip], render_kw={"rows": 8},
        validators=[Length(max=MAX_TEXT, message=_l("At most 5000 characters.")),
                    _has(lines, _l("Enter at least one instruction."))],
        description=_l("One instruction per line; printed as a list. In Dutch."))
    submit = SubmitField(_l("Save"))

