"""Command-line tools: thin wrappers over services. Run as `flask --app backoffice <command>`.

Each command is one unit of work (unit_of_work.transactional, under with_appcontext): what it did is stored when it
ends and rolled back when it fails; commands never commit themselves.
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from . import unit_of_work
from .domain.roles import Role
from .extensions import db
from .models import Patient, User


@click.command("create-user")
@click.option("--email", required=True, help="Login e-mail address.")
@click.option("--name", required=True, help="Full name as shown in the app and the access log.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.password_option(help="Asked for when not given; at least 12 characters and not easy to guess.")
@with_appcontext
@unit_of_work.transactional
def create_user_command(email: str, name: str, role: str, password: str) -> None:
    """Create a user account."""
    from .users.services import UserError, create_user

    try:
        user = create_user(email=email, name=name, role=role, password=password)
    except UserError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Created {user.role} {user.email}.")


@click.command("seed-demo")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has users.")
@with_appcontext
@unit_of_work.transactional
def seed_demo_command(if_empty: bool) -> None:
    """Fill the database with a realistic demo practice and print the demo logins (development only)."""
    from .demo import DEMO_LOGINS, seed_demo

    if current_app.config.get("BACKOFFICE_ENV") == "production":
        # The demo admin's password is public (README, this command's output): never in a clinic's database.
        raise click.ClickException("seed-demo is refused with BACKOFFICE_ENV=production: it creates accounts with "
                                   "published demo passwords. Create real accounts with `flask create-user`.")
    if if_empty and db.session.scalar(select(func.count(User.id))):
        click.echo("Database already has data; demo data not added.")
    else:
        report = seed_demo()
        db.session.flush()
        click.echo(
            f"Demo practice created: {report.therapists} therapists, {report.patients} patients, "
            f"{report.insurers} insurers; {len(report.refused)} invalid patient records refused at entry:"
        )
        for line in report.refused:
            click.echo(f"  refused: {line}")
        click.echo(f"{db.session.scalar(select(func.count(Patient.id)))} patients in the database.")
        if report.invoices:
            states = report.invoice_states
            click.echo(
                f"Billing: {report.invoices} invoices ({states['paid']} paid, {states['open']} open of which "
                f"{states['overdue']} overdue, {states['credited']} credited), {report.credit_notes} credit note(s), "
                f"{report.payments} payments, {report.uninvoiced} recent treatments left to invoice; "
                f"{report.claim_batches} claim batches ({report.claim_lines} lines, "
                f"{report.claim_lines_excluded} excluded)."
            )
    click.echo("Demo logins (change them before real use):")
    for role, email, password in DEMO_LOGINS:
        click.echo(f"  {role:<10} {email:<32} {password}")


@click.group("credentials")
def credentials_group() -> None:
    """Therapist credentials: expiry and lapses."""


EXIT_MAIL_FAILED = 3  # `credentials check --mail`: checked, but the e-mail could not be sent


@credentials_group.command("check")
@click.option("--mail", is_flag=True, help="Also e-mail the managers (the admins when there are none) what newly "
              "expires within 90, 30 or 7 days or has lapsed: once per stage per credential.")
@click.option("--dry-run", is_flag=True, help="With --mail: show the message instead of sending it.")
@with_appcontext
def credentials_check_command(mail: bool, dry_run: bool) -> None:
    """Print expiring and expired credentials and unclaimable treatments; exit 1 when something has lapsed, 3 when
    the e-mail (--mail) could not be sent (its alerts are tried again on the next run)."""
    if dry_run and not mail:
        raise click.UsageError("--dry-run goes with --mail.")
    click.get_current_context().exit(_credentials_check(mail, dry_run))


@unit_of_work.transactional
def _credentials_check(mail: bool = False, dry_run: bool = False) -> int:
    from .credentials.services import credential_report, report_lines

    report = credential_report()
    for line in report_lines(report):
        click.echo(line)
    code = 1 if report.lapsed else 0
    if mail and not _credentials_mail(report, dry_run):
        code = EXIT_MAIL_FAILED
    return code


def _credentials_mail(report, dry_run: bool) -> bool:
    """Mail the new alert stages (or show them); False when the message could not be sent."""
    from .credentials import alerts
    from .errors import ServiceError

    try:
        message = alerts.prepare(report)
        if message is None:
            click.echo("Mail: nothing new to tell (every stage was mailed before).")
            return True
        to = ", ".join(message.recipients.addresses)
        if message.recipients.admins_instead:
            click.echo("Mail: no active manager account; the message goes to the admins.")
        if dry_run:
            click.echo(f"Mail (dry run: not sent, nothing recorded) to {to}")
            click.echo(f"Subject: {message.subject}")
            click.echo(message.body)
            return True
        alerts.send(message)
    except ServiceError as error:  # MailError included: nothing is recorded as sent
        reason = str(error).rstrip(".")
        click.echo(f"Mail NOT sent: {reason}. No alert was recorded as sent: the next run tries again.", err=True)
        return False
    click.echo(f"Mail: {len(message.alerts)} new alert(s) sent to {to}.")
    return True


def init_app(app: Flask) -> None:
    app.cli.add_command(create_user_command)
    app.cli.add_command(seed_demo_command)
    app.cli.add_command(credentials_group)

    from . import database_cli

    database_cli.init_app(app)  # `flask audit verify`; `flask db grant-app-role` joins Flask-Migrate's group

    from . import keys_cli

    keys_cli.init_app(app)  # `flask keys rotate`, `flask keys generate`
