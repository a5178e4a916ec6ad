"""The treatment form that fits the work (sections, no medical default, indications by treatment, "repeat the
previous session", price plausibility) and corrections that keep every earlier version."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import factories
import pytest
from conftest import create_user, login, post_form
from sqlalchemy import func, select
from test_treatments import TODAY, count, form_data, new_url, record, setup_clinic

from backoffice.extensions import db
from backoffice.models import AccessLog, Invoice, Treatment, TreatmentCorrection, User


def _select(html: str, name: str) -> str:
    return re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S).group(0)


def _value(html: str, name: str) -> str | None:
    match = re.search(rf'<input[^>]*name="{name}"[^>]*>', html)
    value = re.search(r'value="([^"]*)"', match.group(0)) if match else None
    return value.group(1) if value else None


def _selected(html: str, name: str) -> str:
    select = _select(html, name)
    chosen = re.search(r'<option[^>]*selected[^>]*value="([^"]*)"|<option[^>]*value="([^"]*)"[^>]*selected', select)
    return (chosen.group(1) or chosen.group(2) or "") if chosen else ""


# ---- the form ----------------------------------------------------------------------------------------


def test_the_form_is_in_sections_without_a_medical_default(app, as_role):
    ids = setup_clinic(app)
    html = as_role("therapist").get(new_url(ids)).get_data(as_text=True)
    legends = re.findall(r"<legend[^>]*>(.*?)</legend>", html)
    assert legends == ["What and where", "Who and when", "Price", "Device and laser settings", "Notes"]
    # The first option of indication and body area is an empty "choose", and nothing else is selected.
    indication, area = _select(html, "indication"), _select(html, "body_area")
    assert re.search(r'<option[^>]*value=""[^>]*>Choose the indication…</option>', indication)
    assert re.search(r'<option[^>]*value=""[^>]*>Choose the body area…</option>', area)
    assert "selected" not in indication and "selected" not in area
    assert 'type="number"' not in _select(html, "indication")
    for name in ("price", "fluence_j_cm2", "pulse_width_ms", "spot_size_mm"):
        assert re.search(rf'<input[^>]*inputmode="decimal"[^>]*name="{name}"[^>]*type="text"|'
                         rf'<input[^>]*name="{name}"[^>]*type="text"', html), name


def test_a_hurried_save_without_indication_or_area_records_nothing(app, as_role):
    ids = setup_clinic(app)
    response = post_form(as_role("therapist"), new_url(ids), form_data(ids, indication="", body_area=""))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "Choose the indication." in html and "Choose the body area." in html
    assert count(app, Treatment) == 0


def test_indications_are_filtered_by_the_chosen_treatment(app, as_role):
    ids = setup_clinic(app)
    with app.app_context():
        laser_hair = factories.catalogue_item("LHR", "Laser hair removal, face", technique="laser_hair_removal",
                                              price_cents=9500)
        plain = factories.catalogue_item("ACNE", "Acne treatment", technique=None, price_cents=6900)
        db.session.commit()
        laser_hair_id, plain_id = laser_hair.id, plain.id
    client = as_role("therapist")
    html = client.get(new_url(ids)).get_data(as_text=True)
    indication = _select(html, "indication")
    assert 'data-depends-on="catalogue_item_id"' in indication
    assert re.search(rf'<option data-key="laser_hair_removal"[^>]*value="{laser_hair_id}"', html)
    assert re.search(rf'<option data-key="none"[^>]*value="{plain_id}"', html)
    hirsutism = re.search(r'<option data-for="([^"]*)"[^>]*value="hirsutism"', indication).group(1).split()
    assert "laser_hair_removal" in hirsutism and "none" in hirsutism and "fractional_laser" not in hirsutism
    assert '<optgroup label="Medical (VAT-exempt, possibly reimbursable)">' in indication

    # Without JavaScript the server refuses an indication the treatment does not treat.
    response = post_form(client, new_url(ids), form_data(ids, indication="hirsutism"))
    assert response.status_code == 422
    assert "Hirsutism is not treated with this treatment" in response.get_data(as_text=True)
    assert count(app, Treatment) == 0
    ok = form_data(ids, catalogue_item_id=laser_hair_id, indication="hirsutism", price="")
    assert post_form(client, new_url(ids), ok).status_code == 302
    anything = form_data(ids, catalogue_item_id=plain_id, indication="acne", price="")
    assert post_form(client, new_url(ids), anything).status_code == 302


# ---- numbers typed the Dutch way ----------------------------------------------------------------------


@pytest.mark.parametrize(("typed", "cents", "confirm"), [
    ("199,50", 19950, "y"), ("1.234,56", 123456, "y"), ("EUR 150,00", 15000, ""), ("120", 12000, ""),
])
def test_prices_and_fluence_typed_the_dutch_way_are_stored(app, as_role, typed, cents, confirm):
    ids = setup_clinic(app)
    data = form_data(ids, price=typed, price_change_reason="Agreed", price_confirmed=confirm, fluence_j_cm2="12,5")
    response = post_form(as_role("therapist"), new_url(ids), data)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        treatment = db.session.scalars(select(Treatment)).one()
        assert treatment.price_cents == cents and treatment.fluence_j_cm2 == Decimal("12.50")


@pytest.mark.parametrize(("price", "message"), [
    ("12.345", "is ambiguous"), ("1,234", "is ambiguous"), ("0", "Enter a price above EUR 0,00"),
    ("-5", "Enter a price above EUR 0,00"), ("0,00", "Enter a price above EUR 0,00"),
])
def test_ambiguous_zero_and_negative_prices_are_refused(app, as_role, price, message):
    ids = setup_clinic(app)
    response = post_form(as_role("therapist"), new_url(ids), form_data(ids, price=price, price_change_reason="x"))
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    assert count(app, Treatment) == 0


def test_a_price_far_from_the_catalogue_price_needs_a_confirmation(app, as_role):
    ids = setup_clinic(app)  # catalogue price EUR 120,00
    client = as_role("therapist")
    response = post_form(client, new_url(ids), form_data(ids, price="10.560,00", price_change_reason="Package"))
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    assert "The price differs by 8,700 % from the catalogue price EUR 120,00: check it and tick to confirm." in html
    assert 'name="price_confirmed"' in html and count(app, Treatment) == 0
    # Half the price is within the default 50 %; confirmed, the large one is accepted.
    assert post_form(client, new_url(ids), form_data(ids, price="60,00", price_change_reason="Half")).status_code == 302
    confirmed = form_data(ids, price="10.560,00", price_change_reason="Package", price_confirmed="y")
    assert post_form(client, new_url(ids), confirmed).status_code == 302
    with app.app_context():
        assert db.session.scalars(select(Treatment.price_cents).order_by(Treatment.id)).all() == [6000, 1_056_000]
    # The confirmation box is shown only once the server asked for it.
    assert 'name="price_confirmed"' not in client.get(new_url(ids)).get_data(as_text=True)


def test_the_confirmation_share_is_configurable(app, as_role):
    ids = setup_clinic(app)
    app.config["PRICE_DEVIATION_CONFIRM_SHARE"] = 0.1
    client = as_role("therapist")
    response = post_form(client, new_url(ids), form_data(ids, price="150,00", price_change_reason="Longer"))
    assert response.status_code == 422
    assert "The price differs by 25 % from the catalogue price EUR 120,00" in response.get_data(as_text=True)


# ---- repeat the previous session ----------------------------------------------------------------------


def _recorded_with_settings(app, ids, day, session_number, series_total, fluence="12.50", **fields) -> int:
    with app.app_context():
        treatment = factories.recorded_treatment(
            ids["patient"], ids["therapist"], ids["item"], day, indication="acne_scar", body_area="neck",
            session_number=session_number, series_total=series_total, device="Fraxel Dual 1550",
            wavelength_nm=1550, fluence_j_cm2=Decimal(fluence), spot_size_mm=Decimal("7"), passes=8, fitzpatrick=3,
            **fields)
        db.session.commit()
        return treatment.id


def test_repeat_the_previous_session_prefills_settings_as_the_next_session(app, as_role):
    ids = setup_clinic(app)
    _recorded_with_settings(app, ids, TODAY - timedelta(days=60), 1, 5, fluence="10.00")
    _recorded_with_settings(app, ids, TODAY - timedelta(days=30), 2, 5)
    client = as_role("therapist")
    plain = client.get(new_url(ids)).get_data(as_text=True)
    link = re.search(r'data-testid="repeat-(\d+)"\s+href="([^"]+)"', plain)
    assert int(link.group(1)) == ids["item"] and "session 3 of 5" in plain
    html = client.get(link.group(2).replace("&amp;", "&")).get_data(as_text=True)
    assert "Session 3 of 5" in re.search(r'data-testid="repeated">(.*?)</div>', html, re.S).group(1)
    assert _selected(html, "catalogue_item_id") == str(ids["item"])
    assert _selected(html, "indication") == "acne_scar" and _selected(html, "body_area") == "neck"
    assert _value(html, "device") == "Fraxel Dual 1550" and _value(html, "wavelength_nm") == "1550"
    assert _value(html, "fluence_j_cm2") == "12,5"  # the latest session's, written the Dutch way
    assert _value(html, "spot_size_mm") == "7" and _value(html, "passes") == "8"
    assert _selected(html, "fitzpatrick") == "3"
    assert (_value(html, "session_number"), _value(html, "series_total")) == ("3", "5")
    assert _value(html, "treatment_date") == f"{TODAY:%d-%m-%Y}"  # today, not the earlier session's date


def test_repeat_after_the_planned_series_gives_just_the_next_number(app, as_role):
    ids = setup_clinic(app)
    _recorded_with_settings(app, ids, TODAY - timedelta(days=30), 3, 3)
    html = as_role("therapist").get(new_url(ids) + f"&repeat={ids['item']}").get_data(as_text=True)
    repeated = re.search(r'data-testid="repeated">(.*?)</div>', html, re.S).group(1)
    assert "Session 4" in repeated and " of " not in repeated.split("</strong>")[0]
    assert (_value(html, "session_number"), _value(html, "series_total")) == ("4", "")


def test_repeat_without_an_earlier_session_says_so(app, as_role):
    ids = setup_clinic(app)
    client = as_role("therapist")
    html = client.get(new_url(ids) + f"&repeat={ids['item']}").get_data(as_text=True)
    assert "This patient has no earlier session of that treatment." in html
    assert 'data-testid="previous-sessions"' not in html and _selected(html, "indication") == ""


# ---- corrections -----------------------------------------------------------------------------------------


def _correction_data(ids, **overrides) -> dict:
    data = form_data(ids, series_total="", fluence_j_cm2="", passes="", fitzpatrick="", device="", wavelength_nm="",
                     correction_reason="Fluence typed wrong")
    data.update(overrides)
    return data


def test_a_correction_keeps_the_earlier_version_reassesses_and_is_logged(app, as_role):
    ids = setup_clinic(app)
    treatment_id = _recorded_with_settings(app, ids, TODAY, 1, None, fluence="125.00")
    client = as_role("therapist")
    url = f"/treatments/{treatment_id}/correct"
    form = client.get(url).get_data(as_text=True)
    assert _value(form, "fluence_j_cm2") == "125" and _value(form, "price") == "120,00"
    assert re.search(r'<form[^>]*data-confirm="Save this correction\?', form)
    data = _correction_data(ids, body_area="neck", device="Fraxel Dual 1550", wavelength_nm="1550",
                            fluence_j_cm2="12,5", spot_size_mm="7", passes="8", fitzpatrick="3", series_total="",
                            price="60,00", price_change_reason="Half session")
    response = post_form(client, url, data)
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        treatment = db.session.get(Treatment, treatment_id)
        assert treatment.fluence_j_cm2 == Decimal("12.50") and treatment.price_cents == 6000
        assert treatment.insurer_amount_cents == 6000  # re-assessed through the assessment service
        correction = db.session.scalars(select(TreatmentCorrection)).one()
        assert correction.previous["fluence_j_cm2"] == "125.00" and correction.previous["price_cents"] == 12000
        assert sorted(correction.changed_fields) == ["fluence_j_cm2", "price_cents", "price_change_reason"]
        assert correction.reason == "Fluence typed wrong" and correction.previous_assessment["insurer_amount"] == \
            "120.00"
        therapist = db.session.scalars(select(User).where(User.role == "therapist")).one()
        assert correction.corrected_by_id == therapist.id
        entry = db.session.scalars(select(AccessLog).where(AccessLog.action == "update")).one()
        assert entry.subject == f"treatment {treatment_id}" and "corrected (" in entry.detail
        assert "fluence_j_cm2" in entry.detail and "125" not in entry.detail  # field names, never values
    page = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    history = re.search(r'data-testid="corrections">(.*?)</section>', page, re.S).group(1)
    assert "Fluence typed wrong" in history and "Fluence (J/cm²):</span> 125" in history
    assert "Price:</span> EUR 120,00" in history and 'data-label="Earlier values"' in history
    assert "Zilveren Kruis pays EUR 60,00" in page


def test_a_correction_needs_a_reason_and_a_change(app, as_role):
    ids = setup_clinic(app)
    treatment_id = record(app, ids)
    client = as_role("therapist")
    url = f"/treatments/{treatment_id}/correct"
    response = post_form(client, url, _correction_data(ids, correction_reason="", fluence_j_cm2="12,5"))
    assert response.status_code == 422 and "Give the reason for the correction." in response.get_data(as_text=True)
    unchanged = _correction_data(ids, series_total="", price="120,00", session_number="1")
    response = post_form(client, url, unchanged)
    assert response.status_code == 422
    assert "Nothing was changed: change a field or cancel." in response.get_data(as_text=True)
    response = post_form(client, url, _correction_data(ids, price="0"))
    assert response.status_code == 422
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TreatmentCorrection)) == 0
        assert db.session.get(Treatment, treatment_id).price_cents == 12000


def test_a_manager_may_not_correct(app, as_role):
    ids = setup_clinic(app)
    treatment_id = record(app, ids)
    client = as_role("manager")
    assert client.get(f"/treatments/{treatment_id}/correct").status_code == 403
    assert "/correct" not in client.get(f"/treatments/{treatment_id}").get_data(as_text=True)


def test_an_invoiced_treatment_is_corrected_by_a_credit_note(app, as_role):
    ids = setup_clinic(app)
    treatment_id = record(app, ids)
    with app.app_context():
        factories.practice()
        admin = factories.user("admin@clinic.nl", "admin")
        invoice = factories.draft_invoice(ids["patient"], [treatment_id], admin)
        db.session.commit()
        invoice_id, admin_id = invoice.id, admin.id
    client = as_role("therapist")
    url = f"/treatments/{treatment_id}/correct"
    # On a draft: remove it from the draft first.
    response = client.get(url)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert "remove it from the draft invoice first" in html and f'href="/invoices/{invoice_id}"' in html
    # Issued: a credit note on the invoice; the correction form is refused also when posted.
    with app.app_context():
        from backoffice.invoicing import services as invoicing

        invoicing.issue_invoice(db.session.get(Invoice, invoice_id), db.session.get(User, admin_id), today=TODAY,
                                renderer=factories.stub_renderer)
        db.session.commit()
        number = db.session.get(Invoice, invoice_id).number
    response = client.get(url)
    assert response.status_code == 409
    html = response.get_data(as_text=True)
    assert f"This treatment is on invoice {number}: correct it with a credit note on that invoice." in html
    assert f'href="/invoices/{invoice_id}"' in html
    response = post_form(client, url, _correction_data(ids, fluence_j_cm2="12,5"), token_from="/")
    assert response.status_code == 409
    page = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert 'data-testid="invoiced"' in page and 'data-testid="correct"' not in page
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TreatmentCorrection)) == 0
        # Once credited, the treatment is free again and can be corrected.
        invoice = db.session.get(Invoice, invoice_id)
        invoicing.credit_invoice(invoice, [line.id for line in invoice.lines], "Wrong fluence",
                                 db.session.get(User, admin_id))
        db.session.commit()
    assert client.get(url).status_code == 200


# ---- Dutch and small screens ----------------------------------------------------------------------------


def test_a_dutch_user_sees_the_treatment_pages_in_dutch(app, client):
    ids = setup_clinic(app)
    treatment_id = _recorded_with_settings(app, ids, TODAY - timedelta(days=3), 2, 4)
    create_user(app, "therapeut@test.nl", "therapist", language="nl")
    login(client, "therapeut@test.nl")
    form = client.get(new_url(ids)).get_data(as_text=True)
    assert 'lang="nl"' in form
    for dutch in ("Nieuwe behandeling", "Wat en waar", "Wie en wanneer", "Apparaat- en laserinstellingen",
                  "Kies de indicatie…", "Kies het behandelgebied…", "Acnelittekens", "Gezicht",
                  "Behandeling vastleggen", "Herhaal vorige sessie", "sessie 3 van 4"):
        assert dutch in form, dutch
    for english in ("What and where", "Acne scars", "Record treatment", ">Face<"):
        assert english not in form, english
    response = post_form(client, new_url(ids), form_data(ids, price="10.560,00", price_change_reason="x"))
    assert "De prijs wijkt 8.700 % af van de catalogusprijs EUR 120,00" in response.get_data(as_text=True)
    page = client.get(f"/treatments/{treatment_id}").get_data(as_text=True)
    assert "Acnelittekens" in page and "Hals" in page and "Correctiegeschiedenis" in page
    assert "Behandelgebied" in page and "2 van 4" in page and "12,5 J/cm²" in page
    assert "neck" not in page.split("<main", 1)[1] and "acne_scar" not in page.split("<main", 1)[1]
    listing = client.get(f"/treatments/?patient_id={ids['patient']}").get_data(as_text=True)
    assert 'data-label="Datum"' in listing and "Acnelittekens" in listing and "table-responsive-cards" in listing


def test_lists_and_the_treatment_page_collapse_to_cards_on_a_phone(app, as_role):
    ids = setup_clinic(app)
    treatment_id = record(app, ids)
    client = as_role("therapist")
    listing = client.get("/treatments/").get_data(as_text=True)
    table = re.search(r'<table[^>]*data-testid="treatment-table"[^>]*>', listing).group(0)
    assert "table-responsive-cards" in table
    row = re.search(rf'<tr data-treatment-id="{treatment_id}">(.*?)</tr>', listing, re.S).group(1)
    assert row.count("<td") == row.count("data-label=") == 9
    catalogue = client.get("/catalogue/").get_data(as_text=True)
    assert "table-responsive-cards" in re.search(r'<table[^>]*data-testid="catalogue-table"[^>]*>', catalogue).group(0)


def test_every_demo_profile_fits_its_treatment_and_every_technique_treats_something():
    from backoffice.demo.data import CATALOGUE, PROFILES
    from backoffice.domain.indications import Indication, Technique, fits

    techniques = {code: technique for code, _name, technique, *_rest in CATALOGUE}
    for indication, code, *_rest in PROFILES.values():
        assert fits(techniques[code], indication), (indication, code)
    assert not fits(Technique.LYMPH_DRAINAGE, Indication.ACNE_SCAR)
    assert fits(None, Indication.OEDEMA) and fits(Technique.OTHER, Indication.HIRSUTISM)
    for technique in Technique:
        assert any(fits(technique, indication) for indication in Indication)


def test_a_correction_to_a_day_the_intake_screening_refuses_is_refused(app, as_role):
    ids = setup_clinic(app)  # the patient's intake is of 40 days ago
    treatment_id = record(app, ids)
    before_intake = TODAY - timedelta(days=50)
    response = post_form(as_role("therapist"), f"/treatments/{treatment_id}/correct",
                         _correction_data(ids, treatment_date=f"{before_intake:%d-%m-%Y}"))
    assert response.status_code == 422
    assert f"No intake recorded before {before_intake:%d-%m-%Y}" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(TreatmentCorrection)) == 0
        assert db.session.get(Treatment, treatment_id).treatment_date == TODAY
