"""`flask claims export` and `flask claims import-remittance`: thin wrappers over the claim services.

Exit codes: 0 done; 1 nothing done (the message says why: unknown insurer, nothing to claim, unreadable file);
2 wrong arguments (click); 3 done, but some lines were excluded (export) or some rows were unmatched or
disputed (import). An export whose every line is excluded writes the workbook with its excluded sheet (the claim
sheet empty, the batch left a draft) and exits 3.

`claims export` for a month that was exported before, with no new line to claim, writes that batch's workbook
again: the same bytes (checked against the SHA-256 stored at the first export).

Each command is one unit of work (unit_of_work.transactional): stored whole when it ends, rolled back when it
fails. Exit code 3 is given after the work is stored, outside the unit of work.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import click
from flask import Flask
from flask.cli import with_appcontext
from sqlalchemy import func, select

from .. import unit_of_work
from ..domain.claims import BatchStatus, RemittanceMatch
from ..domain.dutch import nl_date
from ..domain.money import format_euro, from_cents
from ..domain.months import Month
from ..extensions import db
from ..files import atomic_write
from ..formtools import MONTH
from ..models import REMITTANCE_FIELDS, ClaimBatch, ClaimLine, InvoiceLine, RemittanceImport, User
from . import remittance
from .batches import batch_lines, candidate_lines, create_batch
from .common import ClaimError, claim_period, period_label
from .export import export_batch, write_excluded_only
from .remittance import RemittanceError
from .settings import find_insurer
from .validation import validate

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
        return find_insurer(text)
    except ClaimError as error:
        raise click.BadParameter(str(error), param_hint="'--insurer'") from error


@claims_group.command("export")
@click.option("--insurer", "insurer_text", required=True, help="UZOVI code or name of the insurer.")
@click.option("--period", type=MONTH, required=True, help="The month of the treatments, YYYY-MM (e.g. 2026-10).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Where to write the claim workbook (.xlsx).")
@click.option("--user", "user_email", default=None,
              help="E-mail of the account the access log names (default: system).")
@with_appcontext
def export_command(insurer_text: str, period: Month, out: Path, user_email: str | None) -> None:
    """Build (or reuse the draft) batch of an insurer and month, validate, export and write the workbook."""
    click.get_current_context().exit(_export(insurer_text, period, out, user_email))


@unit_of_work.transactional
def _export(insurer_text: str, period: Month, out: Path, user_email: str | None) -> int:
    insurer = _insurer(insurer_text)
    try:
        start, end = claim_period(period)
    except ClaimError as error:
        raise click.BadParameter(str(error), param_hint="'--period'") from error
    if out.parent and not out.parent.exists():
        raise click.BadParameter(f"folder {out.parent} does not exist", param_hint="'--out'")
    user = _user(user_email)
    try:
        batch = _batch_to_export(insurer, start, end, user)
        if BatchStatus(batch.status) is BatchStatus.DRAFT and not _claimable(batch):
            result = write_excluded_only(batch, out, user)
        else:
            result = export_batch(batch, user)
    except ClaimError as error:
        raise click.ClickException(str(error)) from error
    except OSError as error:
        raise click.ClickException(f"Could not write {out}: {error.strerror or error}. Nothing was written.") \
            from error
    what = f"Batch {batch.number} ({insurer.name}, {period_label(start, end)})"
    if not result.frozen:
        click.echo(f"{what}: no line can be claimed; all {result.excluded} line(s) excluded. Only the excluded "
                   f"lines were written to {out} (sheet Uitgesloten, with the reasons); the batch stays a draft: "
                   f"fix the data and export again, or cancel the batch.")
        _echo_excluded(batch)
        return EXIT_PARTLY
    _write_out(result.path, out)
    again = "" if result.first_export else " (exported before: the same workbook again)"
    click.echo(f"{what}: {result.claimed} line(s) claimed, {result.excluded} excluded{again}. Workbook written to "
               f"{out} (sha256 {result.sha256[:12]}).")
    if not result.excluded:
        return 0
    _echo_excluded(batch)
    return EXIT_PARTLY


def _batch_to_export(insurer, start, end, user) -> ClaimBatch:
    """The insurer's draft for the period; else, when the period was exported before and no line has come since,
    that batch (exported again: the same bytes); else a new batch of the lines still to claim."""
    in_period = select(ClaimBatch).where(ClaimBatch.insurer_id == insurer.id, ClaimBatch.period_start == start,
                                         ClaimBatch.period_end == end).order_by(ClaimBatch.id.desc()).limit(1)
    draft = db.session.scalar(in_period.where(ClaimBatch.status == BatchStatus.DRAFT))
    if draft is not None:
        return draft
    exported = db.session.scalar(in_period.where(ClaimBatch.status.in_(
        (BatchStatus.EXPORTED, BatchStatus.SUBMITTED, BatchStatus.CLOSED))))
    if exported is not None:
        # Lines it excluded are claimable again on paper; only lines it never held make a new batch worth it.
        held = select(ClaimLine.invoice_line_id).where(ClaimLine.batch_id == exported.id)
        fresh = db.session.scalar(select(func.count()).select_from(
            candidate_lines(insurer.id, start, end).where(InvoiceLine.id.not_in(held)).subquery()))
        if not fresh:
            return exported
    return create_batch(insurer, start, end, user=user)


def _claimable(batch: ClaimBatch) -> bool:
    """Whether any line of the draft can be claimed today (validated now: a kept draft may be days old)."""
    return bool(validate(batch).included)


def _echo_excluded(batch: ClaimBatch) -> None:
    for view in batch_lines(batch):
        if not view.line.included:
            reasons = "; ".join(r.text("en") for r in view.reasons)
            click.echo(f"  excluded: invoice {view.invoice_number}, {nl_date(view.invoice_line.treatment_date)}: "
                       f"{reasons}")


def _write_out(source: Path, out: Path) -> None:
    """Copy the stored workbook to --out through files.atomic_write: on a full disk (or any error) nothing is left
    at `out` (an existing file stays as it was), the command fails with a message and the unit of work rolls
    the export back."""
    try:
        with source.open("rb") as reader, atomic_write(out) as writer:
            shutil.copyfileobj(reader, writer, 1 << 20)
    except OSError as error:
        raise click.ClickException(f"Could not write {out}: {error.strerror or error}. Nothing was written.") from error


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
    click.get_current_context().exit(_import_remittance(insurer_text, file, do_apply, columns, user_email))


def _columns(columns: tuple[str, ...]) -> dict[str, str]:
    chosen = {}
    for item in columns:
        field, _, header = item.partition("=")
        if field.strip() not in REMITTANCE_FIELDS or not header.strip():
            raise click.BadParameter(f"{item!r}: use FIELD=HEADER with FIELD one of {', '.join(REMITTANCE_FIELDS)}",
                                     param_hint="'--column'")
        chosen[field.strip()] = header.strip()
    return chosen


def _matched(imported: RemittanceImport, chosen: dict[str, str]) -> RemittanceMatch:
    """The file's rows matched to claim lines, with the columns chosen on the command line (if any)."""
    if chosen:
        errors = remittance.set_mapping(imported, {**(imported.mapping or {}), **chosen})
        if errors:
            raise RemittanceError(" ".join(str(error) for error in errors.values()))
    shown = remittance.preview(imported)
    if shown.errors or shown.match is None:
        headers = ", ".join(shown.headers)
        raise RemittanceError((shown.problem or " ".join(str(error) for error in shown.errors.values()))
                              + f" The file's columns: {headers}. Choose with --column FIELD=HEADER.")
    return shown.match


def _report(name: str, match: RemittanceMatch) -> None:
    click.echo(f"{name}: {len(match.matched)} matched (claimed {format_euro(match.matched_claimed)}, paid "
               f"{format_euro(match.matched_paid)}), {len(match.unchanged)} already recorded, "
               f"{len(match.unmatched)} unmatched ({format_euro(match.unmatched_amount)}), "
               f"{len(match.disputed)} disputed ({format_euro(match.disputed_amount)}).")
    for row in match.unmatched:
        click.echo(f"  unmatched: row {row.row_number} {row.reference}")
    for item in match.disputed:
        click.echo(f"  disputed: row {item.row.row_number} {item.row.reference}: {item.code.value}")


@unit_of_work.transactional
def _import_remittance(insurer_text: str, file: Path, do_apply: bool, columns: tuple[str, ...],
                       user_email: str | None) -> int:
    insurer = _insurer(insurer_text)
    user = _user(user_email)
    chosen = _columns(columns)
    try:
        imported = remittance.upload(insurer, file.read_bytes(), file.name, user)
        match = _matched(imported, chosen)
        _report(file.name, match)
        if do_apply:
            applied = remittance.apply(imported, user)
            click.echo(f"Applied {applied.matched} outcome(s), {format_euro(from_cents(applied.paid_cents))} paid."
                       + (f" Closed: {', '.join(applied.closed_batches)}." if applied.closed_batches else ""))
        else:
            click.echo("Preview only: nothing recorded. Run again with --apply to record the matched outcomes.")
    except RemittanceError as error:
        raise click.ClickException(str(error)) from error
    return EXIT_PARTLY if match.unmatched or match.disputed else 0


def init_app(app: Flask) -> None:
    app.cli.add_command(claims_group)
