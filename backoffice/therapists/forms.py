from __future__ import annotations

from datetime import date

from flask import current_app
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    EmailField,
    SelectField,
    StringField,
    SubmitField,
    ValidationError,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from ..domain.credentials import KpLevel
from ..domain.validators import agb_error, clean_digits
from ..fields import DutchDateField
from ..formtools import Check, strip
from .services import (
    EVIDENCE_EXTENSIONS,
    CredentialInput,
    Evidence,
    MembershipInput,
    TherapistInput,
    evidence_mimetype,
)


def required(day: date | None) -> date:
    """A date the form's DataRequired has checked already."""
    if day is None:  # pragma: no cover - validate_on_submit refused the form before
        raise ValueError("a required date is missing")
    return day


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class TherapistForm(FlaskForm):
    name = StringField(_l("Name"), filters=[strip],
                       validators=[DataRequired(message=_l("Enter the name.")), Length(max=200)])
    agb_code = StringField(
        _l("Personal AGB code"),
        filters=[strip, lambda v: clean_digits(v) if v else v],
        validators=[Check(agb_error)],
        description=_l("8 digits, starting with 90 for skin therapists. Not the practice AGB code."),
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    email = EmailField(_l("E-mail"), filters=[strip],
                       validators=[Optional(), Email(check_deliverability=False,
                                                     message=_l("Enter a valid e-mail address.")),
                                   Length(max=200)])
    active = BooleanField(_l("Active"), default=True)
    user_id = SelectField(_l("User account"), coerce=_optional_int, validate_choice=True,
                          description=_l("A sign-in account with the therapist role that is not linked yet."))
    submit = SubmitField(_l("Save"))

    def to_input(self) -> TherapistInput:
        """The validated form as the service's input."""
        return TherapistInput(name=self.name.data or "", agb_code=self.agb_code.data or "",
                              email=self.email.data or "", active=bool(self.active.data), user_id=self.user_id.data)


class _Period:
    """Shared rule: the end of a period is not before its start."""

    start_field = ""

    def _check_order(self, field):
        start = getattr(self, self.start_field).data
        if field.data and start and field.data < start:
            raise ValidationError(_("The end date lies before the start date."))


class NvhMembershipForm(_Period, FlaskForm):
    start_field = "valid_from"

    member_number = StringField(_l("NVH member number"), filters=[strip],
                                validators=[DataRequired(message=_l("Enter the member number.")), Length(max=40)])
    valid_from = DutchDateField(_l("Valid from"), validators=[DataRequired(message=_l("Enter a valid date."))])
    valid_until = DutchDateField(_l("Valid until"), validators=[Optional()],
                                 description=_l("Leave empty while the membership runs on."))
    submit = SubmitField(_l("Save"))

    def validate_valid_until(self, field):
        self._check_order(field)

    def to_input(self) -> MembershipInput:
        return MembershipInput(member_number=self.member_number.data or "", valid_from=required(self.valid_from.data),
                               valid_until=self.valid_until.data)


class KpRegistrationForm(_Period, FlaskForm):
    start_field = "period_start"

    kp_number = StringField(_l("KP number"), filters=[strip],
                            validators=[DataRequired(message=_l("Enter the KP number.")), Length(max=40)])
    level = SelectField(
        _l("Level"),
        choices=[(level.value, level.value) for level in KpLevel],  # the register's own Dutch names
        validate_choice=True,
        description=_l("Insurers require the kwaliteitsregister level; diplomaregister is not enough."),
    )
    period_start = DutchDateField(_l("Period start"), validators=[DataRequired(message=_l("Enter a valid date."))])
    period_end = DutchDateField(_l("Period end"), validators=[DataRequired(message=_l("Enter a valid date."))])
    evidence_file = FileField(
        _l("Evidence (register extract or screenshot)"),
        validators=[FileAllowed(EVIDENCE_EXTENSIONS, _l("Upload a PDF, PNG or JPG file."))],
        description=_l("PDF, PNG or JPG. When editing, leave empty to keep the stored file."),
        render_kw={"accept": ".pdf,.png,.jpg,.jpeg"},
    )
    submit = SubmitField(_l("Save"))

    def validate_period_end(self, field):
        self._check_order(field)

    def validate_evidence_file(self, field):
        upload = field.data
        if not upload:
            return
        content = upload.stream.read()
        upload.stream.seek(0)
        limit = current_app.config["MAX_CONTENT_LENGTH"]
        if limit and len(content) > limit:
            raise ValidationError(_("The file is larger than %(size)s MB.", size=limit // (1024 * 1024) or 1))
        if not content:
            raise ValidationError(_("The file is empty."))
        if evidence_mimetype(content) is None:
            raise ValidationError(_("The file is not a readable PDF, PNG or JPG."))

    def to_input(self) -> CredentialInput:
        upload = self.evidence_file.data
        evidence = Evidence(upload.filename or "", upload.stream.read()) if upload else None
        return CredentialInput(kp_number=self.kp_number.data or "", level=KpLevel(self.level.data),
                               period_start=required(self.period_start.data),
                               period_end=required(self.period_end.data),
                               evidence=evidence)


class CheckOnDateForm(FlaskForm):
    """The small GET form on the detail page: was the therapist eligible on that day?"""

    class Meta:
        csrf = False  # read-only query in the URL

    on = DutchDateField(_l("Check on date"), validators=[DataRequired(message=_l("Enter a valid date."))])
