"""Delivering one e-mail: build the message, then hand it to the configured backend.

- "outbox" (development and tests): the message is written as an .eml file to instance/outbox/ (MAIL_OUTBOX_DIR),
  0600 like every file the app writes (files.py); nothing leaves the machine. Open it in any mail program.
- "smtp" (production): smtplib to MAIL_SERVER:MAIL_PORT with STARTTLS, SSL or neither (MAIL_SECURITY), a login
  when MAIL_USERNAME is set, and MAIL_TIMEOUT seconds for each step, so a mail server that hangs does not hang the
  page (or the background job).

Nothing here needs a request: a background job sends the same way as a page does. Every failure becomes a
MailError whose message staff can act on; the password never appears in one.
"""

from __future__ import annotations

import smtplib
import ssl
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import select

from ..clock import utc_now
from ..errors import ServiceError
from ..extensions import db
from ..files import atomic_write_bytes, private_folder
from ..models import Practice


class MailError(ServiceError):
    """The message could not be delivered; the message says why, for staff."""


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    mimetype: str = "application/pdf"


def outbox_folder() -> Path:
    folder = current_app.config.get("MAIL_OUTBOX_DIR") or ""
    return Path(folder) if folder else Path(current_app.instance_path) / "outbox"


def _sender() -> tuple[str, str]:
    """(From, Reply-To): MAIL_FROM, else the practice's own address; replies go to the practice's address."""
    practice = db.session.scalar(select(Practice).order_by(Practice.id).limit(1))
    practice_email = (practice.email or "").strip() if practice else ""
    practice_name = (practice.name or "").strip() if practice else ""
    configured = str(current_app.config.get("MAIL_FROM") or "").strip()
    if configured:
        sender = configured
    elif practice_email:
        sender = str(Address(display_name=practice_name, addr_spec=practice_email))
    else:
        raise MailError(_("There is no sender address: fill in the practice's e-mail address (Practice details) "
                          "or set MAIL_FROM."))
    reply_to = practice_email if practice_email and practice_email != parseaddr(sender)[1] else ""
    return sender, reply_to


def build_message(to: Sequence[str], subject: str, body: str, attachments: Sequence[Attachment] = ()) \
        -> EmailMessage:
    sender, reply_to = _sender()
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(to)
    if reply_to:
        message["Reply-To"] = reply_to
    message["Subject"] = subject
    message["Date"] = format_datetime(utc_now())
    domain = parseaddr(sender)[1].rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(body)
    for attachment in attachments:
        maintype, _slash, subtype = attachment.mimetype.partition("/")
        message.add_attachment(attachment.content, maintype=maintype, subtype=subtype or "octet-stream",
                               filename=attachment.filename)
    return message


def send(to: str | Sequence[str], subject: str, body: str, attachments: Sequence[Attachment] = ()) -> str:
    """Deliver one message by the configured backend; returns its Message-ID, raises MailError."""
    recipients = [to] if isinstance(to, str) else list(to)
    try:
        message = build_message(recipients, subject, body, attachments)
    except ValueError as error:  # a header the e-mail standard refuses (a line break, a malformed address)
        raise MailError(_("The message could not be built: %(reason)s", reason=str(error))) from None
    backend = current_app.config.get("MAIL_BACKEND", "outbox")
    if backend == "smtp":
        _send_smtp(message, recipients)
    else:
        _write_outbox(message)
    return str(message["Message-ID"])


def _write_outbox(message: EmailMessage) -> Path:
    folder = outbox_folder()
    name = f"{utc_now():%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:12]}.eml"
    try:
        private_folder(folder)
        atomic_write_bytes(folder / name, message.as_bytes())
    except OSError as error:
        raise MailError(_("The message could not be written to the outbox folder %(folder)s: %(reason)s",
                          folder=str(folder), reason=error.strerror or str(error))) from None
    return folder / name


def _connect(server: str, port: int, security: str, timeout: float) -> smtplib.SMTP:
    if security == "ssl":
        return smtplib.SMTP_SSL(server, port, timeout=timeout, context=ssl.create_default_context())
    connection = smtplib.SMTP(server, port, timeout=timeout)
    if security == "starttls":
        connection.starttls(context=ssl.create_default_context())
    return connection


def _send_smtp(message: EmailMessage, recipients: list[str]) -> None:
    config = current_app.config
    server = str(config.get("MAIL_SERVER") or "")
    port = int(config.get("MAIL_PORT") or 587)
    timeout = float(config.get("MAIL_TIMEOUT") or 20)
    where, shown_timeout = f"{server}:{port}", f"{timeout:g}"
    if not server:
        raise MailError(_("No mail server is set: set MAIL_SERVER (or MAIL_BACKEND=outbox)."))
    try:
        with _connect(server, port, str(config.get("MAIL_SECURITY") or "starttls"), timeout) as connection:
            if config.get("MAIL_USERNAME"):
                connection.login(str(config["MAIL_USERNAME"]), str(config.get("MAIL_PASSWORD") or ""))
            refused = connection.send_message(message, to_addrs=recipients)
    except smtplib.SMTPAuthenticationError:
        raise MailError(_("The mail server %(server)s refused the user name or password (MAIL_USERNAME, "
                          "MAIL_PASSWORD).", server=where)) from None
    except smtplib.SMTPRecipientsRefused as error:
        raise MailError(_("The mail server refused the address %(address)s: %(reason)s",
                          address=", ".join(error.recipients), reason=_answers(error.recipients))) from None
    except smtplib.SMTPSenderRefused as error:
        raise MailError(_("The mail server refused the sender %(address)s (MAIL_FROM): %(reason)s",
                          address=error.sender, reason=_decoded(error.smtp_error))) from None
    except smtplib.SMTPNotSupportedError:
        raise MailError(_("The mail server %(server)s does not offer what MAIL_SECURITY asks (STARTTLS) or a login: "
                          "check MAIL_SECURITY and MAIL_PORT.", server=where)) from None
    except smtplib.SMTPResponseException as error:
        raise MailError(_("The mail server %(server)s refused the message: %(code)s %(reason)s", server=where,
                          code=error.smtp_code, reason=_decoded(error.smtp_error))) from None
    except TimeoutError:
        raise MailError(_("The mail server %(server)s did not answer within %(seconds)s seconds.", server=where,
                          seconds=shown_timeout)) from None
    except ssl.SSLError as error:
        raise MailError(_("No secure connection to the mail server %(server)s: %(reason)s", server=where,
                          reason=error.reason or str(error))) from None
    except (OSError, smtplib.SMTPException) as error:
        reason = getattr(error, "strerror", None) or str(error) or error.__class__.__name__
        raise MailError(_("Could not reach the mail server %(server)s: %(reason)s", server=where,
                          reason=reason)) from None
    if refused:
        raise MailError(_("The mail server refused the address %(address)s: %(reason)s",
                          address=", ".join(refused), reason=_answers(refused)))


def _decoded(answer: bytes | str) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else str(answer)


def _answers(refused: dict) -> str:
    return "; ".join(f"{code} {_decoded(text)}" for code, text in refused.values())
