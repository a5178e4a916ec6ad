"""Forms of the claim pages. Buttons without fields (validate, export, submit, cancel, apply) are plain POST
forms with the CSRF token; CSRFProtect checks every POST."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
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
from ..domain.claim_sheet import BSN_COLUMNS, column_choices
from ..domain.claims import ClaimTemplate, TemplateError
from ..domain.money import round_cents
from ..fields import DutchDateField, MoneyField, MonthField
from ..formtools import strip
from ..models import REMITTANCE_FIELDS
from .common import ClaimError, claim_period
from .remittance import FIELD_LABELS


def _amount_ok(field) -> None:
    if field.data is None:
        return
    if field.data < 0:
        raise ValidationError(_l("Enter 0 or more."))
    if field.data >= Decimal("1000000"):
        raise ValidationError(_l("Enter an amount below 1.000.000,00."))
    if round_cents(field.data) != field.data:
        raise ValidationError(_l("Enter the amount in whole cents."))


class NewBatchForm(FlaskForm):
    insurer_id = SelectField(_l("Insurer"), coerce=int, validators=[DataRequired(message=_l("Choose the insurer."))])
    period = MonthField(_l("Period (month)"), validators=[InputRequired(message=_l("Enter the month."))],
                        description=_l("The month of the treatments, e.g. oktober 2026 or 10-2026."))
    submit = SubmitField(_l("Build batch"))

    def validate_period(self, field):
        if field.data is None:
            return
        try:
            claim_period(field.data)
        except ClaimError as error:
            raise ValidationError(str(error)) from None


class OutcomeForm(FlaskForm):
    paid = MoneyField(_l("Paid (EUR)"), validators=[InputRequired(message=_l("Enter what the insurer paid."))])
    reason_code = StringField(_l("Insurer's reason code"), filters=[strip], validators=[Length(max=40)])
    reason_text = StringField(_l("Reason"), filters=[strip], validators=[Length(max=500)])
    submit = SubmitField(_l("Record"))

    def validate_paid(self, field):
        _amount_ok(field)


class RemittanceUploadForm(FlaskForm):
    insurer_id = SelectField(_l("Insurer"), coerce=int, validators=[DataRequired(message=_l("Choose the insurer."))])
    file = FileField(_l("Remittance file (.xlsx or .csv)"), validators=[FileRequired(message=_l("Choose the file."))],
                     render_kw={"accept": ".xlsx,.csv"})
    submit = SubmitField(_l("Upload and preview"))


class MappingForm(FlaskForm):
    reference = SelectField(FIELD_LABELS["reference"], validators=[DataRequired(message=_l("Choose the column."))])
    paid = SelectField(FIELD_LABELS["paid"], validators=[DataRequired(message=_l("Choose the column."))])
    reason_code = SelectField(FIELD_LABELS["reason_code"])
    reason_text = SelectField(FIELD_LABELS["reason_text"])
    submit = SubmitField(_l("Use these columns"))

    def offer(self, headers: list[str]) -> MappingForm:
        for name in REMITTANCE_FIELDS:
            getattr(self, name).choices = [("", "—")] + [(h, h) for h in headers]
        return self


class PatientClaimForm(FlaskForm):
    invoice_line_id = SelectField(_l("Invoice line"), coerce=int,
                                  validators=[DataRequired(message=_l("Choose the line."))])
    submitted_on = DutchDateField(_l("Submitted by the patient on"),
                                  validators=[InputRequired(message=_l("Enter the date."))])
    outcome = RadioField(_l("Outcome"), choices=[("pending", _l("No answer yet")),
                                                 ("answered", _l("The insurer answered"))], default="pending")
    paid = MoneyField(_l("Paid by the insurer (EUR)"), validators=[Optional()])
    paid_on = DutchDateField(_l("Paid on"), validators=[Optional()])
    reason_code = StringField(_l("Insurer's rejection code"), filters=[strip], validators=[Length(max=40)])
    reason_text = StringField(_l("Rejection reason"), filters=[strip], validators=[Length(max=500)])
    submit = SubmitField(_l("Save"))

    def validate_submitted_on(self, field):
        if field.data and field.data > clinic_today() + timedelta(days=1):
            raise ValidationError(_l("The date lies in the future."))

    def validate_paid(self, field):
        _amount_ok(field)

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        # Optional() ends the field's own checks when it is empty, so the dependency is checked here.
        if self.outcome.data == "answered" and self.paid.data is None and not self.paid.errors:
            self.paid.errors = [*self.paid.errors, _l("Enter what the insurer paid (0 for a rejection).")]
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
    direct_billing = BooleanField(_l("The clinic claims from this insurer directly (claim batches)"),
                                  description=_l("Untick for insurers the clinic does not bill: the patient sends the "
                                                 "declaration and you record the outcome as a patient-submitted "
                                                 "claim."))
    deadline_months = IntegerField(_l("Claim deadline (months after the treatment)"),
                                   validators=[InputRequired(message=_l("Enter the number of months.")),
                                               NumberRange(min=1, max=120, message=_l("Enter 1 to 120 months."))])
    bsn_required = BooleanField(_l("The insurer requires the BSN on claims"))
    template = TextAreaField(
        _l("Claim workbook columns"), render_kw={"rows": 12},
        description=_l("One column per line, in order: a key, optionally with its header (amount = Bedrag incl.). "
                       "Leave empty for the default template. The keys are listed below the form; bsn only when "
                       "the insurer requires the BSN."))
    submit = SubmitField(_l("Save"))

    def validate_template(self, field):
        try:
            template = parse_template(field.data)
            if template is not None:
                template.check_for(bsn_required=bool(self.bsn_required.data))
        except TemplateError as error:
            raise ValidationError(str(error)) from None

    @staticmethod
    def column_choices() -> list[tuple[str, str, bool]]:
        """(key, default header, only with the BSN required) of every column a template may use."""
        return [(spec.key, spec.header, spec.key in BSN_COLUMNS) for spec in column_choices(bsn_required=True)]
