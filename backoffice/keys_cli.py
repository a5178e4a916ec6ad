"""`flask keys rotate` (re-encrypt every encrypted value under FIELD_ENCRYPTION_KEY) and `flask keys generate`."""

from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import with_appcontext

from . import unit_of_work
from .keys import RotationError, rotate


@click.group("keys")
def keys_group() -> None:
    """Field-encryption keys (the BSN, two-factor secrets)."""


@keys_group.command("generate")
def generate_command() -> None:
    """Print a new random key for SECRET_KEY, FIELD_ENCRYPTION_KEY or ACCESS_LOG_KEY (each its own)."""
    click.echo(secrets.token_urlsafe(32))


@keys_group.command("rotate")
@click.option("--dry-run", is_flag=True, help="Count what would be re-encrypted; change nothing.")
@with_appcontext
@unit_of_work.transactional
def rotate_command(dry_run: bool) -> None:
    """Re-encrypt every BSN, two-factor secret and claim-line BSN under FIELD_ENCRYPTION_KEY (reading with the keys
    in FIELD_ENCRYPTION_OLD_KEYS) and recompute the BSN search hashes, in one transaction."""
    try:
        rotation = rotate(dry_run=dry_run)
    except RotationError as error:
        raise click.ClickException(str(error)) from error
    verb = "would re-encrypt" if dry_run else "re-encrypted"
    click.echo(f"{'Dry run: ' if dry_run else ''}{verb} {rotation.changed} value(s): {rotation.bsns} BSN(s) with "
               f"their search hash, {rotation.two_factor_secrets} two-factor secret(s), {rotation.claim_lines} "
               f"claim line(s); {rotation.current} already under the current key.")
    if not dry_run:
        click.echo("Every value now reads with FIELD_ENCRYPTION_KEY alone: remove FIELD_ENCRYPTION_OLD_KEYS and "
                   "restart the app and the print worker.")


def init_app(app: Flask) -> None:
    app.cli.add_command(keys_group)
