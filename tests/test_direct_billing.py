"""Direct billing on the patient's invoice: the insurer's part is claimed by the clinic, the patient is asked for
the rest only (balance, state, overdue list, receivables), the insurer's payment from its outcome or remittance
lands on the invoice, and a short payment is moved to the patient or written off with a reason. Restitution
insurers are unchanged: the patient pays all. The report's claim figures add up: claimed = paid + short-paid +
rejected + outstanding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pytest
from conftest import post_form
from sqlalchemy import func, select
from test_claims import TODAY, ClaimClinic, _submitted, claim_line
from test_remittance import xlsx

from backoffice.claims import outcomes as claim_outcomes
from backoffice.claims import remittance
from backoffice.domain import invoicing as rules
from backoffice.domain.claims import LineStatus
from backoffice.extensions import db
from backoffice.invoicing import balance, insurer_parts, services
from backoffice.models import (
    AccessLog,
    Insurer,
    InsurerClaimSettings,
    InsurerSettlement,
    Invoice,
    InvoiceLine,
    Payment,
)
from backoffice.reporting.queries import _ClaimSums


@pytest.fixture
def clinic(app, tmp_path):
    app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    with app.app_context():
        yield ClaimClinic()


def invoice_of(line_id: int) -> Invoice:
    invoice = db.session.get(InvoiceLine, line_id).invoice
    db.session.expire(invoice)
    return invoice


def status(line_id: int, today: date = TODAY) -> rules.InvoiceStatus:
    return services.invoice_status(invoice_of(line_id), today)


def pure_status(invoice: Invoice, today: date = TODAY) -> rules.InvoiceStatus:
    """The plain-Python rule (domain.invoicing) on the same invoice, for the identity with the SQL expression."""
    share = sum((D(line.insurer_part_cents) / 100 for line in invoice.lines if line.credit_line is None), D("0"))
    share -= sum((D(s.amount_cents) / 100 for s in invoice.settlements if s.to_patient), D("0"))
    credited = -sum((D(n.total_gross_cents) / 100 for n in invoice.credit_notes), D("0"))
    payments = [rules.PaymentFact(p.paid_on, p.method, D(p.amount_cents) / 100) for p in invoice.payments]
    return rules.invoice_status(True, invoice.total_gross, credited, payments, all(
        line.credit_line is not None for line in invoice.lines), invoice.due_date, today, insurer_share=share)


def test_direct_billing_asks_the_patient_for_their_part_only(clinic):
    patient = clinic.patient()
    line_id = clinic.line(patient, price="100.00", insurer_amount="75.00")
    line = db.session.get(InvoiceLine, line_id)
    assert line.insurer_part_cents == 7_500
    found = status(line_id)
    assert (found.total, found.insurer_share, found.patient_part, found.balance) == (
        D("100.00"), D("75.00"), D("25.00"), D("25.00"))
    assert found.state is rules.PaymentState.OPEN
    # The patient pays their part: paid, although the insurer has not paid yet.
    services.record_payment(invoice_of(line_id), TODAY, "pin", D("25.00"), user=clinic.user)
    assert status(line_id).state is rules.PaymentState.PAID
    # Paying the whole invoice is more than the patient's part: refused unless recorded as an overpayment.
    with pytest.raises(services.InvoiceError, match="EUR 0,00"):
        services.record_payment(invoice_of(line_id), TODAY, "pin", D("75.00"), user=clinic.user)


def test_restitution_leaves_the_patient_paying_everything(clinic):
    db.session.add(InsurerClaimSettings(insurer_id=clinic.insurer_id, direct_billing=False))
    db.session.commit()
    line_id = clinic.line(clinic.patient(), price="100.00", insurer_amount="75.00")
    assert db.session.get(InvoiceLine, line_id).insurer_part_cents == 0
    found = status(line_id)
    assert (found.insurer_share, found.balance) == (D("0.00"), D("100.00"))


def test_the_overdue_list_and_receivables_count_the_patients_part(clinic):
    line_id = clinic.line(clinic.patient(), price="100.00", insurer_amount="60.00")
    invoice = invoice_of(line_id)
    later = invoice.due_date.replace(day=28) if invoice.due_date.day < 28 else invoice.due_date
    later = date(later.year + (later.month == 12), later.month % 12 + 1, 1)
    overdue = services.overdue_invoices(later)
    assert [(row.invoice.id, row.status.balance) for row in overdue] == [(invoice.id, D("40.00"))]
    open_rows = db.session.execute(select(balance.open_on(later))).all()
    assert [row.balance for row in open_rows] == [4_000]
    # Fully paid by the patient: off the overdue list, although the insurer's part is still open.
    services.record_payment(invoice, TODAY, "bank_transfer", D("40.00"), user=clinic.user)
    assert services.overdue_invoices(later) == []
    assert db.session.execute(select(balance.open_on(later))).all() == []


def test_the_outcome_records_the_insurers_payment_on_the_invoice(clinic):
    batch, (line_id,) = _submitted(clinic, 1)
    before = status(line_id)
    assert (before.insurer_share, before.balance) == (D("50.00"), D("0.00"))
    claim_outcomes.record_line_outcome(claim_line(batch, line_id), D("50.00"), user=clinic.user,
                                       paid_on=date(2026, 12, 1))
    db.session.commit()
    payment = db.session.scalar(select(Payment).where(Payment.invoice_id == invoice_of(line_id).id))
    assert (payment.method, payment.amount_cents, payment.paid_on) == ("insurer", 5_000, date(2026, 12, 1))
    assert payment.claim_line_id == claim_line(batch, line_id).id
    after = status(line_id)
    assert (after.insurer_paid, after.paid, after.balance) == (D("50.00"), D("0.00"), D("0.00"))
    shares = insurer_parts.line_shares(invoice_of(line_id))
    assert [(s.paid, s.open, s.settleable) for s in shares] == [(D("50.00"), D("0.00"), False)]
    # The insurer's payment is not reversed at the desk.
    with pytest.raises(services.InvoiceError, ):
        services.reverse_payment(invoice_of(line_id), payment.id, "fout", clinic.user)


def test_a_remittance_settles_the_insurer_part_and_short_payments_are_settled_with_a_reason(clinic):
    batch, lines = _submitted(clinic, 3)
    refs = [claim_line(batch, i).claim_reference for i in lines]
    imported = remittance.upload(clinic.insurer, xlsx([(refs[0], 50, "", ""), (refs[1], "20,00", "T03", "Tarief"),
                                                       (refs[2], 0, "M12", "Niet aangetoond")]),
                                 "antwoord.xlsx", clinic.user)
    remittance.apply(imported, clinic.user)
    db.session.commit()
    paid = {line_id: status(line_id).insurer_paid for line_id in lines}
    assert paid == {lines[0]: D("50.00"), lines[1]: D("20.00"), lines[2]: D("0.00")}
    assert db.session.scalar(select(func.count(Payment.id)).where(Payment.method == "insurer")) == 2

    partly, rejected = lines[1], lines[2]
    with pytest.raises(insurer_parts.SettlementError):
        insurer_parts.settle_shortfall(invoice_of(rejected), rejected, "to_patient", "  ", clinic.user)
    with pytest.raises(insurer_parts.SettlementError):
        insurer_parts.settle_shortfall(invoice_of(rejected), rejected, "gift", "why", clinic.user)
    moved = insurer_parts.settle_shortfall(invoice_of(rejected), rejected, "to_patient", "Afgewezen, besproken",
                                           clinic.user, today=TODAY)
    written = insurer_parts.settle_shortfall(invoice_of(partly), partly, "written_off", "Marktconform tarief",
                                             clinic.user, today=TODAY)
    db.session.commit()
    assert (moved.amount_cents, written.amount_cents) == (5_000, 3_000)
    # Moved to the patient: their balance goes up by it; written off: the patient's balance stays as it was.
    assert (status(rejected).balance, status(partly).balance) == (D("50.00"), D("0.00"))
    assert [s.open for s in insurer_parts.line_shares(invoice_of(partly))] == [D("0.00")]
    # Settled once: nothing is open any more.
    with pytest.raises(insurer_parts.SettlementError):
        insurer_parts.settle_shortfall(invoice_of(rejected), rejected, "written_off", "again", clinic.user)
    logged = db.session.scalars(select(AccessLog.detail).where(AccessLog.detail.contains("short payment"))).all()
    assert any("moved to the patient; reason: Afgewezen, besproken" in d for d in logged)
    assert any("written off; reason: Marktconform tarief" in d for d in logged)
    # The SQL expression and the plain-Python rule agree on every invoice.
    for line_id in lines:
        invoice = invoice_of(line_id)
        sql, pure = status(line_id), pure_status(invoice)
        assert (sql.state, sql.balance, sql.paid, sql.insurer_share, sql.insurer_paid) == (
            pure.state, pure.balance, pure.paid, pure.insurer_share, pure.insurer_paid)


def test_a_pending_claim_cannot_be_settled(clinic):
    batch, (line_id,) = _submitted(clinic, 1)
    with pytest.raises(insurer_parts.SettlementError):
        insurer_parts.settle_shortfall(invoice_of(line_id), line_id, "written_off", "te laat", clinic.user)


def test_a_credited_line_leaves_no_insurer_part(clinic):
    line_id = clinic.line(clinic.patient(), price="100.00", insurer_amount="70.00")
    services.credit_invoice(invoice_of(line_id), None, "fout", clinic.user, today=TODAY,
                            renderer=lambda doc: b"%PDF-1.7 stub")
    db.session.commit()
    found = status(line_id)
    assert (found.state, found.insurer_share, found.balance) == (rules.PaymentState.CREDITED, D("0.00"),
                                                                 D("0.00"))


@pytest.fixture
def web_clinic(app, users, tmp_path):
    """No app context stays open (each request gets its own `g`): database work in `with app.app_context():`."""
    app.config["CLAIMS_DIR"] = str(tmp_path / "claims")
    with app.app_context():
        clinic = ClaimClinic()
        batch, (line_id,) = _submitted(clinic, 1)
        claim_outcomes.record_line_outcome(claim_line(batch, line_id), D("0"), "M12", "Niet aangetoond",
                                           user=clinic.user)
        db.session.commit()
        return invoice_of(line_id).id, line_id


def test_the_invoice_page_shows_both_parts_and_settles_a_short_payment(app, web_clinic, client, as_role):
    invoice_id, line_id = web_clinic
    as_role("admin")
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert 'data-testid="insurer-part"' in page and 'data-testid="settle-form"' in page
    assert "Paid by the insurer" in page
    response = post_form(client, f"/invoices/{invoice_id}/lines/{line_id}/settle",
                         {"kind": "to_patient", "reason": "Besproken met de cliënt"},
                         token_from=f"/invoices/{invoice_id}")
    assert response.status_code == 302
    page = client.get(f"/invoices/{invoice_id}").get_data(as_text=True)
    assert "Besproken met de cliënt" in page and 'data-testid="settle-form"' not in page
    with app.app_context():
        assert db.session.scalar(select(InsurerSettlement.kind)) == "to_patient"
        assert status(line_id).balance == D("50.00")


def test_a_therapist_cannot_settle_short_payments(app, web_clinic, client, as_role):
    invoice_id, line_id = web_clinic
    as_role("therapist")
    response = post_form(client, f"/invoices/{invoice_id}/lines/{line_id}/settle",
                         {"kind": "written_off", "reason": "x"}, token_from=f"/invoices/{invoice_id}")
    assert response.status_code == 403
    with app.app_context():
        assert db.session.scalar(select(func.count(InsurerSettlement.id))) == 0


def test_the_desk_cannot_enter_an_insurer_payment(clinic):
    line_id = clinic.line(clinic.patient(), price="100.00", insurer_amount="50.00")
    with pytest.raises(services.InvoiceError):
        services.record_payment(invoice_of(line_id), TODAY, "insurer", D("10.00"), user=clinic.user)


def test_claim_figures_add_up_with_short_paid():
    sums = _ClaimSums()
    sums.add(LineStatus.PAID.value, 1, 5_000, 5_000)
    sums.add(LineStatus.PARTLY_PAID.value, 1, 5_000, 2_000)
    sums.add(LineStatus.REJECTED.value, 1, 4_000, 0)
    sums.add(LineStatus.PENDING.value, 2, 6_000, 0)
    figures = sums.figures()
    assert (figures.claimed, figures.paid, figures.short_paid, figures.rejected, figures.outstanding) == (
        D("200.00"), D("70.00"), D("30.00"), D("40.00"), D("60.00"))
    assert figures.claimed == figures.paid + figures.short_paid + figures.rejected + figures.outstanding
    assert (figures + figures).short_paid == D("60.00")


def test_the_insurer_name_is_on_the_line_share(clinic):
    line_id = clinic.line(clinic.patient(), price="100.00", insurer_amount="50.00")
    (share,) = insurer_parts.line_shares(invoice_of(line_id))
    assert share.insurer == db.session.get(Insurer, clinic.insurer_id).name
    assert (share.part, share.patient_part, share.open, share.claim) == (D("50.00"), D("50.00"), D("50.00"), None)


def test_the_printed_invoice_asks_the_patient_for_their_part_only(clinic):
    import io

    from pypdf import PdfReader

    from backoffice.documents import pdf

    direct = services.invoice_document(invoice_of(clinic.line(clinic.patient(), price="100.00",
                                                              insurer_amount="75.00")))
    assert direct.insurer_part == D("75.00") and direct.insurer_name
    assert direct.payment_note.startswith("Graag EUR 25,00 binnen")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.render_invoice(direct))).pages)
    assert f"Rechtstreeks gedeclareerd bij {direct.insurer_name}" in text
    assert "Uw deel, te betalen" in text and "EUR 25,00" in text

    everything = services.invoice_document(invoice_of(clinic.line(clinic.patient(), price="100.00",
                                                                  insurer_amount="100.00")))
    assert everything.payment_note.startswith("U hoeft niets te betalen")

    db.session.add(InsurerClaimSettings(insurer_id=clinic.insurer_id, direct_billing=False))
    db.session.commit()
    restitution = services.invoice_document(invoice_of(clinic.line(clinic.patient(), price="100.00",
                                                                   insurer_amount="75.00")))
    assert restitution.insurer_part == 0 and restitution.payment_note.startswith("Graag EUR 100,00 binnen")
    text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.render_invoice(restitution))).pages)
    assert "Rechtstreeks gedeclareerd" not in text
