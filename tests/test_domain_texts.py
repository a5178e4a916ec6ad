"""Translatable domain texts: a Text stores as JSON, renders in the reader's language, and a stored assessment
reads in Dutch for a Dutch user and in English for an English one."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import factories
import pytest
from conftest import create_user, login, post_form

from backoffice.domain import texts
from backoffice.domain.coverage import Assessment, InsuranceFacts, PolicyRule, TherapistFacts, TreatmentFacts, assess
from backoffice.domain.credentials import KpLevel, KpRegistration, NvhMembership
from backoffice.domain.indications import BodyArea, Category, Indication, Technique
from backoffice.domain.intake import Contraindication, ContraindicationEntry, Intake, screen
from backoffice.domain.texts import Text, english, join, label, lowered, msg, names
from backoffice.domain.validators import bsn_error, postcode_error
from backoffice.extensions import db
from backoffice.models import Treatment

# A small Dutch catalogue: the words of the sentences below, as the real catalogue has them.
DUTCH = {
    "Face": "Gezicht",
    "Neck": "Hals",
    "Legs": "Benen",
    "Acne": "Acne",
    "%(items)s and %(last)s": "%(items)s en %(last)s",
    "Medical: %(indication)s (%(category)s) is health care within the skin therapist's field.":
        "Medisch: %(indication)s (%(category)s) is zorg binnen het vakgebied van de huidtherapeut.",
    "VAT: exempt (%(ground)s).": "Btw: vrijgesteld (%(ground)s).",
    "Therapist %(therapist)s: %(reason)s": "Huidtherapeut %(therapist)s: %(reason)s",
    "no NVH membership recorded": "geen NVH-lidmaatschap vastgelegd",
    "No insurance recorded on %(date)s.": "Geen verzekering vastgelegd op %(date)s.",
    "Not reimbursed: the patient pays %(amount)s.": "Niet vergoed: de cliënt betaalt %(amount)s.",
    "%(rule)s covers only %(areas)s; this treatment is of the %(area)s.":
        "%(rule)s dekt alleen %(areas)s; deze behandeling betreft %(area)s.",
    "A BSN has 9 digits.": "Een BSN heeft 9 cijfers.",
    "Postcodes never end in %(letters)s.": "Postcodes eindigen nooit op %(letters)s.",
    "%(contraindication)s (%(area)s): no treatment of this area.":
        "%(contraindication)s (%(area)s): geen behandeling van dit gebied.",
    "Tattoos in the area": "Tatoeages in het gebied",
}


@pytest.fixture
def dutch() -> Iterator[None]:
    """A dict-based Dutch translator for the pure domain; English again afterwards."""
    texts.set_translator(lambda message: DUTCH.get(message, message))
    try:
        yield
    finally:
        texts.set_translator(None)


ANNA = TherapistFacts("Anna de Vries", "90012345", (NvhMembership("NVH-7", date(2020, 1, 1)),),
                      (KpRegistration("KP-1", KpLevel.KWALITEITSREGISTER, date(2020, 1, 1), date(2030, 12, 31)),))
NO_NVH = TherapistFacts("Cleo Claes", "90011111", (),
                        (KpRegistration("KP-2", KpLevel.KWALITEITSREGISTER, date(2020, 1, 1), date(2030, 12, 31)),))
ACNE = TreatmentFacts(day=date(2026, 5, 1), indication=Indication.ACNE, body_area=BodyArea.LEGS,
                      technique=Technique.FRACTIONAL_LASER, price=Decimal("60.00"))
INSURED = InsuranceFacts(insurer_id=1, insurer_name="FBTO", uzovi="3351", package_id=None, package_name="Huid",
                         policy_number="P-1", valid_from=date(2020, 1, 1), valid_until=None)
FACE_ONLY = PolicyRule(id=1, insurer_id=1, package_id=None, year=2026, label="FBTO acne",
                       categories=frozenset({Category.ACNE}), body_areas=frozenset({BodyArea.FACE, BodyArea.NECK}))


# ---- Text: rendering and JSON --------------------------------------------------------------------------------


def test_a_text_renders_its_parameters_labels_and_lists_in_english_without_a_translator():
    text = msg("%(rule)s covers only %(areas)s; this treatment is of the %(area)s.", rule="FBTO acne",
               areas=names([lowered("Face"), lowered("Neck")]), area=lowered("Legs"))
    assert str(text) == "FBTO acne covers only face and neck; this treatment is of the legs."
    assert str(names([lowered("Face"), "arms", lowered("Neck")])) == "face, arms and neck"
    assert names(["only"]) == "only" and names([]) == ""
    assert "".join(map(str, join(["a", label("Face")], "; "))) == "a; Face"


def test_a_text_round_trips_through_json_with_nested_texts_lists_and_numbers():
    text = msg("Rule: %(rule)s.", rule=msg("%(rule)s (%(conditions)s)", rule="ZK", conditions=join(
        ["100 %", msg("at most %(sessions)s sessions a year", sessions=2), lowered("Face")])))
    stored = json.loads(json.dumps(text.to_json()))
    restored = Text.from_json(stored)
    assert restored == text
    assert isinstance(restored, Text) and restored.to_json() == stored
    assert str(restored) == "Rule: ZK (100 %; at most 2 sessions a year; face)."
    assert hash(restored) == hash(text)


def test_a_plain_string_stored_before_texts_stays_a_string():
    assert Text.from_json("Cosmetic treatment is never reimbursed.") == "Cosmetic treatment is never reimbursed."
    assert texts.as_json("plain") == "plain"


def test_with_a_dutch_translator_the_same_text_renders_in_dutch_and_english_stays_available(dutch):
    text = msg("%(rule)s covers only %(areas)s; this treatment is of the %(area)s.", rule="FBTO acne",
               areas=names([lowered("Face"), lowered("Neck")]), area=lowered("Legs"))
    assert str(text) == "FBTO acne dekt alleen gezicht en hals; deze behandeling betreft benen."
    assert english(text) == "FBTO acne covers only face and neck; this treatment is of the legs."


def test_the_translator_is_english_again_after_the_dutch_fixture():
    assert str(label("Face")) == "Face"


# ---- the domain's sentences in Dutch -------------------------------------------------------------------------


def test_assessment_reasons_render_in_dutch_with_a_dutch_translator(dutch):
    a = assess(ACNE, NO_NVH, None, [], {})
    said = [str(r) for r in a.reasons]
    assert said[0] == "Medisch: Acne (acne) is zorg binnen het vakgebied van de huidtherapeut."
    assert said[1].startswith("Btw: vrijgesteld (")
    assert "Huidtherapeut Cleo Claes: geen NVH-lidmaatschap vastgelegd" in said
    assert said[-2:] == ["Geen verzekering vastgelegd op 01-05-2026.", "Niet vergoed: de cliënt betaalt EUR 60,00."]


def test_a_stored_assessment_renders_in_the_language_of_whoever_reads_it(dutch):
    a = assess(ACNE, ANNA, INSURED, [FACE_ONLY], {})
    assert not a.reimbursable
    restored = Assessment.from_dict(json.loads(json.dumps(a.to_dict())))
    assert restored == a
    said = [str(r) for r in restored.reasons]
    assert "FBTO acne dekt alleen gezicht en hals; deze behandeling betreft benen." in said
    texts.set_translator(None)
    assert "FBTO acne covers only face and neck; this treatment is of the legs." in [str(r) for r in restored.reasons]


def test_intake_findings_and_validator_messages_render_in_dutch(dutch):
    intake = Intake(date(2026, 1, 5), contraindications=(
        ContraindicationEntry(Contraindication.TATTOOS, frozenset({BodyArea.FACE})),), consent_given=True)
    [finding] = screen(date(1990, 1, 1), [intake], date(2026, 2, 1), BodyArea.FACE).findings
    assert str(finding.message) == "Tatoeages in het gebied (gezicht): geen behandeling van dit gebied."
    assert str(bsn_error("12")) == "Een BSN heeft 9 cijfers."
    assert str(postcode_error("1234 SS")) == "Postcodes eindigen nooit op SS."


# ---- the app: a stored assessment in the user's language ------------------------------------------------------


def _reasons(html: str) -> str:
    match = re.search(r'data-testid="reasons">(.*?)</ol>', html, re.S)
    assert match, "no reasons list on the page"
    return match.group(1)


def test_a_stored_assessment_reads_dutch_for_a_dutch_user_and_english_for_an_english_one(app, client):
    with app.app_context():
        therapist = factories.therapist()
        insurer = factories.insurer()
        factories.coverage_rule(insurer)
        item = factories.catalogue_item("FL1", price_cents=12_000)
        patient = factories.patient()
        factories.insurance(patient, insurer)
        treatment = factories.recorded_treatment(patient.id, therapist.id, item.id, date(2026, 10, 2))
        # An assessment stored before the reasons were translatable keeps its plain English sentence.
        treatment.assessment = {**treatment.assessment,
                                "reasons": [*treatment.assessment["reasons"], "An older plain reason."]}
        db.session.commit()
        treatment_id = treatment.id
    create_user(app, "nl@test.nl", "therapist", language="nl")
    create_user(app, "en@test.nl", "therapist", language="en")

    login(client, "nl@test.nl")
    dutch_page = _reasons(client.get(f"/treatments/{treatment_id}").get_data(as_text=True))
    assert "Btw: vrijgesteld (" in dutch_page
    assert "De cliënt betaalt EUR 0,00." in dutch_page
    assert "Zilveren Kruis vergoedt EUR 120,00 (100 % van EUR 120,00)" in dutch_page
    assert "VAT:" not in dutch_page and "patient pays" not in dutch_page
    assert "An older plain reason." in dutch_page

    other = app.test_client()
    login(other, "en@test.nl")
    english_page = _reasons(other.get(f"/treatments/{treatment_id}").get_data(as_text=True))
    assert "VAT: exempt (" in english_page
    assert "The patient pays EUR 0,00." in english_page
    assert "Zilveren Kruis pays EUR 120,00 (100 % of EUR 120,00)" in english_page
    assert "Btw:" not in english_page

    with app.app_context():
        stored = db.session.get_one(Treatment, treatment_id).assessment["reasons"]
        assert stored[-1] == "An older plain reason."
        assert all("msgid" in reason for reason in stored[:-1])


def test_a_validator_message_is_shown_in_the_users_language(app, client):
    create_user(app, "nl@test.nl", "therapist", language="nl")
    create_user(app, "en@test.nl", "therapist", language="en")
    patient = {"first_name": "Fleur", "last_name": "Berg", "date_of_birth": "12-04-1991", "street": "Laan 1",
               "postcode": "1234 SS", "city": "Utrecht", "bsn": "12345"}
    login(client, "nl@test.nl")
    dutch_page = post_form(client, "/patients/new", patient).get_data(as_text=True)
    assert "Een BSN heeft 9 cijfers." in dutch_page and "Postcodes eindigen nooit op SS." in dutch_page
    other = app.test_client()
    login(other, "en@test.nl")
    english_page = post_form(other, "/patients/new", patient).get_data(as_text=True)
    assert "A BSN has 9 digits." in english_page and "Postcodes never end in SS." in english_page
