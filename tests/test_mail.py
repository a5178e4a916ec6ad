"""E-mail to patients (backoffice/mail/): through a real SMTP server (aiosmtpd, started here on a free port), the
outbox folder, a failed sending and its retry, the practice's templates, the settings and who may send.

The app tests run on SQLite and PostgreSQL; each covers a whole journey to keep their number small.
"""

from __future__ import annotations

import email
import socket
from datetime import date
from email import policy
from email.message import EmailMessage
from pathlib import Path

import factories
import pytest
from aiosmtpd.controller import Controller
from conftest import csrf_token, login, post_form
from sqlalchemy import select
from test_declarations import BSN, DAY, InvoiceClinic

import config
from backoffice.domain.patient_mail import MessageKind
from backoffice.errors import ServiceError
from backoffice.extensions import db
from backoffice.mail import services as mail
from backoffice.mail import templates
from backoffice.models import (
    AccessLog,
    CreditNote,
    DocumentSending,
    Invoice,
    MessageTemplate,
    Practice,
    Treatment,
    User,
)

PATIENT_EMAIL = "anna@example.nl"
PRACTICE_EMAIL = "info@huidtherapie-utrecht.nl"


class Inbox:
    """An aiosmtpd handler keeping what it received: (envelope recipients, parsed message)."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], EmailMessage]] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        self.received.append((list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class SmtpServer:
    """A port nobody listens on until `start()` runs a real SMTP server there (stopped at the test's end)."""

    def __init__(self) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.inbox = Inbox()
        self.controller: Controller | None = None

    def start(self) -> None:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port, ready_timeout=30)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()


@pytest.fixture
def smtp():
    server = SmtpServer()
    yield server
    server.stop()


def _clinic(users, patient_email: str | None = PATIENT_EMAIL) -> tuple[InvoiceClinic, int]:
    """The declaration tests' practice (patient with BSN, insurance, referral), with e-mail addresses; an issued
    invoice for one medical treatment. Returns the clinic and the invoice id."""
    clinic = InvoiceClinic(user_email=users["therapist"])
    db.session.scalar(select(Practice)).email = PRACTICE_EMAIL
    clinic.patient.email = patient_email or ""
    db.session.commit()
    return clinic, clinic.issued(clinic.treatment()).id


def _attachments(message: EmailMessage) -> list[tuple[str, str, bytes]]:
    return [(part.get_filename(), part.get_content_type(), part.get_content()) for part in message.iter_attachments()]


def _exports(patient_id: int) -> list[tuple[str, str]]:
    return [tuple(row) for row in db.session.execute(
        select(AccessLog.subject, AccessLog.detail).where(AccessLog.patient_id == patient_id,
                                                          AccessLog.action == "export").order_by(AccessLog.id))]


def test_an_invoice_goes_through_a_real_smtp_server_and_a_refused_connection_is_retried(app, users, as_role, smtp):
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=smtp.port, MAIL_SECURITY="none",
                      MAIL_TIMEOUT=10.0, MAIL_FROM="")
    with app.app_context():
        clinic, invoice_id = _clinic(users)
        invoice = db.session.get(Invoice, invoice_id)
        number, stored_pdf, patient_id = invoice.number, invoice.pdf, invoice.patient_id
    client = as_role("therapist")
    url = f"/mail/invoices/{invoice_id}"
    form = client.get(url).get_data(as_text=True)
    assert f'value="{PATIENT_EMAIL}"' in form and f"Factuur {number} van Huidtherapie Utrecht" in form

    # The mail server is down (nothing listens on the port): recorded as failed, shown with the reason.
    page = post_form(client, url, {"to": PATIENT_EMAIL}, follow_redirects=True).get_data(as_text=True)
    assert "was NOT sent" in page and f"Could not reach the mail server 127.0.0.1:{smtp.port}" in page
    assert 'data-status="failed"' in page and 'data-testid="retry"' in page
    with app.app_context():
        sending = db.session.scalar(select(DocumentSending))
        assert (sending.status, sending.attempts, sending.sent_at, sending.to_address) == \
            ("failed", 1, None, PATIENT_EMAIL)
        assert _exports(patient_id) == []  # nothing left the practice
        sending_id = sending.id

    smtp.start()
    retry_url = f"/mail/invoices/{invoice_id}/sendings/{sending_id}/retry"
    page = post_form(client, retry_url, {}, token_from=f"/invoices/{invoice_id}", follow_redirects=True)
    assert f"sent by e-mail to {PATIENT_EMAIL}" in page.get_data(as_text=True)
    [(recipients, message)] = smtp.inbox.received
    assert recipients == [PATIENT_EMAIL] and message["To"] == PATIENT_EMAIL
    assert message["From"] == f"Huidtherapie Utrecht <{PRACTICE_EMAIL}>"
    assert message["Subject"] == f"Factuur {number} van Huidtherapie Utrecht"
    body = message.get_body(("plain",)).get_content()
    assert body.startswith("Beste Anna de Vries,") and f"In de bijlage vindt u factuur {number}" in body
    assert "EUR 175,00" in body and "Met vriendelijke groet" in body
    assert BSN not in body and BSN not in message["Subject"]
    assert _attachments(message) == [(f"factuur-{number}.pdf", "application/pdf", stored_pdf)]  # byte for byte
    with app.app_context():
        sending = db.session.get(DocumentSending, sending_id)
        assert (sending.status, sending.attempts, sending.error) == ("sent", 2, "")
        assert sending.sent_at is not None and sending.message_id == message["Message-ID"]
        assert sending.sent_by.email == users["therapist"]
        assert _exports(patient_id) == [(f"invoice {number}",
                                         f"invoice PDF sent by e-mail to {PATIENT_EMAIL} (attempt 2)")]

    # A second click on the retry button sends nothing again.
    page = post_form(client, retry_url, {}, token_from=f"/invoices/{invoice_id}", follow_redirects=True)
    assert "was sent already" in page.get_data(as_text=True) and len(smtp.inbox.received) == 1
    # Another address typed: checked, then used instead of the patient's.
    refused = post_form(client, url, {"to": "anna at example"})
    assert refused.status_code == 422 and "Enter a valid e-mail address." in refused.get_data(as_text=True)
    assert 'data-testid="sent-before"' in client.get(url).get_data(as_text=True)  # said before sending it twice
    post_form(client, url, {"to": "Moeder@Example.NL"})
    assert smtp.inbox.received[-1][0] == ["Moeder@example.nl"]
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert page.count('data-status="sent"') == 2 and "Moeder@example.nl" in page


def test_the_outbox_holds_each_document_as_a_parseable_eml(app, users, as_role, tmp_path):
    outbox = tmp_path / "outbox"
    app.config.update(MAIL_BACKEND="outbox", MAIL_OUTBOX_DIR=str(outbox))
    with app.app_context():
        clinic, invoice_id = _clinic(users, patient_email=None)
        # Recorded as the treatment page records it (with its assessment), for the treatment page below.
        treatment_id = factories.recorded_treatment(clinic.patient_id, clinic.therapist_id, clinic.laser_id,
                                                    date(2026, 11, 3)).id
        db.session.commit()
    client = as_role("therapist")

    # No e-mail address on the record and none typed: said so, nothing sent or recorded.
    refused = post_form(client, f"/mail/invoices/{invoice_id}/declaration", {"to": ""})
    assert refused.status_code == 422
    assert "Anna de Vries has no e-mail address: nothing was sent." in refused.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(DocumentSending)) is None
    assert not outbox.exists() or not any(outbox.iterdir())

    with app.app_context():
        clinic.patient.email = PATIENT_EMAIL
        invoice = db.session.get(Invoice, invoice_id)
        user = db.session.get(User, clinic.user_id)
        declaration = mail.send_declaration(invoice, user, renderer=lambda doc: b"%PDF-declaratie " +
                                            doc.reference.encode())
        aftercare = mail.send_aftercare(db.session.get(Treatment, treatment_id), user,
                                        renderer=lambda doc: b"%PDF-nazorg " + doc.heading.encode())
        assert declaration.sent and aftercare.sent
        note = factories.credit_note(invoice, None, user, DAY)
        db.session.commit()
        note_id, note_number, note_pdf, number = note.id, note.number, note.pdf, invoice.number
    post_form(client, f"/mail/credit-notes/{note_id}", {"to": PATIENT_EMAIL})

    files = sorted(outbox.glob("*.eml"))
    assert len(files) == 3 and all(path.stat().st_mode & 0o777 == 0o600 for path in files)
    messages = {}
    for path in files:
        message = email.message_from_bytes(path.read_bytes(), policy=policy.default)
        assert message["To"] == PATIENT_EMAIL and message["Message-ID"]
        body = message.get_body(("plain",)).get_content()
        assert body.startswith("Beste Anna de Vries,") and BSN not in body + message["Subject"]
        messages[message["Subject"]] = _attachments(message)
    assert messages == {
        f"Declaratie voor uw zorgverzekeraar bij factuur {number}":
            [(f"declaratie-{number}.pdf", "application/pdf", f"%PDF-declaratie {number}".encode())],
        "Nazorg na uw behandeling van 03-11-2026":
            [(f"nazorg-2026-11-03-{treatment_id}.pdf", "application/pdf", messages[
                "Nazorg na uw behandeling van 03-11-2026"][0][2])],
        f"Creditnota {note_number} van Huidtherapie Utrecht":
            [(f"creditnota-{note_number}.pdf", "application/pdf", note_pdf)],  # the stored credit note, byte for byte
    }
    assert messages["Nazorg na uw behandeling van 03-11-2026"][0][2].startswith(b"%PDF-nazorg ")

    invoice_page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert invoice_page.count('data-status="sent"') == 2 and note_number in invoice_page
    treatment_page = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert 'data-testid="sendings"' in treatment_page and treatment_page.count('data-status="sent"') == 1
    with app.app_context():
        assert sorted(subject for subject, _detail in _exports(clinic.patient_id)) == \
            sorted([f"declaration {number}", f"treatment {treatment_id}", f"credit note {note_number}"])
        assert db.session.get(CreditNote, note_id).pdf == note_pdf


def test_templates_refuse_unknown_placeholders_and_shape_the_next_e_mail(app, users, as_role, tmp_path):
    app.config.update(MAIL_OUTBOX_DIR=str(tmp_path))
    with app.app_context():
        clinic, invoice_id = _clinic(users)
    admin = as_role("admin")
    listing = admin.get("/practice/mail-templates/").get_data(as_text=True)
    assert listing.count("data-kind=") == 6
    url = "/practice/mail-templates/invoice"
    page = admin.get(url).get_data(as_text=True)
    assert "Factuur 2026-00012 van Huidtherapie Utrecht" in page  # the default with example values

    for body, says in (("Beste {patient_name}, uw BSN: {bsn}", "Unknown placeholder {bsn}"),
                       ("Beste {patient_name.__class__}", "{patient_name.__class__} is not allowed"),
                       ("Betaal voor {deadline}", "{deadline} has no value in this message")):
        refused = post_form(admin, url, {"subject": "Factuur {invoice_number}", "body": body, "submit": "Save"})
        assert refused.status_code == 422 and says in refused.get_data(as_text=True)
    text = {"subject": "Uw factuur {invoice_number}", "body": "Beste {patient_name},\r\n\r\nZie de bijlage {{pdf}}."}
    preview = post_form(admin, url, {**text, "preview": "Preview"}).get_data(as_text=True)
    assert "Uw factuur 2026-00012" in preview and "Zie de bijlage {pdf}." in preview
    with app.app_context():
        assert db.session.scalar(select(MessageTemplate)) is None  # a preview stores nothing
    assert post_form(admin, url, {**text, "submit": "Save"}).status_code == 302

    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        sending = mail.send_invoice(invoice, user=None)  # as a background job does: no request, no user
        assert sending.sent and sending.sent_by_id is None
        assert (sending.subject, sending.body) == (f"Uw factuur {invoice.number}", "Beste Anna de Vries,\n\n"
                                                                                   "Zie de bijlage {pdf}.\n")
        subject, sending_id = sending.subject, sending.id
        db.session.commit()
    [eml] = Path(tmp_path).glob("*.eml")
    assert email.message_from_bytes(eml.read_bytes(), policy=policy.default)["Subject"] == subject
    assert post_form(admin, f"{url}/reset", {}, token_from="/practice/mail-templates/").status_code == 302
    with app.app_context():
        assert db.session.scalar(select(MessageTemplate)) is None
        # A BSN typed into a template itself (no placeholder offers one) still never goes out.
        templates.save(MessageKind.INVOICE, "Factuur {invoice_number}", f"Uw BSN is {BSN}.")
        with pytest.raises(ServiceError, match="BSN"):
            mail.send_invoice(db.session.get(Invoice, invoice_id))
        db.session.rollback()
    assert len(list(Path(tmp_path).glob("*.eml"))) == 1

    # Who may: templates are the admin's (practice.write); sending is for therapists and admins.
    therapist, manager = app.test_client(), app.test_client()
    login(therapist, users["therapist"])
    assert therapist.get("/practice/mail-templates/").status_code == 403
    login(manager, users["manager"])
    invoice_page = manager.get(f"/invoices/{invoice_id}")
    assert invoice_page.status_code == 200 and 'data-testid="email-invoice"' not in invoice_page.get_data(as_text=True)
    assert manager.get(f"/mail/invoices/{invoice_id}").status_code == 403
    assert manager.post(f"/mail/invoices/{invoice_id}/sendings/{sending_id}/retry",
                        data={"csrf_token": csrf_token(manager, "/")}).status_code == 403


# ---- settings -------------------------------------------------------------------------------------------------

@pytest.fixture
def mail_env(monkeypatch):
    for name in ("MAIL_BACKEND", "MAIL_SERVER", "MAIL_PORT", "MAIL_SECURITY", "MAIL_FROM", "MAIL_TIMEOUT",
                 "MAIL_USERNAME", "MAIL_PASSWORD", "MAIL_OUTBOX_DIR"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.mark.parametrize(("name", "value"), [("MAIL_PORT", "0"), ("MAIL_PORT", "70000"), ("MAIL_PORT", "58７"),
                                             ("MAIL_PORT", "smtp"), ("MAIL_SECURITY", "tls"),
                                             ("MAIL_BACKEND", "sendmail"), ("MAIL_TIMEOUT", "-1")])
def test_a_bad_mail_setting_stops_the_start_saying_what_to_set(mail_env, name, value):
    mail_env.setenv(name, value)
    with pytest.raises(config.ConfigError, match=name):
        config.mail_settings(production=False)


def test_mail_defaults_outbox_in_development_and_smtp_with_a_server_in_production(mail_env):
    assert config.mail_settings(production=False) | {"MAIL_TIMEOUT": 0} == {
        "MAIL_BACKEND": "outbox", "MAIL_SERVER": "", "MAIL_PORT": 587, "MAIL_SECURITY": "starttls",
        "MAIL_USERNAME": "", "MAIL_PASSWORD": "", "MAIL_FROM": "", "MAIL_TIMEOUT": 0, "MAIL_OUTBOX_DIR": ""}
    with pytest.raises(config.ConfigError, match="MAIL_SERVER.*MAIL_FROM"):
        config.mail_settings(production=True)
    mail_env.setenv("MAIL_SERVER", "smtp.example.nl")
    mail_env.setenv("MAIL_FROM", "Huidtherapie Utrecht <info@example.nl>")
    mail_env.setenv("MAIL_SECURITY", "ssl")
    settings = config.mail_settings(production=True)
    assert (settings["MAIL_BACKEND"], settings["MAIL_PORT"]) == ("smtp", 465)
    mail_env.delenv("MAIL_SERVER")
    mail_env.setenv("MAIL_BACKEND", "outbox")  # a practice that does not send yet
    assert config.mail_settings(production=True)["MAIL_BACKEND"] == "outbox"
