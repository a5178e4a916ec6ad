from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import BooleanField, EmailField, StringField, SubmitField, TelField, URLField, ValidationError
from wtforms.validators import URL, DataRequired, Email, Length, Optional

from ..domain.validators import (
    agb_error,
    iban_error,
    kvk_error,
    normalise_iban,
    normalise_postcode,
    postcode_error,
    vat_id_error,
)
from ..formtools import Check, strip
from .services import LogoError, logo_mimetype

LOGO_EXTENSIONS = ["png", "jpg", "jpeg", "svg"]
DEFAULT_LOGO_MAX_BYTES = 1024 * 1024


def logo_max_bytes() -> int:
    return int(current_app.config.get("LOGO_MAX_BYTES", DEFAULT_LOGO_MAX_BYTES))


def _with_scheme(value):
    # People type "www.example.nl"; only http(s) links are ever stored (never javascript: or data:).
    if isinstance(value, str) and value and "://" not in value:
        return "https://" + value
    return value


class PracticeForm(FlaskForm):
    name = StringField("Practice name", filters=[strip], validators=[DataRequired(), Length(max=200)])
    street = StringField("Street and number", filters=[strip], validators=[Length(max=200)])
    postcode = StringField(
        "Postcode", filters=[strip, lambda v: normalise_postcode(v) if v else v],
        validators=[Check(postcode_error)],
    )
    city = StringField("City", filters=[strip], validators=[Length(max=100)])
    kvk_number = StringField("KvK number", filters=[strip], validators=[Check(kvk_error)],
                             description="Chamber of Commerce number, 8 digits.")
    vat_id = StringField("VAT id (btw-id)", filters=[strip], validators=[Check(vat_id_error)],
                         description="For example NL123456789B01.")
    agb_code = StringField(
        "Practice AGB code", filters=[strip], validators=[Check(agb_error)],
        description="The practice's own AGB, not a therapist's: insurers want it as declarant.",
    )
    iban = StringField("IBAN", filters=[strip, lambda v: normalise_iban(v) if v else v],
                       validators=[Check(iban_error)])
    phone = TelField("Phone", filters=[strip], validators=[Length(max=40)])
    email = EmailField("E-mail", filters=[strip], validators=[Optional(), Email(check_deliverability=False),
                                                               Length(max=200)])
    website = URLField("Website", filters=[strip, _with_scheme],
                       validators=[Optional(), URL(message="Enter a web address such as https://www.example.nl."),
                                   Length(max=200)])
    logo = FileField(
        "Logo",
        validators=[FileAllowed(LOGO_EXTENSIONS, "The logo must be a PNG, JPEG or SVG file.")],
        description="PNG, JPEG or SVG; printed on invoices. Leave empty to keep the current logo.",
        render_kw={"accept": ".png,.jpg,.jpeg,.svg,image/png,image/jpeg,image/svg+xml"},
    )
    remove_logo = BooleanField("Remove the current logo")
    submit = SubmitField("Save")

    def validate_website(self, field):
        if field.data and not field.data.lower().startswith(("http://", "https://")):
            raise ValidationError("Only http:// and https:// addresses are allowed.")

    def validate_postcode(self, field):
        if (self.street.data or self.city.data) and not field.data:
            raise ValidationError("Enter the postcode with the address.")

    def validate_logo(self, field):
        self.logo_bytes = None
        upload = field.data
        if not upload or not getattr(upload, "filename", ""):
            return
        limit = logo_max_bytes()
        content = upload.read(limit + 1)
        if len(content) > limit:
            raise ValidationError(f"The logo may be at most {limit // 1024} KB.")
        if not content:
            raise ValidationError("The uploaded file is empty.")
        try:
            logo_mimetype(content)
        except LogoError as error:
            raise ValidationError(str(error)) from None
        self.logo_bytes = content
