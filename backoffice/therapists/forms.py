from __future__ import annotations

from flask import current_app
from flask_wtf import FlaskForm
from flask_wtf.file import FileAllowed, FileField
from wtforms import (
    BooleanField,
    DateField,
    EmailField,
    SelectField,
    StringField,
    SubmitField,
    ValidationError,
)
from wtforms.validators import DataRequired, Email, Length, Optional

from ..domain.credentials import KpLevel
from ..domain.validators import agb_error, clean_digits
from ..formtools import Check, strip
from .services import (
    EVIDENCE_EXTENSIONS,
    CredentialInput,
    Evidence,
    MembershipInput,
    TherapistInput,
    evidence_mimetype,
)


def _optional_int(value):
    return int(value) if value not in (None, "", "None") else None


class TherapistForm(FlaskForm):
    name = StringField("Name", filters=[strip], validators=[DataRequired(), Length(max=200)])
    agb_code = StringField(
        "Personal AGB code",
        filters=[strip, lambda v: clean_digits(v) if v else v],
        validators=[Check(agb_error)],
        description="8 digits with leading zeros (care type 90 for skin therapists). Not the practice AGB.",
        render_kw={"inputmode": "numeric", "autocomplete": "off"},
    )
    email = EmailField("E-mail", filters=[strip],
                       validators=[Optional(), Email(check_deliverability=False), Length(max=200)])
    active = BooleanField("Active", default=True)
    user_id = SelectField("User account", coerce=_optional_int, validate_choice=True,
                          description="A sign-in account with the therapist role that is not linked yet.")
    submit = SubmitField("Save")

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
            raise ValidationError("The end date lies before the start date.")


class NvhMembershipForm(_Period, FlaskForm):
    start_field = "valid_from"

    member_number = StringField("NVH member number", filters=[strip],
                                validators=[DataRequired(), Length(max=40)])
    valid_from = DateField("Valid from", validators=[DataRequired(message="Enter a valid date.")])
    valid_until = DateField("Valid until", validators=[Optional()],
                            description="Leave empty while the membership runs on.")
    submit = SubmitField("Save")

    def validate_valid_until(self, field):
        self._check_order(field)

    def to_input(self) -> MembershipInput:
        return MembershipInput(member_number=self.member_number.data or "", valid_from=self.valid_from.data,
                               valid_until=self.valid_until.data)


class KpRegistrationForm(_Period, FlaskForm):
    start_field = "period_start"

    kp_number = StringField("KP number", filters=[strip], validators=[DataRequired(), Length(max=40)])
    level = SelectField(
        "Level",
        choices=[(level.value, level.value) for level in KpLevel],
        validate_choice=True,
        description="Insurers require the kwaliteitsregister level; diplomaregister is not enough.",
    )
    period_start = DateField("Period start", validators=[DataRequired(message="Enter a valid date.")])
    period_end = DateField("Period end", validators=[DataRequired(message="Enter a valid date.")])
    evidence_file = FileField(
        "Evidence (register extract or screenshot)",
        validators=[FileAllowed(EVIDENCE_EXTENSIONS, "Upload a PDF, PNG or JPG file.")],
        description="PDF, PNG or JPG. When editing, leave empty to keep the stored file.",
        render_kw={"accept": ".pdf,.png,.jpg,.jpeg"},
    )
    submit = SubmitField("Save")

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
            raise ValidationError(f"The file is larger than {limit // (1024 * 1024) or 1} MB.")
        if not content:
            raise ValidationError("The file is empty.")
        if evidence_mimetype(content) is None:
            raise ValidationError("The file is not a readable PDF, PNG or JPG.")

    def to_input(self) -> CredentialInput:
        upload = self.evidence_file.data
        evidence = Evidence(upload.filename or "", upload.stream.read()) if upload else None
        return CredentialInput(kp_number=self.kp_number.data or "", level=KpLevel(self.level.data),
                               period_start=self.period_start.data, period_end=self.period_end.data,
                               evidence=evidence)


class CheckOnDateForm(FlaskForm):
    """The small GET form on the detail page: was the therapist eligible on that day?"""

    class Meta:
        csrf = False  # read-only query in the URL

    on = DateField("Check on date", validators=[DataRequired(message="Enter a valid date.")])
