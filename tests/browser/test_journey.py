"""End-to-end journeys in headless Chromium against a live server: the admin's journey in English (the user's own
language choice; the page says lang="en")."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from .conftest import ADMIN_EMAIL
from .helpers import field, sign_in, submit

pytestmark = pytest.mark.browser

# Left behind on purpose: a look at it tells whether the pages are styled (Bootstrap) or bare HTML.
SCREENSHOT = Path(tempfile.gettempdir()) / "backoffice-patient-list.png"


def test_admin_adds_a_patient_finds_them_and_signs_out(live_server: str, page: Page):
    sign_in(page, live_server, ADMIN_EMAIL, name="Anna Admin")
    expect(page.locator("html")).to_have_attribute("lang", "en")  # Anna chose English

    page.get_by_role("navigation").get_by_role("link", name="Patients").click()
    expect(page).to_have_url(re.compile(r"/patients/$"))
    page.get_by_role("link", name="New patient").click()
    expect(page.get_by_role("heading", name="New patient")).to_be_visible()

    field(page, "first_name").fill("Femke")
    field(page, "last_name").fill("Zwanenburg")
    field(page, "date_of_birth").fill("14-03-1987")
    field(page, "postcode").fill("3511 ab")
    field(page, "bsn").fill("123456789")
    field(page, "id_document_type").select_option("passport")
    field(page, "id_document_number").fill("NW1234567")

    # An invalid BSN: the form comes back (422) with the error at the BSN field and nothing saved.
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        submit(page).click()
    assert posted.value.status == 422
    expect(page.get_by_test_id("form-errors")).to_be_visible()
    bsn = field(page, "bsn")
    expect(bsn).to_have_class(re.compile(r"\bis-invalid\b"))
    expect(page.locator(".invalid-feedback", has_text="eleven-test")).to_be_visible()
    expect(field(page, "last_name")).to_have_value("Zwanenburg")  # what was typed is kept
    expect(field(page, "date_of_birth")).to_have_value("14-03-1987")

    bsn.fill("111222333")
    submit(page).click()

    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Femke Zwanenburg")
    expect(page.get_by_role("alert")).to_contain_text("Patient Femke Zwanenburg added.")
    expect(page.locator("main")).not_to_contain_text("111222333")  # the BSN is shown masked only
    detail_url = page.url

    page.get_by_role("navigation").get_by_role("link", name="Patients").click()
    page.locator("main").get_by_label("Search patients").fill("Zwanenburg")
    page.locator("main").get_by_role("button", name="Search", exact=True).click()
    expect(page).to_have_url(re.compile(r"[?&]q=Zwanenburg"))
    rows = page.get_by_test_id("patient-table").locator("tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("Zwanenburg, Femke")
    expect(rows.first).to_contain_text("14-03-1987")
    expect(rows.first).to_contain_text("3511 AB")
    page.screenshot(path=SCREENSHOT, full_page=True)

    # The page is styled by the locally served Bootstrap, not bare HTML.
    navbar_colour = page.locator("nav.navbar").evaluate("el => getComputedStyle(el).backgroundColor")
    assert navbar_colour == "rgb(33, 37, 41)", navbar_colour  # Bootstrap 5 .bg-dark

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.get_by_role("alert")).to_be_visible()

    page.goto(detail_url)
    expect(page).to_have_url(re.compile(r"/login\?next="))
    expect(page.locator("input[name=password]")).to_be_visible()
    expect(page.locator("body")).not_to_contain_text("Zwanenburg")
