"""The one Dutch format module: the dates it shows are the ones the old inline `%d-%m-%Y` formats showed, moments
are shown in the clinic's time, and a typed date is read back."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from backoffice.domain.dutch import nl_date, nl_datetime, parse_nl_date


@pytest.mark.parametrize("day", [date(2026, 1, 5), date(1990, 12, 31), date(2024, 2, 29),
                                 datetime(2026, 3, 1, 23, 59)])
def test_a_date_shows_as_the_inline_format_did(day):
    assert nl_date(day) == f"{day:%d-%m-%Y}"


def test_a_moment_shows_in_the_clinic_zone():
    # 23:30 UTC on 31 December is 00:30 on 1 January in Amsterdam; a naive moment is UTC, as stored.
    assert nl_datetime(datetime(2026, 12, 31, 23, 30, tzinfo=UTC)) == "01-01-2027 00:30"
    assert nl_datetime(datetime(2026, 7, 1, 10, 0)) == "01-07-2026 12:00"
    assert nl_datetime(datetime(2026, 7, 1, 10, 0), ZoneInfo("UTC")) == "01-07-2026 10:00"


@pytest.mark.parametrize(("text", "day"), [
    ("17-05-1990", date(1990, 5, 17)), ("1-5-1990", date(1990, 5, 1)), ("29-02-2024", date(2024, 2, 29)),
    ("29-02-2026", None), ("1990-05-17", date(1990, 5, 17)), ("17/05/1990", date(1990, 5, 17)),  # picker, typed
    ("17-05-90", None), ("Berg", None), ("", None),
])
def test_a_typed_date_is_read_back(text, day):
    assert parse_nl_date(text) == day
    if day is not None:
        assert parse_nl_date(nl_date(day)) == day
