"""`flask reminders send`: the payment reminders due today, for cron (once a day, e.g. 07:00).

Exit codes: 0 every due reminder was made and sent by e-mail or listed to print (or nothing was due); 2 wrong
arguments (click); 3 done, but some could not be sent: an e-mail failed (retry it from the invoice's sendings) or
a reminder was refused (the message says why). With --dry-run nothing is made, sent or stored: the command lists
what it would send and exits 0.

The output names invoices by number only (no names or addresses: cron mails it to whoever reads root's mail).
Each reminder is stored as soon as it is sent (services.send_due); the rest is one unit of work as every command.
"""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from .. import unit_of_work
from ..domain.dutch import euro, nl_date
from ..extensions import db
from ..models import User
from . import services

EXIT_PARTLY = 3
STAGE_WORDS = {"friendly": "payment reminder", "formal": "14-day letter"}
DELIVERY_WORDS = {"email": "by e-mail", "print": "to print"}


@click.group("reminders")
def reminders_group() -> None:
    """Payment reminders for overdue invoices."""


@reminders_group.command("send")
@click.option("--dry-run", is_flag=True, help="List what would be sent today; make, send and store nothing.")
@click.option("--user", "user_email", default=None,
              help="E-mail of the account the reminders and the access log name (default: system).")
@with_appcontext
def send_command(dry_run: bool, user_email: str | None) -> None:
    """Make and send the payment reminders due today: the friendly reminder, then the 14-day letter."""
    click.get_current_context().exit(_send(dry_run, user_email))


def _line(item: services.DueReminder) -> str:
    costs = f", collection costs {euro(item.collection_costs)}" if item.collection_costs else ""
    return (f"  invoice {item.invoice_number}: {STAGE_WORDS[item.stage]} (due {nl_date(item.due_on)}), open "
            f"{euro(item.open_amount)}{costs}, {DELIVERY_WORDS[item.delivery]}")


@unit_of_work.transactional
def _send(dry_run: bool, user_email: str | None) -> int:
    user = _user(user_email)
    if dry_run:
        due = services.due_reminders()
        click.echo(f"Dry run: {len(due)} reminder(s) due today; nothing was made or sent.")
        for item in due:
            click.echo(_line(item))
        return 0
    result = services.send_due(user=user)
    by_invoice = {item.invoice_id: item for item in result.due}
    for outcome in result.sent:
        item = by_invoice[outcome.reminder.invoice_id]
        if outcome.sending is not None and outcome.failed:
            click.echo(f"{_line(item)}: e-mail FAILED ({outcome.sending.error})")
        else:
            click.echo(f"{_line(item)}: {'sent' if outcome.emailed else 'made, print it and post it'}")
    for item, reason in result.refused:
        click.echo(f"{_line(item)}: REFUSED ({reason})", err=True)
    click.echo(f"{len(result.due)} reminder(s) due: {len(result.emailed)} sent by e-mail, {len(result.to_print)} to "
               f"print, {len(result.failed)} e-mail(s) failed, {len(result.refused)} refused.")
    return EXIT_PARTLY if result.failed or result.refused else 0


def _user(email: str | None) -> User | None:
    if not email:
        return None
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        raise click.BadParameter(f"no active user {email}", param_hint="'--user'")
    return user


def init_app(app: Flask) -> None:
    app.cli.add_command(reminders_group)
