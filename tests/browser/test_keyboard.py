"""Keyboard only: a new patient and a new treatment, from page load to the stored record, without the mouse.

The skip link ("Naar de inhoud") is the first Tab stop and moves the focus to <main>; from there the first field
is the next stop. Fields are reached with Tab, typed or chosen with the arrow keys, and the form is sent with
Enter or Space on its button.
"""

from __future__ import annotations

import pytest
from conftest import create_user
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backoffice.clock import clinic_today
from backoffice.extensions import db

from .helpers import choose_with_keys, in_app, tab_to

pytestmark = pytest.mark.browser


def sign_in_with_keys(page: Page, base_url: str, email: str) -> None:
    from conftest import PASSWORD

    page.goto(base_url + "/login")
    tab_to(page, "email")
    page.keyboard.type(email)
    tab_to(page, "password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("whoami")).to_be_attached()


def skip_to_content(page: Page) -> None:
    """First Tab stop: the skip link; Enter moves the focus to <main>."""
    page.keyboard.press("Tab")
    focused = page.locator(":focus")
    expect(focused).to_have_text("Naar de inhoud")
    expect(focused).to_have_attribute("href", "#main")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"


def test_new_patient_with_the_keyboard_only(live_app, live_server: str, page: Page):
    from backoffice.models import Patient

    create_user(live_app, "balie@browser.test", "admin", name="Bas Balie", language="nl")
    sign_in_with_keys(page, live_server, "balie@browser.test")
    page.goto(live_server + "/patients/new")
    skip_to_content(page)
    assert tab_to(page, "first_name") <= 2  # was 18 Tab presses before the skip link
    page.keyboard.type("Joris")
    tab_to(page, "last_name")
    page.keyboard.type("Keizer")
    tab_to(page, "date_of_birth")
    page.keyboard.type("02-02-1990")
    tab_to(page, "postcode")
    page.keyboard.type("3512 JK")
    tab_to(page, "city")
    page.keyboard.type("Utrecht")
    tab_to(page, "submit")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Joris Keizer")

    stored = in_app(live_app, lambda: db.session.scalars(select(Patient).filter_by(last_name="Keizer")).one())
    assert (stored.first_name, stored.date_of_birth.isoformat(), stored.postcode, stored.city) == \
        ("Joris", "1990-02-02", "3512 JK", "Utrecht")


def test_new_treatment_with_the_keyboard_only(live_app, live_server: str, page: Page,
                                              treatment_practice: dict[str, int]):
    from backoffice.models import CatalogueItem, Treatment, User

    patient = treatment_practice["referred"]
    with live_app.app_context():
        therapist = db.session.scalars(select(User).filter_by(role="therapist")).one()
        therapist.language = "nl"
        db.session.commit()
        email = therapist.email
    item = in_app(live_app, lambda: db.session.scalars(select(CatalogueItem).filter_by(code="FRAC-SCAR-F")).one().id)

    sign_in_with_keys(page, live_server, email)
    page.goto(f"{live_server}/treatments/new?patient_id={patient}")
    skip_to_content(page)
    tab_to(page, "catalogue_item_id")
    choose_with_keys(page, str(item))
    tab_to(page, "indication")
    choose_with_keys(page, "acne_scar")
    tab_to(page, "body_area")
    choose_with_keys(page, "face")
    tab_to(page, "submit", limit=80)
    with page.expect_navigation():
        page.keyboard.press("Space")

    stored = in_app(live_app, lambda: db.session.scalars(
        select(Treatment).filter_by(patient_id=patient).order_by(Treatment.id.desc())).first())
    assert stored is not None
    assert (stored.catalogue_item_id, stored.indication, stored.body_area, stored.treatment_date) == \
        (item, "acne_scar", "face", clinic_today())
    assert page.url.endswith(f"/treatments/{stored.id}")
