"""Glue between the pure domain and its inputs: domain checks as WTForms validators, month query arguments and
the month CLI option."""

from __future__ import annotations

from collections.abc import Callable

import click
from wtforms import ValidationError
from wtforms.validators import Optional as _Optional

from .domain.months import Month
from .domain.texts import Text


class Check:
    """Run a domain check (returning an error message or None) as a WTForms validator. The domain's message is a
    Text: rendered here, inside the request, in the user's language."""

    def __init__(self, check: Callable[[str], Text | str | None]):
        self.check = check

    def __call__(self, form, field):
        if field.data in (None, ""):
            return
        message = self.check(field.data)
        if message:
            raise ValidationError(str(message))


def month_arg(value: str | None) -> Month | None:
    """A month filter from a query string ("2026-10"); None when absent or malformed (a filter is ignored,
    not refused)."""
    return Month.parse_or_none(value)


class MonthType(click.ParamType):
    """A CLI option that is a month: `--month 2026-10` gives a domain.months.Month (Month.parse, the one parser)."""

    name = "YYYY-MM"

    def convert(self, value: object, param: click.Parameter | None, ctx: click.Context | None) -> Month:
        if isinstance(value, Month):
            return value
        try:
            return Month.parse(str(value))
        except ValueError as error:
            self.fail(str(error), param, ctx)


MONTH = MonthType()


def strip(value):
    return value.strip() if isinstance(value, str) else value


Optional = _Optional
