"""`flask backup create|restore` and `flask cleanup`: thin wrappers over backup.py and cleanup.py."""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext

from .. import unit_of_work
from . import backup, cleanup


@click.group("backup")
def backup_group() -> None:
    """Encrypted backups (BACKUP_KEY) of the database and the claim files, and their restore."""


@backup_group.command("create")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path),
              help="Folder for the backup (created 0700). Default: BACKUP_DIR, else instance/backups.")
@with_appcontext
def backup_create_command(out: Path | None) -> None:
    """Write one encrypted backup file (mode 0600) and print its name."""
    try:
        result = backup.create_backup(out)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    rows = sum(result.tables.values())
    click.echo(f"Backup written: {result.path} ({result.size} bytes; {result.backend}, {len(result.tables)} tables, "
               f"{rows} rows, {result.files} claim files).")


@backup_group.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--database-url", default=None,
              help="Restore into this database instead of DATABASE_URL (e.g. as the role that owns the tables).")
@with_appcontext
def backup_restore_command(file: Path, database_url: str | None) -> None:
    """Restore FILE into an EMPTY database (refused otherwise) and its claim files into CLAIMS_DIR."""
    try:
        result = backup.restore_backup(file, database_url=database_url)
    except backup.BackupError as error:
        raise click.ClickException(str(error)) from error
    click.echo(f"Restored the {result.backend} backup of {result.created_at}: {len(result.tables)} tables, "
               f"{sum(result.tables.values())} rows (each table's count checked), {result.files} claim files"
               + (f", {len(result.skipped_files)} already present" if result.skipped_files else "") + ".")


@click.command("cleanup")
@click.option("--dry-run", is_flag=True, help="Only print what would be removed.")
@click.option("--days", type=click.IntRange(min=1), default=None,
              help="Remove files older than this many days. Default: FILE_RETENTION_DAYS (30).")
@with_appcontext
@unit_of_work.transactional
def cleanup_command(dry_run: bool, days: int | None) -> None:
    """Remove print output, claim workbooks, packs and outbox e-mails past FILE_RETENTION_DAYS (for cron)."""
    report = cleanup.remove_old_files(days=days, dry_run=dry_run)
    verb = "would remove" if dry_run else "removed"
    for entry in report.removed:
        click.echo(f"{verb}: {entry.path} ({entry.reason})")
    for entry in report.kept:
        click.echo(f"kept: {entry.path} ({entry.reason})")
    click.echo(f"{len(report.removed)} file(s) {verb}, {report.bytes} bytes; {len(report.kept)} old file(s) kept "
               f"(older than {report.days} days: before {report.cutoff:%Y-%m-%d %H:%M} UTC).")


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_group)
    app.cli.add_command(cleanup_command)
