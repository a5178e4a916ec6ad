"""`flask claims export` and `flask claims import-remittance`: thin wrappers over the claim services.

Exit codes: 0 done; 1 nothing done (the message says why: unknown insurer, nothing to claim, unreadable file);
2 wrong arguments (click); 3 done, but some lines were excluded (export) or some rows were unmatched or
disputed (import).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import select

from ..domain.money import format_euro, from_cents
from ..extensions import db
from ..models import REMITTANCE_FIELDS, ClaimBatch, User
from . import remittance, services
from .remittance import RemittanceError
from .services import ClaimError

EXIT_PARTLY = 3


@click.group("claims")
def claims_group() -> None:
    """Insurer claim batches: export the claim workbook, import the insurer's remittance."""


def _user(email: str | None) -> User | None:
    if not email:
        return None
    user = db.session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None or not user.active:
        raise click.BadParameter(f"no active user {email}", param_hint="'--user'")
    return user


def _insurer(text: str):
    try:
        return services.find_insurer(text)
    except ClaimError as error:
        raise click.BadParameter(str(error), param_hint="'--insurer'") from error


@claims_group.command("export")
@click.option("--insurer", "insurer_text", required=True, help="UZOVI code or name of the insurer.")
@click.option("--period", required=True, help="The month of the treatments, YYYY-MM (e.g. 2026-10).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the claim workbook (.xlsx).")
@click.option("--user", "user_email", default=None,
              help="E-mail of the account the access log names (default: system).")
@with_appcontext
def export_command(insurer_text: str, period: str, out: Path, user_email: str | None) -> None:
    """Build (or reuse the draft) batch of an insurer and month, validate, export and write the workbook."""
    insurer = _insurer(insurer_text)
    try:
        start, end = services.parse_period(period)
    except ClaimError as error:
        raise click.BadParameter(str(error), param_hint="'--period'") from error
    if out.parent and not out.parent.exists():
        raise click.BadParameter(f"folder {out.parent} does not exist", param_hint="'--out'")
    user = _user(user_email)
    draft = db.session.scalar(
        select(ClaimBatch).where(ClaimBatch.insurer_id == insurer.id, ClaimBatch.period_start == start,
                                 ClaimBatch.period_end == end, ClaimBatch.status == "draft")
        .order_by(ClaimBatch.id.desc()).limit(1))
    try:
        batch = draft or services.create_batch(insurer, start, end, user=user)
        result = services.export_batch(batch, user)
    except ClaimError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    shutil.copyfile(result.path, out)
    db.session.commit()
    click.echo(f"Batch {batch.number} ({insurer.name}, {services.period_label(start, end)}): {result.claimed} line(s) "
               f"claimed, {result.excluded} excluded. Workbook written to {out} (sha256 {result.sha256[:12]}).")
    if result.excluded:
        for view in services.batch_lines(batch):
            if not view.line.included:
                reasons = "; ".join(r.text("en") for r in view.reasons)
                click.echo(f"  excluded: invoice {view.invoice_number}, {view.invoice_line.treatment_date:%d-%m-%Y}: "
                           f"{reasons}")
        click.get_current_context().exit(EXIT_PARTLY)


@claims_group.command("import-remittance")
@click.option("--insurer", "insurer_text", required=True, help="UZOVI code or name of the insurer.")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--apply", "do_apply", is_flag=True, help="Record the matched outcomes (without: preview only).")
@click.option("--column", "columns", multiple=True, metavar="FIELD=HEADER",
              help="Which column holds a field (reference, paid, reason_code, reason_text); default: the insurer's "
                   "saved columns, else a guess from the headers.")
@click.option("--user", "user_email", default=None,
              help="E-mail of the account the access log names (default: system).")
@with_appcontext
def import_remittance_command(insurer_text: str, file: Path, do_apply: bool, columns: tuple[str, ...],
                              user_email: str | None) -> None:
    """Match the insurer's reply (.xlsx or .csv) to submitted claims by claim reference; --apply records it."""
    insurer = _insurer(insurer_text)
    user = _user(user_email)
    chosen = {}
    for item in columns:
        field, _, header = item.partition("=")
        if field.strip() not in REMITTANCE_FIELDS or not header.strip():
            raise click.BadParameter(f"{item!r}: use FIELD=HEADER with FIELD one of {', '.join(REMITTANCE_FIELDS)}",
                                     param_hint="'--column'")
        chosen[field.strip()] = header.strip()
    try:
        imported = remittance.upload(insurer, file.read_bytes(), file.name, user)
        if chosen:
            errors = remittance.set_mapping(imported, {**(imported.mapping or {}), **chosen})
            if errors:
                raise RemittanceError(" ".join(errors.values()))
        shown = remittance.preview(imported)
        if shown.errors or shown.match is None:
            headers = ", ".join(shown.headers)
            raise RemittanceError((shown.problem or " ".join(shown.errors.values()))
                                  + f" The file's columns: {headers}. Choose with --column FIELD=HEADER.")
        match = shown.match
        click.echo(f"{file.name}: {len(match.matched)} matched (claimed {format_euro(match.matched_claimed)}, paid "
                   f"{format_euro(match.matched_paid)}), {len(match.unchanged)} already recorded, "
                   f"{len(match.unmatched)} unmatched ({format_euro(match.unmatched_amount)}), "
                   f"{len(match.disputed)} disputed ({format_euro(match.disputed_amount)}).")
        for row in match.unmatched:
            click.echo(f"  unmatched: row {row.row_number} {row.reference}")
        for item in match.disputed:
            click.echo(f"  disputed: row {item.row.row_number} {item.row.reference}: {item.code.value}")
        if do_apply:
            applied = remittance.apply(imported, user)
            click.echo(f"Applied {applied.matched} outcome(s), {format_euro(from_cents(applied.paid_cents))} paid."
                       + (f" Closed: {', '.join(applied.closed_batches)}." if applied.closed_batches else ""))
        else:
            click.echo("Preview only: nothing recorded. Run again with --apply to record the matched outcomes.")
    except RemittanceError as error:
        db.session.rollback()
        raise click.ClickException(str(error)) from error
    db.session.commit()
    if match.unmatched or match.disputed:
        click.get_current_context().exit(EXIT_PARTLY)


def init_app(app: Flask) -> None:
    app.cli.add_command(claims_group)
