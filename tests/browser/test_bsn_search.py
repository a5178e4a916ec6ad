"""A BSN typed into a GET search never leaves the browser in an address: the page sends it as a POST to "Search by
BSN" instead (static/app.js), and the patient's page opens (issue 13, part 5)."""

from __future__ import annotations

import re
from datetime import date

import factories
import pytest
from playwright.sync_api import Page, expect

from backoffice.extensions import db

from .conftest import ADMIN_EMAIL
from .helpers import sign_in

pytestmark = pytest.mark.browser

BSN = "111222333"


@pytest.fixture
def fleur(live_app) -> int:
    with live_app.app_context():
        patient = factories.patient("Berg", "Fleur", bsn=BSN, date_of_birth=date(1991, 4, 12))
        db.session.commit()
        return patient.id


@pytest.mark.parametrize("typed", ["111 222 333", "１１１２２２３３３"])
def test_a_bsn_typed_in_the_header_search_goes_by_post(live_server: str, page: Page, fleur: int, typed: str):
    sign_in(page, live_server, ADMIN_EMAIL, name="Anna Admin")
    # The header is there before the scripts at the end of the page have run: wait for them (app.js sends the
    # number by POST; without it the server refuses the GET on its own, tested in tests/test_bsn_privacy.py).
    page.wait_for_load_state("load")
    addresses: list[str] = []
    page.on("request", lambda request: addresses.append(request.url))
    page.get_by_label("Find a patient").fill(typed)
    with page.expect_response(lambda r: r.request.method == "POST" and "/patients/find-by-bsn" in r.url) as posted:
        page.get_by_label("Find a patient").press("Enter")
    assert posted.value.status == 302
    expect(page).to_have_url(re.compile(rf"/patients/{fleur}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Fleur Berg")
    assert addresses and not [url for url in addresses if "111" in url or "%EF%BC%91" in url]


def test_the_patient_list_form_searches_by_bsn(live_server: str, page: Page, fleur: int):
    sign_in(page, live_server, ADMIN_EMAIL, name="Anna Admin")
    page.goto(live_server + "/patients/")
    form = page.get_by_test_id("bsn-search")
    form.get_by_label("BSN").fill("1112.22.333")
    form.get_by_role("button", name="Search by BSN").click()
    expect(page).to_have_url(re.compile(rf"/patients/{fleur}$"))
