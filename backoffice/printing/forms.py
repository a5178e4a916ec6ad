from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import RadioField, SubmitField, ValidationError
from wtforms.validators import InputRequired

from ..fields import DutchDateField
from ..models import PRINT_JOB_KINDS
from .services import MAX_PERIOD_DAYS


class PrintJobForm(FlaskForm):
    kind = RadioField(_l("Documents"), choices=[(value, _l(label)) for value, label in PRINT_JOB_KINDS.items()],
                      default="invoices", validators=[InputRequired(_l("Choose what to print."))])
    date_from = DutchDateField(_l("From"), validators=[InputRequired(_l("Enter the first day of the period."))])
    date_to = DutchDateField(_l("Until (inclusive)"),
                             validators=[InputRequired(_l("Enter the last day of the period."))],
                             description=_l("Invoices and credit notes issued in the period; declarations of the "
                                            "invoices issued in it."))
    submit = SubmitField(_l("Start printing"))

    def validate_date_to(self, field):
        if field.data and self.date_from.data:
            if field.data < self.date_from.data:
                raise ValidationError(_l("The end date lies before the start date."))
            if (field.data - self.date_from.data).days >= MAX_PERIOD_DAYS:
                raise ValidationError(_l("A batch covers at most %(days)s days; print a long period in parts.",
                                         days=MAX_PERIOD_DAYS))
