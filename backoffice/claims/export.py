"""Exporting a batch: the moment its lines are frozen, and the claim workbook written from them.

Each line's workbook row is stored with it (the BSN encrypted), and the workbook is written from those rows, so
exporting the same batch again gives the same bytes even after a patient's record changes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import MISSING, dataclass, fields
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from .. import audit, crypto
from ..clock import clinic_today
from ..domain import claims as rules
from ..domain.claims import BatchStatus, ClaimRow, ClaimTemplate, ExcludedRow, Reason
from ..extensions import db
from ..files import private_folder
from ..i18n import dutch
from ..models import ClaimBatch, ClaimLine, Insurer, Practice, Treatment
from .common import ClaimError, _l, bulk_update_lines, now, period_label, require_status, user_id
from .settings import claim_template, claims_dir, settings_for
from .validation import batch_treatments, validate
from .workbook import WorkbookHeader, default_filename, write_claim_workbook

EXPORT_FOLDER = "exports"  # under claims_dir()
_DATE_FIELDS = {"date_of_birth", "treatment_date", "referral_date"}
_MONEY_FIELDS = {"amount", "expected_reimbursement"}


def _row_snapshot(row: ClaimRow) -> dict:
    data = {}
    for f in fields(ClaimRow):
        value = getattr(row, f.name)
        if f.name == "bsn":
            data["bsn_encrypted"] = crypto.encrypt(value) if value else ""
        elif isinstance(value, date | Decimal):
            data[f.name] = str(value) if isinstance(value, Decimal) else value.isoformat()
        else:
            data[f.name] = value
    return data


def _row_from_snapshot(data: dict) -> ClaimRow:
    values: dict[str, Any] = {}
    for f in fields(ClaimRow):
        if f.name not in data and f.name != "bsn" and f.default is not MISSING:
            continue  # a row frozen before the field existed: its default (its template has no such column)
        if f.name == "bsn":
            token = data.get("bsn_encrypted") or ""
            values["bsn"] = (crypto.decrypt(token) or "") if token else ""
            continue
        value: Any = data.get(f.name)
        if f.name in _DATE_FIELDS:
            value = date.fromisoformat(value) if value else None
        elif f.name in _MONEY_FIELDS:
            value = Decimal(value)
        values[f.name] = value
    return ClaimRow(**values)


def _excluded_snapshot(row: ExcludedRow) -> dict:
    return {"patient_name": row.patient_name, "treatment_date": row.treatment_date.isoformat(),
            "invoice_number": row.invoice_number, "description": row.description,
            "therapist_name": row.therapist_name, "amount": str(row.amount)}


def _excluded_from_snapshot(data: dict, reasons: list[Reason]) -> ExcludedRow:
    return ExcludedRow(patient_name=data["patient_name"], treatment_date=date.fromisoformat(data["treatment_date"]),
                       invoice_number=data["invoice_number"], description=data["description"],
                       therapist_name=data["therapist_name"], amount=Decimal(data["amount"]), reasons=tuple(reasons))


def export_folder() -> Path:
    private_folder(claims_dir())
    return private_folder(claims_dir() / EXPORT_FOLDER)


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    filename: str
    claimed: int
    excluded: int
    first_export: bool
    claimed_amount: Decimal = Decimal("0.00")   # what the claim sheet's lines add up to (incl. VAT)
    frozen: bool = True                          # False: nothing claimable, the batch stays a draft


def _header(batch: ClaimBatch) -> dict:
    insurer = db.session.get_one(Insurer, batch.insurer_id)
    practice = db.session.scalar(select(Practice).order_by(Practice.id).limit(1))
    created = batch.created_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    return {"insurer_name": insurer.name, "uzovi": insurer.uzovi, "batch_number": batch.number,
            "period": period_label(batch.period_start, batch.period_end),
            "practice_name": practice.name if practice else "",
            "practice_agb": practice.agb_code if practice else "", "created": created.isoformat()}


def _freeze(batch: ClaimBatch, today: date, user) -> None:
    """Validate once more, number the included lines and store every line's workbook row."""
    validation = validate(batch, today=today)
    if not validation.included:
        raise ClaimError(_l("Batch %(number)s has no line that can be claimed: fix the data and validate again, "
                            "or cancel the batch.", number=batch.number))
    rows = []
    for sequence, verdict in enumerate(validation.included, 1):
        reference = rules.claim_reference(batch.number, sequence)
        rows.append({"id": verdict.line.line_id, "sequence": sequence, "claim_reference": reference,
                     "snapshot": _row_snapshot(rules.claim_row(verdict, reference))})
    for verdict in validation.excluded:
        rows.append({"id": verdict.line.line_id, "sequence": None, "claim_reference": None,
                     "snapshot": _excluded_snapshot(rules.excluded_row(verdict))})
    bulk_update_lines(rows)
    batch.export_snapshot = {
        "header": _header(batch),
        "template": claim_template(settings_for(batch.insurer_id)).to_config(),
    }
    batch.status = rules.batch_transition(BatchStatus.DRAFT, BatchStatus.EXPORTED).value
    batch.exported_at = now()
    batch.exported_by_id = user_id(user)


def _claim_rows(batch_id: int) -> Iterator[ClaimRow]:
    query = (select(ClaimLine.snapshot).where(ClaimLine.batch_id == batch_id, ClaimLine.included)
             .order_by(ClaimLine.sequence).execution_options(yield_per=2000))
    for (snapshot,) in db.session.execute(query):
        yield _row_from_snapshot(snapshot)


def _excluded_rows(batch_id: int) -> Iterator[ExcludedRow]:
    query = (select(ClaimLine.snapshot, ClaimLine.reasons)
             .where(ClaimLine.batch_id == batch_id, ClaimLine.included.is_(False))
             .order_by(ClaimLine.id).execution_options(yield_per=2000))
    for snapshot, reasons in db.session.execute(query):
        yield _excluded_from_snapshot(snapshot, [Reason(r["code"], r.get("nl", ""), r.get("en", ""))
                                                 for r in reasons or ()])


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _log_export(batch: ClaimBatch, detail: str, user) -> None:
    """One access-log entry per patient whose data is in the workbook (NEN 7513: per record)."""
    patients = db.session.scalars(
        batch_treatments(batch.id, Treatment.patient_id).distinct().order_by(Treatment.patient_id))
    for patient_id in patients:
        audit.record("export", patient_id, f"claim batch {batch.number}", detail, user=user)


def export_batch(batch: ClaimBatch, user=None, today: date | None = None) -> ExportResult:
    """Export a draft (validated once more, then frozen) or export a frozen batch again (the same bytes).

    The workbook goes to instance/claims/exports/; the batch records its SHA-256. Every export is logged.
    """
    status = require_status(batch, BatchStatus.DRAFT, BatchStatus.EXPORTED, BatchStatus.SUBMITTED,
                             BatchStatus.CLOSED)
    first = status is BatchStatus.DRAFT
    if first:
        with dutch():  # the workbook's rows are frozen as the insurer reads them: in Dutch
            _freeze(batch, today or clinic_today(), user)
        db.session.flush()
    snapshot = batch.export_snapshot
    if snapshot is None:  # every batch past draft was frozen with its snapshot
        raise ClaimError(_l("Batch %(number)s has no frozen lines to export.", number=batch.number))
    header_data = dict(snapshot["header"])
    header_data["created"] = datetime.fromisoformat(header_data["created"])
    header = WorkbookHeader(**header_data)
    template = ClaimTemplate.from_config(snapshot["template"])
    filename = default_filename(header)
    path = export_folder() / filename
    summary = write_claim_workbook(path, header=header, template=template, rows=_claim_rows(batch.id),
                                   excluded=_excluded_rows(batch.id))
    digest = _sha256(path)
    if first:
        batch.file_sha256 = digest
        batch.file_path = f"{EXPORT_FOLDER}/{filename}"
    elif digest != batch.file_sha256:
        raise ClaimError(_l("The workbook of batch %(number)s no longer matches the one first exported (checksum "
                            "%(checksum)s…): its stored lines were changed.", number=batch.number,
                            checksum=(batch.file_sha256 or "")[:12]))
    db.session.flush()
    what = "exported" if first else "exported again"
    _log_export(batch, f"claim workbook {filename} {what}: {summary.claimed.lines} claimed, "
                       f"{summary.excluded.lines} excluded; sha256 {digest[:12]}", user)
    return ExportResult(path, digest, filename, summary.claimed.lines, summary.excluded.lines, first,
                        summary.claimed.amount)


def write_excluded_only(batch: ClaimBatch, target: Path, user=None, today: date | None = None) -> ExportResult:
    """For a draft none of whose lines can be claimed: validate it once more and write a workbook whose claim sheet
    is empty and whose excluded sheet names every line with its reasons, to `target`. The batch stays a draft
    (nothing is frozen or sent; fix the data and export again, or cancel it), so the workbook is a working list for
    the desk, not a claim. Raises ClaimError when some line can be claimed after all (export the batch instead).
    """
    require_status(batch, BatchStatus.DRAFT)
    with dutch():  # the workbook is always Dutch, its reasons too
        validation = validate(batch, today=today or clinic_today(), user=user)
        if validation.included:
            raise ClaimError(_l("Batch %(number)s has lines that can be claimed: export it.", number=batch.number))
        excluded = [rules.excluded_row(verdict) for verdict in validation.excluded]
    header_data = _header(batch)
    header_data["created"] = datetime.fromisoformat(header_data["created"])
    header = WorkbookHeader(**header_data)
    template = claim_template(settings_for(batch.insurer_id))
    summary = write_claim_workbook(target, header=header, template=template, rows=(), excluded=excluded)
    digest = _sha256(Path(target))
    _log_export(batch, f"excluded lines of draft claim batch {batch.number} written: {summary.excluded.lines} "
                       f"excluded, none claimed; sha256 {digest[:12]}", user)
    return ExportResult(Path(target), digest, Path(target).name, 0, summary.excluded.lines, False, frozen=False)
