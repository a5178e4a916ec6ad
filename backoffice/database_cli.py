"""`flask audit verify` (the access log's hash chain) and `flask db grant-app-role` (the app's PostgreSQL role)."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from flask_migrate.cli import db as db_group
from sqlalchemy import text

from . import db_roles
from .audit_chain import chain_key, verify_chain
from .extensions import db

# At most this many findings are printed one by one (a wrong key makes every entry one).
SHOWN_FINDINGS = 50


@click.group("audit")
def audit_group() -> None:
    """The NEN 7513 access log."""


@audit_group.command("verify")
@click.option("--batch", default=2000, show_default=True, help="Entries read per query.")
@with_appcontext
def audit_verify_command(batch: int) -> None:
    """Walk the access log's hash chain; exit 1 when an entry was removed, changed or forged."""
    with db.engine.connect() as connection:
        report = verify_chain(connection, chain_key(current_app.config), batch=max(batch, 1))
    for finding in report.findings[:SHOWN_FINDINGS]:
        click.echo(finding.message)
    if len(report.findings) > SHOWN_FINDINGS:
        click.echo(f"... and {len(report.findings) - SHOWN_FINDINGS} more findings.")
    if report.checked and len(report.findings) >= report.checked:
        click.echo("Every entry fails: is ACCESS_LOG_KEY (or SECRET_KEY when it is not set) the one the log was "
                   "written with?")
    click.echo(f"Checked {report.checked} access log entries: "
               + ("the chain is intact." if report.intact else f"{len(report.findings)} findings."))
    if report.last_id is not None:
        click.echo(f"Newest entry: {report.last_id}, hash {report.last_hash} (keep it: removing the newest entries "
                   "is only found by comparing with an earlier run).")
    click.get_current_context().exit(0 if report.intact else 1)


@db_group.command("grant-app-role")
@click.option("--role", default="backoffice_app", show_default=True, help="The role the app connects as.")
@click.option("--create", is_flag=True, help="Create the login role first (needs CREATEROLE); asks a password.")
@click.option("--password", envvar="APP_ROLE_PASSWORD", default=None,
              help="Password for --create (or APP_ROLE_PASSWORD); asked for when not given.")
@click.option("--dry-run", is_flag=True, help="Only print the statements.")
@with_appcontext
def grant_app_role_command(role: str, create: bool, password: str | None, dry_run: bool) -> None:
    """Give the app's PostgreSQL role exactly the rights it needs (run as the tables' owner, after each upgrade)."""
    if db.engine.dialect.name != "postgresql":
        raise click.ClickException("grant-app-role is for PostgreSQL: SQLite has no roles.")
    try:
        with db.engine.begin() as connection:
            if create and not dry_run:
                if password is None:
                    password = click.prompt(f"Password for {role}", hide_input=True, confirmation_prompt=True)
                created = db_roles.create_role(connection, role, password)
                click.echo(f"Created role {role}." if created else f"Role {role} exists; its password was set.")
            if dry_run:
                statements = db_roles.app_role_statements(connection, role)
            else:
                statements = db_roles.grant_app_role(connection, role)
            for statement in statements:
                click.echo(statement + ";")
            if not dry_run and connection.scalar(
                    text("SELECT has_schema_privilege(:role, current_schema(), 'CREATE')"), {"role": role}):
                click.echo("Warning: the role can still CREATE in this schema through PUBLIC: run "
                           "REVOKE CREATE ON SCHEMA public FROM PUBLIC as the owner.")
    except db_roles.RoleError as error:
        raise click.ClickException(str(error)) from error
    if not dry_run:
        click.echo(f"Role {role} has the app's rights. Point DATABASE_URL of the running app at it; keep the owner's "
                   "URL for `flask db upgrade` and this command.")


def init_app(app: Flask) -> None:
    app.cli.add_command(audit_group)
