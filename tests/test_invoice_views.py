"""The invoice pages through the test client, on SQLite and PostgreSQL: draft, issue (once), refusals naming
every missing field, downloads of the stored bytes, credit notes, payments, overdue list, declaration and
aftercare PDFs, role checks and the access log."""

from __future__ import annotations

import hashlib
import html
import re
from datetime import date, timedelta

import pytest
from conftest import csrf_token, post_form
from sqlalchemy import func, select
from test_declarations import BSN, InvoiceClinic, pdf_text

from backoffice.clock import clinic_today
from backoffice.extensions import db
from backoffice.invoicing import services
from backoffice.models import AccessLog, CreditNote, Invoice, NumberSeries, Patient, Payment, Practice, Treatment

YEAR = clinic_today().year
FIRST = f"{YEAR}-00001"


def two_treatments(users) -> InvoiceClinic:
    """The practice of tests/test_declarations.py, its therapist linked to the therapist@test.nl login, with a
    medical (exempt, EUR 175,00) and a cosmetic (21 %, EUR 60,50) treatment not yet invoiced. In an app context."""
    clinic = InvoiceClinic(user_email=users["therapist"])
    clinic.medical = clinic.treatment(medical=True)
    clinic.cosmetic = clinic.treatment(medical=False)
    return clinic


@pytest.fixture
def clinic(app, users):
    """The practice with two treatments to invoice (two_treatments)."""
    with app.app_context():
        return two_treatments(users)


def log_rows(app, patient_id: int) -> list[tuple[str, str, str]]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            select(AccessLog.action, AccessLog.subject, AccessLog.user_role)
            .where(AccessLog.patient_id == patient_id).order_by(AccessLog.id))]


def draft_via_web(client, clinic, *treatment_ids) -> int:
    url = f"/invoices/new?patient_id={clinic.patient_id}"
    response = post_form(client, url, {"treatment_ids": [str(i) for i in treatment_ids]})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.fullmatch(r"/invoices/(\d+)", response.headers["Location"]).group(1))


def issue_via_web(client, invoice_id: int):
    return post_form(client, f"/invoices/{invoice_id}/issue", {}, token_from=f"/invoices/{invoice_id}")


def issued_via_web(client, clinic, *treatment_ids) -> int:
    invoice_id = draft_via_web(client, clinic, *treatment_ids)
    assert issue_via_web(client, invoice_id).status_code == 302
    return invoice_id


# ---- draft, issue, download --------------------------------------------------------------------------------

def test_therapist_drafts_issues_and_downloads_the_same_bytes(app, as_role, clinic):
    client = as_role("therapist")
    page = client.get(f"/invoices/new?patient_id={clinic.patient_id}").get_data(as_text=True)
    assert "Fractional laser, acne scars" in page and "Chemical peel, face" in page
    assert page.count("checked") == 2  # every invoiceable treatment is preselected

    invoice_id = draft_via_web(client, clinic, clinic.medical, clinic.cosmetic)
    draft = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "Draft invoice" in draft and "Issue invoice" in draft
    # VAT per rate: the exempt line with its legal ground, the 21 % line split into net and VAT.
    assert "Vrijgesteld van btw, art. 11 lid 1 onderdeel g Wet OB 1968" in draft
    assert "21 % btw" in draft and "EUR 50,00" in draft and "EUR 10,50" in draft and "EUR 235,50" in draft

    response = issue_via_web(client, invoice_id)
    assert response.status_code == 302 and response.headers["Location"] == f"/invoices/{invoice_id}"
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert f"Invoice {FIRST} issued." in page
    assert 'data-status="open"' in page and "Download PDF" in page and "Declaration PDF" in page
    assert "Issue invoice" not in page

    first, second = client.get(f"/invoices/{invoice_id}/pdf"), client.get(f"/invoices/{invoice_id}/pdf")
    assert first.status_code == second.status_code == 200
    assert first.mimetype == "application/pdf"
    assert first.headers["Content-Disposition"] == f'attachment; filename="factuur-{FIRST}.pdf"'
    assert first.data == second.data
    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        assert hashlib.sha256(first.data).hexdigest() == invoice.pdf_sha256
        assert first.data == invoice.pdf
    text = pdf_text(first.data)
    assert FIRST in text and "Anna de Vries" in text and "EUR 235,50" in text

    rows = log_rows(app, clinic.patient_id)
    assert ("view", "invoiceable treatments", "therapist") in rows
    assert ("create", f"invoice {FIRST}", "therapist") in rows
    assert rows.count(("print", f"invoice {FIRST}", "therapist")) == 3  # rendered at issue + two downloads
    assert ("view", f"invoice {FIRST}", "therapist") in rows


def test_a_double_click_issues_only_once(app, as_role, clinic):
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical)
    token = csrf_token(client, f"/invoices/{invoice_id}")
    first = client.post(f"/invoices/{invoice_id}/issue", data={"csrf_token": token})
    second = client.post(f"/invoices/{invoice_id}/issue", data={"csrf_token": token})
    assert first.status_code == second.status_code == 302
    assert second.headers["Location"] == f"/invoices/{invoice_id}"
    assert f"Invoice {FIRST} was already issued; nothing changed." in client.get(
        f"/invoices/{invoice_id}").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(NumberSeries, f"invoice-{YEAR}").next_value == 2
        assert db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.number.is_not(None))) == 1
    assert log_rows(app, clinic.patient_id).count(("create", f"invoice {FIRST}", "therapist")) == 1


def test_issuing_is_refused_naming_every_missing_field(app, as_role, clinic):
    with app.app_context():
        practice = db.session.scalar(select(Practice))
        practice.kvk_number = practice.vat_id = ""
        clinic.patient.street = ""
        db.session.commit()
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical)
    preview = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert 'data-testid="missing-preview"' in preview

    response = issue_via_web(client, invoice_id)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-testid="issue-refused"' in page and "no number was taken" in page
    for field in ("practice KvK number", "practice VAT id", "patient street"):
        assert f"<li>{field}</li>" in page
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).status == "draft"
        assert db.session.get(NumberSeries, f"invoice-{YEAR}") is None


def test_remove_a_line_then_delete_the_draft(app, as_role, clinic):
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical, clinic.cosmetic)
    with app.app_context():
        line_id = next(line.id for line in db.session.get(Invoice, invoice_id).lines
                       if line.treatment_id == clinic.cosmetic)
    response = post_form(client, f"/invoices/{invoice_id}/lines/{line_id}/remove", {},
                         token_from=f"/invoices/{invoice_id}")
    assert response.status_code == 302
    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        assert [line.treatment_id for line in invoice.lines] == [clinic.medical]
        assert invoice.total_gross_cents == 17_500
    # The removed treatment is offered again, the one still on the draft is not.
    page = client.get(f"/invoices/new?patient_id={clinic.patient_id}").get_data(as_text=True)
    assert f'value="{clinic.cosmetic}"' in page and f'value="{clinic.medical}"' not in page

    response = post_form(client, f"/invoices/{invoice_id}/delete", {}, token_from=f"/invoices/{invoice_id}")
    assert response.status_code == 302 and response.headers["Location"] == f"/patients/{clinic.patient_id}"
    with app.app_context():
        assert db.session.get(Invoice, invoice_id) is None
    assert ("delete", f"invoice draft {invoice_id}", "therapist") in log_rows(app, clinic.patient_id)


def test_draft_form_errors_are_shown(app, as_role, clinic):
    client = as_role("therapist")
    url = f"/invoices/new?patient_id={clinic.patient_id}"
    response = post_form(client, url, {})
    assert response.status_code == 422
    assert "Choose at least one treatment to invoice." in response.get_data(as_text=True)
    with app.app_context():
        # A treatment of another patient is not offered, so it is not a valid choice either.
        someone = Patient(first_name="Bram", last_name="Claes", date_of_birth=date(1980, 1, 1))
        db.session.add(someone)
        db.session.flush()
        mine = db.session.get(Treatment, clinic.medical)
        stranger = Treatment(patient_id=someone.id, therapist_id=mine.therapist_id, treatment_date=mine.treatment_date,
                             catalogue_item_id=mine.catalogue_item_id, indication="acne_scar", body_area="face",
                             price_cents=10_000)
        db.session.add(stranger)
        db.session.commit()
        stranger_id = stranger.id
    response = post_form(client, url, {"treatment_ids": [str(stranger_id)]})
    assert response.status_code == 422
    assert "A chosen treatment can no longer be invoiced" in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Invoice)) == 0


def test_forms_need_the_csrf_token(app, as_role, clinic):
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical)
    assert client.post(f"/invoices/{invoice_id}/issue").status_code == 400
    with app.app_context():
        assert db.session.get(Invoice, invoice_id).status == "draft"


# ---- roles --------------------------------------------------------------------------------------------------

def test_manager_can_read_and_download_but_not_issue_credit_or_record(app, as_role, client, clinic):
    with app.app_context():
        draft = services.draft_invoice(clinic.patient, [clinic.cosmetic])
        db.session.commit()
        draft_id = draft.id
        issued_id = clinic.issued(clinic.medical, renderer=None).id  # the real renderer
    manager = as_role("manager")
    page = manager.get(f"/invoices/{draft_id}")
    assert page.status_code == 200 and "Issue invoice" not in page.get_data(as_text=True)
    assert manager.get(f"/invoices/{issued_id}/pdf").status_code == 200
    assert "New invoice" not in manager.get(f"/patients/{clinic.patient_id}").get_data(as_text=True)
    token = csrf_token(manager, f"/invoices/{draft_id}")
    for url in (f"/invoices/{draft_id}/issue", f"/invoices/{draft_id}/delete",
                f"/invoices/{issued_id}/credit", f"/invoices/{issued_id}/payments/new",
                f"/invoices/new?patient_id={clinic.patient_id}"):
        assert manager.post(url, data={"csrf_token": token}).status_code == 403, url
    for url in (f"/invoices/new?patient_id={clinic.patient_id}", f"/invoices/{issued_id}/credit",
                f"/invoices/{issued_id}/payments/new"):
        assert manager.get(url).status_code == 403, url
    with app.app_context():
        assert db.session.get(Invoice, draft_id).status == "draft"
    assert ("print", "invoice 2026-00001", "manager") in log_rows(app, clinic.patient_id)


# ---- credit notes and payments -----------------------------------------------------------------------------

def test_credit_one_line_with_a_reason(app, as_role, clinic):
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical, clinic.cosmetic)
    with app.app_context():
        line_id = next(line.id for line in db.session.get(Invoice, invoice_id).lines
                       if line.treatment_id == clinic.cosmetic)
    url = f"/invoices/{invoice_id}/credit"
    assert client.get(url).status_code == 200
    response = post_form(client, url, {"line_ids": [str(line_id)], "reason": ""})
    assert response.status_code == 422
    assert "Give the reason for the credit note." in response.get_data(as_text=True)
    response = post_form(client, url, {"reason": "wrong treatment"})
    assert response.status_code == 422
    assert "Choose at least one line to credit." in response.get_data(as_text=True)

    response = post_form(client, url, {"line_ids": [str(line_id)], "reason": "Peel niet uitgevoerd"})
    assert response.status_code == 302
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert f"Credit note C{FIRST} issued for 1 line(s) of invoice {FIRST}" in page
    assert f"credited (C{FIRST})" in page and "EUR -60,50" in page and "Peel niet uitgevoerd" in page
    # A resubmitted (stale) form does not credit the line twice.
    response = post_form(client, url, {"line_ids": [str(line_id)], "reason": "Peel niet uitgevoerd"})
    assert response.status_code == 422
    assert "A chosen line is already credited or not on this invoice." in response.get_data(as_text=True)
    with app.app_context():
        note = db.session.scalar(select(CreditNote))
        note_id, stored = note.id, note.pdf
        assert (note.number, note.total_gross_cents, note.reason) == (f"C{FIRST}", -6_050, "Peel niet uitgevoerd")

    download = client.get(f"/invoices/credit-notes/{note_id}/pdf")
    assert download.status_code == 200 and download.data == stored
    assert download.headers["Content-Disposition"] == f'attachment; filename="creditnota-C{FIRST}.pdf"'
    assert f"Creditering van factuur {FIRST} van" in pdf_text(download.data)

    # The patient's documents list the credit note; the credited treatment can be invoiced again.
    patient_page = client.get(f"/patients/{clinic.patient_id}").get_data(as_text=True)
    documents = patient_page.split('data-testid="patient-documents"', 1)[1]
    assert f"C{FIRST}" in documents and "Peel niet uitgevoerd" in documents and 'data-status="open"' in documents
    new_page = client.get(f"/invoices/new?patient_id={clinic.patient_id}").get_data(as_text=True)
    assert f'value="{clinic.cosmetic}"' in new_page and f'value="{clinic.medical}"' not in new_page
    rows = log_rows(app, clinic.patient_id)
    assert ("create", f"credit note C{FIRST}", "therapist") in rows
    assert ("print", f"credit note C{FIRST}", "therapist") in rows

    # Crediting the last line makes the invoice "credited"; nothing is left to credit.
    with app.app_context():
        last = next(line.id for line in db.session.get(Invoice, invoice_id).lines
                    if line.treatment_id == clinic.medical)
    assert post_form(client, url, {"line_ids": [str(last)], "reason": "verhuisd"}).status_code == 302
    assert 'data-status="credited"' in client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert client.get(url).status_code == 302


def test_record_a_payment(app, as_role, clinic):
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical, clinic.cosmetic)
    url = f"/invoices/{invoice_id}/payments/new"
    form = client.get(url).get_data(as_text=True)
    assert 'value="235,50"' in form  # the balance is offered, written the Dutch way
    for amount, error in (("abc", "Type an amount in euros such as 199,50"), ("0", "Enter an amount above 0."),
                          ("-5", "Enter an amount above 0."), ("1000000", "Enter an amount below 1.000.000,00.")):
        response = post_form(client, url, {"paid_on": clinic_today().isoformat(), "method": "pin", "amount": amount})
        assert response.status_code == 422, amount
        assert error in response.get_data(as_text=True)
    response = post_form(client, url, {"paid_on": clinic_today().isoformat(), "method": "wire", "amount": "1"})
    assert response.status_code == 422 and "Not a valid choice" in response.get_data(as_text=True)

    response = post_form(client, url, {"paid_on": clinic_today().isoformat(), "method": "pin", "amount": "235,50",
                                       "note": "aan de balie"})
    assert response.status_code == 302
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "Payment of EUR 235,50 recorded." in page and 'data-status="paid"' in page
    assert "Debit card (pin)" in page and "aan de balie" in page
    with app.app_context():
        assert db.session.scalar(select(Payment.amount_cents)) == 23_550
    assert ("update", f"invoice {FIRST}", "therapist") in log_rows(app, clinic.patient_id)


def test_overdue_list(app, as_role, clinic):
    with app.app_context():
        late = clinic.issued(clinic.medical, today=clinic_today() - timedelta(days=40))
        late_number = late.number
        clinic.issued(clinic.cosmetic, today=clinic_today())  # due in 14 days: not overdue
    client = as_role("manager")
    page = client.get("/invoices/overdue").get_data(as_text=True)
    table = page.split('data-testid="overdue"', 1)[1]
    assert late_number in table and table.count("<tr>") == 2  # header + one invoice
    assert '<td class="text-end" data-label="Days overdue">26</td>' in table  # 40 days ago + 14 days term
    assert "INVOICE_PAYMENT_TERM_DAYS" not in page and "payment term of 14 days" in page
    assert "de Vries, Anna" in table and "EUR 175,00" in table
    assert ("view", "overdue invoice list", "manager") in log_rows(app, clinic.patient_id)


def test_overdue_list_pages_by_due_date(app, as_role, clinic):
    app.config["PAGE_SIZE"] = 1
    with app.app_context():
        older = clinic.issued(clinic.medical, today=clinic_today() - timedelta(days=50)).number
        newer = clinic.issued(clinic.cosmetic, today=clinic_today() - timedelta(days=40)).number
    client = as_role("manager")
    page = client.get("/invoices/overdue").get_data(as_text=True)
    table = page.split('data-testid="overdue"', 1)[1].split("</table>", 1)[0]
    assert older in table and newer not in table
    link = re.search(r'data-testid="later-due-dates" href="([^"]+)"', page).group(1)
    second = client.get(html.unescape(link)).get_data(as_text=True)
    table = second.split('data-testid="overdue"', 1)[1].split("</table>", 1)[0]
    assert newer in table and older not in table
    assert 'data-testid="later-due-dates" href="#"' in second  # nothing after the last page
    back = re.search(r'data-testid="earlier-due-dates" href="([^"]+)"', second).group(1)
    table = client.get(html.unescape(back)).get_data(as_text=True).split('data-testid="overdue"', 1)[1]
    assert older in table.split("</table>", 1)[0]
    assert client.get("/invoices/overdue?after=nonsense").status_code == 200  # a bad cursor starts at the top


# ---- declaration and aftercare -----------------------------------------------------------------------------

def test_declaration_download_and_refusal(app, as_role, clinic):
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical, clinic.cosmetic)
    response = client.get(f"/invoices/{invoice_id}/declaration.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == f'attachment; filename="declaratie-{FIRST}.pdf"'
    text = pdf_text(response.data)
    assert f"BSN {BSN}" in text and "KP-nummer KP-20431" in text and "Chemical peel" not in text
    assert ("print", f"declaration {FIRST}", "therapist") in log_rows(app, clinic.patient_id)

    with app.app_context():
        clinic.patient.insurances[0].policy_number = ""
        db.session.commit()
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert 'data-testid="declaration-missing"' in page and "<li>patient policy number</li>" in page
    response = client.get(f"/invoices/{invoice_id}/declaration.pdf")
    assert response.status_code == 302 and response.headers["Location"] == f"/invoices/{invoice_id}"
    assert "Cannot print the declaration: missing patient policy number." in client.get(
        f"/invoices/{invoice_id}").get_data(as_text=True)


def test_aftercare_sheet_from_the_treatment_page(app, as_role, clinic):
    from backoffice.treatments.services import assess_treatment, store_assessment

    with app.app_context():  # the treatment page shows the stored assessment: store one
        treatment = db.session.get(Treatment, clinic.medical)
        store_assessment(treatment, assess_treatment(treatment))
        db.session.commit()
    client = as_role("therapist")
    page = client.get(f"/treatments/{clinic.medical}").get_data(as_text=True)
    assert f'href="/invoices/treatments/{clinic.medical}/aftercare.pdf"' in page
    response = client.get(f"/invoices/treatments/{clinic.medical}/aftercare.pdf")
    assert response.status_code == 200
    assert response.headers["Content-Disposition"] == (
        f'attachment; filename="nazorg-2026-11-02-{clinic.medical}.pdf"')
    text = pdf_text(response.data)
    assert "Nazorg na uw behandeling" in text and "Anna de Vries" in text and "SPF 50" in text
    assert ("print", f"treatment {clinic.medical}", "therapist") in log_rows(app, clinic.patient_id)
    assert client.get("/invoices/treatments/999999/aftercare.pdf").status_code == 404


def test_patient_page_lists_drafts_invoices_and_credit_notes(app, as_role, clinic):
    with app.app_context():
        issued = clinic.issued(clinic.medical)
        services.credit_invoice(issued, None, reason="dubbel geboekt", today=date(2026, 11, 24),
                                renderer=lambda doc: b"%PDF-stub")
        services.draft_invoice(clinic.patient, [clinic.cosmetic])
        db.session.commit()
    page = as_role("therapist").get(f"/patients/{clinic.patient_id}").get_data(as_text=True)
    documents = page.split('data-testid="patient-documents"', 1)[1].split("</table>", 1)[0]
    assert documents.count('data-kind="draft"') == 1
    assert documents.count('data-kind="invoice"') == 1 and 'data-status="credited"' in documents
    assert documents.count('data-kind="credit-note"') == 1 and "C2026-00001" in documents
    assert "dubbel geboekt" in documents and "New invoice" in page


def test_a_payment_refused_after_flushing_is_not_stored_but_the_form_view_is_logged(app, as_role, clinic,
                                                                                   monkeypatch):
    """The request is one unit of work: the view discards what the refused use case flushed (the payment and its
    log entry), and the request's commit stores only what came after (the form view's access-log entry)."""
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical)
    real_record = services.record_payment

    def record_then_refuse(invoice, *args, **kwargs):
        real_record(invoice, *args, **kwargs)
        assert db.session.scalar(select(func.count(Payment.id))) == 1  # flushed
        raise services.InvoiceError("Refused after flushing.")

    monkeypatch.setattr(services, "record_payment", record_then_refuse)
    url = f"/invoices/{invoice_id}/payments/new"
    before = log_rows(app, clinic.patient_id)
    response = post_form(client, url, {"paid_on": clinic_today().isoformat(), "method": "pin", "amount": "175,00"})
    assert response.status_code == 422 and "Refused after flushing." in response.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(func.count(Payment.id))) == 0
    after = log_rows(app, clinic.patient_id)[len(before):]
    assert [row for row in after if row[0] == "update"] == []  # the refused payment's log entry is gone too
    assert ("view", f"invoice {FIRST}", "therapist") in after  # the form view after it is stored


def test_a_refused_delete_keeps_the_draft_and_says_why_on_its_page(app, as_role, clinic, monkeypatch):
    """No try/except in the view: the error handler rolls back what the service flushed and sends the form post
    back to the invoice page with the message."""
    client = as_role("therapist")
    invoice_id = draft_via_web(client, clinic, clinic.medical)
    real_delete = services.delete_draft

    def delete_then_refuse(invoice, user=None):
        real_delete(invoice, user)
        raise services.InvoiceError("Refused after flushing.")

    monkeypatch.setattr(services, "delete_draft", delete_then_refuse)
    page = f"http://localhost/invoices/{invoice_id}"
    response = post_form(client, f"/invoices/{invoice_id}/delete", {}, token_from=f"/invoices/{invoice_id}",
                         headers={"Referer": page})
    assert response.status_code == 302 and response.headers["Location"] == page
    assert "Refused after flushing." in client.get(page).get_data(as_text=True)
    with app.app_context():
        invoice = db.session.get(Invoice, invoice_id)
        assert invoice is not None and [line.treatment_id for line in invoice.lines] == [clinic.medical]
