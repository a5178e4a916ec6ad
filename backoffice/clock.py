"""The clinic's clock: "today" is the day at the clinic (CLINIC_TIMEZONE, default Europe/Amsterdam), never the
server's local day. A server on UTC would otherwise date an invoice issued at 00:30 Dutch time one day early, and
on 1 January put it in last year's number series."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIMEZONE = "Europe/Amsterdam"

# Set only by `freeze` (tests): the moment every reading of the clock returns.
_frozen: datetime | None = None


def clinic_timezone() -> ZoneInfo:
    name = current_app.config.get("CLINIC_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def utc_now() -> datetime:
    """The one place the wall clock is read (tests move it with `freeze`). Aware, in UTC."""
    return _frozen if _frozen is not None else datetime.now(UTC)


@contextmanager
def freeze(moment: datetime) -> Iterator[datetime]:
    """Stop the clock at `moment` (an aware datetime, any zone) until the block ends.

    Every caller reads the clock through `utc_now`, so this moves "now" and "today" everywhere, including for
    code that imported the functions by name."""
    global _frozen
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("freeze needs an aware datetime, e.g. datetime(2025, 12, 31, 23, 30, tzinfo=UTC)")
    previous, _frozen = _frozen, moment.astimezone(UTC)
    try:
        yield _frozen
    finally:
        _frozen = previous


def clinic_now() -> datetime:
    """The current moment as an aware datetime in the clinic's time zone."""
    return utc_now().astimezone(clinic_timezone())


def clinic_today() -> date:
    return clinic_now().date()
