"""A journey per role in Dutch, end to end, and the language as each user's own choice.

The users here are Dutch (language "nl"), as the clinic's staff are; each page must say `lang="nl"` and show the
Dutch of its messages (helpers.dutch looks the English message id up in the compiled catalogue and fails when it
has no translation). Fields are found by their names, buttons by the form they submit.
"""

from __future__ import annotations

import io
import re
from datetime import timedelta
from pathlib import Path

import factories
import pytest
from conftest import create_user
from openpyxl import load_workbook
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backoffice.clock import clinic_today
from backoffice.extensions import db

from .helpers import confirm_dialog, dutch, field, in_app, post, sign_in, submit

pytestmark = pytest.mark.browser

ADMIN_NL = "beheer@browser.test"
THERAPIST_NL = "huidtherapeut@browser.test"
MANAGER_NL = "manager-nl@browser.test"


def expect_dutch_page(page: Page) -> None:
    expect(page.locator("html")).to_have_attribute("lang", "nl")
    expect(page.locator("a.skip-link")).to_have_text(dutch("Skip to the content"))
    expect(page.locator("a.skip-link")).to_have_text("Naar de inhoud")


def expect_flash(page: Page, text: str) -> None:
    expect(page.get_by_role("alert").filter(has_text=text)).to_be_visible()


def test_admin_registers_a_patient_with_insurance_intake_and_referral_in_dutch(
        live_app, live_server: str, page: Page, treatment_practice: dict[str, int]):
    from backoffice.models import Insurance, Intake, Package, Patient, Referral

    create_user(live_app, ADMIN_NL, "admin", name="Bea Beheer", language="nl")
    today = clinic_today()
    sign_in(page, live_server, ADMIN_NL, name="Bea Beheer")
    expect_dutch_page(page)
    expect(page.get_by_test_id("whoami")).to_contain_text(dutch("Administrator"))

    # New patient, from the menu.
    nav = page.get_by_role("navigation")
    nav.get_by_role("link", name=dutch("Patients"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/patients/$"))
    page.locator("main a[href$='/patients/new']").first.click()
    expect_dutch_page(page)
    field(page, "first_name").fill("Femke")
    field(page, "last_name").fill("Zwanenburg")
    field(page, "date_of_birth").fill("14-03-1987")
    field(page, "postcode").fill("3511 ab")
    field(page, "city").fill("Utrecht")
    post(page, lambda: submit(page).click())
    expect(page).to_have_url(re.compile(r"/patients/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Femke Zwanenburg")
    expect_flash(page, dutch("Patient %(name)s added.", name="Femke Zwanenburg"))
    expect(page.locator("main")).to_contain_text("14-03-1987")
    patient_url = page.url
    patient_id = int(patient_url.rsplit("/", 1)[1])

    # Insurance: the package list offers the chosen insurer's packages only.
    page.locator(f"main a[href$='/patients/{patient_id}/insurances/new']").click()
    expect_dutch_page(page)
    fbto, package = in_app(live_app, lambda: db.session.execute(
        select(Package.insurer_id, Package.id)).one())
    field(page, "insurer_id").select_option(str(fbto))
    field(page, "package_id").select_option(str(package))
    field(page, "policy_number").fill("PN-778812")
    field(page, "valid_from").fill(f"01-01-{today.year}")
    post(page, lambda: submit(page).click())
    expect(page).to_have_url(patient_url)
    expect_flash(page, dutch("Insurance added."))
    expect(page.get_by_test_id("insurances")).to_contain_text("PN-778812")

    # Intake with consent.
    page.locator(f"main a[href$='/patients/{patient_id}/intakes/new']").click()
    expect_dutch_page(page)
    field(page, "intake_date").fill(f"{today:%d-%m-%Y}")
    field(page, "consent_given").check()
    field(page, "consent_by").fill("Femke Zwanenburg")
    if field(page, "consent_on").count():
        field(page, "consent_on").fill(f"{today:%d-%m-%Y}")
    post(page, lambda: submit(page).click())
    expect(page).to_have_url(re.compile(rf"/patients/{patient_id}/intakes/\d+$"))
    expect_flash(page, dutch("Intake of %(date)s saved.", date=f"{today:%d-%m-%Y}"))

    # Referral by the GP.
    page.goto(patient_url)
    page.locator(f"main a[href$='/patients/{patient_id}/referrals/new']").click()
    expect_dutch_page(page)
    field(page, "referrer_type").select_option("gp")
    field(page, "referrer_name").fill("Dr. J. de Wit")
    field(page, "referral_date").fill(f"{today - timedelta(days=3):%d-%m-%Y}")
    field(page, "diagnosis").fill("Acne vulgaris")
    post(page, lambda: submit(page).click())
    expect(page).to_have_url(re.compile(rf"/patients/{patient_id}/referrals/"))
    expect_flash(page, dutch("Referral added."))
    expect(page.locator("main")).to_contain_text("Dr. J. de Wit")
    expect(page.locator("main")).to_contain_text(dutch("GP (huisarts)"))
    expect(page.locator("main")).not_to_contain_text("GP (huisarts)")

    def stored() -> tuple:
        patient = db.session.get_one(Patient, patient_id)
        insurance = db.session.scalars(select(Insurance).filter_by(patient_id=patient_id)).one()
        intake = db.session.scalars(select(Intake).filter_by(patient_id=patient_id)).one()
        referral = db.session.scalars(select(Referral).filter_by(patient_id=patient_id)).one()
        return (patient.last_name, patient.date_of_birth.isoformat(), patient.postcode, insurance.policy_number,
                insurance.package_id, intake.intake_date, referral.referrer_type, referral.referrer_name)

    assert in_app(live_app, stored) == ("Zwanenburg", "1987-03-14", "3511 AB", "PN-778812", package, today, "gp",
                                        "Dr. J. de Wit")


def test_therapist_records_a_treatment_issues_and_prints_the_invoice_in_dutch(
        live_app, live_server: str, page: Page, treatment_practice: dict[str, int]):
    from backoffice.models import CatalogueItem, Invoice, Treatment, User

    patient = treatment_practice["referred"]
    with live_app.app_context():
        factories.practice(name="Huidtherapie Domstad", street="Oudegracht 10", postcode="3511 AB")
        therapist_user = db.session.scalars(select(User).filter_by(role="therapist")).one()
        therapist_user.language = "nl"
        db.session.commit()
        email = therapist_user.email
    item = in_app(live_app, lambda: db.session.scalars(select(CatalogueItem).filter_by(code="FRAC-SCAR-F")).one().id)

    sign_in(page, live_server, email, name="Tess Terpstra")
    expect_dutch_page(page)
    page.goto(f"{live_server}/patients/{patient}")
    page.locator(f"main a[href*='/treatments/new?patient_id={patient}']").first.click()
    expect_dutch_page(page)
    field(page, "catalogue_item_id").select_option(str(item))
    field(page, "indication").select_option("acne_scar")
    field(page, "body_area").select_option("face")
    post(page, lambda: submit(page).click())
    expect(page).to_have_url(re.compile(r"/treatments/\d+$"))
    expect_dutch_page(page)
    main = page.locator("main")
    expect(main).to_contain_text(dutch("Acne scars"))      # the indication, in Dutch
    expect(main).to_contain_text(dutch("Face"))            # the body area, in Dutch
    expect(main).to_contain_text("EUR 225,00")
    treatment = in_app(live_app, lambda: db.session.scalars(
        select(Treatment).filter_by(patient_id=patient).order_by(Treatment.id.desc())).first())
    assert treatment is not None and treatment.price_cents == 22500 and treatment.indication == "acne_scar"

    # Invoice it: the draft, then issue (a confirmation dialog says what will happen), then print.
    page.goto(f"{live_server}/patients/{patient}")
    page.locator("main a[href*='/invoices/new']").first.click()
    expect_dutch_page(page)
    post(page, lambda: submit(page, "treatment_ids").click())
    expect(page).to_have_url(re.compile(r"/invoices/\d+$"))
    invoice_id = int(page.url.rsplit("/", 1)[1])
    issue = page.locator(f"form[action$='/invoices/{invoice_id}/issue'] [type=submit]")
    issue.click()
    dialog = page.locator("dialog[open]")
    expect(dialog).to_be_visible()
    with page.expect_response(lambda r: r.request.method == "POST"):
        confirm_dialog(page)
    page.wait_for_load_state()
    stored = in_app(live_app, lambda: db.session.get_one(Invoice, invoice_id))
    assert stored.status == "issued" and stored.number
    expect(page.get_by_role("heading", level=1)).to_contain_text(stored.number)
    expect_dutch_page(page)
    with page.expect_download() as info:
        page.locator(f"main a[href$='/invoices/{invoice_id}/pdf']").click()
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF-")


@pytest.fixture
def dutch_manager(live_app, tmp_path) -> dict:
    """The reporting tests' practice (October 2026 has everything) and a Dutch manager."""
    from test_reporting import build_practice

    live_app.instance_path = str(tmp_path / "instance")
    Path(live_app.instance_path).mkdir()
    create_user(live_app, MANAGER_NL, "manager", name="Mila Manager", language="nl")
    with live_app.app_context():
        data = build_practice()
        data.pop("clinic")
        db.session.remove()
    return data


def test_manager_reads_the_monthly_report_and_credentials_in_dutch(live_server: str, page: Page,
                                                                    dutch_manager: dict):
    sign_in(page, live_server, MANAGER_NL, name="Mila Manager")
    expect_dutch_page(page)
    page.get_by_role("navigation").get_by_role("link", name=dutch("Dashboard"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/reports/"))
    month = field(page, "month")
    month.fill("2026-10" if month.get_attribute("type") == "month" else "oktober 2026")
    page.get_by_test_id("month-picker").locator("[type=submit]").click()
    expect_dutch_page(page)
    expect(page.get_by_test_id("dashboard-title")).to_contain_text("oktober 2026")
    expect(page.get_by_test_id("revenue-month")).to_have_text("EUR 410,50")

    with page.expect_download() as info:
        page.get_by_test_id("download-report").click()
    book = load_workbook(io.BytesIO(Path(info.value.path()).read_bytes()))
    english = {"Overview", "By therapist", "By insurer", "By treatment", "Receivables", "Credentials"}
    assert not english & set(book.sheetnames), book.sheetnames  # the workbook is always Dutch

    nav = page.get_by_role("navigation")
    nav.locator(".dropdown-toggle").click()  # the practice menu
    nav.get_by_role("link", name=dutch("Credentials"), exact=True).click()
    expect(page).to_have_url(re.compile(r"/credentials/"))
    expect_dutch_page(page)
    expect(page.locator("main")).to_contain_text("Noor")


def test_english_is_a_users_own_choice(live_app, live_server: str, page: Page):
    """A Dutch user switches to English; the choice is kept for the next sign-in, and is theirs alone."""
    from backoffice.models import User

    create_user(live_app, ADMIN_NL, "admin", name="Bea Beheer", language="nl")
    sign_in(page, live_server, ADMIN_NL)
    expect_dutch_page(page)
    post(page, lambda: page.get_by_test_id("language-switch").locator("button[value=en]").click())
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("a.skip-link")).to_have_text("Skip to the content")
    assert in_app(live_app, lambda: db.session.scalars(select(User.language).filter_by(email=ADMIN_NL)).one()) == "en"

    page.context.clear_cookies()
    sign_in(page, live_server, ADMIN_NL)
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("navigation").get_by_role("link", name="Patients", exact=True)).to_be_visible()

    # Another user, without a choice of their own, still gets Dutch.
    page.context.clear_cookies()
    create_user(live_app, "collega@browser.test", "admin", name="Cor Collega", language=None)
    sign_in(page, live_server, "collega@browser.test")
    expect_dutch_page(page)
