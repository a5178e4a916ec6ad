"""axe-core on every main page for every role, and no sideways scrolling at 390 px, on the demo practice.

Each role signs in once and walks the pages its permissions open (the same check the server makes: the route's
permission label and the role's permissions), in Dutch (the demo logins have no language of their own). A page
passes axe with 0 critical and 0 serious violations; on failure the message lists the rule, where and why.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect
from sqlalchemy import select

from backoffice.demo import DEMO_LOGINS
from backoffice.domain.claim_lifecycle import BatchStatus
from backoffice.domain.roles import allows
from backoffice.domain.statuses import InvoiceStatus
from backoffice.extensions import db
from backoffice.security import required_permission

from .helpers import axe_violations, describe_violations, in_app, sideways_overflow, sign_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
LOGINS = {role: (email, password) for role, email, password in DEMO_LOGINS}


def main_pages(app) -> list[tuple[str, str]]:
    """The main pages, with ids from the demo practice: lists, a record of each kind and the forms to add one."""
    from backoffice.models import (
        CatalogueItem,
        ClaimBatch,
        Insurer,
        Intake,
        Invoice,
        Payment,
        Referral,
        Therapist,
        Treatment,
        User,
    )

    def ids() -> dict[str, int]:
        first = db.session.scalar
        # A patient with an intake, a referral and an insurance: their page shows every section.
        patient = first(select(Referral.patient_id).join(Intake, Intake.patient_id == Referral.patient_id)
                        .order_by(Referral.patient_id))
        unpaid = select(Payment.invoice_id)
        return {
            "patient": patient,
            "intake": first(select(Intake.id).filter_by(patient_id=patient)),
            "treatment": first(select(Treatment.id).filter_by(patient_id=patient).order_by(Treatment.id.desc())),
            "invoice": first(select(Invoice.id).filter(Invoice.status == InvoiceStatus.ISSUED.value,
                                                       Invoice.id.not_in(unpaid)).order_by(Invoice.id))
            or first(select(Invoice.id).filter_by(status=InvoiceStatus.ISSUED.value)),
            "batch": first(select(ClaimBatch.id).filter(ClaimBatch.status != BatchStatus.DRAFT.value))
            or first(select(ClaimBatch.id)),
            "insurer": first(select(Insurer.id).order_by(Insurer.id)),
            "item": first(select(CatalogueItem.id).order_by(CatalogueItem.id)),
            "therapist": first(select(Therapist.id).order_by(Therapist.id)),
            "user": first(select(User.id).order_by(User.id)),
        }

    found = in_app(app, ids)
    assert all(value is not None for value in found.values()), found
    p = found["patient"]
    return [
        ("home", "/"),
        ("dashboard", "/reports/"),
        ("patient list", "/patients/"),
        ("patient search", "/patients/?q=a"),
        ("patient page", f"/patients/{p}"),
        ("new patient", "/patients/new"),
        ("edit patient", f"/patients/{p}/edit"),
        ("new insurance", f"/patients/{p}/insurances/new"),
        ("intakes", f"/patients/{p}/intakes/"),
        ("intake", f"/patients/{p}/intakes/{found['intake']}"),
        ("new intake", f"/patients/{p}/intakes/new"),
        ("referrals", f"/patients/{p}/referrals/"),
        ("new referral", f"/patients/{p}/referrals/new"),
        ("treatment list", "/treatments/"),
        ("new treatment", f"/treatments/new?patient_id={p}"),
        ("treatment page", f"/treatments/{found['treatment']}"),
        ("invoice list", "/invoices/"),
        ("overdue invoices", "/invoices/overdue"),
        ("new invoice", f"/invoices/new?patient_id={p}"),
        ("invoice page", f"/invoices/{found['invoice']}"),
        ("new payment", f"/invoices/{found['invoice']}/payments/new"),
        ("credit note", f"/invoices/{found['invoice']}/credit"),
        ("claims", "/claims/"),
        ("new claim batch", "/claims/new"),
        ("claim batch", f"/claims/{found['batch']}"),
        ("claim outcomes", "/claims/outcomes"),
        ("patient claims", "/claims/patient-claims"),
        ("new remittance", "/claims/remittances/new"),
        ("claim settings", "/claims/settings"),
        ("insurers", "/insurers/"),
        ("insurer", f"/insurers/{found['insurer']}"),
        ("new coverage rule", f"/insurers/{found['insurer']}/rules/new"),
        ("catalogue", "/catalogue/"),
        ("edit catalogue item", f"/catalogue/{found['item']}/edit"),
        ("new catalogue item", "/catalogue/new"),
        ("therapists", "/therapists/"),
        ("therapist", f"/therapists/{found['therapist']}"),
        ("credentials", "/credentials/"),
        ("practice", "/practice/"),
        ("users", "/users/"),
        ("edit user", f"/users/{found['user']}/edit"),
        ("access log", "/access-log/"),
        ("patient access log", f"/access-log/patients/{p}"),
        ("break-the-glass entries", "/access-log/break-the-glass"),
        ("patient access setting", "/practice/patient-access"),
        ("batch print", "/printing/"),
        ("password", "/account/password"),
    ]


def pages_for(app, role: str) -> list[tuple[str, str]]:
    """The main pages this role may open: the route's permission label, allowed for the role."""
    adapter = app.url_map.bind("localhost")
    allowed = []
    for what, path in main_pages(app):
        endpoint, _ = adapter.match(path.split("?")[0])
        permission = required_permission(app, endpoint)
        assert permission is not None, endpoint
        if allows(role, permission):
            allowed.append((what, path))
    return allowed


def open_page(page: Page, base_url: str, what: str, path: str) -> None:
    response = page.goto(base_url + path)
    assert response is not None and response.status == 200, f"{what} ({path}): {response and response.status}"
    expect(page.locator("html")).to_have_attribute("lang", "nl")


@pytest.mark.parametrize("role", ["admin", "therapist", "manager"])
def test_axe_finds_no_serious_violations_on_the_main_pages(demo_app, demo_server: str, page: Page, role: str):
    page.goto(demo_server + "/login")
    failures = [describe_violations("sign-in page", violations)] if (violations := axe_violations(page)) else []
    sign_in(page, demo_server, *LOGINS[role])
    pages = pages_for(demo_app, role)
    assert len(pages) >= 15
    for what, path in pages:
        open_page(page, demo_server, what, path)
        violations = axe_violations(page)
        if violations:
            failures.append(describe_violations(f"{role} · {what} ({path})", violations))
    assert not failures, "axe found critical or serious violations:\n" + "\n".join(failures)


@pytest.mark.parametrize("role", ["admin", "therapist"])
def test_main_pages_do_not_scroll_sideways_on_a_phone(demo_app, demo_server: str, page: Page, role: str):
    page.set_viewport_size(PHONE)
    sign_in(page, demo_server, *LOGINS[role])
    failures = []
    for what, path in pages_for(demo_app, role):
        open_page(page, demo_server, what, path)
        overflow = sideways_overflow(page)
        if overflow:
            failures.append(f"{what} ({path}): {overflow}")
    assert not failures, "pages that scroll sideways at 390 px:\n" + "\n".join(failures)


def test_invoice_list_shows_the_amounts_on_a_phone(demo_server: str, page: Page):
    page.set_viewport_size(PHONE)
    sign_in(page, demo_server, *LOGINS["therapist"])
    page.goto(demo_server + "/invoices/")
    main = page.locator("main")
    amounts = main.get_by_text(r"EUR").filter(visible=True)
    expect(amounts.first).to_be_visible()
    assert amounts.count() >= 5
    # Visible means inside the screen, not cut off to the right.
    box = amounts.first.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
