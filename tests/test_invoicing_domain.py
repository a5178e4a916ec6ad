"""The invoice arithmetic, numbering format, missing-data rules and payment status (pure domain, no app)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.domain import invoicing as inv
from backoffice.domain.money import round_cents

prices = st.integers(min_value=0, max_value=500_000).map(lambda cents: Decimal(cents) / 100)
lines_strategy = st.lists(st.tuples(prices, st.booleans()).map(lambda p: inv.LineAmounts.for_price(*p)),
                          min_size=1, max_size=40)


def _whole_cents(value: Decimal) -> bool:
    return round_cents(value) == value


def test_a_cosmetic_line_is_split_net_half_up_and_vat_the_rest():
    line = inv.LineAmounts.for_price(Decimal("100.00"), medical=False)
    assert (line.net, line.vat, line.rate, line.exempt) == (Decimal("82.64"), Decimal("17.36"), Decimal("21"), False)
    # 0.05 / 1.21 = 0.04132... -> 0.04 net, 0.01 VAT; 0.06 / 1.21 = 0.0495... -> 0.05 net (half-up), 0.01 VAT
    assert inv.LineAmounts.for_price(Decimal("0.05"), medical=False).net == Decimal("0.04")
    assert inv.LineAmounts.for_price(Decimal("0.06"), medical=False).net == Decimal("0.05")


def test_a_medical_line_is_exempt_with_the_legal_ground():
    line = inv.LineAmounts.for_price(Decimal("95.00"), medical=True)
    assert (line.net, line.vat, line.exempt) == (Decimal("95.00"), Decimal("0.00"), True)
    assert inv.line_vat_label(line.rate, line.exempt) == "vrijgesteld (art. 11 lid 1 onderdeel g Wet OB 1968)"
    assert inv.total_vat_label(line.rate, line.exempt) == "Vrijgesteld van btw, art. 11 lid 1 onderdeel g Wet OB 1968"
    assert inv.total_vat_label(Decimal("21"), False) == "21 % btw"
    assert inv.line_vat_label(Decimal("21"), False) == "21 %"


def test_per_rate_totals_sum_the_lines_instead_of_recomputing_vat():
    # 10.01 / 1.21 = 8.2727 -> 8.27 net per line. Recomputing on the subtotal would give 30.03 / 1.21 = 24.818
    # -> 24.82 net, 5.21 VAT; the rule sums the printed lines instead: 3 x 8.27 = 24.81 net, 5.22 VAT.
    lines = [inv.LineAmounts.for_price(Decimal("10.01"), medical=False)] * 3
    assert lines[0].net == Decimal("8.27")
    totals = inv.totals(lines + [inv.LineAmounts.for_price(Decimal("80.00"), medical=True)])
    cosmetic = next(r for r in totals.by_rate if not r.exempt)
    exempt = next(r for r in totals.by_rate if r.exempt)
    assert (cosmetic.net, cosmetic.vat, cosmetic.gross) == (Decimal("24.81"), Decimal("5.22"), Decimal("30.03"))
    assert (exempt.net, exempt.vat, exempt.gross) == (Decimal("80.00"), Decimal("0.00"), Decimal("80.00"))
    assert totals.by_rate[0].exempt  # exempt first, then by rate
    assert (totals.net, totals.vat, totals.gross) == (Decimal("104.81"), Decimal("5.22"), Decimal("110.03"))


def test_line_amounts_refuse_figures_that_do_not_add_up():
    with pytest.raises(ValueError, match="!= gross"):
        inv.LineAmounts(gross=Decimal("10.00"), net=Decimal("8.00"), vat=Decimal("1.00"), rate=Decimal(21),
                        exempt=False)
    with pytest.raises(ValueError, match="whole number of cents"):
        inv.LineAmounts(gross=Decimal("10.005"), net=Decimal("10.005"), vat=Decimal("0"), rate=Decimal(0),
                        exempt=True)
    with pytest.raises(ValueError, match="exempt"):
        inv.LineAmounts(gross=Decimal("10.00"), net=Decimal("9.00"), vat=Decimal("1.00"), rate=Decimal(0),
                        exempt=True)


@given(lines_strategy)
def test_per_rate_totals_add_up_to_the_invoice_total(lines):
    totals = inv.totals(lines)
    assert sum((r.gross for r in totals.by_rate), Decimal(0)) == totals.gross
    assert sum((r.net for r in totals.by_rate), Decimal(0)) == totals.net
    assert sum((r.vat for r in totals.by_rate), Decimal(0)) == totals.vat
    assert totals.net + totals.vat == totals.gross == sum((line.gross for line in lines), Decimal(0))
    for rate_total in totals.by_rate:
        assert rate_total.net + rate_total.vat == rate_total.gross
    every = [totals.net, totals.vat, totals.gross] + [getattr(r, f) for r in totals.by_rate
                                                     for f in ("net", "vat", "gross")]
    assert all(_whole_cents(value) for value in every)


@given(lines_strategy)
def test_an_invoice_plus_its_full_credit_note_is_zero(lines):
    invoice = inv.totals(lines)
    credit = inv.totals(line.negated() for line in lines)
    assert invoice.gross + credit.gross == 0
    assert invoice.net + credit.net == 0
    assert invoice.vat + credit.vat == 0
    for original, reversed_ in zip(invoice.by_rate, credit.by_rate, strict=True):
        assert (original.rate, original.exempt) == (reversed_.rate, reversed_.exempt)
        assert original.gross + reversed_.gross == original.net + reversed_.net == original.vat + reversed_.vat == 0


@given(st.lists(lines_strategy, min_size=1, max_size=5))
def test_crediting_line_by_line_adds_up_to_a_full_credit(parts):
    lines = [line for part in parts for line in part]
    per_part = sum((inv.totals(line.negated() for line in part).gross for part in parts), Decimal(0))
    assert per_part == -inv.totals(lines).gross


def test_number_format_and_series():
    assert inv.format_number("invoice", 2026, 1) == "2026-00001"
    assert inv.format_number("credit", 2026, 42) == "C2026-00042"
    assert inv.format_number("invoice", 2026, 123456) == "2026-123456"
    assert inv.series_name("invoice", 2026) == "invoice-2026"
    assert inv.series_name("credit", 2027) == "credit-2027"
    with pytest.raises(ValueError):
        inv.format_number("invoice", 2026, 0)
    with pytest.raises(ValueError):
        inv.series_name("receipt", 2026)
    assert inv.due_date(date(2026, 12, 24), 14) == date(2027, 1, 7)


COMPLETE_PRACTICE = inv.PracticeFacts(name="Huidpraktijk", street="Markt 1", postcode="1234 AB", city="Utrecht",
                                      kvk_number="12345678", vat_id="NL123456789B01", agb_code="90012345")
COMPLETE_PATIENT = inv.PatientFacts(name="An de Vries", street="Laan 2", postcode="3511 AA", city="Utrecht",
                                    policy_number="P-1")


def test_nothing_missing_on_complete_data():
    line = inv.LineFacts(date(2026, 11, 2), medical=True, therapist_name="Eva", therapist_agb="90000001",
                         reimbursable=True)
    assert inv.missing_invoice_fields(COMPLETE_PRACTICE, COMPLETE_PATIENT, [line]) == []
    assert inv.missing_declaration_fields(COMPLETE_PRACTICE, COMPLETE_PATIENT, [line]) == []


def test_every_missing_field_is_named():
    practice = inv.PracticeFacts(name="Huidpraktijk", street="", postcode="1234 AB", city=" ", kvk_number="",
                                 vat_id="", agb_code="")
    patient = inv.PatientFacts(name="An de Vries", street="", postcode="", city="")
    lines = [
        inv.LineFacts(date(2026, 11, 2), medical=True, therapist_name="Eva", therapist_agb=""),
        inv.LineFacts(date(2026, 11, 3), medical=True, therapist_name="Eva", therapist_agb=""),
        inv.LineFacts(date(2026, 11, 3), medical=False, therapist_name="Bo", therapist_agb=""),  # cosmetic
    ]
    assert [str(t) for t in inv.missing_invoice_fields(practice, patient, lines)] == [
        "practice street", "practice city", "practice KvK number", "practice VAT id", "practice AGB code",
        "patient street", "patient postcode", "patient city", "personal AGB code of therapist Eva",
    ]
    assert [str(t) for t in inv.missing_declaration_fields(practice, patient, lines)[-2:]] == [
        "patient policy number", "at least one reimbursable line"]
    assert str(inv.missing_invoice_fields(None, COMPLETE_PATIENT, [])[0]).startswith("practice details")
    assert [str(t) for t in inv.missing_invoice_fields(COMPLETE_PRACTICE, COMPLETE_PATIENT, [])] == [
        "at least one invoice line"]


def _status(payments=(), credited="0", fully=False, issued=True, today=date(2026, 12, 1)):
    return inv.invoice_status(issued=issued, total=Decimal("100.00"), credited=Decimal(credited),
                              payments=list(payments), fully_credited=fully, due=date(2026, 11, 30), today=today)


def test_payment_status_is_derived():
    assert _status(issued=False).state is inv.PaymentState.DRAFT
    open_ = _status(today=date(2026, 11, 30))
    assert (open_.state, open_.balance, open_.overdue) == (inv.PaymentState.OPEN, Decimal("100.00"), False)
    late = _status()
    assert (late.state, late.overdue, late.days_overdue) == (inv.PaymentState.OPEN, True, 1)
    part = _status([inv.PaymentFact(date(2026, 11, 20), "pin", Decimal("40.00"))])
    assert (part.state, part.balance, part.overdue) == (inv.PaymentState.OPEN, Decimal("60.00"), True)
    paid = _status([inv.PaymentFact(date(2026, 11, 20), "pin", Decimal("40.00")),
                    inv.PaymentFact(date(2026, 11, 25), "cash", Decimal("60.00"))])
    assert (paid.state, paid.overdue, paid.last_paid_on, paid.last_method, paid.label) == (
        inv.PaymentState.PAID, False, date(2026, 11, 25), "cash", "Paid")
    # A partial credit note lowers what is due: 100 - 30 credited, 70 paid -> paid
    settled = _status([inv.PaymentFact(date(2026, 11, 20), "bank_transfer", Decimal("70.00"))], credited="30")
    assert settled.state is inv.PaymentState.PAID
    credited = _status(credited="100", fully=True)
    assert (credited.state, credited.balance, credited.overdue) == (inv.PaymentState.CREDITED, 0, False)
