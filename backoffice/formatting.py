"""The Dutch display formats as Jinja filters: 24-11-2026, 24-11-2026 14:05 (clinic time), EUR 1.234,56, november
2026.

The formats themselves live in backoffice/domain/dutch.py (pure, no Flask) so the domain rules, the documents
and the CLI use the very same ones; this module only adapts them to templates (None shows as "", cents
amounts) and supplies the clinic's time zone from the app's config (CLINIC_TIMEZONE, see clock.py).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from flask import Flask

from .clock import clinic_timezone
from .domain import dutch
from .domain.money import from_cents
from .domain.months import Month


def nl_date(value: date | datetime | None) -> str:
    """A day as 24-11-2026; a moment as 24-11-2026 14:05 in the clinic's time zone."""
    if isinstance(value, datetime):
        return dutch.nl_datetime(value, clinic_timezone())
    return dutch.nl_date(value)


def euro(value: Decimal | int | None, cents: bool = False) -> str:
    if value is None:
        return ""
    return dutch.euro(from_cents(int(value)) if cents else Decimal(value))


def nl_month(value: Month | date | None) -> str:
    """november 2026."""
    if value is None:
        return ""
    return dutch.month_label(value if isinstance(value, Month) else Month.of(value))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["nl_date"] = nl_date
    app.jinja_env.filters["euro"] = euro
    app.jinja_env.filters["nl_month"] = nl_month
