from __future__ import annotations

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
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
    name = StringField(_l("Practice name"), filters=[strip],
                       validators=[DataRequired(message=_l("Enter the practice name.")), Length(max=200)])
    street = StringField(_l("Street and number"), filters=[strip], validators=[Length(max=200)])
    postcode = StringField(
        _l("Postcode"), filters=[strip, lambda v: normalise_postcode(v) if v else v],
        validators=[Check(postcode_error)],
    )
    city = StringField(_l("City"), filters=[strip], validators=[Length(max=100)])
    kvk_number = StringField(_l("KvK number"), filters=[strip], validators=[Check(kvk_error)],
                             description=_l("Chamber of Commerce (KvK) number, 8 digits."))
    vat_id = StringField(_l("VAT number (btw-id)"), filters=[strip], validators=[Check(vat_id_error)],
                         description=_l("For example NL000099998B57."))
    agb_code = StringField(
        _l("Practice AGB code"), filters=[strip], validators=[Check(agb_error)],
        description=_l("The practice's own AGB code, not a therapist's: insurers want it as the claimant."),
    )
    iban = StringField(_l("IBAN"), filters=[strip, lambda v: normalise_iban(v) if v else v],
                       validators=[Check(iban_error)])
    phone = TelField(_l("Phone"), filters=[strip], validators=[Length(max=40)])
    email = EmailField(_l("E-mail"), filters=[strip],
                       validators=[Optional(), Email(check_deliverability=False,
                                                     message=_l("Enter a valid e-mail address.")), Length(max=200)])
    website = URLField(_l("Website"), filters=[strip, _with_scheme],
                       validators=[Optional(), URL(message=_l("Enter a web address such as https://www.example.nl.")),
                                   Length(max=200)])
    logo = FileField(
        _l("Logo"),
        validators=[FileAllowed(LOGO_EXTENSIONS, _l("The logo must be a PNG, JPEG or SVG file."))],
        description=_l("PNG, JPEG or SVG; printed on invoices. Leave empty to keep the current logo."),
        render_kw={"accept": ".png,.jpg,.jpeg,.svg,image/png,image/jpeg,image/svg+xml"},
    )
    remove_logo = BooleanField(_l("Remove the current logo"))
    submit = SubmitField(_l("Save"))

    def validate_website(self, field):
        if field.data and not field.data.lower().startswith(("http://", "https://")):
            raise ValidationError(_("Only web addresses starting with http:// or https:// are allowed."))

    def validate_postcode(self, field):
        if (self.street.data or self.city.data) and not field.data:
            raise ValidationError(_("Enter the postcode with the address."))

    def validate_logo(self, field):
        self.logo_bytes = None
        upload = field.data
        if not upload or not getattr(upload, "filename", ""):
            return
        limit = logo_max_bytes()
        content = upload.read(limit + 1)
        if len(content) > limit:
            raise ValidationError(_("The logo may be at most %(size)s KB.", size=limit // 1024))
        if not content:
            raise ValidationError(_("The uploaded file is empty."))
        try:
            logo_mimetype(content)
        except LogoError as error:
            raise ValidationError(str(error)) from None
        self.logo_bytes = content
