"""Printed documents are Dutch whatever the user's language (issue 10): an invoice, a credit note, a declaration
and an aftercare sheet made by a user whose language is English carry the Dutch labels of every enum (indication,
body area, technique, referrer) and none of the English ones. Read from the PDFs' text."""

from __future__ import annotations

import re

import pytest
from conftest import post_form
from flask_babel import force_locale, gettext
from sqlalchemy import select
from test_declarations import InvoiceClinic, pdf_text
from test_invoice_views import issued_via_web

from backoffice.domain.indications import BODY_AREA_LABELS, CATEGORY_LABELS, INDICATIONS, TECHNIQUE_LABELS
from backoffice.domain.referrals import REFERRER_LABELS
from backoffice.extensions import db
from backoffice.models import CatalogueItem, CreditNote, Invoice, Referral, User

ENGLISH_LABELS = [
    *(info.label for info in INDICATIONS.values()), *BODY_AREA_LABELS.values(), *TECHNIQUE_LABELS.values(),
    *REFERRER_LABELS.values(), *CATEGORY_LABELS.values(),
]


def english_words_in(app, text: str) -> list[str]:
    """The English enum labels (those whose Dutch label differs) found in `text`, as whole words."""
    with app.test_request_context(), force_locale("nl"):
        differing = {label for label in ENGLISH_LABELS if gettext(label) != label}
    return sorted(label for label in differing
                  if re.search(rf"(?<!\w){re.escape(label)}(?!\w)", text, re.IGNORECASE))


@pytest.fixture
def english_clinic(app, users):
    """The practice of test_declarations.py with a GP referral and Dutch catalogue names (the clinic's own
    words); the therapist login (users["therapist"]) works in English."""
    with app.app_context():
        clinic = InvoiceClinic(user_email=users["therapist"])
        assert db.session.scalar(select(User.language).where(User.email == users["therapist"])) == "en"
        laser = db.session.get(CatalogueItem, clinic.laser_id)
        laser.name, laser.prestatiecode_list, laser.prestatiecode = "Fractionele laserbehandeling", "075", "9010"
        db.session.get(CatalogueItem, clinic.peel_id).name = "Peelingbehandeling"
        db.session.get(Referral, clinic.referral_id).referrer_type = "gp"
        db.session.commit()
        clinic.medical = clinic.treatment(medical=True)
        clinic.cosmetic = clinic.treatment(medical=False)
        return clinic


def test_every_document_is_dutch_for_a_user_working_in_english(app, as_role, english_clinic):
    clinic = english_clinic
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical, clinic.cosmetic)
    assert '<html lang="en"' in client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        line_ids = {line.treatment_id: line.id for line in invoice.lines}
        # What the lines store (and so what the declaration and credit notes print) is Dutch too.
        medical = next(line for line in invoice.lines if line.treatment_id == clinic.medical)
        assert (medical.indication, medical.body_area, medical.technique) == (
            "Acnelittekens", "Gezicht", "Fractionele laser")
        assert medical.referral.startswith("Huisarts Dr. S. Aydin")
    # The declaration is printed before crediting: a credited line is no longer declared.
    documents = {
        "invoice": client.get(f"/invoices/{invoice_id}/pdf"),
        "declaration": client.get(f"/invoices/{invoice_id}/declaration.pdf"),
        "aftercare": client.get(f"/invoices/treatments/{clinic.medical}/aftercare.pdf"),
    }
    response = post_form(client, f"/invoices/{invoice_id}/credit",
                         {"line_ids": [str(line_ids[clinic.cosmetic]), str(line_ids[clinic.medical])],
                          "reason": "Niet uitgevoerd"})
    assert response.status_code == 302
    with app.app_context():
        credit_note_id = db.session.scalar(select(CreditNote.id))
    documents["credit note"] = client.get(f"/invoices/credit-notes/{credit_note_id}/pdf")

    # The claim data an insurer's desk looks for: the prestatiecode per line (the peel has none) and the
    # therapist's KP number and level and NVH number valid on the treatment date.
    claim_data = ["Prestatiecode 075/9010", "NVH-lidnummer NVH-5120"]
    registration = ["KP-nummer KP-20431 Kwaliteitsregister"]
    expected = {
        "invoice": ["Indicatie: Acnelittekens", "Techniek: Fractionele laser", "Behandelgebied: Gezicht",
                    "Verwijzing: Huisarts Dr. S. Aydin", "Peelingbehandeling", *claim_data, *registration],
        "credit note": ["Creditnota", "Peelingbehandeling", "Behandelgebied: Gezicht", "Creditering van factuur",
                        *claim_data, *registration],
        "declaration": ["Indicatie: Acnelittekens", "Techniek: Fractionele laser", "Behandelgebied: Gezicht",
                        "Huisarts Dr. S. Aydin", *claim_data, "KP-nummer KP-20431", "Niveau: Kwaliteitsregister"],
        "aftercare": ["Nazorg na uw behandeling", "Techniek Fractionele laser", "Behandelgebied Gezicht"],
    }
    for kind, response in documents.items():
        assert response.status_code == 200 and response.mimetype == "application/pdf", kind
        text = pdf_text(response.data)
        missing = [words for words in expected[kind] if words not in text]
        assert not missing, (kind, missing, text)
        assert english_words_in(app, text) == [], (kind, text)
        assert "GP (huisarts)" not in text
        assert not re.search(r"\b(kwaliteitsregister|diplomaregister)\b", text), (kind, text)  # the raw codes


def test_the_check_finds_english_labels(app):
    """The check above can fail: it finds the English labels the issue saw on the documents."""
    assert english_words_in(app, "Indicatie: Acne scars Behandelgebied: face Verwijzing: Dermatologist, "
                                 "GP (huisarts) Dr. X") == [
        "Acne scars", "Dermatologist", "Face", "GP (huisarts)", "Scars"]
    assert english_words_in(app, "Indicatie: Acnelittekens Behandelgebied: Gezicht") == []


@pytest.mark.parametrize("backend", ["sqlite"])  # it rewrites a frozen line below SQLite's guard triggers
def test_a_declaration_of_an_old_invoice_translates_the_stored_english_words(app, backend, as_role, english_clinic):
    """Lines stored before issue 10 hold English labels ("Acne scars", "face"): the declaration is printed now,
    so it shows them in Dutch; the stored invoice PDF itself is never rendered again."""
    clinic = english_clinic
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical)
    with app.app_context():
        stored = db.session.get(Invoice, invoice_id)
        before, line_id = stored.pdf, stored.lines[0].id
    # The words as an invoice issued before issue 10 stored them (issued lines are frozen: below the guards).
    with app.app_context(), db.engine.begin() as connection:
        triggers = _drop_line_guards(connection)
        connection.exec_driver_sql(
            "UPDATE invoice_lines SET indication = 'Acne scars', body_area = 'face', technique = 'Fractional laser', "
            "referral = 'GP (huisarts) Dr. S. Aydin, 01-09-2026' WHERE id = ?", (line_id,))
        _restore(connection, triggers)
    text = pdf_text(client.get(f"/invoices/{invoice_id}/declaration.pdf").data)
    assert "Indicatie: Acnelittekens" in text and "Behandelgebied: Gezicht" in text
    assert "Techniek: Fractionele laser" in text and "Huisarts Dr. S. Aydin" in text
    assert english_words_in(app, text) == []
    assert client.get(f"/invoices/{invoice_id}/pdf").data == before  # the stored PDF stays as it was


def _drop_line_guards(connection) -> list[str]:
    rows = connection.exec_driver_sql(
        "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'invoice_lines'").all()
    for name, _sql in rows:
        connection.exec_driver_sql(f"DROP TRIGGER {name}")
    return [sql for _name, sql in rows]


def _restore(connection, statements: list[str]) -> None:
    for statement in statements:
        connection.exec_driver_sql(statement)
