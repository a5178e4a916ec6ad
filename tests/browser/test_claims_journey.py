"""The administrator builds last month's claim batch for Zilveren Kruis, sees one line excluded because the
therapist's KP registration had lapsed, exports and downloads the workbook, marks it submitted, imports the
insurer's reply with one rejection and sees the batch closed with its outcome."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import pytest
from openpyxl import Workbook, load_workbook
from playwright.sync_api import Page, expect

from backoffice.clock import clinic_today
from backoffice.domain.dutch import month_label
from backoffice.domain.months import Month
from backoffice.extensions import db

from .conftest import ADMIN_EMAIL
from .helpers import confirm_dialog, field, sign_in

pytestmark = pytest.mark.browser


@pytest.fixture
def claim_practice(live_app, tmp_path) -> dict:
    """Three issued invoice lines last month: two by a therapist in order, one by a therapist whose KP
    registration ended the day before that treatment."""
    from test_claims import ClaimClinic

    from backoffice.models import Therapist

    live_app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    today = clinic_today()
    first = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    with live_app.app_context():
        clinic = ClaimClinic()
        db.session.get_one(Therapist, clinic.therapist_id).kp_registrations[0].period_end = today + timedelta(days=900)
        db.session.commit()
        lapsed = clinic.therapist("Bas Visser", "90054321", kp_end=first + timedelta(days=5))
        clinic.line(clinic.patient("Bakker"), day=first + timedelta(days=2), price="100.00")
        clinic.line(clinic.patient("Jansen"), day=first + timedelta(days=3), price="80.00")
        clinic.line(clinic.patient("Visser"), day=first + timedelta(days=6), price="90.00", therapist_id=lapsed)
    return {"period": f"{first:%Y-%m}", "period_label": month_label(Month(first.year, first.month))}


def sign_in_as_admin(page: Page, base_url: str) -> None:
    sign_in(page, base_url, ADMIN_EMAIL, name="Anna Admin")


def reply_workbook(paid: str, rejected: str) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["Claimreferentie", "Betaald", "Code", "Reden"])
    sheet.append([paid, 100, None, None])
    sheet.append([rejected, 0, "V12", "Verzekerde niet aanvullend verzekerd"])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def test_admin_builds_exports_and_reconciles_a_claim_batch(live_server: str, page: Page, claim_practice: dict):
    sign_in_as_admin(page, live_server)
    page.get_by_role("navigation").get_by_role("link", name="Claims").click()
    page.get_by_role("link", name="New batch").click()
    page.get_by_label("Insurer").select_option(label="Zilveren Kruis (3311)")
    expect(field(page, "period")).to_have_value(claim_practice["period_label"])  # last month, as the app shows it
    page.get_by_role("button", name="Build batch").click()

    expect(page).to_have_url(re.compile(r"/claims/\d+$"))
    expect(page.get_by_role("alert").filter(has_text="2 line(s) included, 1 excluded")).to_be_visible()
    expect(page.get_by_test_id("included-lines").locator("tbody tr")).to_have_count(2)
    excluded = page.get_by_test_id("excluded-lines").locator("tbody tr")
    expect(excluded).to_have_count(1)
    expect(excluded).to_contain_text("Anna Visser")
    expect(excluded).to_have_attribute("data-reasons", "therapist_not_eligible")
    expect(excluded).not_to_contain_text("therapist_not_eligible")  # no developer words on screen
    expect(excluded).to_contain_text("Bas Visser: KP registration ended on")

    page.get_by_role("button", name="Export").click()
    confirm_dialog(page)
    expect(page.get_by_role("alert").filter(has_text="exported: 2 line(s) claimed, 1 excluded")).to_be_visible()
    expect(page.get_by_test_id("batch-status")).to_contain_text("exported")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download workbook").click()
    assert re.fullmatch(r"declaratie-3311-\d{4}-001\.xlsx", info.value.suggested_filename)
    workbook = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    rows = list(workbook["Declaratie"].iter_rows(values_only=True))
    reference = rows[0].index("Claimreferentie")
    references = [row[reference] for row in rows[1:]]
    assert len(references) == 2
    excluded_rows = list(workbook["Uitgesloten"].iter_rows(values_only=True))
    assert len(excluded_rows) == 2 and excluded_rows[1][6] == "therapist_not_eligible"

    page.get_by_role("button", name="Mark submitted").click()
    confirm_dialog(page)
    expect(page.get_by_test_id("batch-status")).to_contain_text("submitted")
    page.get_by_role("link", name="Import remittance").click()
    expect(page.get_by_label("Insurer")).to_have_value(re.compile(r"\d+"))
    page.get_by_label("Remittance file (.xlsx or .csv)").set_input_files(files=[{
        "name": "antwoord-zilveren-kruis.xlsx",
        "mimeType": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "buffer": reply_workbook(references[0], references[1]),
    }])
    page.get_by_role("button", name="Upload and preview").click()

    expect(page.get_by_test_id("matched-count")).to_have_text("2")
    expect(page.get_by_test_id("unmatched-count")).to_have_text("0")
    expect(page.get_by_test_id("matched-rows")).to_contain_text("Verzekerde niet aanvullend verzekerd")
    page.get_by_role("button", name="Apply 2 outcome(s)").click()
    confirm_dialog(page)
    expect(page.get_by_role("alert").filter(has_text="Applied: 2 line(s) recorded (EUR 100,00 paid)")).to_be_visible()

    page.get_by_role("navigation").get_by_role("link", name="Claims").click()
    page.get_by_test_id("batches").get_by_role("link").first.click()
    expect(page.get_by_test_id("batch-status")).to_contain_text("closed")
    expect(page.get_by_test_id("paid-total")).to_have_text("EUR 100,00")
    expect(page.get_by_test_id("claimed-total")).to_have_text("EUR 180,00")
    rejected = page.get_by_test_id("included-lines").locator("tr", has_text=references[1])
    expect(rejected).to_contain_text("rejected")
    expect(rejected).to_contain_text("Verzekerde niet aanvullend verzekerd (code V12)")
    expect(page.get_by_text("Resubmit rejected lines")).to_be_visible()
