"""The practice's message templates: stored per kind (models/mail.py MessageTemplate), else the Dutch default
(domain/patient_mail.py), and filled in with the values of one document. Services flush, never commit.

Placeholders a template may use, per kind (documented on the template page and in the README):
  every kind: {patient_name} {practice_name} {practice_phone} {practice_email} {iban}
  invoice: {invoice_number} {amount} {due_date} {treatment_date}
  credit_note: {credit_note_number} {invoice_number} {amount}
  declaration: {invoice_number} {amount} {treatment_date}
  aftercare: {treatment_date}
  reminder_friendly: {invoice_number} {amount} {due_date}
  reminder_formal: {invoice_number} {amount} {due_date} {deadline} {collection_costs}
The practice's own details are filled in here; a caller gives the rest (`compose(kind, values)`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ..domain.patient_mail import (
    DEFAULT_TEXTS,
    EXAMPLE_VALUES,
    MessageKind,
    MessageText,
    TemplateError,
    template_problems,
)
from ..domain.patient_mail import compose as compose_text
from ..domain.texts import Text
from ..errors import ServiceError
from ..extensions import db
from ..models import MessageTemplate, Practice, User


class TemplateRefused(ServiceError):
    """The template cannot be stored (or, stored before a change of rules, filled in); `problems` say why."""

    status = 422

    def __init__(self, problems: Sequence[Text | str]):
        self.problems = list(problems)
        super().__init__(" ".join(str(problem) for problem in self.problems))


def message_kind(kind: str | MessageKind) -> MessageKind:
    try:
        return MessageKind(kind)
    except ValueError:
        raise ServiceError(_("Unknown kind of message: %(kind)s.", kind=str(kind))) from None


def stored(kind: MessageKind) -> MessageTemplate | None:
    return db.session.scalar(select(MessageTemplate).where(MessageTemplate.kind == str(kind)))


def current(kind: MessageKind) -> MessageText:
    """The text the practice sends for this kind now: its own, else the default."""
    row = stored(kind)
    return MessageText(row.subject, row.body) if row is not None else DEFAULT_TEXTS[kind]


def practice_values() -> dict[str, str]:
    practice = db.session.scalar(select(Practice).order_by(Practice.id).limit(1))
    if practice is None:
        return {"practice_name": "", "practice_phone": "", "practice_email": "", "iban": ""}
    return {"practice_name": practice.name or "", "practice_phone": practice.phone or "",
            "practice_email": practice.email or "", "iban": practice.iban or ""}


def compose(kind: str | MessageKind, values: Mapping[str, str]) -> tuple[str, str]:
    """(subject, body) of the practice's template for `kind`, with the practice's details and `values` (the
    document's: patient_name, invoice_number, ...) filled in."""
    chosen = message_kind(kind)
    try:
        text = compose_text(current(chosen), practice_values() | dict(values))
    except TemplateError as error:
        raise TemplateRefused([error.problem]) from None
    return text.subject, text.body


def preview(kind: MessageKind, subject: str, body: str) -> MessageText:
    """The template filled in with example values (and the practice's own details where it has them)."""
    practice = {name: value for name, value in practice_values().items() if value}
    return compose_text(MessageText(subject, body), EXAMPLE_VALUES | practice)


def _normalised(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n").strip()


def check(kind: MessageKind, subject: str, body: str) -> None:
    problems = template_problems(kind, subject, _normalised(body))
    if problems:
        raise TemplateRefused(problems)


def save(kind: MessageKind, subject: str, body: str, user: User | None = None) -> MessageTemplate:
    """Store the practice's own template for `kind`; refused (TemplateRefused) with an unknown placeholder or one
    that has no value in this kind of message."""
    subject, body = " ".join(subject.split()), _normalised(body)
    check(kind, subject, body)
    row = stored(kind)
    if row is None:
        row = MessageTemplate(kind=str(kind))
        db.session.add(row)
    row.subject, row.body = subject, body
    row.updated_by_id = user.id if user is not None else None
    refused = _("Someone else saved this message at the same moment; open it again and repeat your change.")
    try:
        db.session.flush()
    except IntegrityError:  # the unique kind: a concurrent request stored its row first
        raise ServiceError(refused) from None
    return row


def reset(kind: MessageKind) -> bool:
    """Back to the default text; False when the practice had no text of its own."""
    row = stored(kind)
    if row is None:
        return False
    db.session.delete(row)
    db.session.flush()
    return True
