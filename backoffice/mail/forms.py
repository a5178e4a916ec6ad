from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import EmailField, StringField, SubmitField, TextAreaField, ValidationError
from wtforms.validators import DataRequired, Email, Length, Optional

from ..domain.patient_mail import MAX_BODY, MAX_SUBJECT, MessageKind, text_problems
from ..formtools import strip


class SendForm(FlaskForm):
    to = EmailField(
        _l("To"), filters=[strip],
        validators=[Optional(), Email(check_deliverability=False, message=_l("Enter a valid e-mail address.")),
                    Length(max=254)],
        description=_l("The patient's e-mail address; type another address to send it there instead. Empty: the "
                       "address on the patient's record."))
    submit = SubmitField(_l("Send by e-mail"))


class TemplateForm(FlaskForm):
    """A message template. Sent to patients in Dutch: write it in Dutch."""

    subject = StringField(_l("Subject"), filters=[strip],
                          validators=[DataRequired(message=_l("Enter a subject.")),
                                      Length(max=MAX_SUBJECT, message=_l("At most 200 characters."))])
    body = TextAreaField(_l("Text"), filters=[strip], render_kw={"rows": 16},
                         validators=[DataRequired(message=_l("Enter the text of the message.")),
                                     Length(max=MAX_BODY, message=_l("At most 5000 characters."))],
                         description=_l("In Dutch: patients always get Dutch e-mails. Placeholders in braces, such "
                                        "as {patient_name}, are filled in when the message is sent."))
    preview = SubmitField(_l("Preview"))
    submit = SubmitField(_l("Save"))

    def __init__(self, kind: MessageKind, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind = kind

    def _placeholders(self, field) -> None:
        problems = text_problems(self.kind, field.data or "")
        if problems:
            raise ValidationError(" ".join(str(problem) for problem in problems))

    def validate_subject(self, field) -> None:
        self._placeholders(field)

    def validate_body(self, field) -> None:
        self._placeholders(field)
