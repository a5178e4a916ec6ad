"""Aftercare texts per technique and per catalogue item (backoffice/aftercare/, domain/aftercare.py).

Every technique's sheet is rendered for real and read back with pypdf: it carries its own text and, unless the
treatment is a laser treatment, none of the laser sentences. An admin's edit changes the next sheet; a reset
brings the default back; other roles cannot edit.
"""

from __future__ import annotations

import io
from datetime import date

import factories
import pytest
from conftest import create_user, login, post_form
from pypdf import PdfReader
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from backoffice.aftercare import services
from backoffice.domain.aftercare import (
    DEFAULT_TEXTS,
    LASER_TOPICS,
    AftercareContent,
    AftercareTopic,
    choose,
    lines,
    paragraphs,
    topic_for,
)
from backoffice.extensions import db
from backoffice.invoicing import declarations
from backoffice.models import AftercareText, Treatment

# Sentences of the clinic's laser page that must never reach a sheet of another technique.
LASER_SENTENCES = ("De warmte van de laser", "collageen", "Niet douchen gedurende 24 uur")


def pdf_text(data: bytes) -> str:
    assert data.startswith(b"%PDF-")
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(data)).pages)


def _flat(text: str) -> str:
    return " ".join(text.split())


class AftercareClinic:
    """A practice, a therapist, a patient and one catalogue item per technique (plus an acne treatment without a
    technique and an "other" item). Call inside an app context."""

    ITEMS = {  # code -> (technique, indication of the treatment)
        "FRAC": ("fractional_laser", "acne_scar"),
        "LHR": ("laser_hair_removal", "hirsutism"),
        "IPL": ("ipl", "hirsutism"),
        "ELEC": ("electrolysis", "hirsutism"),
        "CAMO": ("camouflage_lesson", "camouflage"),
        "MLD": ("lymph_drainage", "oedema"),
        "PEEL": ("peel", "fine_lines"),
        "ACNE": (None, "acne"),
        "OTHER": ("other", "skin_firming"),
    }

    def __init__(self):
        factories.practice(phone="030-1234567")
        therapist = factories.therapist()
        patient = factories.patient()
        self.treatments: dict[str, int] = {}
        self.items: dict[str, int] = {}
        for code, (technique, indication) in self.ITEMS.items():
            item = factories.catalogue_item(code, f"Behandeling {code}", technique=technique)
            medical = indication not in ("fine_lines", "skin_firming")
            treatment = factories.treatment(patient.id, therapist.id, item.id, date(2026, 11, 2), medical=medical,
                                            indication=indication)
            self.items[code], self.treatments[code] = item.id, treatment.id
        db.session.commit()

    def sheet(self, code: str) -> str:
        data = declarations.aftercare_pdf(db.session.get_one(Treatment, self.treatments[code]))
        db.session.commit()
        return pdf_text(data)


def _content_words(content: AftercareContent) -> list[str]:
    return [content.title, *content.expectations, *content.instructions]


# ---- domain ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("technique", "indication", "topic"), [
    ("fractional_laser", "fine_lines", AftercareTopic.FRACTIONAL_LASER),
    ("laser_hair_removal", "hirsutism", AftercareTopic.LASER_HAIR_REMOVAL),
    ("ipl", "sun_damage", AftercareTopic.IPL),
    ("electrolysis", "pcos", AftercareTopic.ELECTROLYSIS),
    ("camouflage_lesson", "camouflage", AftercareTopic.CAMOUFLAGE_LESSON),
    ("lymph_drainage", "oedema", AftercareTopic.LYMPH_DRAINAGE),
    ("peel", "acne", AftercareTopic.PEEL),
    (None, "acne", AftercareTopic.ACNE_TREATMENT),
    ("other", "acne", AftercareTopic.ACNE_TREATMENT),
    (None, "acne_scar", AftercareTopic.GENERAL),
    (None, None, AftercareTopic.GENERAL),
    ("other", "skin_firming", AftercareTopic.GENERAL),
    ("no-such-technique", "no-such-indication", AftercareTopic.GENERAL),
])
def test_topic_follows_the_technique_then_the_indication(technique, indication, topic):
    assert topic_for(technique, indication) is topic


def test_every_topic_has_a_complete_dutch_default_and_only_laser_defaults_speak_of_the_laser():
    assert set(DEFAULT_TEXTS) == set(AftercareTopic)
    titles = [content.title for content in DEFAULT_TEXTS.values()]
    assert len(set(titles)) == len(titles)
    for topic, content in DEFAULT_TEXTS.items():
        assert content.complete, topic
        text = " ".join(_content_words(content))
        for sentence in LASER_SENTENCES:
            assert (sentence in text) == (topic is AftercareTopic.FRACTIONAL_LASER), (topic, sentence)
        assert ("laser" in text.lower()) == (topic in LASER_TOPICS), topic


def test_the_item_text_wins_then_the_stored_topic_text_then_the_default():
    own = AftercareContent("Eigen", ("Verwachting.",), ("Instructie.",))
    topic = AftercareContent("Techniek", ("Verwachting.",), ("Instructie.",))
    half = AftercareContent("Half", (), ("Instructie.",))
    assert choose(own, topic, AftercareTopic.IPL) is own
    assert choose(None, topic, AftercareTopic.IPL) is topic
    assert choose(half, None, AftercareTopic.IPL) is DEFAULT_TEXTS[AftercareTopic.IPL]
    assert choose(None, None, AftercareTopic.IPL) is DEFAULT_TEXTS[AftercareTopic.IPL]


def test_paragraphs_and_lines_from_a_text_area():
    assert paragraphs("Eerste regel\r\nloopt door.\r\n\r\n\r\nTweede.\n  \n") == ("Eerste regel loopt door.", "Tweede.")
    assert lines("- SPF 50\r\n\r\n* Geen sauna\n• Drink water\n") == ("SPF 50", "Geen sauna", "Drink water")


# ---- the sheets ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("code", "topic"), [
    ("FRAC", AftercareTopic.FRACTIONAL_LASER),
    ("LHR", AftercareTopic.LASER_HAIR_REMOVAL),
    ("IPL", AftercareTopic.IPL),
    ("ELEC", AftercareTopic.ELECTROLYSIS),
    ("CAMO", AftercareTopic.CAMOUFLAGE_LESSON),
    ("MLD", AftercareTopic.LYMPH_DRAINAGE),
    ("PEEL", AftercareTopic.PEEL),
    ("ACNE", AftercareTopic.ACNE_TREATMENT),
    ("OTHER", AftercareTopic.GENERAL),
])
def test_each_technique_gets_its_own_sheet(app, code, topic):
    with app.app_context():
        clinic = AftercareClinic()
        text = clinic.sheet(code)
    expected = DEFAULT_TEXTS[topic]
    assert "Nazorg na uw behandeling" in text and f"Behandeling {code}" in text
    for words in _content_words(expected):
        assert _flat(words) in text, (code, words)
    for other, content in DEFAULT_TEXTS.items():
        if other is not topic:
            assert content.title not in text, (code, other)
    for sentence in LASER_SENTENCES:
        assert (sentence in text) == (topic is AftercareTopic.FRACTIONAL_LASER), (code, sentence)
    if topic not in LASER_TOPICS:
        assert "laser" not in text.lower()


def test_the_fractional_laser_sheet_keeps_the_clinic_page_text(app):
    with app.app_context():
        text = AftercareClinic().sheet("FRAC")
    for words in ("SPF 50", "Niet douchen gedurende 24 uur", "Niet sporten, zwemmen of naar de sauna gedurende 48 uur",
                  "een week lang geen zuren", "vijf tot zes dagen", "meer dan 3 maanden", "De warmte van de laser"):
        assert words in text


# ---- editing -------------------------------------------------------------------------------------------------

ELEC_EDIT = {
    "title": "Nazorg na epileren (praktijktekst)",
    "expectations": "De huid is een dag rood.\n\nBultjes verdwijnen vanzelf.",
    "instructions": "- Koel met een coldpack\nGeen make-up vandaag\n",
}


def test_an_admin_edit_changes_the_next_sheet_and_a_reset_brings_the_default_back(app, as_role):
    client = as_role("admin")
    with app.app_context():
        clinic = AftercareClinic()
    page = client.get("/aftercare/topics/electrolysis/edit").get_data(as_text=True)
    assert DEFAULT_TEXTS[AftercareTopic.ELECTROLYSIS].title in page  # starts from what prints now
    response = post_form(client, "/aftercare/topics/electrolysis/edit", ELEC_EDIT)
    assert response.status_code == 302 and response.headers["Location"] == "/aftercare/"
    with app.app_context():
        text = clinic.sheet("ELEC")
        assert all(words in text for words in ("Nazorg na epileren (praktijktekst)", "De huid is een dag rood.",
                                               "Bultjes verdwijnen vanzelf.", "Koel met een coldpack",
                                               "Geen make-up vandaag"))
        assert DEFAULT_TEXTS[AftercareTopic.ELECTROLYSIS].title not in text
        stored = db.session.scalar(select(AftercareText).where(AftercareText.topic == "electrolysis"))
        assert stored.updated_by.email == "admin@test.nl"
        assert "Nazorg na epileren" not in clinic.sheet("IPL")  # other techniques keep their text
    index = client.get("/aftercare/").get_data(as_text=True)
    assert "Nazorg na epileren (praktijktekst)" in index and 'data-confirm="' in index

    response = post_form(client, "/aftercare/topics/electrolysis/reset", {}, token_from="/aftercare/")
    assert response.status_code == 302
    with app.app_context():
        text = _flat(clinic.sheet("ELEC"))
        assert DEFAULT_TEXTS[AftercareTopic.ELECTROLYSIS].title in text and "praktijktekst" not in text
        assert db.session.scalar(select(AftercareText)) is None


def test_a_catalogue_item_text_wins_over_its_technique_and_can_be_deleted(app, as_role):
    client = as_role("admin")
    with app.app_context():
        clinic = AftercareClinic()
        camo = clinic.items["CAMO"]
    response = client.get(f"/aftercare/items/new?item_id={camo}")
    assert response.headers["Location"] == f"/aftercare/items/{camo}/edit"
    page = client.get(f"/aftercare/items/{camo}/edit").get_data(as_text=True)
    assert DEFAULT_TEXTS[AftercareTopic.CAMOUFLAGE_LESSON].title in page
    response = post_form(client, f"/aftercare/items/{camo}/edit",
                         {"title": "Na uw camouflageles (littekens)", "expectations": "Oefen dagelijks.",
                          "instructions": "Breng dun aan."})
    assert response.status_code == 302
    with app.app_context():
        text = clinic.sheet("CAMO")
        assert "Na uw camouflageles (littekens)" in text and "Oefen dagelijks." in text
        assert "Fixeer de camouflage" not in text
    index = client.get("/aftercare/").get_data(as_text=True)
    assert "Na uw camouflageles (littekens)" in index
    response = post_form(client, f"/aftercare/items/{camo}/delete", {}, token_from="/aftercare/")
    assert response.status_code == 302
    with app.app_context():
        assert "Fixeer de camouflage" in clinic.sheet("CAMO")


@pytest.mark.parametrize(("field", "value", "error"), [
    ("instructions", " \n - \n", "Enter at least one instruction."),
    ("expectations", "", "Enter at least one paragraph."),
    ("title", "", "Enter a heading."),
    ("title", "x" * 201, "At most 200 characters."),
])
def test_an_incomplete_text_is_refused_with_a_field_error(app, as_role, field, value, error):
    client = as_role("admin")
    response = post_form(client, "/aftercare/topics/ipl/edit", {**ELEC_EDIT, field: value})
    assert response.status_code == 422
    assert error in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(AftercareText)) is None


def test_unknown_topics_and_items_are_not_found(as_role):
    client = as_role("admin")
    assert client.get("/aftercare/topics/1/edit").status_code == 404
    assert client.get("/aftercare/items/999/edit").status_code == 404
    assert post_form(client, "/aftercare/topics/tattoo/reset", {}, token_from="/aftercare/").status_code == 404
    response = client.get("/aftercare/items/new?item_id=999")
    assert response.status_code == 302 and response.headers["Location"] == "/aftercare/"


@pytest.mark.parametrize("role", ["therapist", "manager"])
def test_other_roles_read_the_texts_but_cannot_change_them(app, as_role, role):
    with app.app_context():
        clinic = AftercareClinic()
        item = clinic.items["CAMO"]
    client = as_role(role)
    index = client.get("/aftercare/")
    assert index.status_code == 200
    assert "/aftercare/topics/ipl/edit" not in index.get_data(as_text=True)
    assert client.get("/aftercare/topics/ipl/edit").status_code == 403
    assert client.get(f"/aftercare/items/{item}/edit").status_code == 403
    for url in ("/aftercare/topics/ipl/edit", f"/aftercare/items/{item}/edit"):
        assert post_form(client, url, ELEC_EDIT, token_from="/aftercare/").status_code == 403
    for url in ("/aftercare/topics/ipl/reset", f"/aftercare/items/{item}/delete"):
        assert post_form(client, url, {}, token_from="/aftercare/").status_code == 403
    with app.app_context():
        assert db.session.scalar(select(AftercareText)) is None


def test_the_admin_screens_are_dutch_for_a_dutch_user(app, client):
    create_user(app, "beheer@test.nl", "admin", language="nl")
    login(client, "beheer@test.nl")
    page = client.get("/aftercare/").get_data(as_text=True)
    assert "Nazorgteksten" in page and "Elektrisch epileren" in page and "Acnebehandeling" in page
    form = client.get("/aftercare/topics/lymph_drainage/edit").get_data(as_text=True)
    assert "Nazorgtekst voor Manuele lymfedrainage" in form


def test_a_text_belongs_to_a_topic_or_an_item_never_both_or_neither(app):
    with app.app_context():
        item = factories.catalogue_item()
        db.session.commit()
        for values in ({}, {"topic": "ipl", "catalogue_item_id": item.id}):
            db.session.add(AftercareText(title="T", expectations="E", instructions="I", **values))
            with pytest.raises(IntegrityError):
                db.session.flush()
            db.session.rollback()
        services.save_topic_text(AftercareTopic.IPL, services.AftercareInput("T", "E", "I"))
        services.save_topic_text(AftercareTopic.IPL, services.AftercareInput("T2", "E", "I"))
        db.session.commit()
        assert [text.title for text in db.session.scalars(select(AftercareText))] == ["T2"]


def test_a_concurrent_first_save_is_refused_not_a_server_error(app, monkeypatch):
    with app.app_context():
        services.save_topic_text(AftercareTopic.IPL, services.AftercareInput("Eerst", "E", "I"))
        db.session.commit()
        monkeypatch.setattr(services, "topic_text", lambda topic: None)  # as if read before the other commit
        with pytest.raises(services.SavedConcurrently, match="op hetzelfde moment opgeslagen"):
            services.save_topic_text(AftercareTopic.IPL, services.AftercareInput("Tweede", "E", "I"))
        db.session.rollback()
        assert [text.title for text in db.session.scalars(select(AftercareText))] == ["Eerst"]
