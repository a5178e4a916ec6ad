"""Glue between the pure validators in domain/ and WTForms fields."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from wtforms import ValidationError
from wtforms.validators import Optional as _Optional


class Check:
    """Run a domain check (returning an error message or None) as a WTForms validator."""

    def __init__(self, check: Callable[[str], str | None]):
        self.check = check

    def __call__(self, form, field):
        if field.data in (None, ""):
            return
        message = self.check(field.data)
        if message:
            raise ValidationError(message)


def month_arg(value: str | None) -> date | None:
    """First day of a YYYY-MM month from a query string; None when absent or malformed (a filter is ignored,
    not refused)."""
    if not value:
        return None
    try:
        return datetime.strptime(value, "%Y-%m").date()
    except ValueError:
        return None


def strip(value):
    return value.strip() if isinstance(value, str) else value


Optional = _Optional
