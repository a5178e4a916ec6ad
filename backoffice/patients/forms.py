from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import DateField, EmailField, SelectField, StringField, SubmitField, TelField, ValidationError
from wtforms.validators import DataRequired, Email, Length, Optional

from ..clock import clinic_today
from ..domain.validators import bsn_error, normalise_postcode, postcode_error
from ..formtools import Check, strip
from ..models import ID_DOCUMENT_TYPES
from .services import InsuranceInput, PatientInput


def _text(field) -> str:
    return field.data or ""


class PatientForm(FlaskForm):
    first_name = StringField("First name", filters=[strip], validators=[DataRequired(), Length(max=100)])
    infix = StringField("Infix (tussenvoegsel)", filters=[strip], validators=[Length(max=20)])
    last_name = StringField("Last name", filters=[strip], validators=[DataRequired(), Length(max=100)])
    date_of_birth = DateField("Date of birth", validators=[DataRequired(message="Enter a valid date.")])
    street = StringField("Street and number", filters=[strip], validators=[Length(max=200)])
    postcode = StringField(
        "Postcode", filters=[strip, lambda v: normalise_postcode(v) if v else v], validators=[Check(postcode_error)]
    )
    city = StringField("City", filters=[strip], validators=[Length(max=100)])
    phone = TelField("Phone", filters=[strip], validators=[Length(max=40)])
    email = EmailField("E-mail", filters=[strip], validators=[Optional(), Email(check_deliverability=False)])
    bsn = StringField(
        "BSN",
        filters=[strip],
        validators=[Check(bsn_error)],
        description="Only for medical treatment an insurer is billed for; nine digits, eleven-test checked.",
        render_kw={"autocomplete": "off", "inputmode": "numeric"},
    )
    id_document_type = SelectField(
        "ID document checked", choices=[("", "—")] + list(ID_DOCUMENT_TYPES.items()), validate_choice=True
    )
    id_document_number = StringField("ID document number", filters=[strip], validators=[Length(max=40)])
    submit = SubmitField("Save")

    def validate_date_of_birth(self, field):
        if field.data and field.data > clinic_today():
            raise ValidationError("The date of birth lies in the future.")
        if field.data and field.data.year < 1900:
            raise ValidationError("Check the year of birth.")

    def validate_id_document_number(self, field):
        if self.bsn.data and not (self.id_document_type.data and field.data):
            raise ValidationError("With a BSN, record the type and number of the ID document you checked.")

    def validate_postcode(self, field):
        if (self.street.data or self.city.data) and not field.data:
            raise ValidationError("Enter the postcode with the address.")

    def to_input(self) -> PatientInput:
        """The validated form as the service's input."""
        return PatientInput(
            first_name=_text(self.first_name), infix=_text(self.infix), last_name=_text(self.last_name),
            date_of_birth=self.date_of_birth.data, street=_text(self.street), postcode=_text(self.postcode),
            city=_text(self.city), phone=_text(self.phone), email=_text(self.email), bsn=_text(self.bsn),
            id_document_type=_text(self.id_document_type), id_document_number=_text(self.id_document_number),
        )


class InsuranceForm(FlaskForm):
    insurer_id = SelectField("Insurer", coerce=int, validators=[DataRequired()])
    package_id = SelectField("Package (supplementary policy)", coerce=lambda v: int(v) if v else None)
    policy_number = StringField("Policy number", filters=[strip], validators=[DataRequired(), Length(max=40)])
    valid_from = DateField("Valid from", validators=[DataRequired(message="Enter a valid date.")])
    valid_until = DateField("Valid until", validators=[Optional()])
    submit = SubmitField("Save")

    def validate_valid_until(self, field):
        if field.data and self.valid_from.data and field.data < self.valid_from.data:
            raise ValidationError("The end date lies before the start date.")

    def validate_package_id(self, field):
        valid = {value for value, _label, _insurer in getattr(self, "package_insurers", [])}
        if field.data is not None:
            owner = {value: insurer for value, _label, insurer in getattr(self, "package_insurers", [])}
            if field.data not in valid or owner[field.data] != self.insurer_id.data:
                raise ValidationError("This package belongs to another insurer.")

    def to_input(self) -> InsuranceInput:
        return InsuranceInput(
            insurer_id=self.insurer_id.data, package_id=self.package_id.data or None,
            policy_number=_text(self.policy_number), valid_from=self.valid_from.data,
            valid_until=self.valid_until.data,
        )
