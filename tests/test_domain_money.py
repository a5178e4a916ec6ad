"""Money: Decimal euros, integer cents, half-up rounding, Dutch formatting."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backoffice.domain.money import format_euro, from_cents, round_cents, to_cents


@pytest.mark.parametrize(("amount", "rounded"), [
    ("0.005", "0.01"),
    ("2.345", "2.35"),
    ("2.344", "2.34"),
    ("1.015", "1.02"),  # a float would make this 1.01
    ("-0.005", "-0.01"),  # half away from zero
    ("-2.345", "-2.35"),
    ("10", "10.00"),
])
def test_rounding_is_half_up_to_the_cent(amount, rounded):
    assert round_cents(Decimal(amount)) == Decimal(rounded)
    assert str(round_cents(Decimal(amount))) == rounded


def test_to_cents_rounds_half_up_and_takes_strings():
    assert to_cents(Decimal("0.005")) == 1
    assert to_cents("2.345") == 235
    assert to_cents(Decimal("99.99")) == 9999
    assert to_cents("-12.50") == -1250
    assert isinstance(to_cents("1.00"), int)


def test_from_cents_gives_two_decimal_places():
    assert from_cents(123456) == Decimal("1234.56")
    assert str(from_cents(100)) == "1.00"
    assert from_cents(-5) == Decimal("-0.05")


@given(st.integers(min_value=-10**12, max_value=10**12))
def test_cents_roundtrip(cents):
    assert to_cents(from_cents(cents)) == cents


@pytest.mark.parametrize(("amount", "shown"), [
    ("1234.56", "EUR 1.234,56"),
    ("0", "EUR 0,00"),
    ("0.5", "EUR 0,50"),
    ("999.995", "EUR 1.000,00"),
    ("1234567.8", "EUR 1.234.567,80"),
    ("-1234.56", "EUR -1.234,56"),
    ("-0.004", "EUR 0,00"),
])
def test_format_euro_uses_dutch_grouping_and_decimal_comma(amount, shown):
    assert format_euro(Decimal(amount)) == shown
