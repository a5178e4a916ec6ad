"""A therapist invoices two treatments (one exempt medical, one 21 % cosmetic), issues the invoice, downloads its
PDF twice (the same bytes), credits one line and finds the credit note among the patient's documents."""

from __future__ import annotations

import re
from pathlib import Path

import factories
import pytest
from playwright.sync_api import Page, expect

from backoffice.clock import clinic_today
from backoffice.extensions import db

from .helpers import confirm_dialog
from .test_treatments_journey import sign_in_as_therapist

pytestmark = pytest.mark.browser


@pytest.fixture
def invoice_practice(live_app, treatment_practice: dict[str, int]) -> dict[str, int]:
    """The treatment journey's data (the referred patient has a street) plus what an invoice needs, built with
    the shared factories: the practice's details and two treatments recorded today through the treatment service
    (acne scars: medical, exempt, FBTO pays with the referral; skin rejuvenation: cosmetic, 21 % VAT)."""
    from backoffice.models import CatalogueItem, Referral, Treatment

    today = clinic_today()
    patient_id = treatment_practice["referred"]
    with live_app.app_context():
        factories.practice(name="Huidtherapie Domstad", street="Oudegracht 10", postcode="3511 AB")
        referral = db.session.scalars(db.select(Referral).filter_by(patient_id=patient_id)).one()
        ids = {}
        choices = (("medical", "FRAC-SCAR-F", "acne_scar"), ("cosmetic", "FRAC-REJ-F", "fine_lines"))
        for key, code, indication in choices:
            item = db.session.scalars(db.select(CatalogueItem).filter_by(code=code)).one()
            treatment = factories.recorded_treatment(
                patient_id, treatment_practice["therapist"], item.id, today, indication=indication,
                price_cents=item.price_cents, referral_id=referral.id if key == "medical" else None)
            ids[key] = treatment.id
        db.session.commit()
        assert db.session.get_one(Treatment, ids["medical"]).reimbursable
        return {**treatment_practice, **ids}


def download(page: Page, link_name: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name, exact=True).click()
    return Path(info.value.path()).read_bytes()


def test_therapist_invoices_issues_downloads_and_credits(live_server: str, page: Page,
                                                         invoice_practice: dict[str, int]):
    number = f"{clinic_today().year}-00001"
    sign_in_as_therapist(page, live_server)
    page.goto(f"{live_server}/patients/{invoice_practice['referred']}")
    expect(page.get_by_test_id("patient-documents")).to_contain_text("No invoices yet.")
    page.get_by_role("link", name="New invoice").click()

    # Both treatments are offered and preselected.
    offered = page.get_by_test_id("invoiceable-treatments")
    expect(offered.locator("tbody tr")).to_have_count(2)
    expect(offered.locator("input[type=checkbox]:checked")).to_have_count(2)
    page.get_by_role("button", name="Create draft invoice").click()

    expect(page).to_have_url(re.compile(r"/invoices/\d+$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft invoice")
    expect(page.get_by_test_id("invoice-lines").locator("tbody tr")).to_have_count(2)
    totals = page.get_by_test_id("vat-totals")
    expect(totals).to_contain_text("Vrijgesteld van btw, art. 11 lid 1 onderdeel g Wet OB 1968")
    expect(totals).to_contain_text("21 % btw")
    expect(totals).to_contain_text("EUR 43,21")  # 21 % of EUR 205,79, included in EUR 249,00
    expect(page.get_by_test_id("invoice-total")).to_have_text("EUR 474,00")

    page.get_by_role("button", name="Issue invoice").click()
    confirm_dialog(page)  # issuing cannot be undone: the dialog says so first
    expect(page.get_by_role("alert").filter(has_text=f"Invoice {number} issued.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {number}")
    expect(page.get_by_test_id("invoice-status")).to_contain_text("Open")

    first = download(page, "Download PDF")
    second = download(page, "Download PDF")
    assert first.startswith(b"%PDF-")
    assert first == second

    # Credit the cosmetic line only.
    page.get_by_role("link", name="Credit", exact=True).click()
    page.get_by_label(re.compile("Fractionele laser huidverjonging")).check()
    page.get_by_label("Reason").fill("Behandeling niet doorgegaan")
    page.get_by_role("button", name="Issue credit note").click()
    confirm_dialog(page)
    expect(page.get_by_role("alert").filter(has_text=f"Credit note C{number} issued for 1 line")).to_be_visible()
    expect(page.get_by_test_id("credit-notes")).to_contain_text("EUR -249,00")
    # FBTO is billed directly: the patient owes nothing on the medical line, the insurer's EUR 225,00 is awaited.
    expect(page.get_by_test_id("invoice-status")).to_contain_text("Paid")
    expect(page.get_by_test_id("invoice-status")).to_contain_text("awaiting the insurer: EUR 225,00")

    # The patient's documents: the invoice (its medical line awaits the insurer) and its credit note.
    page.get_by_role("link", name="Sara Smit").click()
    documents = page.get_by_test_id("patient-documents")
    expect(documents.locator("tr[data-kind=invoice]")).to_contain_text(number)
    credit_note = documents.locator("tr[data-kind=credit-note]")
    expect(credit_note).to_have_count(1)
    expect(credit_note).to_contain_text(f"C{number}")
    expect(credit_note).to_contain_text("Behandeling niet doorgegaan")
    expect(credit_note).to_contain_text("EUR -249,00")
    with page.expect_download() as info:
        credit_note.get_by_role("link", name="PDF").click()
    assert info.value.suggested_filename == f"creditnota-C{number}.pdf"
    assert Path(info.value.path()).read_bytes().startswith(b"%PDF-")


def test_an_invoice_issued_by_the_print_worker_appears_on_its_own(live_app, live_server: str, page: Page,
                                                                  invoice_practice: dict[str, int], monkeypatch):
    """With a print worker the request answers at once (invoicing/services.py: request_issue): the page says the
    invoice is being issued, its script polls the status, and once the worker has issued it the page shows the
    number without the user doing anything. The worker's part runs here, in the test, as the task would."""
    from backoffice.invoicing import services
    from backoffice.printing import tasks

    queued: list[int] = []
    monkeypatch.setattr(tasks, "in_background", lambda: True)
    monkeypatch.setattr(tasks, "enqueue_issue", queued.append)
    number = f"{clinic_today().year}-00001"
    sign_in_as_therapist(page, live_server)
    page.goto(f"{live_server}/invoices/new?patient_id={invoice_practice['referred']}")
    page.get_by_role("button", name="Create draft invoice").click()
    expect(page).to_have_url(re.compile(r"/invoices/\d+$"))
    invoice_id = int(page.url.rsplit("/", 1)[1])

    page.get_by_role("button", name="Issue invoice").click()
    confirm_dialog(page)
    expect(page.get_by_test_id("issue-pending")).to_contain_text("This invoice is being issued")
    expect(page.get_by_role("button", name="Issue invoice")).to_have_count(0)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Draft invoice")
    assert queued == [invoice_id]

    with live_app.app_context():
        assert services.issue_requested(invoice_id).number == number
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {number}", timeout=10_000)
    expect(page.get_by_test_id("issue-pending")).to_have_count(0)
    expect(page.get_by_role("link", name="Download PDF", exact=True)).to_be_visible()
