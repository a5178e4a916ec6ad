"""The treatment form in the browser: indications follow the chosen treatment, and the treatment pages fit a
390 px phone without sideways scrolling."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from .test_treatments_journey import sign_in_as_therapist

pytestmark = pytest.mark.browser


def _scrolls_sideways(page: Page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth > document.documentElement.clientWidth"))


def test_indications_follow_the_chosen_treatment(live_server: str, page: Page, treatment_practice: dict[str, int]):
    sign_in_as_therapist(page, live_server)
    page.goto(f"{live_server}/treatments/new?patient_id={treatment_practice['referred']}")
    indication = page.get_by_label("Indication")
    expect(indication).to_have_value("")  # no medical default
    page.get_by_label("Treatment (catalogue)").select_option(label="Laserontharing, gezicht (LHR-F) — EUR 95,00")
    expect(indication.locator('option[value="hirsutism"]')).to_be_enabled()
    expect(indication.locator('option[value="acne_scar"]')).to_be_disabled()
    page.get_by_label("Treatment (catalogue)").select_option(label="Camouflageles (CAMO-LES) — EUR 85,00")
    expect(indication.locator('option[value="camouflage"]')).to_be_enabled()
    expect(indication.locator('option[value="hirsutism"]')).to_be_disabled()


def test_treatment_pages_fit_a_phone(live_server: str, page: Page, treatment_practice: dict[str, int]):
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in_as_therapist(page, live_server)
    patient = treatment_practice["referred"]
    page.goto(f"{live_server}/treatments/new?patient_id={patient}")
    page.get_by_label("Treatment (catalogue)").select_option(
        label="Fractionele laser, acnelittekens, gezicht (FRAC-SCAR-F) — EUR 225,00")
    page.get_by_label("Indication").select_option(label="Acne scars")
    page.get_by_label("Body area").select_option(label="Face")
    page.get_by_label("Fluence (J/cm²)").fill("12,5")
    assert not _scrolls_sideways(page)
    page.get_by_role("button", name="Record treatment").click()
    expect(page.get_by_test_id("headline")).to_be_visible()
    expect(page.get_by_text("12,5 J/cm²")).to_be_visible()
    assert not _scrolls_sideways(page)
    for url in (f"/treatments/?patient_id={patient}", "/treatments/", "/catalogue/"):
        page.goto(live_server + url)
        assert not _scrolls_sideways(page), url
