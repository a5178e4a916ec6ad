from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, RadioField, SubmitField, ValidationError
from wtforms.validators import InputRequired

from ..models import PRINT_JOB_KINDS
from .services import MAX_PERIOD_DAYS


class PrintJobForm(FlaskForm):
    kind = RadioField("Documents", choices=list(PRINT_JOB_KINDS.items()), default="invoices",
                      validators=[InputRequired("Choose what to print.")])
    date_from = DateField("From", validators=[InputRequired("Enter the first day of the period.")])
    date_to = DateField("Until (inclusive)", validators=[InputRequired("Enter the last day of the period.")],
                        description="Invoices and credit notes issued in the period; declarations of the "
                                    "invoices issued in it.")
    submit = SubmitField("Start printing")

    def validate_date_to(self, field):
        if field.data and self.date_from.data:
            if field.data < self.date_from.data:
                raise ValidationError("The end date lies before the start date.")
            if (field.data - self.date_from.data).days >= MAX_PERIOD_DAYS:
                raise ValidationError(f"A batch covers at most {MAX_PERIOD_DAYS} days; print a long period in parts.")
