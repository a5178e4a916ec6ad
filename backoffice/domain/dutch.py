"""Dutch display formats, the one definition: dates 24-11-2026, times in the clinic's zone, EUR 1.234,56, month
names (november 2026). Built on Babel's CLDR data, not on hand-written tables or the process locale.

Pure (no Flask): the domain rules, the documents and the CLI call these; backoffice/formatting.py registers them
as Jinja filters and supplies the clinic's time zone from the app's config.
"""

from __future__ import annotations

import re
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
        return parse_day(text)
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


# ---- numbers and dates as Dutch staff type them --------------------------------------------------------------

class AmbiguousNumber(ValueError):
    """`1.234` or `1,234`: a thousands separator or a decimal separator? Refused, never guessed."""


_CURRENCY = re.compile(r"^(?:EUR|€)\s*|\s*(?:EUR|€)$", re.IGNORECASE)
_NUMBER = re.compile(r"[+-]?[0-9.,]+", re.ASCII)
_GROUPED = re.compile(r"[0-9]{1,3}(?:[.][0-9]{3})+|[0-9]{1,3}(?:,[0-9]{3})+", re.ASCII)


def parse_decimal(text: str, places: int = 2, currency: bool = False) -> Decimal:
    """The number in `text` as Dutch staff type it: `199,50`, `199.50`, `1.234,56`, `1234,56`, `12,5`; with
    `currency` also `EUR 1.234,56` and `€ 12,5`. ASCII digits only.

    Raises AmbiguousNumber for `1.234` and `1,234` (one separator followed by exactly three digits: a
    thousands group or three decimals?), ValueError for anything else that is not such a number, or that has more
    than `places` decimals. The caller words the message (see NUMBER_HINT)."""
    cleaned = (text or "").strip().replace("\u00a0", " ")
    if currency:
        cleaned = _CURRENCY.sub("", cleaned).strip()
    cleaned = cleaned.replace(" ", "")
    if not cleaned or not _NUMBER.fullmatch(cleaned):
        raise ValueError("not a number")
    sign = ""
    if cleaned[0] in "+-":
        sign, cleaned = cleaned[0].replace("+", ""), cleaned[1:]
    digits = _normalise(cleaned)
    try:
        value = Decimal(sign + digits)
    except ArithmeticError:
        raise ValueError("not a number") from None
    if not value.is_finite():
        raise ValueError("not a number")
    if -int(value.as_tuple().exponent) > places:
        raise ValueError(f"more than {places} decimals")
    return value


def _normalise(text: str) -> str:
    """'1.234,56' -> '1234.56'; the separators' roles decided by their order and grouping."""
    commas, points = text.count(","), text.count(".")
    if commas and points:
        decimal_mark = "," if text.rfind(",") > text.rfind(".") else "."
        group_mark = "." if decimal_mark == "," else ","
        whole, _, fraction = text.rpartition(decimal_mark)
        if text.count(decimal_mark) > 1 or not _GROUPED.fullmatch(whole) or group_mark not in whole:
            raise ValueError("mixed separators")
        return whole.replace(group_mark, "") + "." + fraction
    mark = "," if commas else "." if points else ""
    if not mark:
        return text
    if text.count(mark) > 1:  # 1.234.567: only thousands groups
        if not _GROUPED.fullmatch(text):
            raise ValueError("misplaced separators")
        return text.replace(mark, "")
    whole, _, fraction = text.partition(mark)
    if not whole or not fraction:
        raise ValueError("a separator needs digits on both sides")
    if len(fraction) == 3 and whole != "0" and not whole.startswith("0"):
        raise AmbiguousNumber(text)
    return f"{whole}.{fraction}"


def amount_nl(value: Decimal | int | None) -> str:
    """A form field's value refilled the Dutch way: 1234.5 -> '1.234,50'; '' for None."""
    if value is None:
        return ""
    return str(_AMOUNT.apply(round_cents(Decimal(value)), _NL))


_DAY_TYPED = re.compile(r"([0-9]{1,2})[-./ ]([0-9]{1,2})[-./ ]([0-9]{4})", re.ASCII)
_DAY_ISO = re.compile(r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})", re.ASCII)


def parse_day(text: str) -> date:
    """A day as typed (24-11-2026, 24/11/2026, 24.11.2026, 1-5-1990) or as a date picker sends it (2026-11-24);
    ValueError otherwise."""
    cleaned = (text or "").strip()
    typed = _DAY_TYPED.fullmatch(cleaned)
    if typed:
        return date(int(typed.group(3)), int(typed.group(2)), int(typed.group(1)))
    iso = _DAY_ISO.fullmatch(cleaned)
    if iso:
        return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
    raise ValueError("not a day: type dd-mm-jjjj")
