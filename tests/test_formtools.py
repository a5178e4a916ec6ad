"""Query-string helpers shared by the list pages."""

from __future__ import annotations

from datetime import date

import pytest

from backoffice.formtools import month_arg


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-10", date(2026, 10, 1)),
    ("2026-01", date(2026, 1, 1)),
    ("", None),
    (None, None),
    ("2026-13", None),
    ("10-2026", None),
    ("2026-10-05", None),
    ("oktober", None),
])
def test_month_arg_reads_a_month_or_ignores_the_filter(value, expected):
    assert month_arg(value) == expected
