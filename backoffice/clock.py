"""The clinic's clock: "today" is the day at the clinic (CLINIC_TIMEZONE, default Europe/Amsterdam), never the
server's local day. A server on UTC would otherwise date an invoice issued at 00:30 Dutch time one day early, and
on 1 January put it in last year's number series."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context

DEFAULT_TIMEZONE = "Europe/Amsterdam"


def clinic_timezone() -> ZoneInfo:
    name = current_app.config.get("CLINIC_TIMEZONE") if has_app_context() else None
    return ZoneInfo(name or DEFAULT_TIMEZONE)


def utc_now() -> datetime:
    """The one place the wall clock is read (tests move it with `freeze`)."""
    return datetime.now(UTC)


def clinic_now() -> datetime:
    """The current moment as an aware datetime in the clinic's time zone."""
    return utc_now().astimezone(clinic_timezone())


def clinic_today() -> date:
    return clinic_now().date()
