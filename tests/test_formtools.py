"""Input glue shared by the list pages and the commands: the month query argument and the month CLI option."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from backoffice.domain.months import Month
from backoffice.formtools import MONTH, month_arg


@pytest.mark.parametrize(("value", "expected"), [
    ("2026-10", Month(2026, 10)),
    ("2026-01", Month(2026, 1)),
    (" 2026-3 ", Month(2026, 3)),
    ("", None),
    (None, None),
    ("2026-13", None),
    ("10-2026", Month(2026, 10)),   # as people type it (domain.months.Month.parse)
    ("november 2026", Month(2026, 11)),
    ("2026-10-05", None),
    ("oktober", None),
    ("２０２６-10", None),      # full-width digits: int() would read them, the parser does not
    ("2026-10\x00", None),
])
def test_month_arg_reads_a_month_or_ignores_the_filter(value, expected):
    assert month_arg(value) == expected


@click.command()
@click.option("--month", type=MONTH, required=True)
def _show(month: Month) -> None:
    click.echo(f"{month.first} {month.last}")


def test_the_month_option_gives_a_month_or_a_usage_error():
    runner = CliRunner()
    result = runner.invoke(_show, ["--month", "2028-02"])
    assert (result.exit_code, result.output) == (0, "2028-02-01 2028-02-29\n")
    for wrong in ("2026-13", "feb", "2026-02-01", ""):
        result = runner.invoke(_show, ["--month", wrong])
        assert result.exit_code == 2 and "is not a month" in result.output, wrong
