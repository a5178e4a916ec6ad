"""Money: Decimal euros in Python, integer cents in the database, always rounded half-up to the cent."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_cents(amount: Decimal) -> Decimal:
    return Decimal(amount).quantize(CENT, rounding=ROUND_HALF_UP)


def to_cents(amount: Decimal | str) -> int:
    return int(round_cents(Decimal(amount)) * 100)


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def format_euro(amount: Decimal) -> str:
    """EUR 1.234,56 (Dutch grouping and decimal comma)."""
    amount = round_cents(amount)
    sign = "-" if amount < 0 else ""
    whole, frac = f"{abs(amount):.2f}".split(".")
    return f"EUR {sign}{int(whole):,}".replace(",", ".") + f",{frac}"
