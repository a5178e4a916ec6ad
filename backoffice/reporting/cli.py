"""`flask report monthly` and `flask report pack`: the monthly report and the month-end pack, for cron.

The pack is built here at once (for cron); the web asks for it as a background job (jobs.py), with the same
build (pack.build_pack) and so the same content.

Exit codes: 0 written; 1 nothing written (the message says why); 2 wrong arguments (click's usage error).
The progress bar goes to stderr, so stdout holds only the path written.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import audit, unit_of_work
from ..clock import clinic_today
from ..domain.reporting import Month, default_month
from ..extensions import db
from ..formtools import MONTH
from ..models import User
from . import pack, queries, workbook
from .books import MonthBooks


@click.group("report")
def report_group() -> None:
    """The manager's monthly report and month-end pack."""


def _user(email: str | None) -> User | None:
    if email is None:
        return None
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.BadParameter(f"no user with e-mail {email}", param_hint="'--user'")
    return user


def _month(month: Month | None) -> Month:
    return month or default_month(clinic_today())


MONTH_OPTION = click.option("--month", type=MONTH, default=None,
                            help="The month, YYYY-MM (default: the month just closed).")
USER_OPTION = click.option("--user", "user_email", default=None,
                           help="E-mail of the account the access log names (default: system).")


@report_group.command("monthly")
@MONTH_OPTION
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The .xlsx file to write (default: maandrapportage-YYYY-MM.xlsx here).")
@click.option("--with-books", is_flag=True,
              help="Add the month's invoice register and payments as two more sheets (as in the month-end pack).")
@USER_OPTION
@with_appcontext
@unit_of_work.transactional
def monthly_command(month: Month | None, out: Path | None, with_books: bool, user_email: str | None) -> None:
    """Write the monthly report workbook (month and year to date)."""
    month = _month(month)
    user = _user(user_email)
    out = out or Path(workbook.default_filename(month, with_books))
    if not out.parent.is_dir():
        raise click.ClickException(f"Folder {out.parent} does not exist.")
    steps = len(queries.SECTIONS) + 1
    with click.progressbar(length=steps, label=f"Monthly report {month.iso}", file=sys.stderr) as bar:
        report = queries.build_report(month, progress=lambda section: bar.update(1), side_by_side=True)
        try:
            workbook.write_report(report, out, MonthBooks.of(month, report.as_of) if with_books else None)
        except OSError as error:
            raise click.ClickException(f"Could not write {out}: {error.strerror or error}") from error
        bar.update(1)
    audit.record("export", None, f"monthly report {month.iso}", f"command line: written to {out.name}", user=user)
    click.echo(str(out))


@report_group.command("pack")
@MONTH_OPTION
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="The .zip file to write (default: maandafsluiting-YYYY-MM.zip here).")
@USER_OPTION
@with_appcontext
@unit_of_work.transactional
def pack_command(month: Month | None, out: Path | None, user_email: str | None) -> None:
    """Write the month-end pack: the report, the month's claim workbooks and its invoices and credit notes."""
    month = _month(month)
    user = _user(user_email)
    out = out or Path(pack.default_filename(month))
    if not out.parent.is_dir():
        raise click.ClickException(f"Folder {out.parent} does not exist.")
    with click.progressbar(length=len(pack.PACK_STEPS), label=f"Month-end pack {month.iso}",
                           file=sys.stderr) as bar:
        try:
            result = pack.build_pack(month, out, user=user, progress=lambda step: bar.update(1),
                                     reference=f"month-end pack {month.iso}, command line")
        except OSError as error:
            raise click.ClickException(f"Could not write {out}: {error.strerror or error}") from error
        except Exception:
            current_app.logger.exception("month-end pack %s failed", month.iso)
            raise
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(str(out))


def init_app(app: Flask) -> None:
    app.cli.add_command(report_group)
