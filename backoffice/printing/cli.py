"""`flask documents print`: a period's invoices or declarations as one PDF and a ZIP, with a progress bar."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import unit_of_work
from ..extensions import db
from ..models import PRINT_JOB_KINDS, User
from . import services

# Exit codes: 0 printed everything, 1 nothing written (the message says why), 2 wrong arguments (click),
# 3 written, but some declarations were left out for missing data.
EXIT_SKIPPED = 3


@click.group("documents")
def documents_group() -> None:
    """Printed documents: batch printing."""


@documents_group.command("print")
@click.option("--from", "date_from", type=click.DateTime(["%Y-%m-%d"]), required=True, help="First day, YYYY-MM-DD.")
@click.option("--to", "date_to", type=click.DateTime(["%Y-%m-%d"]), required=True,
              help="Last day (inclusive), YYYY-MM-DD.")
@click.option("--kind", type=click.Choice(list(PRINT_JOB_KINDS)), required=True,
              help="invoices: issued invoices and credit notes (the stored PDFs); declarations: rendered now.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the PDF and the ZIP (created when missing). Default: instance/print_jobs.")
@click.option("--workers", type=click.IntRange(min=0), default=None,
              help="Render processes for declarations (default PRINT_WORKERS, else up to 2; 0 = this process).")
@click.option("--user", "user_email", default=None,
              help="E-mail of the account the access log names as printing (default: system).")
@with_appcontext
def print_command(date_from, date_to, kind: str, out_dir: Path | None, workers: int | None,
                  user_email: str | None) -> None:
    """Print all invoices or declarations of a period as one merged PDF and a ZIP of single PDFs."""
    click.get_current_context().exit(_print(date_from.date(), date_to.date(), kind, out_dir, workers, user_email))


@unit_of_work.transactional
def _print(start, end, kind: str, out_dir: Path | None, workers: int | None, user_email: str | None) -> int:
    """One unit of work: the access-log entries are stored with the files written, or not at all. Returns the
    exit code, given once the unit of work is stored."""
    try:
        services.check_period(kind, start, end)
    except services.BatchError as error:
        raise click.BadParameter(str(error), param_hint="'--to'") from error
    user = _user(user_email)
    out_dir = out_dir or services.output_dir()

    with click.progressbar(length=1, label=f"Printing {services.describe(kind, start, end)}",
                           file=sys.stderr, show_pos=True) as bar:
        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        try:
            result = services.print_batch(kind, start, end, out_dir, user=user, workers=workers, progress=progress,
                                          reference="command line")
        except services.BatchError as error:
            raise click.ClickException(str(error)) from error
        except OSError as error:
            raise click.ClickException(f"Could not write to {out_dir}: {error.strerror or error}") from error

    click.echo(f"{result.count} documents, {result.pages} pages:")
    click.echo(f"  {result.pdf_path}")
    click.echo(f"  {result.zip_path}")
    for line in result.skipped:
        click.echo(f"left out: {line}", err=True)
    return EXIT_SKIPPED if result.skipped else 0


def _user(email: str | None) -> User | None:
    if email is None:
        return None
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise click.BadParameter(f"no user with e-mail {email}", param_hint="'--user'")
    return user


def init_app(app: Flask) -> None:
    app.cli.add_command(documents_group)

