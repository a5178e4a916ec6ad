"""E-mails to patients: the kinds of message, their placeholders, the Dutch default texts and the safe filling-in
of a practice's own template.

A template is plain text with placeholders in braces, `{patient_name}`; `{{` and `}}` stand for a brace itself.
Only the names listed for a message's kind may appear: a placeholder is a bare name, never an attribute, an index,
a conversion or a format (`{patient.bsn}`, `{x[0]}`, `{x!r}`, `{amount:>10}` are refused when the template is
saved), and filling in inserts the values as they are, so a template can never reach into the data behind them.
No BSN is offered as a placeholder: it never goes into an e-mail.

E-mails to patients are Dutch, so the defaults are Dutch and the practice writes its own texts in Dutch.
"""

from __future__ import annotations

import enum
import re
import string
from collections.abc import Mapping
from dataclasses import dataclass

from .texts import N_, Text, msg


class MessageKind(enum.StrEnum):
    """A message template: one per kind of document sent (reminders have one per stage)."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    DECLARATION = "declaration"
    AFTERCARE = "aftercare"
    REMINDER_FRIENDLY = "reminder_friendly"
    REMINDER_FORMAL = "reminder_formal"


class SendingKind(enum.StrEnum):
    """What a recorded sending sent (models/mail.py DocumentSending.kind)."""

    INVOICE = "invoice"
    CREDIT_NOTE = "credit_note"
    DECLARATION = "declaration"
    AFTERCARE = "aftercare"
    REMINDER = "reminder"


class SendingStatus(enum.StrEnum):
    SENT = "sent"
    FAILED = "failed"


KIND_LABELS: dict[MessageKind, str] = {
    MessageKind.INVOICE: N_("Invoice"),
    MessageKind.CREDIT_NOTE: N_("Credit note"),
    MessageKind.DECLARATION: N_("Declaration for the insurer"),
    MessageKind.AFTERCARE: N_("Aftercare sheet"),
    MessageKind.REMINDER_FRIENDLY: N_("Payment reminder (friendly)"),
    MessageKind.REMINDER_FORMAL: N_("Payment reminder (formal, 14 days)"),
}

SENDING_LABELS: dict[SendingKind, str] = {
    SendingKind.INVOICE: N_("Invoice"),
    SendingKind.CREDIT_NOTE: N_("Credit note"),
    SendingKind.DECLARATION: N_("Declaration"),
    SendingKind.AFTERCARE: N_("Aftercare sheet"),
    SendingKind.REMINDER: N_("Payment reminder"),
}

# Every placeholder a template may use, with what it stands for (shown on the template page).
PLACEHOLDERS: dict[str, str] = {
    "patient_name": N_("the patient's name"),
    "practice_name": N_("the practice's name"),
    "practice_phone": N_("the practice's phone number"),
    "practice_email": N_("the practice's e-mail address"),
    "iban": N_("the practice's IBAN"),
    "invoice_number": N_("the invoice number"),
    "credit_note_number": N_("the credit note number"),
    "amount": N_("the amount: what the patient is asked to pay (invoice), the amount credited (credit note), "
                 "the amount still open (reminder)"),
    "due_date": N_("the invoice's due date"),
    "treatment_date": N_("the treatment date"),
    "deadline": N_("the last day to pay before collection costs follow"),
    "collection_costs": N_("the collection costs that would follow"),
}

_PRACTICE = ("patient_name", "practice_name", "practice_phone", "practice_email", "iban")
KIND_PLACEHOLDERS: dict[MessageKind, tuple[str, ...]] = {
    MessageKind.INVOICE: (*_PRACTICE, "invoice_number", "amount", "due_date", "treatment_date"),
    MessageKind.CREDIT_NOTE: (*_PRACTICE, "credit_note_number", "invoice_number", "amount"),
    MessageKind.DECLARATION: (*_PRACTICE, "invoice_number", "amount", "treatment_date"),
    MessageKind.AFTERCARE: (*_PRACTICE, "treatment_date"),
    MessageKind.REMINDER_FRIENDLY: (*_PRACTICE, "invoice_number", "amount", "due_date"),
    MessageKind.REMINDER_FORMAL: (*_PRACTICE, "invoice_number", "amount", "due_date", "deadline",
                                  "collection_costs"),
}

# What the preview on the template page fills in (the practice's own details where it has them).
EXAMPLE_VALUES: dict[str, str] = {
    "patient_name": "Anna de Vries",
    "practice_name": "Huidtherapie Utrecht",
    "practice_phone": "030 123 45 67",
    "practice_email": "info@huidtherapie-utrecht.nl",
    "iban": "NL91 ABNA 0417 1643 00",
    "invoice_number": "2026-00012",
    "credit_note_number": "C2026-00003",
    "amount": "EUR 175,00",
    "due_date": "08-12-2026",
    "treatment_date": "24-11-2026",
    "deadline": "22-12-2026",
    "collection_costs": "EUR 40,00",
}

MAX_SUBJECT = 200
MAX_BODY = 5000


@dataclass(frozen=True)
class MessageText:
    subject: str
    body: str


_CLOSING = """Met vriendelijke groet,

{practice_name}
{practice_phone}
{practice_email}"""

DEFAULT_TEXTS: dict[MessageKind, MessageText] = {
    MessageKind.INVOICE: MessageText(
        "Factuur {invoice_number} van {practice_name}",
        """Beste {patient_name},

In de bijlage vindt u factuur {invoice_number} voor uw behandeling bij {practice_name}.

Wij verzoeken u het bedrag van {amount} uiterlijk {due_date} over te maken op rekening {iban}, onder vermelding \
van het factuurnummer.

Bent u aanvullend verzekerd voor huidtherapie? Dan kunt u de factuur zelf bij uw zorgverzekeraar indienen.

Heeft u een vraag over deze factuur? Neem dan gerust contact met ons op.

""" + _CLOSING),
    MessageKind.CREDIT_NOTE: MessageText(
        "Creditnota {credit_note_number} van {practice_name}",
        """Beste {patient_name},

In de bijlage vindt u creditnota {credit_note_number} bij factuur {invoice_number}. Met deze creditnota is \
{amount} van de factuur teruggeboekt.

Heeft u een vraag over deze creditnota? Neem dan gerust contact met ons op.

""" + _CLOSING),
    MessageKind.DECLARATION: MessageText(
        "Declaratie voor uw zorgverzekeraar bij factuur {invoice_number}",
        """Beste {patient_name},

In de bijlage vindt u de declaratie bij factuur {invoice_number}. Stuur deze declaratie samen met de factuur \
naar uw zorgverzekeraar om de vergoeding aan te vragen, bijvoorbeeld via de website of app van uw verzekeraar.

Hoeveel u vergoed krijgt, hangt af van uw aanvullende verzekering.

""" + _CLOSING),
    MessageKind.AFTERCARE: MessageText(
        "Nazorg na uw behandeling van {treatment_date}",
        """Beste {patient_name},

In de bijlage vindt u de nazorgadviezen bij uw behandeling van {treatment_date} bij {practice_name}. Lees ze \
rustig door en bewaar ze, zodat u ze de komende dagen bij de hand heeft.

Heeft u na de behandeling klachten die u niet vertrouwt? Neem dan contact met ons op.

""" + _CLOSING),
    MessageKind.REMINDER_FRIENDLY: MessageText(
        "Herinnering: factuur {invoice_number}",
        """Beste {patient_name},

Volgens onze administratie hebben wij de betaling van factuur {invoice_number} nog niet ontvangen. De \
betaaltermijn is op {due_date} verstreken.

Wilt u het openstaande bedrag van {amount} alsnog overmaken op rekening {iban}, onder vermelding van het \
factuurnummer? In de bijlage vindt u de herinnering.

Heeft u de factuur inmiddels betaald? Dan kunt u deze herinnering als niet verzonden beschouwen.

""" + _CLOSING),
    MessageKind.REMINDER_FORMAL: MessageText(
        "Laatste herinnering: factuur {invoice_number}",
        """Beste {patient_name},

Ondanks onze eerdere herinnering hebben wij de betaling van factuur {invoice_number} nog niet ontvangen.

Wij verzoeken u het openstaande bedrag van {amount} binnen 14 dagen, uiterlijk op {deadline}, over te maken op \
rekening {iban}, onder vermelding van het factuurnummer.

Heeft u niet binnen deze termijn betaald, dan bent u naast het openstaande bedrag buitengerechtelijke \
incassokosten verschuldigd van {collection_costs}. In de bijlage vindt u deze brief.

Heeft u de factuur inmiddels betaald? Dan kunt u deze brief als niet verzonden beschouwen.

""" + _CLOSING),
}

_NAME = re.compile(r"[a-z_]+", re.ASCII)
_FORMATTER = string.Formatter()


class TemplateError(ValueError):
    """A template that cannot be filled in; `problem` says why, for people."""

    def __init__(self, problem: Text):
        super().__init__(problem.msgid)
        self.problem = problem

    def __str__(self) -> str:
        return str(self.problem)


def _pieces(text: str) -> list[tuple[str, str | None]]:
    """The template as (literal text, placeholder name or None) pieces; refuses anything but bare names."""
    try:
        parsed = list(_FORMATTER.parse(text))
    except ValueError:
        raise TemplateError(msg("A brace without its partner: write a placeholder as {patient_name}, and "
                                "{{ or }} for a brace in the text.")) from None
    pieces: list[tuple[str, str | None]] = []
    for literal, name, format_spec, conversion in parsed:
        if name is None:
            pieces.append((literal, None))
            continue
        written = "{" + name + (f"!{conversion}" if conversion else "") + (f":{format_spec}" if format_spec else "") \
            + "}"
        if not _NAME.fullmatch(name) or conversion or format_spec:
            raise TemplateError(msg("%(placeholder)s is not allowed: a placeholder is a name only, such as "
                                    "{patient_name}.", placeholder=written))
        pieces.append((literal, name))
    return pieces


def placeholders_in(text: str) -> list[str]:
    """The placeholder names a text uses, in order (raises TemplateError for a malformed one)."""
    return [name for _, name in _pieces(text) if name is not None]


def text_problems(kind: MessageKind, text: str) -> list[Text]:
    """Why one text of a template (its subject or its body) cannot be stored for `kind` (empty: it can)."""
    allowed = KIND_PLACEHOLDERS[kind]
    try:
        names = placeholders_in(text)
    except TemplateError as error:
        return [error.problem]
    problems: list[Text] = []
    for name in dict.fromkeys(names):
        if name not in PLACEHOLDERS:
            problems.append(msg("Unknown placeholder %(placeholder)s. Possible here: %(allowed)s.",
                                placeholder="{" + name + "}", allowed=_listed(allowed)))
        elif name not in allowed:
            problems.append(msg("%(placeholder)s has no value in this message. Possible here: %(allowed)s.",
                                placeholder="{" + name + "}", allowed=_listed(allowed)))
    return problems


def template_problems(kind: MessageKind, subject: str, body: str) -> list[Text]:
    """Why this template cannot be stored for `kind` (empty: it can)."""
    problems = text_problems(kind, subject) + text_problems(kind, body)
    if not subject.strip():
        problems.append(msg("Enter a subject."))
    if not body.strip():
        problems.append(msg("Enter the text of the message."))
    if len(subject) > MAX_SUBJECT:
        problems.append(msg("The subject is longer than %(count)s characters.", count=MAX_SUBJECT))
    if len(body) > MAX_BODY:
        problems.append(msg("The text is longer than %(count)s characters.", count=MAX_BODY))
    return problems


def _listed(names: tuple[str, ...]) -> str:
    return ", ".join("{" + name + "}" for name in names)


def fill(text: str, values: Mapping[str, str]) -> str:
    """`text` with each placeholder replaced by its value, inserted as it is (never parsed again)."""
    parts: list[str] = []
    for literal, name in _pieces(text):
        parts.append(literal)
        if name is not None:
            if name not in values:
                raise TemplateError(msg("The placeholder %(placeholder)s has no value in this message.",
                                        placeholder="{" + name + "}"))
            parts.append(str(values[name]))
    return "".join(parts)


def compose(template: MessageText, values: Mapping[str, str]) -> MessageText:
    """The subject (one line, spaces collapsed: it is a mail header) and body with the values filled in."""
    subject = " ".join(fill(template.subject, values).split())
    body = fill(template.body, values).replace("\r\n", "\n").strip() + "\n"
    return MessageText(subject, body)
