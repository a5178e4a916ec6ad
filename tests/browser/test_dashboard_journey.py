"""The manager opens the dashboard, switches month (picker and the previous-month link), follows a figure to the
list it summarises, downloads the monthly report, and cannot reach the pages that edit a patient (403)."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from conftest import create_user
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from test_reporting import build_practice

from backoffice.extensions import db

from .helpers import sign_in

pytestmark = pytest.mark.browser

MANAGER_EMAIL = "manager@browser.test"


@pytest.fixture
def report_practice(live_app, tmp_path) -> dict:
    """The reporting tests' practice (October 2026 is the month with everything in it) and a manager login."""
    live_app.instance_path = str(tmp_path / "instance")  # claim exports and downloads stay out of the project
    Path(live_app.instance_path).mkdir()
    create_user(live_app, MANAGER_EMAIL, "manager", name="Mia Manager")
    with live_app.app_context():
        data = build_practice()
        data.pop("clinic")
        db.session.remove()
    return data


def sign_in_as_manager(page: Page, base_url: str) -> None:
    sign_in(page, base_url, MANAGER_EMAIL, name="Mia Manager")


def test_manager_dashboard_month_switch_and_download(live_server: str, page: Page, report_practice: dict):
    sign_in_as_manager(page, live_server)
    page.get_by_role("link", name="Dashboard", exact=True).click()
    expect(page).to_have_url(re.compile(r"/reports/$"))
    expect(page.get_by_test_id("dashboard-title")).to_contain_text("Dashboard ·")

    # The month picker.
    page.get_by_label("Month", exact=True).fill("2026-10")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"/reports/\?month=2026-10$"))
    expect(page.get_by_test_id("dashboard-title")).to_have_text("Dashboard · October 2026")
    expect(page.get_by_test_id("revenue-month")).to_have_text("EUR 410,50")
    expect(page.get_by_test_id("revenue-ytd")).to_have_text("EUR 821,00")
    expect(page.get_by_test_id("treatments-month")).to_have_text("6")
    expect(page.get_by_test_id("chart-revenue")).to_be_visible()
    expect(page.get_by_test_id("chart-claims")).to_be_visible()
    expect(page.get_by_test_id("trend").locator("tbody tr")).to_have_count(10)
    expect(page.locator("[data-ending-soon=yes]")).to_contain_text("Noor Bakker")

    # The previous-month link.
    page.get_by_role("link", name="Previous month").click()
    expect(page.get_by_test_id("dashboard-title")).to_have_text("Dashboard · September 2026")
    expect(page.get_by_test_id("revenue-month")).to_have_text("EUR 235,50")
    page.get_by_role("link", name="Next month").click()
    expect(page.get_by_test_id("dashboard-title")).to_have_text("Dashboard · October 2026")

    # The download: the same figures in the workbook.
    with page.expect_download() as info:
        page.get_by_test_id("download-report").click()
    download = info.value
    assert download.suggested_filename == "maandrapportage-2026-10.xlsx"
    book = load_workbook(io.BytesIO(Path(download.path()).read_bytes()))  # the saved file has no .xlsx name
    # overview, by therapist, insurer, treatment, receivables, credentials
    assert len(book.sheetnames) == 6
    overview = book[book.sheetnames[0]]
    # Revenue incl. VAT: the month and the year to date.
    assert any(row[1:3] == (410.5, 821.0) for row in overview.iter_rows(values_only=True)), \
        list(overview.iter_rows(values_only=True))
    # With the month's books: the invoice register and the payments as two more sheets, under a name of its own.
    with page.expect_download() as info:
        page.get_by_test_id("download-report-books").click()
    assert info.value.suggested_filename == "maandrapportage-2026-10-met-boeken.xlsx"
    full = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    assert full.sheetnames == book.sheetnames + ["Factuurregister", "Betalingen"]

    # A figure leads to the list it summarises.
    page.get_by_test_id("treatments-month").get_by_role("link").click()
    expect(page).to_have_url(re.compile(r"/treatments/\?month=2026-10$"))


def test_manager_cannot_reach_patient_editing_pages(live_server: str, page: Page, report_practice: dict):
    sign_in_as_manager(page, live_server)
    patient = report_practice["patients"][0]
    for path in ("/patients/new", f"/patients/{patient}/edit", f"/patients/{patient}/insurances/new"):
        response = page.goto(live_server + path)
        assert response is not None and response.status == 403, path
    response = page.goto(f"{live_server}/patients/{patient}")
    assert response is not None and response.status == 200  # reading is allowed
    expect(page.get_by_role("link", name="Edit", exact=True)).to_have_count(0)
