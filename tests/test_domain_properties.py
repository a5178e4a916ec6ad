"""Properties of the money rules over random prices, caps, usage and percentages (Hypothesis)."""

from __future__ import annotations

from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from backoffice.domain.coverage import (
    Assessment,
    CapPeriod,
    InsuranceFacts,
    PolicyRule,
    TherapistFacts,
    TreatmentFacts,
    Usage,
    assess,
)
from backoffice.domain.credentials import KpLevel, KpRegistration, NvhMembership
from backoffice.domain.indications import BodyArea, Category, Indication, Technique
from backoffice.domain.money import from_cents
from backoffice.domain.vat import split

PROPERTY_SETTINGS = settings(max_examples=200, deadline=None)

cents = st.integers(min_value=1, max_value=200_000).map(from_cents)             # 0.01 .. 2000.00
optional_cap = st.one_of(st.none(), st.integers(min_value=0, max_value=150_000).map(from_cents))
used_amount = st.integers(min_value=0, max_value=200_000).map(from_cents)
percentages = st.one_of(
    st.integers(min_value=0, max_value=100).map(Decimal),
    st.integers(min_value=0, max_value=10_000).map(lambda n: Decimal(n) / 100),   # 0.00 .. 100.00
)

DAY = date(2026, 5, 4)
INSURANCE = InsuranceFacts(1, "Test Zorg", "3311", 1, "Extra", "P-1", date(2020, 1, 1), None)
THERAPIST = TherapistFacts(
    "Anna", "90012345", (NvhMembership("N", date(2020, 1, 1)),),
    (KpRegistration("K", KpLevel.KWALITEITSREGISTER, date(2021, 1, 1), date(2030, 12, 31)),),
)


def whole_cents(amount: Decimal) -> bool:
    return amount.as_tuple().exponent == -2


@PROPERTY_SETTINGS
@given(gross=cents, medical=st.booleans())
def test_vat_and_net_add_up_to_the_gross_price(gross, medical):
    s = split(gross, medical)
    assert s.net + s.vat == s.gross == gross
    assert s.vat >= 0 and s.net >= 0
    assert all(whole_cents(a) for a in (s.gross, s.net, s.vat))
    if medical:
        assert s.vat == 0
    else:
        # The VAT is 21 % of the net amount, to within half a cent of rounding.
        assert abs(s.net * Decimal("0.21") - s.vat) <= Decimal("0.005") * Decimal("1.21")


@PROPERTY_SETTINGS
@given(price=cents, cap=optional_cap, used=used_amount, sessions=st.integers(0, 5),
       max_sessions=st.one_of(st.none(), st.integers(1, 5)), percentage=percentages,
       period=st.sampled_from(list(CapPeriod)))
def test_insurer_amount_is_bounded_and_the_split_adds_up(price, cap, used, sessions, max_sessions, percentage,
                                                         period):
    rule = PolicyRule(id=1, insurer_id=1, package_id=None, year=2026, label="Rule",
                      categories=frozenset({Category.SCARS}), cap=cap, cap_period=period, percentage=percentage,
                      max_sessions=max_sessions)
    treatment = TreatmentFacts(DAY, Indication.ACNE_SCAR, BodyArea.FACE, Technique.FRACTIONAL_LASER, price)
    a = assess(treatment, THERAPIST, INSURANCE, [rule], {rule.group: Usage(used, sessions)})

    assert a.insurer_amount >= 0 and a.patient_amount >= 0
    assert a.insurer_amount <= price
    assert a.insurer_amount + a.patient_amount == price
    assert a.insurer_amount <= (price * percentage / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    if cap is not None:
        remaining = max(cap - used, Decimal("0"))
        assert a.insurer_amount <= remaining
        assert a.cap_remaining_after is not None and 0 <= a.cap_remaining_after <= remaining
        assert a.cap_remaining_after == remaining - a.insurer_amount
        assert whole_cents(a.cap_remaining_after)
        if used >= cap:
            assert not a.reimbursable
    else:
        assert a.cap_remaining_after is None
    if max_sessions is not None and sessions >= max_sessions:
        assert not a.reimbursable
    if not a.reimbursable:
        assert a.insurer_amount == 0
    assert all(whole_cents(x) for x in (a.insurer_amount, a.patient_amount, a.vat.net, a.vat.vat,
                                        a.cap_used_before))
    assert a.vat.net + a.vat.vat == price
    assert Assessment.from_dict(a.to_dict()) == a


@PROPERTY_SETTINGS
@given(price=cents, indication=st.sampled_from(list(Indication)))
def test_cosmetic_pays_nothing_and_medical_is_exempt(price, indication):
    rule = PolicyRule(id=1, insurer_id=1, package_id=None, year=2026, label="All",
                      categories=frozenset(Category))
    treatment = TreatmentFacts(DAY, indication, BodyArea.FACE, Technique.FRACTIONAL_LASER, price)
    a = assess(treatment, THERAPIST, INSURANCE, [rule], {})
    assert a.vat.exempt is a.medical
    if a.medical:
        assert a.reimbursable and a.insurer_amount == price
    else:
        assert not a.reimbursable and a.patient_amount == price
    assert a.insurer_amount + a.patient_amount == price
