"""Months and periods: the one `Month` type behind every month argument, query filter, form field and CLI option.

`Month.parse` is the one parser of the text a month picker (<input type=month>), a query string or a command
line sends: "2026-11" (or "2026-3"). Everything else (month bounds, the month before or after, the month of a
day) is a method here, so no caller computes a month's last day by hand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta

from babel.dates import format_date

# ASCII digits only: `\d` would also take full-width or Arabic-Indic digits, which int() then reads.
_MONTH = re.compile(r"([0-9]{4})-([0-9]{1,2})", re.ASCII)
_MONTH_FIRST = re.compile(r"([0-9]{1,2})[-/. ]([0-9]{4})", re.ASCII)
_NAMED = re.compile(r"([^\W\d_]+)\.?[ -]?([0-9]{4})", re.ASCII | re.IGNORECASE)


def _month_names() -> dict[str, int]:
    """Dutch and English month names and abbreviations (november, nov, mrt, march...) -> 1..12."""
    names: dict[str, int] = {}
    for locale in ("en", "nl"):
        for number in range(1, 13):
            day = date(2000, number, 1)
            for width in ("LLLL", "LLL"):
                names[format_date(day, width, locale=locale).lower().rstrip(".")] = number
    names.update({"mrt": 3, "mei": 5, "okt": 10, "maart": 3, "sept": 9})
    return names


_MONTH_NAMES = _month_names()
FIRST_YEAR, LAST_YEAR = 1900, 9999


@dataclass(frozen=True, order=True)
class Month:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month {self.month} is not 1-12")
        if not FIRST_YEAR <= self.year <= LAST_YEAR:
            raise ValueError(f"year {self.year} is out of range")

    @classmethod
    def parse(cls, text: str | None) -> Month:
        """'2026-10' (as <input type=month> sends it), '10-2026' and 'oktober 2026' (as the app shows months; English
        names too) -> Month(2026, 10); ValueError otherwise."""
        cleaned = " ".join((text or "").split())
        try:
            return cls._parse(cleaned)
        except ValueError as error:
            raise ValueError(f"{text!r} is not a month ({error}): write e.g. november 2026, 11-2026 "
                             "or 2026-11") from None

    @classmethod
    def _parse(cls, text: str) -> Month:
        iso = _MONTH.fullmatch(text)
        if iso:
            return cls(int(iso.group(1)), int(iso.group(2)))
        month_first = _MONTH_FIRST.fullmatch(text)
        if month_first:
            return cls(int(month_first.group(2)), int(month_first.group(1)))
        named = _NAMED.fullmatch(text)
        if named and named.group(1).lower() in _MONTH_NAMES:
            return cls(int(named.group(2)), _MONTH_NAMES[named.group(1).lower()])
        raise ValueError("not a month")

    @classmethod
    def parse_or_none(cls, text: str | None) -> Month | None:
        """A month filter from a query string: None when absent or malformed (the filter is ignored, not refused)."""
        try:
            return cls.parse(text) if text else None
        except ValueError:
            return None

    @classmethod
    def of(cls, day: date) -> Month:
        return cls(day.year, day.month)

    @property
    def first(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def last(self) -> date:
        return self.next().first - timedelta(days=1)

    @property
    def bounds(self) -> tuple[date, date]:
        """(first day, first day of the next month): for a half-open `first <= day < after` filter in SQL."""
        return self.first, self.next().first

    def next(self) -> Month:
        return Month(self.year + (self.month == 12), self.month % 12 + 1)

    def previous(self) -> Month:
        return Month(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __contains__(self, day: date) -> bool:
        return (day.year, day.month) == (self.year, self.month)

    @property
    def iso(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"

    @property
    def label(self) -> str:
        """English, for the English screens: October 2026 (Dutch documents use dutch.month_label)."""
        return format_date(self.first, "LLLL yyyy", locale="en")

    @property
    def short_label(self) -> str:
        return format_date(self.first, "LLL", locale="en")

    def __str__(self) -> str:
        return self.iso


@dataclass(frozen=True)
class Period:
    """An inclusive range of days."""

    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError("a period cannot end before it starts")

    def __contains__(self, day: date) -> bool:
        return self.start <= day <= self.end

    @property
    def month(self) -> Month | None:
        """The month this period is exactly, or None (a part of a month, or several)."""
        month = Month.of(self.start)
        return month if (self.start, self.end) == (month.first, month.last) else None


def month_period(month: Month) -> Period:
    return Period(month.first, month.last)
