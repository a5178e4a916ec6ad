"""Referral validity: month arithmetic clamps to the month end; a referral runs through the day before."""

from __future__ import annotations

from datetime import date

import pytest

from backoffice.domain.referrals import Referral, ReferrerType, add_months, default_valid_until


@pytest.mark.parametrize(
    ("day", "months", "expected"),
    [
        (date(2025, 1, 15), 1, date(2025, 2, 15)),
        (date(2025, 1, 31), 1, date(2025, 2, 28)),
        (date(2024, 1, 31), 1, date(2024, 2, 29)),   # leap year
        (date(2024, 2, 29), 12, date(2025, 2, 28)),
        (date(2024, 2, 29), 48, date(2028, 2, 29)),
        (date(2025, 3, 31), 1, date(2025, 4, 30)),
        (date(2025, 11, 30), 2, date(2026, 1, 30)),
        (date(2025, 12, 31), 1, date(2026, 1, 31)),
        (date(2025, 6, 10), 0, date(2025, 6, 10)),
        (date(2025, 6, 10), 12, date(2026, 6, 10)),
        (date(2025, 6, 10), 30, date(2027, 12, 10)),
        (date(2025, 3, 31), -1, date(2025, 2, 28)),
        (date(2025, 1, 10), -1, date(2024, 12, 10)),
    ],
)
def test_add_months(day, months, expected):
    assert add_months(day, months) == expected


@pytest.mark.parametrize(
    ("referral_date", "months", "expected"),
    [
        (date(2025, 3, 10), 12, date(2026, 3, 9)),
        (date(2025, 1, 1), 12, date(2025, 12, 31)),
        (date(2024, 2, 29), 12, date(2025, 2, 27)),
        (date(2025, 1, 31), 1, date(2025, 2, 27)),
        (date(2025, 5, 1), 6, date(2025, 10, 31)),
    ],
)
def test_default_valid_until(referral_date, months, expected):
    assert default_valid_until(referral_date, months) == expected


def test_default_validity_is_twelve_months():
    assert default_valid_until(date(2025, 3, 10)) == date(2026, 3, 9)


REF = Referral(ReferrerType.GP, "Dr. Jansen", "01012345", date(2025, 3, 10), "Acne vulgaris",
               default_valid_until(date(2025, 3, 10)))


@pytest.mark.parametrize(
    ("day", "valid"),
    [
        (date(2025, 3, 9), False),   # before the referral date
        (date(2025, 3, 10), True),   # the referral date itself
        (date(2026, 3, 9), True),    # the last valid day
        (date(2026, 3, 10), False),  # twelve months later: expired
    ],
)
def test_referral_valid_on(day, valid):
    assert REF.valid_on(day) is valid
