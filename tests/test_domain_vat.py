"""VAT on a VAT-inclusive price: exempt for medical skin therapy, 21 % for purely aesthetic treatment."""

from __future__ import annotations

from decimal import Decimal

import pytest

from backoffice.domain.vat import EXEMPTION_GROUND, split

D = Decimal


@pytest.mark.parametrize("gross", ["85.00", "0.01", "1234.56", "0"])
def test_medical_is_exempt(gross):
    s = split(D(gross), medical=True)
    assert s.exempt
    assert s.rate == 0
    assert s.legal_ground == EXEMPTION_GROUND
    assert s.net == s.gross == D(gross)
    assert s.vat == D("0.00")
    assert str(s.label) == "exempt"


@pytest.mark.parametrize(
    ("gross", "net", "vat"),
    [
        ("121.00", "100.00", "21.00"),
        ("100.00", "82.64", "17.36"),   # 82.644... rounds down
        ("150.00", "123.97", "26.03"),  # 123.966... rounds up
        ("0.01", "0.01", "0.00"),       # 0.00826 rounds up to a cent; no VAT left
        ("0.05", "0.04", "0.01"),
        ("1.21", "1.00", "0.21"),
        ("2000.00", "1652.89", "347.11"),
        ("0.00", "0.00", "0.00"),
    ],
)
def test_cosmetic_carries_21_percent_inside_the_price(gross, net, vat):
    s = split(D(gross), medical=False)
    assert not s.exempt
    assert s.rate == 21
    assert s.legal_ground == ""
    assert (s.gross, s.net, s.vat) == (D(gross), D(net), D(vat))
    assert s.net + s.vat == s.gross
    assert str(s.label) == "21 % VAT"


def test_half_up_rounding_of_the_net_amount():
    # 0.605 / 1.21 = 0.5 exactly: an unrounded price is first rounded half-up to 0.61, then 0.61 / 1.21 = 0.504...
    s = split(D("0.605"), medical=False)
    assert s.gross == D("0.61")
    assert s.net == D("0.50") and s.vat == D("0.11")
    # gross 12.705 rounds to 12.71 (half-up, not banker's 12.70).
    assert split(D("12.705"), medical=True).gross == D("12.71")


@pytest.mark.parametrize("medical", [True, False])
def test_amounts_are_whole_cents(medical):
    s = split(D("99.99"), medical)
    for amount in (s.gross, s.net, s.vat):
        assert amount.as_tuple().exponent == -2
