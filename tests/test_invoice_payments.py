"""Issue 10 on the invoice pages: payments above the open balance only as an overpayment to refund (and then
"te veel betaald, terug te betalen EUR ..."), refunds, payment reversals with a reason (never a deletion), the
confirmation dialogs, the Dutch interface for a Dutch user, and the small-screen tables."""

from __future__ import annotations

import re

import pytest
from conftest import post_form
from sqlalchemy import select, update
from test_invoice_views import FIRST, issued_via_web, log_rows, two_treatments

from backoffice.clock import clinic_today
from backoffice.extensions import db
from backoffice.invoicing import services
from backoffice.models import Payment, User

TODAY = clinic_today().strftime("%d-%m-%Y")


@pytest.fixture
def clinic(app, users):
    """As in test_invoice_views.py: a medical (EUR 175,00) and a cosmetic (EUR 60,50) treatment to invoice."""
    with app.app_context():
        return two_treatments(users)


def dutch(app, users, role: str = "therapist") -> None:
    with app.app_context():
        db.session.execute(update(User).where(User.email == users[role]).values(language="nl"))
        db.session.commit()


def pay(client, invoice_id: int, amount: str, **extra):
    return post_form(client, f"/invoices/{invoice_id}/payments/new",
                     {"paid_on": TODAY, "method": "pin", "amount": amount, **extra})


def payments(app, invoice_id: int) -> list[tuple[int, bool, int | None, str]]:
    with app.app_context():
        return [tuple(row) for row in db.session.execute(
            select(Payment.amount_cents, Payment.overpayment, Payment.reverses_id, Payment.note)
            .where(Payment.invoice_id == invoice_id).order_by(Payment.id))]


# ---- plausibility ------------------------------------------------------------------------------------------

def test_a_payment_above_the_open_balance_is_refused_unless_recorded_as_an_overpayment(app, as_role, clinic):
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical, clinic.cosmetic)  # EUR 235,50

    for amount in ("0", "-10", "0,00"):
        response = pay(client, invoice_id, amount)
        assert response.status_code == 422 and "Enter an amount above 0." in response.get_data(as_text=True)

    # 22x the total (the example) is refused with the open balance in the message, next to the field.
    response = pay(client, invoice_id, "5.181,00")
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The open balance is EUR 235,50: enter at most that amount" in page
    assert re.search(r'id="amount"[^>]*aria-invalid="true"|is-invalid[^>]*id="amount"|id="amount"[^>]*is-invalid',
                     page), "the error belongs to the amount field"
    assert payments(app, invoice_id) == []

    # Part payment, then the rest plus EUR 14,50 too much: refused, then accepted as an overpayment.
    assert pay(client, invoice_id, "100,00").status_code == 302
    response = pay(client, invoice_id, "150,00")
    assert response.status_code == 422 and "The open balance is EUR 135,50" in response.get_data(as_text=True)
    assert pay(client, invoice_id, "150,00", overpayment="y").status_code == 302
    assert payments(app, invoice_id) == [(10_000, False, None, ""), (15_000, True, None, "")]

    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "overpaid, to refund EUR 14,50" in page and 'data-status="paid"' in page
    assert 'data-status="overpaid"' in page and "Overpayment to refund" in page
    assert "overpaid, to refund EUR 14,50" in client.get("/invoices/").get_data(as_text=True)
    assert ("update", f"invoice {FIRST}", "therapist") in log_rows(app, clinic.patient_id)

    # Nothing open any more: even a cent more needs the checkbox.
    response = pay(client, invoice_id, "0,01")
    assert response.status_code == 422 and "Nothing is open on this invoice" in response.get_data(as_text=True)


def test_a_dutch_user_reads_te_veel_betaald_terug_te_betalen(app, users, as_role, clinic):
    dutch(app, users)
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical)  # EUR 175,00
    response = pay(client, invoice_id, "200,00")
    assert response.status_code == 422
    assert "Het openstaande saldo is EUR 175,00" in response.get_data(as_text=True)
    assert pay(client, invoice_id, "200,00", overpayment="y").status_code == 302
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "te veel betaald, terug te betalen EUR 25,00" in page
    assert "te veel betaald, terug te betalen EUR 25,00" in client.get("/invoices/").get_data(as_text=True)


def test_an_overpayment_is_refunded_at_most_to_zero(app, as_role, clinic):
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical)  # EUR 175,00
    url = f"/invoices/{invoice_id}/refunds/new"
    response = post_form(client, url, {"paid_on": TODAY, "method": "bank_transfer", "amount": "10,00"})
    assert response.status_code == 422 and "there is nothing to refund" in response.get_data(as_text=True)

    assert pay(client, invoice_id, "200,00", overpayment="y").status_code == 302
    assert 'data-testid="refund-link"' in client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert 'value="25,00"' in client.get(url).get_data(as_text=True)  # what was paid too much is offered
    response = post_form(client, url, {"paid_on": TODAY, "method": "bank_transfer", "amount": "30,00"})
    assert response.status_code == 422 and "Only EUR 25,00 was paid too much" in response.get_data(as_text=True)
    assert post_form(client, url, {"paid_on": TODAY, "method": "bank_transfer", "amount": "25,00"}).status_code == 302
    assert payments(app, invoice_id)[-1] == (-2_500, False, None, "")
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "Refund of EUR 25,00 recorded." in page and "overpaid, to refund" not in page
    assert 'data-status="paid"' in page and 'data-status="overpaid"' not in page


# ---- reversal ----------------------------------------------------------------------------------------------

def test_a_payment_is_reversed_with_a_reason_and_never_deleted(app, as_role, clinic):
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical)  # EUR 175,00
    assert pay(client, invoice_id, "175,00", note="verkeerde cliënt").status_code == 302
    payment_id = payments_ids(app, invoice_id)[0]
    url = f"/invoices/{invoice_id}/payments/{payment_id}/reverse"

    detail = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert 'data-status="paid"' in detail and url in detail
    form = client.get(url).get_data(as_text=True)
    assert "data-confirm=" in form and "a reversal entry is added and the open balance goes up" in form

    response = post_form(client, url, {"reason": "  "})
    assert response.status_code == 422 and "Give the reason for the reversal." in response.get_data(as_text=True)
    assert len(payments(app, invoice_id)) == 1

    assert post_form(client, url, {"reason": "Betaling hoort bij een andere factuur"}).status_code == 302
    rows = payments(app, invoice_id)
    assert rows == [(17_500, False, None, "verkeerde cliënt"),
                    (-17_500, False, payment_id, "Betaling hoort bij een andere factuur")]
    with app.app_context():
        reversal = db.session.scalar(select(Payment).where(Payment.reverses_id == payment_id))
        assert reversal.recorded_by.email == "therapist@test.nl" and reversal.created_at is not None
        assert reversal.paid_on == clinic_today()

    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "reversed; the balance is restored" in page
    assert 'data-status="open"' in page  # the balance is back: EUR 175,00 to pay
    assert f'data-payment-id="{payment_id}" data-reversed="true"' in page and "<del>" in page
    assert 'data-reversal="true"' in page and "Betaling hoort bij een andere factuur" in page
    assert url not in page  # nothing left to reverse
    rows = log_rows(app, clinic.patient_id)
    assert rows.count(("update", f"invoice {FIRST}", "therapist")) == 2  # the payment and its reversal
    with app.app_context():
        assert services.invoice_status(db.session.get(Payment, payment_id).invoice).balance == 175

    # Reversed once only; a reversal itself cannot be reversed.
    again = post_form(client, url, {"reason": "nog eens"}, token_from=f"/invoices/{invoice_id}")
    assert again.status_code == 302 and len(payments(app, invoice_id)) == 2
    with app.app_context(), pytest.raises(services.InvoiceError):
        invoice = db.session.get(Payment, payment_id).invoice
        services.reverse_payment(invoice, reversal.id, "terug")


def payments_ids(app, invoice_id: int) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(Payment.id).where(Payment.invoice_id == invoice_id)
                                       .order_by(Payment.id)))


# ---- confirmation, Dutch interface, small screens ----------------------------------------------------------

def test_irreversible_invoice_actions_ask_for_confirmation_in_dutch(app, users, as_role, clinic):
    dutch(app, users)
    client = as_role("therapist")
    invoice_id = post_form(client, f"/invoices/new?patient_id={clinic.patient_id}",
                           {"treatment_ids": [str(clinic.medical)]}).headers["Location"].rsplit("/", 1)[1]
    draft = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert '<html lang="nl"' in draft
    assert ('data-confirm="Factuur uitgeven: het factuurnummer wordt vastgelegd en de factuur kan daarna niet meer '
            'worden gewijzigd"') in draft
    assert ">Factuur uitgeven</button>" in draft and ">Concept verwijderen</button>" in draft
    assert 'data-confirm="Deze conceptfactuur verwijderen' in draft
    assert "Conceptfactuur" in draft and "Issue invoice" not in draft

    issued = post_form(client, f"/invoices/{invoice_id}/issue", {}, token_from=f"/invoices/{invoice_id}")
    assert issued.status_code == 302
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert f"Factuur {FIRST} uitgegeven." in page and "Betaling vastleggen" in page and "Saldo" in page
    credit = client.get(f"/invoices/{invoice_id}/credit").get_data(as_text=True)
    assert 'data-confirm="Creditnota uitgeven: ze krijgt een eigen nummer' in credit
    printing = client.get("/printing/").get_data(as_text=True)
    assert "Afdrukken per periode" in printing and 'data-confirm="Afdrukken starten:' in printing

    payment = client.get(f"/invoices/{invoice_id}/payments/new").get_data(as_text=True)
    assert "Betaald op" in payment and "Te veel betaald, terug te betalen" in payment and "Pin" in payment
    assert "Debit card" not in payment


def test_overdue_page_states_the_payment_term_in_words(app, users, as_role, clinic):
    dutch(app, users, "manager")
    page = as_role("manager").get("/invoices/overdue").get_data(as_text=True)
    assert "betalingstermijn van 14 dagen" in page
    assert "INVOICE_PAYMENT_TERM_DAYS" not in page and "<code>" not in page


def test_invoice_tables_become_cards_with_their_amounts_on_small_screens(app, as_role, clinic):
    client = as_role("therapist")
    invoice_id = issued_via_web(client, clinic, clinic.medical, clinic.cosmetic)
    assert pay(client, invoice_id, "100,00").status_code == 302
    for url, testid in (("/invoices/", "invoice-table"), (f"/invoices/{invoice_id}", "invoice-lines"),
                        (f"/invoices/{invoice_id}", "payments"), ("/invoices/overdue", "overdue"),
                        ("/printing/", "print-jobs")):
        page = client.get(url).get_data(as_text=True)
        table = re.search(rf'<table class="([^"]*)" data-testid="{testid}">(.*?)</table>', page, re.S)
        assert table and "table-responsive-cards" in table.group(1), (url, testid)
    listing = client.get("/invoices/").get_data(as_text=True)
    assert '<td class="text-end" data-label="Total">EUR 235,50</td>' in listing
    assert '<td class="text-end" data-label="Still to pay">EUR 135,50</td>' in listing
    assert 'type="month"' not in listing and 'data-picker="month"' in listing
