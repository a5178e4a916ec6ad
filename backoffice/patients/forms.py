from __future__ import annotations

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    SelectField,
    StringField,
    SubmitField,
    TelField,
    TextAreaField,
    ValidationError,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from ..clock import clinic_today
from ..domain.validators import (
    bsn_error,
    clean_digits,
    foreign_digits,
    foreign_digits_error,
    normalise_postcode,
    postcode_error,
)
from ..fields import DutchDateField
from ..formtools import Check, strip
from ..models import ID_DOCUMENT_TYPES
from .services import InsuranceInput, PatientInput


def _text(field) -> str:
    return field.data or ""


class PatientForm(FlaskForm):
    first_name = StringField(_l("First name"), filters=[strip], validators=[DataRequired(), Length(max=100)])
    infix = StringField(_l("Infix (tussenvoegsel)"), filters=[strip], validators=[Length(max=20)])
    last_name = StringField(_l("Last name"), filters=[strip], validators=[DataRequired(), Length(max=100)])
    date_of_birth = DutchDateField(_l("Date of birth"), validators=[DataRequired(message=_l("Enter a valid date."))])
    street = StringField(_l("Street and number"), filters=[strip], validators=[Length(max=200)])
    postcode = StringField(
        _l("Postcode"), filters=[strip, lambda v: normalise_postcode(v) if v else v], validators=[Check(postcode_error)]
    )
    city = StringField(_l("City"), filters=[strip], validators=[Length(max=100)])
    phone = TelField(_l("Phone"), filters=[strip], validators=[Length(max=40)])
    email = EmailField(_l("E-mail"), filters=[strip], validators=[Optional(), Email(check_deliverability=False)])
    bsn = StringField(
        _l("BSN"),
        filters=[strip],
        validators=[Check(bsn_error)],
        description=_l("Only for medical treatment an insurer is billed for; nine digits, eleven-test checked."),
        render_kw={"autocomplete": "off", "inputmode": "numeric"},
    )
    id_document_type = SelectField(
        _l("ID document checked"), validate_choice=True,
        choices=[("", "—")] + [(code, _l(label)) for code, label in ID_DOCUMENT_TYPES.items()],
    )
    id_document_number = StringField(_l("ID document number"), filters=[strip], validators=[Length(max=40)])
    # "1" when the edit form shows the BSN masked (no recent re-authentication, auth/twofactor.py): an empty BSN
    # field then keeps the stored number instead of removing it.
    bsn_kept = HiddenField()
    submit = SubmitField(_l("Save"))

    def validate_date_of_birth(self, field):
        if field.data and field.data > clinic_today():
            raise ValidationError(_("The date of birth lies in the future."))
        if field.data and field.data.year < 1900:
            raise ValidationError(_("Check the year of birth."))

    def validate_id_document_number(self, field):
        if self.bsn.data and not (self.id_document_type.data and field.data):
            raise ValidationError(_("With a BSN, record the type and number of the ID document you checked."))

    def validate_postcode(self, field):
        if (self.street.data or self.city.data) and not field.data:
            raise ValidationError(_("Enter the postcode with the address."))

    def to_input(self) -> PatientInput:
        """The validated form as the service's input."""
        return PatientInput(
            first_name=_text(self.first_name), infix=_text(self.infix), last_name=_text(self.last_name),
            date_of_birth=self.date_of_birth.data, street=_text(self.street), postcode=_text(self.postcode),
            city=_text(self.city), phone=_text(self.phone), email=_text(self.email), bsn=_text(self.bsn),
            id_document_type=_text(self.id_document_type), id_document_number=_text(self.id_document_number),
        )


def _bsn_search_error(value: str):
    """Eight or nine digits 0-9 (spaces and dots allowed); the eleven-test is not asked here, since a nine-digit
    policy number is found by this form too."""
    digits = clean_digits(value)
    if foreign_digits(digits):
        return foreign_digits_error(digits)
    if not digits.isascii() or not digits.isdigit() or len(digits) not in (8, 9):
        return bsn_error(digits)  # "A BSN has 9 digits."
    return None


class BsnSearchForm(FlaskForm):
    """Search by BSN through a POST: the number travels in the request body, never in a URL or a server log."""

    bsn = StringField(_l("BSN"), filters=[strip], validators=[DataRequired(), Check(_bsn_search_error)],
                      render_kw={"autocomplete": "off", "inputmode": "numeric"})
    submit = SubmitField(_l("Search by BSN"))


class InsuranceForm(FlaskForm):
    insurer_id = SelectField(_l("Insurer"), coerce=int, validators=[DataRequired()])
    # Its options carry data-for="<insurer id>": static/app.js shows only the chosen insurer's packages.
    package_id = SelectField(_l("Package (supplementary policy)"), coerce=lambda v: int(v) if v else None,
                             render_kw={"data-depends-on": "insurer_id"})
    # Letters as the insurer writes them; digits 0-9 only (a full-width ０-９ would match no claim or search).
    policy_number = StringField(_l("Policy number"), filters=[strip],
                                validators=[DataRequired(), Length(max=40), Check(foreign_digits_error)])
    valid_from = DutchDateField(_l("Valid from"), validators=[DataRequired(message=_l("Enter a valid date."))])
    valid_until = DutchDateField(_l("Valid until"), validators=[Optional()],
                                 description=_l("Empty: still valid."))
    submit = SubmitField(_l("Save"))

    def validate_valid_until(self, field):
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError(_("The end date lies before the start date."))

    def validate_package_id(self, field):
        valid = {value for value, _label, _insurer in getattr(self, "package_insurers", [])}
        if field.data is not None:
            owner = {value: insurer for value, _label, insurer in getattr(self, "package_insurers", [])}
            if field.data not in valid or owner[field.data] != self.insurer_id.data:
                raise ValidationError(_("This package belongs to another insurer."))

    def to_input(self) -> InsuranceInput:
        return InsuranceInput(
            insurer_id=self.insurer_id.data, package_id=self.package_id.data or None,
            policy_number=_text(self.policy_number), valid_from=self.valid_from.data,
            valid_until=self.valid_until.data,
        )


class EndInsuranceForm(FlaskForm):
    """End an insurance (the patient changed insurer): it stays valid up to and including the last day."""

    valid_until = DutchDateField(_l("Last day insured"), validators=[DataRequired(message=_l("Enter a valid date."))])
    submit = SubmitField(_l("End insurance"))

    def __init__(self, *args, valid_from=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.valid_from = valid_from

    def validate_valid_until(self, field):
        if field.data and self.valid_from and field.data < self.valid_from:
            raise ValidationError(_("The end date lies before the start date."))


class WithdrawForm(FlaskForm):
    """Withdraw a record entered in error (an insurance, a referral): it stays in the history with the reason."""

    reason = TextAreaField(_l("Reason"), filters=[strip],
                           validators=[DataRequired(message=_l("Say why it is withdrawn.")), Length(max=500)],
                           description=_l("For example: entered in error, wrong patient, referral replaced."),
                           render_kw={"rows": 2})
    submit = SubmitField(_l("Withdraw"))
