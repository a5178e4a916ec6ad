"""A therapist invoices two treatments (one exempt medical, one 21 % cosmetic), issues the invoice, downloads its
PDF twice (the same bytes), credits one line and finds the credit note among the patient's documents."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from backoffice.extensions import db

from .test_treatments_journey import sign_in_as_therapist

pytestmark = pytest.mark.browser


@pytest.fixture
def invoice_practice(live_app, treatment_practice: dict[str, int]) -> dict[str, int]:
    """The treatment journey's data plus what an invoice needs: the practice's details, the patient's street,
    and two treatments recorded today through the treatment service (acne scars: medical, exempt, FBTO pays;
    skin rejuvenation: cosmetic, 21 % VAT)."""
    from backoffice.intakes.services import screening_for
    from backoffice.models import CatalogueItem, Patient, Practice, Referral
    from backoffice.treatments.services import TreatmentInput, record_treatment

    today = date.today()
    with live_app.app_context():
        db.session.add(Practice(name="Huidtherapie Domstad", street="Oudegracht 10", postcode="3511 AB",
                                city="Utrecht", kvk_number="12345678", vat_id="NL123456789B01", agb_code="90001234",
                                iban="NL91ABNA0417164300"))
        patient = db.session.get(Patient, treatment_practice["referred"])
        patient.street = "Biltstraat 5"
        referral = db.session.query(Referral).filter_by(patient_id=patient.id).one()
        ids = {}
        choices = (("medical", "FRAC-SCAR-F", "acne_scar"), ("cosmetic", "FRAC-REJ-F", "fine_lines"))
        for key, code, indication in choices:
            item = db.session.query(CatalogueItem).filter_by(code=code).one()
            data = TreatmentInput(therapist_id=treatment_practice["therapist"], treatment_date=today,
                                  catalogue_item_id=item.id, indication=indication, body_area="face",
                                  price_cents=item.price_cents,
                                  referral_id=referral.id if key == "medical" else None)
            treatment = record_treatment(patient, data, screening_for(patient, today, data.body_area))
            ids[key] = treatment.id
        db.session.commit()
        assert db.session.get(type(treatment), ids["medical"]).reimbursable
        return {**treatment_practice, **ids}


def download(page: Page, link_name: str) -> bytes:
    with page.expect_download() as info:
        page.get_by_role("link", name=link_name, exact=True).click()
    return Path(info.value.path()).read_bytes()


def test_therapist_invoices_issues_downloads_and_credits(live_server: str, page: Page,
                                                         invoice_practice: dict[str, int]):
    number = f"{date.today().year}-00001"
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
    expect(page.get_by_role("alert").filter(has_text=f"Invoice {number} issued.")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Invoice {number}")
    expect(page.get_by_test_id("invoice-status")).to_contain_text("Open")

    first = download(page, "Download PDF")
    second = download(page, "Download PDF")
    assert first.startswith(b"%PDF-")
    assert first == second

    # Credit the cosmetic line only.
    page.get_by_role("link", name="Credit", exact=True).click()
    page.get_by_label(re.compile("Fractional laser skin rejuvenation")).check()
    page.get_by_label("Reason").fill("Behandeling niet doorgegaan")
    page.get_by_role("button", name="Issue credit note").click()
    expect(page.get_by_role("alert").filter(has_text=f"Credit note C{number} issued for 1 line(s)")).to_be_visible()
    expect(page.get_by_test_id("credit-notes")).to_contain_text("EUR -249,00")
    expect(page.get_by_test_id("invoice-status")).to_contain_text("Open")

    # The patient's documents: the invoice (still open for the medical line) and its credit note.
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
