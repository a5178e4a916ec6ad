"""Forms of the claim pages. Buttons without fields (validate, export, submit, cancel, apply) are plain POST
forms with the CSRF token; CSRFProtect checks every POST."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    RadioField,
    SelectField,
    StringField,
    SubmitField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..clock import clinic_today
from ..domain.claims import COLUMN_SPECS, ClaimTemplate, TemplateError
from ..domain.money import round_cents
from ..formtools import strip
from ..models import REMITTANCE_FIELDS
from ..treatments.forms import CommaDecimalField
from .common import ClaimError, parse_period
from .remittance import FIELD_LABELS


def _amount_ok(field) -> None:
    if field.data is None:
        return
    if field.data < 0:
        raise ValidationError("Enter 0 or more.")
    if field.data >= Decimal("1000000"):
        raise ValidationError("Enter an amount below 1.000.000,00.")
    if round_cents(field.data) != field.data:
        raise ValidationError("Enter the amount in whole cents.")


class NewBatchForm(FlaskForm):
    insurer_id = SelectField("Insurer", coerce=int, validators=[DataRequired(message="Choose the insurer.")])
    period = StringField("Period (month)", filters=[strip], validators=[DataRequired(message="Enter the month.")],
                         description="The month of the treatments, e.g. 2026-10.", render_kw={"placeholder": "2026-10"})
    submit = SubmitField("Build batch")

    def validate_period(self, field):
        try:
            parse_period(field.data)
        except ClaimError as error:
            raise ValidationError(str(error)) from None


class OutcomeForm(FlaskForm):
    paid = CommaDecimalField("Paid (EUR)", places=2, validators=[InputRequired(message="Enter what the insurer paid.")])
    reason_code = StringField("Reason code", filters=[strip], validators=[Length(max=40)])
    reason_text = StringField("Reason", filters=[strip], validators=[Length(max=500)])
    submit = SubmitField("Record")

    def validate_paid(self, field):
        _amount_ok(field)


class RemittanceUploadForm(FlaskForm):
    insurer_id = SelectField("Insurer", coerce=int, validators=[DataRequired(message="Choose the insurer.")])
    file = FileField("Remittance file (.xlsx or .csv)", validators=[FileRequired(message="Choose the file.")],
                     render_kw={"accept": ".xlsx,.csv"})
    submit = SubmitField("Upload and preview")


class MappingForm(FlaskForm):
    reference = SelectField(FIELD_LABELS["reference"], validators=[DataRequired(message="Choose the column.")])
    paid = SelectField(FIELD_LABELS["paid"], validators=[DataRequired(message="Choose the column.")])
    reason_code = SelectField(FIELD_LABELS["reason_code"])
    reason_text = SelectField(FIELD_LABELS["reason_text"])
    submit = SubmitField("Use these columns")

    def offer(self, headers: list[str]) -> MappingForm:
        for name in REMITTANCE_FIELDS:
            getattr(self, name).choices = [("", "—")] + [(h, h) for h in headers]
        return self


class PatientClaimForm(FlaskForm):
    invoice_line_id = SelectField("Invoice line", coerce=int, validators=[DataRequired(message="Choose the line.")])
    submitted_on = DateField("Submitted by the patient on", validators=[DataRequired(message="Enter a valid date.")])
    outcome = RadioField("Outcome", choices=[("pending", "No answer yet"), ("answered", "The insurer answered")],
                         default="pending")
    paid = CommaDecimalField("Paid by the insurer (EUR)", places=2, validators=[Optional()])
    paid_on = DateField("Paid on", validators=[Optional()])
    reason_code = StringField("Rejection code", filters=[strip], validators=[Length(max=40)])
    reason_text = StringField("Rejection reason", filters=[strip], validators=[Length(max=500)])
    submit = SubmitField("Save")

    def validate_submitted_on(self, field):
        if field.data and field.data > clinic_today() + timedelta(days=1):
            raise ValidationError("The date lies in the future.")

    def validate_paid(self, field):
        _amount_ok(field)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Optional() ends the field's own checks when it is empty, so the dependency is checked here.
        if self.outcome.data == "answered" and self.paid.data is None and not self.paid.errors:
            self.paid.errors = [*self.paid.errors, "Enter what the insurer paid (0 for a rejection)."]
            valid = False
        return valid


def template_text(template: ClaimTemplate | None) -> str:
    if template is None:
        return ""
    return "\n".join(f"{c.key} = {c.header}" for c in template.columns)


def parse_template(text: str) -> ClaimTemplate | None:
    """One column per line, `key` or `key = Header`; empty text: the default template."""
    config = []
    for raw in (text or "").splitlines():
        line = raw.strip()
        if not line:
            continue
        key, _, header = line.partition("=")
        config.append({"key": key.strip(), "header": header.strip()} if header.strip() else key.strip())
    return ClaimTemplate.from_config(config) if config else None


class SettingsForm(FlaskForm):
    direct_billing = BooleanField("The clinic claims from this insurer directly (claim batches)",
                                  description="Untick for insurers the clinic does not bill: the patient sends the "
                                              "declaration and you record the outcome as a patient-submitted claim.")
    deadline_months = IntegerField("Claim deadline (months after the treatment)",
                                   validators=[InputRequired(message="Enter the number of months."),
                                               NumberRange(min=1, max=120, message="Enter 1 to 120 months.")])
    bsn_required = BooleanField("The insurer requires the BSN on claims")
    template = TextAreaField(
        "Claim workbook columns", render_kw={"rows": 12},
        description="One column per line, in order: a key, optionally with its header (amount = Bedrag incl.). "
                    "Leave empty for the default template. Keys: " + ", ".join(COLUMN_SPECS) + ".")
    submit = SubmitField("Save")

    def validate_template(self, field):
        try:
            parse_template(field.data)
        except TemplateError as error:
            raise ValidationError(str(error)) from None
