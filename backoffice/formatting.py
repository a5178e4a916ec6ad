"""Dutch display formats for templates: 24-11-2026 and EUR 1.234,56."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from flask import Flask

from .domain.money import format_euro, from_cents

AMSTERDAM = ZoneInfo("Europe/Amsterdam")


def nl_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.astimezone(AMSTERDAM).strftime("%d-%m-%Y %H:%M")
    return value.strftime("%d-%m-%Y")


def euro(value: Decimal | int | None, cents: bool = False) -> str:
    if value is None:
        return ""
    return format_euro(from_cents(value) if cents else Decimal(value))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["nl_date"] = nl_date
    app.jinja_env.filters["euro"] = euro
