"""Dutch display formats, the one definition: dates 24-11-2026, times in the clinic's zone, EUR 1.234,56, month
names (november 2026). Built on Babel's CLDR data, not on hand-written tables or the process locale.

Pure (no Flask): the domain rules, the documents and the CLI call these; backoffice/formatting.py registers them
as Jinja filters and supplies the clinic's time zone from the app's config.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime
from babel.dates import parse_pattern as parse_date_pattern
from babel.numbers import parse_pattern as parse_number_pattern

from .money import round_cents
from .months import Month

LOCALE = "nl_NL"
# Parsed once: amounts and dates are formatted by the thousand in documents, workbooks and claim reasons.
_NL = Locale.parse(LOCALE)
_AMOUNT = parse_number_pattern("#,##0.00")
_DAY = parse_date_pattern("dd-MM-yyyy")
CLINIC_ZONE = ZoneInfo("Europe/Amsterdam")  # the default of CLINIC_TIMEZONE (backoffice/clock.py)


def nl_date(day: date | None) -> str:
    """24-11-2026; "" for None. A datetime gives its own calendar day (use nl_datetime for a moment)."""
    if day is None:
        return ""
    return _DAY.apply(day, _NL)


def parse_nl_date(text: str) -> date | None:
    """The day of 24-11-2026 (also 1-5-1990, as typed); None when `text` is no such date."""
    try:
        return datetime.strptime(text, "%d-%m-%Y").date()
    except ValueError:
        return None


def nl_datetime(moment: datetime | None, zone: tzinfo = CLINIC_ZONE) -> str:
    """24-11-2026 14:05 in `zone` (the clinic's); a naive datetime is taken as UTC, as the database stores it."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_datetime(moment.astimezone(zone), "dd-MM-yyyy HH:mm", locale=LOCALE)


def nl_period(start: date, end: date) -> str:
    """oktober 2026 for one whole month; 01-10-2026 t/m 15-11-2026 for anything else."""
    if start.day == 1 and end == Month.of(start).last:
        return month_label(Month.of(start))
    return f"{nl_date(start)} t/m {nl_date(end)}"


def month_name(month: int) -> str:
    """januari .. december (lower case, as Dutch writes them)."""
    return format_date(date(2000, month, 1), "LLLL", locale=LOCALE)


def month_label(month: Month) -> str:
    """november 2026."""
    return f"{month_name(month.month)} {month.year}"


def decimal_nl(value: Decimal | int) -> str:
    """80 -> '80', 82.50 -> '82,5': a plain number with the decimal comma, no grouping, no trailing zeros."""
    text = f"{Decimal(value).normalize():f}"
    return text.replace(".", ",")


def euro(amount: Decimal | int | str) -> str:
    """EUR 1.234,56 and EUR -1.234,56: rounded half up to the cent first (Babel would round half to even)."""
    rounded = round_cents(Decimal(amount))
    shown = _AMOUNT.apply(rounded if rounded else abs(rounded), _NL)  # never "-0,00"
    return f"EUR {shown}"
