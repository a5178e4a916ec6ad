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
    """EUR 1.234,56: the one format is dutch.euro; this name stays for the callers that import it from here."""
    from .dutch import euro  # dutch imports round_cents from here: imported when called, not at import

    return euro(amount)
