"""Payment reminders with the app (backoffice/reminders/): `flask reminders send` by frozen dates (dry run, real run,
a second run the same day), the stored PDFs read back, the invoice page's button and section, the overdue list's
stage column, the list to print, the settings page and the guard on sent reminders. The rules themselves (stages,
the 14-day term, the cost scale) are tested without the app in test_domain_reminders.py; the letter's wording for
three amounts below, without the app too.

The app tests run on SQLite and PostgreSQL; each covers a whole journey to keep their number small.
"""

from __future__ import annotations

import email
import hashlib
import importlib.util
import io
import socket
from datetime import UTC, date, datetime
from decimal import Decimal
from email import policy
from pathlib import Path

import factories
import pikepdf.pdfa
import pytest
from conftest import csrf_token, login
from pypdf import PdfReader
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from backoffice import clock
from backoffice.documents.data import PatientInfo, PracticeInfo
from backoffice.documents.reminders import ReminderDocument, render_reminder
from backoffice.domain import reminders as rules
from backoffice.extensions import db
from backoffice.invoicing import services as invoicing
from backoffice.mail import services as mail
from backoffice.models import AccessLog, DocumentSending, Invoice, InvoiceReminder, InvoiceReminderChangeError
from backoffice.models.reminders import reminder_guard_statements
from backoffice.reminders import services as reminders

ISSUED = date(2026, 10, 1)       # due 15-10-2026 (14 days)
PRACTICE_EMAIL = "info@huidtherapie-utrecht.nl"


def _at(day: date, hour: int = 9):
    """Stop the clock on `day` at `hour` o'clock in the clinic (Amsterdam: UTC+1 in winter, +2 in summer)."""
    return clock.freeze(datetime(day.year, day.month, day.day, hour - 2, tzinfo=UTC))


def _text(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def _scene(app, users, tmp_path) -> dict[str, int]:
    """Four patients with an invoice each, issued 01-10-2026 and due 15-10-2026: Anna (e-mail, EUR 175,00 open),
    Bram (no e-mail, EUR 2.700,00), Carla (paid in full) and Dirk (credited). Returns the invoice ids."""
    app.config.update(MAIL_BACKEND="outbox", MAIL_OUTBOX_DIR=str(tmp_path / "outbox"))
    with app.app_context():
        factories.practice(email=PRACTICE_EMAIL, phone="030 123 45 67")
        admin = factories.existing_user(users["admin"])
        therapist = factories.therapist()
        item = factories.catalogue_item()
        ids = {}
        for name, first, email_address, price in (("anna", "Anna", "anna@example.nl", "175.00"),
                                                  ("bram", "Bram", "", "2700.00"),
                                                  ("carla", "Carla", "carla@example.nl", "175.00"),
                                                  ("dirk", "Dirk", "dirk@example.nl", "175.00")):
            patient = factories.patient(f"Patient {name}", first, email=email_address)
            treatment = factories.treatment(patient.id, therapist.id, item.id, date(2026, 9, 28), price=price)
            ids[name] = factories.issued_invoice(patient.id, [treatment.id], admin, ISSUED).id
        invoicing.record_payment(db.session.get(Invoice, ids["carla"]), date(2026, 10, 10), "bank_transfer",
                                 Decimal("175.00"), user=admin)
        factories.credit_note(db.session.get(Invoice, ids["dirk"]), None, admin, date(2026, 10, 12))
        db.session.commit()
    return ids


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _run(app, *args: str):
    return app.test_cli_runner().invoke(args=["reminders", "send", *args])


def _counts() -> tuple[int, int, int]:
    return (db.session.scalar(select(func.count(InvoiceReminder.id))),
            db.session.scalar(select(func.count(DocumentSending.id))),
            db.session.scalar(select(func.count(AccessLog.id))))


def test_the_command_sends_each_stage_once_by_its_date(app, users, tmp_path):
    ids = _scene(app, users, tmp_path)
    outbox = tmp_path / "outbox"
    with app.app_context():
        before = _counts()

    with _at(date(2026, 10, 21)):  # due + 6 days: nothing yet
        result = _run(app)
    assert result.exit_code == 0, result.output
    assert "0 reminder(s) due" in result.output

    with _at(date(2026, 10, 22)):  # due + 7 days: the friendly reminders, Carla (paid) and Dirk (credited) left out
        dry = _run(app, "--dry-run")
        assert dry.exit_code == 0, dry.output
        assert "Dry run: 2 reminder(s) due today" in dry.output
        with app.app_context():
            numbers = dict(db.session.execute(select(Invoice.id, Invoice.number)).all())
        assert f"invoice {numbers[ids['anna']]}: payment reminder" in dry.output and "by e-mail" in dry.output
        assert f"invoice {numbers[ids['bram']]}: payment reminder" in dry.output and "to print" in dry.output
        assert "Anna" not in dry.output  # invoice numbers only: cron mails the output
        with app.app_context():
            assert _counts() == before  # the dry run changed nothing, not even the access log
        assert not outbox.exists() or not list(outbox.iterdir())

        # The mail server is down: the reminders are made and recorded, the e-mail fails: exit 3.
        app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=_closed_port(),
                          MAIL_SECURITY="none", MAIL_TIMEOUT=5.0)
        first = _run(app)
        assert first.exit_code == 3, first.output
        assert "2 reminder(s) due: 0 sent by e-mail, 1 to print, 1 e-mail(s) failed, 0 refused." in first.output
        again = _run(app)  # the same day again (a second cron line, a retry by hand): nothing twice
        assert again.exit_code == 0 and "0 reminder(s) due" in again.output
        app.config.update(MAIL_BACKEND="outbox")
        with app.app_context():  # the failed sending is retried (mail/services.py) with the same stored PDF
            [failed] = db.session.scalars(select(DocumentSending)).all()
            assert failed.status == "failed" and failed.reminder_id is not None
            assert mail.retry(failed).status == "sent"
            db.session.commit()

    with app.app_context():
        stages = {(r.invoice_id, r.stage, r.sent_on, r.delivery) for r in db.session.scalars(select(InvoiceReminder))}
        assert stages == {(ids["anna"], "friendly", date(2026, 10, 22), "email"),
                          (ids["bram"], "friendly", date(2026, 10, 22), "print")}
        assert db.session.scalar(select(func.count(DocumentSending.id))) == before[1] + 1
    mails = [email.message_from_bytes(path.read_bytes(), policy=policy.default) for path in outbox.iterdir()]
    assert len(mails) == 1 and mails[0]["To"] == "anna@example.nl"
    assert mails[0]["Subject"] == f"Herinnering: factuur {numbers[ids['anna']]}"
    [retried] = list(mails[0].iter_attachments())
    assert retried.get_filename() == f"herinnering-{numbers[ids['anna']]}.pdf"

    # Bram pays part before the formal letter: its costs are computed over what is still open.
    with app.app_context():
        invoicing.record_payment(db.session.get(Invoice, ids["bram"]), date(2026, 10, 30), "bank_transfer",
                                 Decimal("200.00"), user=factories.existing_user(users["admin"]))
        db.session.commit()
    with _at(date(2026, 11, 4)):  # friendly + 13 days: not yet
        assert "0 reminder(s) due" in _run(app).output
    with _at(date(2026, 11, 5)):  # friendly + 14 days: the 14-day letters
        formal = _run(app)
        assert formal.exit_code == 0, formal.output
        assert "collection costs EUR 40,00" in formal.output and "collection costs EUR 375,00" in formal.output
        assert "0 reminder(s) due" in _run(app).output
    with _at(date(2026, 12, 31)):  # nothing after the 14-day letter
        assert "0 reminder(s) due" in _run(app).output

    with app.app_context():
        letter = db.session.scalar(select(InvoiceReminder).where(InvoiceReminder.invoice_id == ids["bram"],
                                                                 InvoiceReminder.stage == "formal"))
        # Sent Thursday 05-11-2026, assumed received Saturday the 7th: 14 days end Saturday the 21st -> Monday.
        assert (letter.deadline, letter.open_cents, letter.collection_costs_cents) == (date(2026, 11, 23), 250_000,
                                                                                        37_500)
        words = _text(reminders.stored_pdf(letter))
        for expected in ("Aanmaning", "EUR 2.500,00", "EUR 375,00", "23-11-2026", "07-11-2026", "05-11-2026",
                         "binnen 14 dagen, te rekenen vanaf de dag na ontvangst van deze brief",
                         "Betaalt u niet binnen deze termijn, dan bent u naast het openstaande bedrag "
                         "buitengerechtelijke incassokosten verschuldigd van EUR 375,00",
                         "Op 22-10-2026 hebben wij u een herinnering gestuurd"):
            assert expected in words, expected
        assert db.session.scalar(select(func.count(InvoiceReminder.id))) == 4
    formal_mail = next(m for m in (email.message_from_bytes(p.read_bytes(), policy=policy.default)
                                   for p in outbox.iterdir()) if m["Subject"].startswith("Laatste herinnering"))
    body = formal_mail.get_body(("plain",)).get_content()
    assert "23-11-2026" in body and "EUR 40,00" in body and "EUR 175,00" in body
    [attachment] = list(formal_mail.iter_attachments())
    assert attachment.get_filename() == f"aanmaning-{numbers[ids['anna']]}.pdf"
    with app.app_context():
        stored = db.session.scalar(select(InvoiceReminder.pdf).where(InvoiceReminder.invoice_id == ids["anna"],
                                                                     InvoiceReminder.stage == "formal"))
        assert attachment.get_content() == stored  # byte-identical to the stored PDF


def test_the_invoice_page_sends_by_hand_and_the_lists_show_the_stage(app, users, as_role, tmp_path):
    ids = _scene(app, users, tmp_path)
    client = as_role("admin")
    anna, bram = f"/invoices/{ids['anna']}", f"/invoices/{ids['bram']}"
    with _at(date(2026, 10, 20)):  # overdue, the friendly reminder not yet due by the schedule
        page = client.get(anna).get_data(as_text=True)
        assert "No reminder sent; Reminder due 22-10-2026" in page
        token = csrf_token(client, anna)
        assert client.post(f"{anna}/reminders/send").status_code == 400  # no CSRF token: refused
        response = client.post(f"{anna}/reminders/send", data={"csrf_token": token}, follow_redirects=True)
        page = response.get_data(as_text=True)
        assert "Payment reminder sent by e-mail to anna@example.nl." in page
        assert "Reminder sent 20-10-2026; 14-day letter due 03-11-2026" in page
        # A second click: the 14-day letter never on the day of the friendly reminder.
        response = client.post(f"{anna}/reminders/send", data={"csrf_token": token}, follow_redirects=True)
        assert "the 14-day letter can follow from tomorrow" in response.get_data(as_text=True)
        client.post(f"{bram}/reminders/send", data={"csrf_token": token})
        overdue = client.get("/invoices/overdue").get_data(as_text=True)
        assert overdue.count("Reminder sent 20-10-2026") == 2 and 'text-bg-warning">to print' in overdue
        # Carla paid: no button, and sending is refused.
        carla = f"/invoices/{ids['carla']}"
        assert "reminders/send" not in client.get(carla).get_data(as_text=True)
        response = client.post(f"{carla}/reminders/send", data={"csrf_token": token}, follow_redirects=True)
        assert "has nothing left to pay" in response.get_data(as_text=True)

        listed = client.get("/reminders/").get_data(as_text=True)
        with app.app_context():
            letter = db.session.scalar(select(InvoiceReminder).where(InvoiceReminder.invoice_id == ids["bram"]))
            letter_id, stored, digest = letter.id, letter.pdf, letter.pdf_sha256
        assert f"/invoices/{ids['bram']}/reminders/{letter_id}.pdf" in listed
        download = client.get(f"{bram}/reminders/{letter_id}.pdf")
        assert download.status_code == 200 and download.data == stored
        assert download.headers["Content-Disposition"].endswith('herinnering-' + _number(app, ids["bram"]) + '.pdf"')
        assert "No reminders to print." in client.get("/reminders/").get_data(as_text=True)  # printed now
        assert client.get(f"{anna}/reminders/{letter_id}.pdf").status_code == 404  # another invoice's reminder
    with app.app_context():
        assert db.session.scalar(select(func.count(InvoiceReminder.id))) == 2
        assert db.session.scalar(select(func.count(AccessLog.id)).where(
            AccessLog.action == "print", AccessLog.detail.contains("payment reminder"))) == 1
        assert digest == hashlib.sha256(stored).hexdigest()
        # A sent reminder never changes: the ORM and the database refuse; only printed_at may be filled in.
        letter = db.session.get(InvoiceReminder, letter_id)
        letter.open_cents = 1
        with pytest.raises(InvoiceReminderChangeError):
            db.session.flush()
        db.session.rollback()
        with pytest.raises(DBAPIError):
            db.session.execute(text("UPDATE invoice_reminders SET open_cents = 1 WHERE id = :id"), {"id": letter_id})
        db.session.rollback()
        with pytest.raises(DBAPIError):
            db.session.execute(text("DELETE FROM invoice_reminders WHERE id = :id"), {"id": letter_id})
        db.session.rollback()


def _number(app, invoice_id: int) -> str:
    with app.app_context():
        return db.session.get(Invoice, invoice_id).number


def test_the_settings_page_shows_and_edits_the_days_and_the_cost_scale(app, users, as_role):
    client = as_role("admin")
    page = client.get("/reminders/settings").get_data(as_text=True)
    for expected in ("EUR 2.500,00", "0,5 %", "EUR 6.775,00", "Open EUR 150,00: collection costs EUR 40,00",
                     "Open EUR 2.700,00: collection costs EUR 395,00",
                     "Open EUR 12.000,00: collection costs EUR 895,00"):
        assert expected in page, expected
    form = client.get("/reminders/settings/edit").get_data(as_text=True)
    assert 'value="2.500,00"' in form and 'value="0,5"' in form  # the current scale, typed the Dutch way
    token = csrf_token(client, "/reminders/settings/edit")
    good = {"csrf_token": token, "friendly_after_days": "3", "friendly_term_days": "7", "formal_after_days": "10",
            "formal_term_days": "14", "receipt_days": "2", "costs_minimum": "25,00", "costs_maximum": "",
            "costs_vat_rate": "21", "brackets-0-start": "0", "brackets-0-rate": "10", "brackets-1-start": "1.000,00",
            "brackets-1-rate": "5"}
    for field, value, message in (("brackets-1-rate", "abc", "Type a number"),
                                  ("formal_term_days", "10", "Enter 14 to 90."),
                                  ("brackets-0-start", "100", "starts at EUR 0")):
        response = client.post("/reminders/settings/edit", data={**good, field: value})
        assert response.status_code == 422 and message in response.get_data(as_text=True), field
    with app.app_context():
        assert reminders.policy() == rules.ReminderPolicy()  # nothing saved
    response = client.post("/reminders/settings/edit", data=good, follow_redirects=True)
    assert "Reminder settings saved." in response.get_data(as_text=True)
    with app.app_context():
        assert reminders.policy().friendly_after_days == 3
        scale = reminders.cost_scale()
        assert scale.maximum is None and scale.vat_rate == 21
        assert rules.collection_costs(Decimal("150"), scale).total == Decimal("30.25")   # 25,00 + 21 % VAT
        assert rules.collection_costs(Decimal("1500"), scale).total == Decimal("151.25")  # (100 + 25) + 21 %
    manager = app.test_client()
    login(manager, users["manager"])
    assert manager.get("/reminders/settings").status_code == 200
    manager_token = csrf_token(manager, "/")
    assert manager.post("/reminders/settings/edit", data={**good, "csrf_token": manager_token}).status_code == 403


def test_the_migration_installs_the_models_guard():
    path = Path(__file__).resolve().parent.parent / "migrations/versions/20261206_0024_payment_reminders.py"
    spec = importlib.util.spec_from_file_location("migration_0024", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for dialect in ("sqlite", "postgresql"):
        assert migration.GUARDS[dialect] == reminder_guard_statements(dialect)
    defaults = rules.DEFAULT_SCALE.brackets
    assert [(int(b.start * 100), int(b.rate * 100)) for b in defaults] == migration.BRACKETS


# ---- the letter, without the app ---------------------------------------------------------------------------

PRACTICE = PracticeInfo(name="Huidtherapie Utrecht", street="Oudegracht 1", postcode="3511 AA", city="Utrecht",
                        kvk_number="12345678", vat_id="NL123456789B01", agb_code="90001234",
                        iban="NL91ABNA0417164300", phone="030 123 45 67", email=PRACTICE_EMAIL)
PATIENT = PatientInfo(name="Anna de Vries", street="Laan 2", postcode="3512 BB", city="Utrecht",
                      date_of_birth=date(1990, 5, 17))


@pytest.mark.parametrize(("open_amount", "costs"), [("150.00", "EUR 40,00"), ("2700.00", "EUR 395,00"),
                                                    ("12000.00", "EUR 895,00")])
def test_the_14_day_letter_states_the_costs_and_the_deadline_in_dutch(open_amount, costs):
    sent = date(2026, 11, 2)
    amount = Decimal(open_amount)
    computed = rules.collection_costs(amount)
    doc = ReminderDocument(
        stage="formal", sent_on=sent, practice=PRACTICE, patient=PATIENT, invoice_number="2026-00012",
        invoice_date=date(2026, 9, 1), due_date=date(2026, 9, 15), invoice_total=amount, settled=Decimal("0.00"),
        open_amount=amount, deadline=rules.formal_deadline(sent), received_on=rules.received_on(sent),
        collection_costs=computed.costs, collection_costs_vat=computed.vat, friendly_sent_on=date(2026, 10, 19))
    words = _text(render_reminder(doc))
    assert f"buitengerechtelijke incassokosten verschuldigd van {costs}" in words
    assert "tot en met 18-11-2026" in words and "op 04-11-2026 ontvangt" in words
    assert "te rekenen vanaf de dag na ontvangst van deze brief" in words
    assert "dan bent u deze kosten niet verschuldigd" in words and "btw" not in words.lower()


def test_the_friendly_reminder_announces_no_costs_and_is_an_archival_pdf():
    doc = ReminderDocument(
        stage="friendly", sent_on=date(2026, 10, 22), practice=PRACTICE, patient=PATIENT, invoice_number="2026-00012",
        invoice_date=date(2026, 10, 1), due_date=date(2026, 10, 15), invoice_total=Decimal("175.00"),
        settled=Decimal("0.00"), open_amount=Decimal("175.00"), deadline=rules.friendly_deadline(date(2026, 10, 22)))
    data = render_reminder(doc)
    words = _text(data)
    assert "Betalingsherinnering" in words and "uiterlijk op 29-10-2026" in words and "EUR 175,00" in words
    assert "incassokosten" not in words
    assert render_reminder(doc) == data  # the same letter renders the same bytes
    # An archival PDF/A-3b, as every other document (test_documents_archival.py).
    assert pikepdf.pdfa.validate_written(io.BytesIO(data), "3b").findings == []
