"""A therapist records treatments through the real forms: medical and reimbursable, cosmetic with VAT, and a
refusal by the intake screening."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from .conftest import THERAPIST_EMAIL
from .helpers import sign_in

pytestmark = pytest.mark.browser


def sign_in_as_therapist(page: Page, base_url: str) -> None:
    sign_in(page, base_url, THERAPIST_EMAIL, name="Tess Terpstra")


def fill_treatment(page: Page, item: str, indication: str, area: str = "Face") -> None:
    expect(page.get_by_role("heading", name="New treatment")).to_be_visible()
    # The signed-in therapist is preselected, and the date is today.
    expect(page.get_by_label("Therapist", exact=True)).to_have_value(re.compile(r"\d+"))
    page.get_by_label("Treatment (catalogue)").select_option(label=item)
    page.get_by_label("Indication").select_option(label=indication)
    page.get_by_label("Body area").select_option(label=area)


def test_therapist_records_a_reimbursable_and_a_cosmetic_treatment(live_server: str, page: Page,
                                                                    treatment_practice: dict[str, int]):
    sign_in_as_therapist(page, live_server)
    page.goto(f"{live_server}/patients/{treatment_practice['referred']}")
    expect(page.get_by_role("heading", level=1)).to_have_text("Sara Smit")
    page.get_by_role("link", name="New treatment").click()
    expect(page).to_have_url(re.compile(rf"/treatments/new\?patient_id={treatment_practice['referred']}$"))

    # Acne scars: medical (category scars); FBTO pays with the dermatologist's referral, which is preselected
    # because it is the patient's only valid one.
    fill_treatment(page, "Fractionele laser, acnelittekens, gezicht (FRAC-SCAR-F) — EUR 225,00", "Acne scars")
    expect(page.get_by_label("Referral used")).not_to_have_value("")
    page.get_by_role("button", name="Record treatment").click()

    expect(page).to_have_url(re.compile(r"/treatments/\d+$"))
    headline = page.get_by_test_id("headline")
    expect(headline).to_contain_text("reimbursable")
    expect(headline).not_to_contain_text("not reimbursable")
    expect(headline).to_contain_text("FBTO pays EUR 225,00")
    expect(headline).to_contain_text("patient pays EUR 0,00")
    reasons = page.get_by_test_id("reasons")
    expect(reasons).to_contain_text("Referral by Dermatologist Dr. S. Aydin")
    expect(reasons).to_contain_text("VAT: exempt")
    expect(page.get_by_test_id("assessment")).to_contain_text("EUR 25,00")  # left of the EUR 250 yearly cap

    # Skin rejuvenation with the same laser: cosmetic, 21 % VAT, never reimbursed.
    page.goto(f"{live_server}/patients/{treatment_practice['referred']}")
    page.get_by_role("link", name="New treatment").click()
    fill_treatment(page, "Fractionele laser huidverjonging, gezicht (FRAC-REJ-F) — EUR 249,00",
                   "Fine lines and wrinkles")
    page.get_by_role("button", name="Record treatment").click()

    expect(page).to_have_url(re.compile(r"/treatments/\d+$"))
    headline = page.get_by_test_id("headline")
    expect(headline).to_contain_text("Cosmetic")
    expect(headline).to_contain_text("21 % VAT")
    reasons = page.get_by_test_id("reasons")
    # EUR 249,00 including 21 % VAT: net 205,79, VAT 43,21.
    expect(reasons).to_contain_text("VAT: 21 % of EUR 205,79 is EUR 43,21, included in EUR 249,00.")
    expect(reasons).to_contain_text("Cosmetic treatment is never reimbursed.")

    # Both are on the patient's treatment list, one medical and one cosmetic.
    page.goto(f"{live_server}/treatments/?patient_id={treatment_practice['referred']}")
    rows = page.get_by_test_id("treatment-table").locator("tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Acne scars")).to_contain_text("medical")
    expect(rows.filter(has_text="Fine lines and wrinkles")).to_contain_text("cosmetic")


def test_therapist_is_refused_for_a_pregnant_patient(live_server: str, page: Page,
                                                     treatment_practice: dict[str, int]):
    sign_in_as_therapist(page, live_server)
    page.goto(f"{live_server}/treatments/new?patient_id={treatment_practice['pregnant']}")
    expect(page.get_by_text("for Lisa de Graaf")).to_be_visible()
    fill_treatment(page, "Fractionele laser huidverjonging, gezicht (FRAC-REJ-F) — EUR 249,00",
                   "Fine lines and wrinkles")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.get_by_role("button", name="Record treatment").click()
    assert posted.value.status == 422
    refusal = page.get_by_test_id("screening-blocked")
    expect(refusal).to_be_visible()
    expect(refusal).to_contain_text("Pregnancy or breastfeeding")
    expect(refusal).to_contain_text("Nothing was saved.")
    expect(page).to_have_url(re.compile(r"/treatments/new\?patient_id=\d+$"))

    page.goto(f"{live_server}/treatments/?patient_id={treatment_practice['pregnant']}")
    expect(page.get_by_test_id("treatment-table").locator("tbody")).to_contain_text("No treatments found.")
