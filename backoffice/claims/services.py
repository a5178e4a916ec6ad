"""Claim batch use cases: build a batch per insurer and period, validate it, export the workbook, submit, record
outcomes, close, resubmit rejected lines, patient-submitted claims and the outcome statistics.

Services add and flush; the caller (view or CLI command) commits once. The rules are in
backoffice.domain.claims: this module gathers the facts and stores the answers.

Validation gathers its facts with a fixed number of queries whatever the batch's size: every query selects
through the batch's own claim lines (a join or an `IN (subquery)`), one per table, never one per line and never
a long list of ids (tests/test_claims.py counts the statements).

Exporting is the moment a batch's lines are frozen: each line's workbook row is stored with it (the BSN
encrypted), and the workbook is written from those rows, so exporting the same batch again gives the same
bytes even after a patient's record changes.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from flask import current_app
from sqlalchemy import case, exists, extract, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from .. import audit, crypto
from ..domain import claims as rules
from ..domain.claims import (
    BatchStatus,
    BatchValidation,
    ClaimLineFacts,
    ClaimRow,
    ClaimRules,
    ClaimTemplate,
    ExcludedRow,
    LineOutcome,
    LineStatus,
    OutcomeTally,
    PolicyFacts,
    Reason,
    TherapistOnDate,
)
from ..domain.coverage import CapPeriod
from ..domain.indications import INDICATIONS, Indication
from ..domain.money import from_cents, to_cents
from ..extensions import db
from ..invoicing import numbering
from ..models import (
    ClaimBatch,
    ClaimLine,
    CoverageRule,
    CreditNoteLine,
    Insurance,
    Insurer,
    InsurerClaimSettings,
    Invoice,
    InvoiceLine,
    KpRegistration,
    NvhMembership,
    Patient,
    PatientClaim,
    Practice,
    Referral,
    Therapist,
    Treatment,
)
from .workbook import WorkbookHeader, default_filename, write_claim_workbook

MONTHS_NL = ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september", "oktober",
             "november", "december")
EXPORT_FOLDER = "exports"  # under claims_dir()


class ClaimError(Exception):
    """A use case cannot go ahead; the message says why, for the user."""


def _user_id(user) -> int | None:
    return getattr(user, "id", None) if getattr(user, "is_authenticated", True) else None


def _now() -> datetime:
    return datetime.now(UTC)


# ---- insurers, periods, settings ----------------------------------------------------------------------------


def parse_period(text: str) -> tuple[date, date]:
    """"2026-10" -> (1 Oct 2026, 31 Oct 2026)."""
    match = re.fullmatch(r"\s*(\d{4})-(\d{1,2})\s*", text or "")
    if not match or not 1 <= int(match.group(2)) <= 12 or int(match.group(1)) < 2000:
        raise ClaimError(f"Period {text!r} is not a month like 2026-10.")
    start = date(int(match.group(1)), int(match.group(2)), 1)
    end = date(start.year + start.month // 12, start.month % 12 + 1, 1) - timedelta(days=1)
    return start, end


def period_label(start: date, end: date) -> str:
    """oktober 2026; or 01-10-2026 t/m 15-11-2026 for anything but one whole month."""
    if start.day == 1 and (end + timedelta(days=1)).day == 1 and (start.year, start.month) == (end.year, end.month):
        return f"{MONTHS_NL[start.month - 1]} {start.year}"
    return f"{start:%d-%m-%Y} t/m {end:%d-%m-%Y}"


def find_insurer(text: str) -> Insurer:
    """An insurer by UZOVI code or by name (case-insensitive, exact first, then a unique partial match)."""
    text = (text or "").strip()
    if not text:
        raise ClaimError("Name the insurer by UZOVI code or name.")
    if text.isdigit():
        insurer = db.session.scalar(select(Insurer).where(Insurer.uzovi == text.zfill(4)))
        if insurer is None:
            raise ClaimError(f"No insurer with UZOVI {text}.")
        return insurer
    exact = db.session.scalars(select(Insurer).where(func.lower(Insurer.name) == text.lower())).all()
    if len(exact) == 1:
        return exact[0]
    like = db.session.scalars(select(Insurer).where(func.lower(Insurer.name).contains(text.lower(),
                                                                                      autoescape=True))).all()
    if len(like) == 1:
        return like[0]
    if not like:
        raise ClaimError(f"No insurer named {text!r}.")
    names = ", ".join(f"{i.name} ({i.uzovi})" for i in like)
    raise ClaimError(f"{text!r} matches several insurers: {names}. Use the UZOVI code.")


def settings_for(insurer_id: int) -> InsurerClaimSettings:
    """The insurer's claim settings; the defaults (not yet stored) when none were saved."""
    settings = db.session.get(InsurerClaimSettings, insurer_id)
    if settings is None:
        settings = InsurerClaimSettings(insurer_id=insurer_id, direct_billing=True,
                                        deadline_months=rules.DEFAULT_DEADLINE_MONTHS, bsn_required=False)
    return settings


def stored_settings(insurer_id: int) -> InsurerClaimSettings:
    """The settings row, created (and added to the session) when missing."""
    settings = db.session.get(InsurerClaimSettings, insurer_id)
    if settings is None:
        settings = settings_for(insurer_id)
        db.session.add(settings)
    return settings


def claim_rules(settings: InsurerClaimSettings) -> ClaimRules:
    return ClaimRules(deadline_months=settings.deadline_months or rules.DEFAULT_DEADLINE_MONTHS,
                      bsn_required=bool(settings.bsn_required))


def claim_template(settings: InsurerClaimSettings) -> ClaimTemplate:
    if settings.template:
        return ClaimTemplate.from_config(settings.template)
    return ClaimTemplate.default(bsn_required=bool(settings.bsn_required))


def save_settings(insurer: Insurer, *, direct_billing: bool, deadline_months: int, bsn_required: bool,
                  template: ClaimTemplate | None, user=None) -> InsurerClaimSettings:
    settings = stored_settings(insurer.id)
    settings.direct_billing = direct_billing
    settings.deadline_months = deadline_months
    settings.bsn_required = bsn_required
    settings.template = template.to_config() if template is not None else None
    settings.updated_by_id = _user_id(user)
    db.session.flush()
    return settings


# ---- building a batch ---------------------------------------------------------------------------------------


def _claimed_before(line_id_column):
    """An invoice line that is in a live claim, or was claimed and rejected (it goes back only by resubmission),
    or that the patient claims themselves."""
    return or_(
        exists().where(ClaimLine.invoice_line_id == line_id_column,
                       or_(ClaimLine.live.is_(True), ClaimLine.status == LineStatus.REJECTED.value)),
        exists().where(PatientClaim.invoice_line_id == line_id_column),
    )


def candidate_lines(insurer_id: int, start: date, end: date):
    """Issued, reimbursable, not credited invoice lines of the insurer's treatments in the period that are not
    claimed yet (a SELECT of invoice line ids, oldest treatment first)."""
    return (
        select(InvoiceLine.id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(Invoice.status == "issued", InvoiceLine.reimbursable, Treatment.insurer_id == insurer_id,
               InvoiceLine.treatment_date >= start, InvoiceLine.treatment_date <= end,
               ~exists().where(CreditNoteLine.invoice_line_id == InvoiceLine.id),
               ~_claimed_before(InvoiceLine.id))
        .order_by(InvoiceLine.treatment_date, InvoiceLine.id)
    )


def _new_batch(insurer: Insurer, start: date, end: date, user, today: date) -> ClaimBatch:
    if end < start:
        raise ClaimError("The period ends before it starts.")
    settings = settings_for(insurer.id)
    if not settings.direct_billing:
        raise ClaimError(f"{insurer.name} is not billed directly: its patients send the declaration themselves. "
                         "Record those as patient-submitted claims.")
    sequence = numbering.take_next(f"claims-{insurer.uzovi}-{today.year}")
    batch = ClaimBatch(insurer_id=insurer.id, number=rules.batch_number(insurer.uzovi, today.year, sequence),
                       period_start=start, period_end=end, status=BatchStatus.DRAFT.value, claim_date=today,
                       created_by_id=_user_id(user))
    db.session.add(batch)
    db.session.flush()
    return batch


def _add_lines(batch: ClaimBatch, invoice_line_ids: Iterable[int], resubmission_of: dict[int, int] | None = None):
    rows = [{"batch_id": batch.id, "invoice_line_id": line_id, "included": False, "status": "pending",
             "reasons": [], "rejection_code": "", "rejection_text": "",
             "resubmission_of_id": (resubmission_of or {}).get(line_id)}
            for line_id in invoice_line_ids]
    if rows:
        db.session.execute(ClaimLine.__table__.insert(), rows)


def create_batch(insurer: Insurer, start: date, end: date, user=None, today: date | None = None) -> ClaimBatch:
    """A draft batch with every claimable line of the insurer's treatments in the period, validated."""
    today = today or date.today()
    line_ids = list(db.session.scalars(candidate_lines(insurer.id, start, end)))
    if not line_ids:
        raise ClaimError(f"Nothing to claim from {insurer.name} for {period_label(start, end)}: no issued, "
                         "reimbursable, uncredited invoice lines that are not claimed already.")
    batch = _new_batch(insurer, start, end, user, today)
    _add_lines(batch, line_ids)
    validate(batch, today=today)
    return batch


# ---- facts and validation -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineContext:
    """What the batch page shows beside a verdict (ids for links)."""

    claim_line_id: int
    patient_id: int
    invoice_id: int
    treatment_id: int


@dataclass(frozen=True)
class GatheredFacts:
    facts: list[ClaimLineFacts]                  # line_id is the claim line's id
    context: dict[int, LineContext]
    cap_remaining: dict[rules.CapKey, Decimal]
    rules: ClaimRules


def _batch_lines(batch_id: int):
    return select(ClaimLine.invoice_line_id).where(ClaimLine.batch_id == batch_id)


def _batch_treatments(batch_id: int, column):
    """SELECT `column` of the treatments behind the batch's lines (for `IN (...)`)."""
    return (select(column).select_from(ClaimLine)
            .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
            .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
            .where(ClaimLine.batch_id == batch_id))


def _cap_used_elsewhere(batch: ClaimBatch) -> dict[tuple[int, str, int], int]:
    """Cents taken from each (patient, cap group, year) by live claims in other batches (paid where settled,
    claimed while pending) and by patient-submitted claims (paid, or claimed while pending). Two queries."""
    patients = _batch_treatments(batch.id, Treatment.patient_id)
    year = extract("year", Treatment.treatment_date)
    used: dict[tuple[int, str, int], int] = defaultdict(int)
    taken = case((ClaimLine.status == "pending", ClaimLine.claimed_cents), else_=ClaimLine.paid_cents)
    query = (select(Treatment.patient_id, Treatment.cap_group, year, func.sum(taken))
             .select_from(ClaimLine)
             .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
             .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
             .where(ClaimLine.live.is_(True), ClaimLine.batch_id != batch.id, Treatment.cap_group.is_not(None),
                    Treatment.insurer_id == batch.insurer_id, Treatment.patient_id.in_(patients))
             .group_by(Treatment.patient_id, Treatment.cap_group, year))
    for patient_id, group, in_year, cents in db.session.execute(query):
        used[(patient_id, group, int(in_year))] += int(cents or 0)
    taken = case((PatientClaim.status == "pending", PatientClaim.claimed_cents), else_=PatientClaim.paid_cents)
    query = (select(Treatment.patient_id, Treatment.cap_group, year, func.sum(taken))
             .select_from(PatientClaim)
             .join(InvoiceLine, InvoiceLine.id == PatientClaim.invoice_line_id)
             .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
             .where(Treatment.cap_group.is_not(None), Treatment.insurer_id == batch.insurer_id,
                    Treatment.patient_id.in_(patients))
             .group_by(Treatment.patient_id, Treatment.cap_group, year))
    for patient_id, group, in_year, cents in db.session.execute(query):
        used[(patient_id, group, int(in_year))] += int(cents or 0)
    return used


def _policy(insurances: list[Insurance], day: date) -> PolicyFacts | None:
    """The policy with the batch's insurer covering the day (the latest started), else the one closest to it
    (so the reason can say which policy does not cover the date), else None."""
    if not insurances:
        return None
    covering = [i for i in insurances if i.valid_from <= day and (i.valid_until is None or day <= i.valid_until)]
    if covering:
        chosen = max(covering, key=lambda i: (i.valid_from, i.id))
    else:
        def distance(i: Insurance) -> int:
            if day < i.valid_from:
                return (i.valid_from - day).days
            return (day - i.valid_until).days if i.valid_until else 0
        chosen = min(insurances, key=lambda i: (distance(i), -i.id))
    return PolicyFacts(chosen.policy_number, chosen.valid_from, chosen.valid_until)


def gather_facts(batch: ClaimBatch, settings: InsurerClaimSettings | None = None) -> GatheredFacts:
    """The facts of every line of the batch, in a fixed number of queries (see the module docstring)."""
    insurer = db.session.get(Insurer, batch.insurer_id)
    settings = settings or settings_for(batch.insurer_id)
    claim_rules_ = claim_rules(settings)
    lines = db.session.execute(
        select(ClaimLine.id, InvoiceLine, Invoice.number, Treatment.patient_id, Treatment.therapist_id,
               Treatment.referral_id, Treatment.coverage_rule_id, Treatment.cap_group, Treatment.indication)
        .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(ClaimLine.batch_id == batch.id)
    ).all()
    patients = {p.id: p for p in db.session.scalars(
        select(Patient).where(Patient.id.in_(_batch_treatments(batch.id, Treatment.patient_id))))}
    insurances: dict[int, list[Insurance]] = defaultdict(list)
    for insurance in db.session.scalars(
            select(Insurance).where(Insurance.insurer_id == batch.insurer_id,
                                    Insurance.patient_id.in_(_batch_treatments(batch.id, Treatment.patient_id)))):
        insurances[insurance.patient_id].append(insurance)
    therapist_ids = _batch_treatments(batch.id, Treatment.therapist_id)
    therapists = {t.id: t for t in db.session.scalars(select(Therapist).where(Therapist.id.in_(therapist_ids)))}
    memberships: dict[int, list] = defaultdict(list)
    for m in db.session.scalars(select(NvhMembership).where(NvhMembership.therapist_id.in_(therapist_ids))):
        memberships[m.therapist_id].append(m.to_domain())
    registrations: dict[int, list] = defaultdict(list)
    for r in db.session.scalars(select(KpRegistration).where(KpRegistration.therapist_id.in_(therapist_ids))):
        registrations[r.therapist_id].append(r.to_domain())
    referrals = {r.id: r.to_domain() for r in db.session.scalars(
        select(Referral).where(Referral.id.in_(_batch_treatments(batch.id, Treatment.referral_id))))}
    coverage = {r.id: r for r in db.session.scalars(
        select(CoverageRule).where(CoverageRule.id.in_(_batch_treatments(batch.id, Treatment.coverage_rule_id))))}
    practice = db.session.scalar(select(Practice).order_by(Practice.id).limit(1))
    elsewhere = dict(db.session.execute(
        select(ClaimLine.invoice_line_id, ClaimBatch.number)
        .join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
        .where(ClaimLine.live.is_(True), ClaimLine.batch_id != batch.id,
               ClaimLine.invoice_line_id.in_(_batch_lines(batch.id)))
    ).all())
    used = _cap_used_elsewhere(batch)

    facts: list[ClaimLineFacts] = []
    context: dict[int, LineContext] = {}
    caps: dict[rules.CapKey, Decimal] = {}
    practice_agb = practice.agb_code if practice else ""
    for claim_line_id, line, invoice_number, patient_id, therapist_id, referral_id, rule_id, cap_group, \
            indication in lines:
        patient = patients[patient_id]
        therapist = therapists[therapist_id]
        day = line.treatment_date
        rule = coverage.get(rule_id) if rule_id else None
        cap_year = None
        key_group = None
        if rule is not None and rule.cap_cents is not None and cap_group:
            key_group = cap_group
            lifetime = rule.cap_period == CapPeriod.LIFETIME.value
            cap_year = None if lifetime else day.year
            key = (patient_id, cap_group, cap_year)
            if key not in caps:
                taken = sum(cents for (p, g, y), cents in used.items()
                            if p == patient_id and g == cap_group and (lifetime or y == day.year))
                caps[key] = from_cents(rule.cap_cents - taken)
        bsn = ""
        if claim_rules_.bsn_required:
            bsn = patient.get_bsn() or ""
        facts.append(ClaimLineFacts(
            line_id=claim_line_id, patient_id=patient_id, patient_name=patient.full_name,
            date_of_birth=patient.date_of_birth, treatment_date=day, indication=Indication(indication),
            description=line.description, prestatiecode=line.prestatiecode,
            therapist=TherapistOnDate.from_credentials(therapist.name, therapist.agb_code or "", day,
                                                       memberships[therapist_id], registrations[therapist_id]),
            practice_agb=practice_agb, insurer_name=insurer.name, uzovi=insurer.uzovi,
            policy=_policy(insurances[patient_id], day), amount=from_cents(line.gross_cents),
            expected_reimbursement=from_cents(line.insurer_amount_cents), invoice_number=invoice_number or "",
            bsn=bsn, technique=line.technique, referral_required=bool(rule and rule.referral_required),
            referral=referrals.get(referral_id) if referral_id else None, cap_group=key_group, cap_year=cap_year,
            already_claimed=line.id in elsewhere, claimed_in=elsewhere.get(line.id, ""),
        ))
        context[claim_line_id] = LineContext(claim_line_id, patient_id, line.invoice_id, line.treatment_id)
    return GatheredFacts(facts, context, caps, claim_rules_)


def _reason_dicts(reasons: Iterable[Reason]) -> list[dict]:
    return [{"code": r.code, "nl": r.nl, "en": r.en} for r in reasons]


def reasons_of(line: ClaimLine) -> list[Reason]:
    return [Reason(r["code"], r.get("nl", ""), r.get("en", "")) for r in line.reasons or ()]


def _expire_lines() -> None:
    # Bulk UPDATEs by primary key bypass the identity map: reload any claim line already loaded.
    for obj in list(db.session.identity_map.values()):
        if isinstance(obj, ClaimLine):
            db.session.expire(obj)


def _bulk_update_lines(rows: list[dict]) -> None:
    if not rows:
        return
    try:
        db.session.execute(update(ClaimLine), rows)
    except IntegrityError as error:  # the caller rolls back
        raise ClaimError("Another batch claimed one of these lines at the same moment. Reload and validate the "
                         "batch again.") from error
    _expire_lines()


def _require_status(batch: ClaimBatch, *allowed: BatchStatus) -> BatchStatus:
    status = BatchStatus(batch.status)
    if status not in allowed:
        wanted = " or ".join(s.value for s in allowed)
        raise ClaimError(f"Batch {batch.number} is {status.value}; this needs a {wanted} batch.")
    return status


def validate(batch: ClaimBatch, today: date | None = None, user=None) -> BatchValidation:
    """(Re-)validate a draft's lines on `today`: each is included, or excluded with its reasons."""
    _require_status(batch, BatchStatus.DRAFT)
    today = today or date.today()
    gathered = gather_facts(batch)
    validation = rules.validate_batch(gathered.facts, claim_date=today, rules=gathered.rules,
                                      cap_remaining=gathered.cap_remaining)
    rows = [{"id": v.line.line_id, "included": v.included, "live": True if v.included else None,
             "amount_cents": to_cents(v.line.amount), "expected_cents": to_cents(v.line.expected_reimbursement),
             "claimed_cents": to_cents(v.claimable), "reasons": _reason_dicts(v.reasons)}
            for v in validation.verdicts]
    db.session.flush()
    # Lines leaving the claim first, so a line moving between batches never holds two live rows meanwhile.
    _bulk_update_lines([r for r in rows if not r["included"]])
    _bulk_update_lines([r for r in rows if r["included"]])
    batch.claim_date = today
    batch.validated_at = _now()
    db.session.flush()
    return validation


# ---- export -------------------------------------------------------------------------------------------------

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
    values = {}
    for f in fields(ClaimRow):
        if f.name == "bsn":
            token = data.get("bsn_encrypted") or ""
            values["bsn"] = (crypto.decrypt(token) or "") if token else ""
            continue
        value = data.get(f.name)
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


def claims_dir() -> Path:
    """Where workbooks and remittance files are kept: CLAIMS_DIR (app config), by default instance/claims."""
    configured = current_app.config.get("CLAIMS_DIR")
    return Path(configured) if configured else Path(current_app.instance_path) / "claims"


def export_folder() -> Path:
    folder = claims_dir() / EXPORT_FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@dataclass(frozen=True)
class ExportResult:
    path: Path
    sha256: str
    filename: str
    claimed: int
    excluded: int
    first_export: bool


def _freeze(batch: ClaimBatch, today: date, user) -> None:
    """Validate once more, number the included lines and store every line's workbook row."""
    validation = validate(batch, today=today)
    if not validation.included:
        raise ClaimError(f"Batch {batch.number} has no line that can be claimed: fix the data and validate again, "
                         "or cancel the batch.")
    rows = []
    for sequence, verdict in enumerate(validation.included, 1):
        reference = rules.claim_reference(batch.number, sequence)
        rows.append({"id": verdict.line.line_id, "sequence": sequence, "claim_reference": reference,
                     "snapshot": _row_snapshot(rules.claim_row(verdict, reference))})
    for verdict in validation.excluded:
        rows.append({"id": verdict.line.line_id, "sequence": None, "claim_reference": None,
                     "snapshot": _excluded_snapshot(rules.excluded_row(verdict))})
    _bulk_update_lines(rows)
    insurer = db.session.get(Insurer, batch.insurer_id)
    practice = db.session.scalar(select(Practice).order_by(Practice.id).limit(1))
    created = batch.created_at.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    batch.export_snapshot = {
        "header": {"insurer_name": insurer.name, "uzovi": insurer.uzovi, "batch_number": batch.number,
                   "period": period_label(batch.period_start, batch.period_end),
                   "practice_name": practice.name if practice else "",
                   "practice_agb": practice.agb_code if practice else "", "created": created.isoformat()},
        "template": claim_template(settings_for(batch.insurer_id)).to_config(),
    }
    batch.status = rules.batch_transition(BatchStatus.DRAFT, BatchStatus.EXPORTED).value
    batch.exported_at = _now()
    batch.exported_by_id = _user_id(user)


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
        _batch_treatments(batch.id, Treatment.patient_id).distinct().order_by(Treatment.patient_id))
    for patient_id in patients:
        audit.record("export", patient_id, f"claim batch {batch.number}", detail, user=user)


def export_batch(batch: ClaimBatch, user=None, today: date | None = None) -> ExportResult:
    """Export a draft (validated once more, then frozen) or export a frozen batch again (the same bytes).

    The workbook goes to instance/claims/exports/; the batch records its SHA-256. Every export is logged.
    """
    status = _require_status(batch, BatchStatus.DRAFT, BatchStatus.EXPORTED, BatchStatus.SUBMITTED,
                             BatchStatus.CLOSED)
    first = status is BatchStatus.DRAFT
    if first:
        _freeze(batch, today or date.today(), user)
        db.session.flush()
    snapshot = batch.export_snapshot
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
        raise ClaimError(f"The workbook of batch {batch.number} no longer matches the one first exported "
                         f"(SHA-256 {batch.file_sha256[:12]}…): its stored lines were changed.")
    db.session.flush()
    what = "exported" if first else "exported again"
    _log_export(batch, f"claim workbook {filename} {what}: {summary.claimed.lines} claimed, "
                       f"{summary.excluded.lines} excluded; sha256 {digest[:12]}", user)
    return ExportResult(path, digest, filename, summary.claimed.lines, summary.excluded.lines, first)


# ---- lifecycle ----------------------------------------------------------------------------------------------


def _outcome(line: ClaimLine) -> LineOutcome:
    status = LineStatus(line.status)
    reason = None
    if line.rejection_code or line.rejection_text:
        reason = Reason(line.rejection_code or "unspecified", line.rejection_text or line.rejection_code)
    return LineOutcome(from_cents(line.claimed_cents), status, from_cents(line.paid_cents),
                       reason if status is not LineStatus.PENDING else None)


def included_outcomes(batch_id: int) -> list[LineOutcome]:
    lines = db.session.scalars(select(ClaimLine).where(ClaimLine.batch_id == batch_id, ClaimLine.included))
    return [_outcome(line) for line in lines]


def mark_submitted(batch: ClaimBatch, user=None) -> ClaimBatch:
    status = _require_status(batch, BatchStatus.EXPORTED)
    batch.status = rules.batch_transition(status, BatchStatus.SUBMITTED).value
    batch.submitted_at = _now()
    batch.submitted_by_id = _user_id(user)
    db.session.flush()
    return batch


def cancel_batch(batch: ClaimBatch, user=None) -> ClaimBatch:
    """Give up a draft or an unsent export: its lines are free to be claimed again."""
    status = _require_status(batch, BatchStatus.DRAFT, BatchStatus.EXPORTED)
    db.session.flush()
    db.session.execute(update(ClaimLine).where(ClaimLine.batch_id == batch.id).values(live=None))
    batch.status = rules.batch_transition(status, BatchStatus.CANCELLED).value
    batch.cancelled_at = _now()
    batch.cancelled_by_id = _user_id(user)
    db.session.flush()
    _expire_lines()
    return batch


def _close_if_complete(batch: ClaimBatch, user) -> bool:
    status = BatchStatus(batch.status)
    new = rules.close_when_complete(status, included_outcomes(batch.id))
    if new is not status:
        batch.status = new.value
        batch.closed_at = _now()
        batch.closed_by_id = _user_id(user)
        db.session.flush()
        return True
    return False


def _store_outcome(line: ClaimLine, outcome: LineOutcome, user) -> None:
    line.status = outcome.status.value
    line.paid_cents = to_cents(outcome.paid)
    line.rejection_code = outcome.reason.code if outcome.reason else ""
    line.rejection_text = outcome.reason.text() if outcome.reason else ""
    line.live = None if outcome.status is LineStatus.REJECTED else True
    line.outcome_at = _now()
    line.outcome_by_id = _user_id(user)


def record_line_outcome(line: ClaimLine, paid: Decimal, reason_code: str = "", reason_text: str = "",
                        user=None) -> ClaimLine:
    """What the insurer did with one submitted line: paid in full, partly, or rejected (with a reason)."""
    batch = line.batch
    if not line.included:
        raise ClaimError("An excluded line was not claimed: it has no outcome.")
    reason = None
    if reason_code.strip() or reason_text.strip():
        reason = Reason(reason_code.strip() or "unspecified", reason_text.strip() or reason_code.strip())
    try:
        outcome = rules.record_outcome(BatchStatus(batch.status), _outcome(line), paid=paid, reason=reason)
    except (rules.TransitionError, ValueError) as error:
        raise ClaimError(_outcome_message(error)) from error
    _store_outcome(line, outcome, user)
    try:
        db.session.flush()
    except IntegrityError as error:  # the caller rolls back
        raise ClaimError("This line was resubmitted in another batch already; it cannot be paid here.") from error
    audit.record("update", line.invoice_line.invoice.patient_id, f"claim {line.claim_reference}",
                 f"outcome {outcome.status.value}, paid {outcome.paid}", user=user)
    _close_if_complete(batch, user)
    return line


def _outcome_message(error: Exception) -> str:
    text = str(error)
    if "needs a reason" in text:
        return "A rejection needs the insurer's reason code or text."
    if "outside" in text:
        return f"The amount paid must lie between 0 and the amount claimed ({text.split('outside ')[-1][:20]})."
    return text[0].upper() + text[1:] + "."


def history(invoice_line_id: int) -> list[ClaimLine]:
    """Every time the invoice line was in a batch, oldest first."""
    return list(db.session.scalars(
        select(ClaimLine).join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
        .where(ClaimLine.invoice_line_id == invoice_line_id).order_by(ClaimLine.id)))


def _attempts(lines: Iterable[ClaimLine]) -> list[rules.ClaimAttempt]:
    return [rules.ClaimAttempt(line.batch.number, line.claim_reference or "", BatchStatus(line.batch.status),
                               _outcome(line)) for line in lines if line.included]


def resubmit(lines: Iterable[ClaimLine], user=None, today: date | None = None) -> ClaimBatch:
    """Rejected lines (after a fix) go into a new draft batch, each pointing at its rejected attempt."""
    lines = list(lines)
    if not lines:
        raise ClaimError("Choose at least one rejected line to resubmit.")
    insurers = {line.batch.insurer_id for line in lines}
    if len(insurers) > 1:
        raise ClaimError("Resubmit the lines of one insurer at a time.")
    for line in lines:
        if LineStatus(line.status) is not LineStatus.REJECTED:
            raise ClaimError(f"Claim {line.claim_reference} was not rejected: only rejected lines are resubmitted.")
        if not rules.can_resubmit(_attempts(history(line.invoice_line_id))):
            raise ClaimError(f"Claim {line.claim_reference} is already claimed again or was paid.")
    today = today or date.today()
    start = min(line.batch.period_start for line in lines)
    end = max(line.batch.period_end for line in lines)
    batch = _new_batch(db.session.get(Insurer, insurers.pop()), start, end, user, today)
    _add_lines(batch, [line.invoice_line_id for line in lines], {line.invoice_line_id: line.id for line in lines})
    validate(batch, today=today)
    return batch


# ---- reading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LineView:
    """One line of the batch page."""

    line: ClaimLine
    invoice_line: InvoiceLine
    invoice_number: str
    patient_id: int
    patient_name: str
    reasons: list[Reason]


def batch_lines(batch: ClaimBatch) -> list[LineView]:
    rows = db.session.execute(
        select(ClaimLine, InvoiceLine, Invoice.number, Patient.id, Patient.first_name, Patient.infix,
               Patient.last_name)
        .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Patient, Patient.id == Invoice.patient_id)
        .where(ClaimLine.batch_id == batch.id)
        .order_by(ClaimLine.sequence.is_(None), ClaimLine.sequence, InvoiceLine.treatment_date, ClaimLine.id)
    ).all()
    return [LineView(line, invoice_line, number or "", patient_id,
                     " ".join(p for p in (first, infix, last) if p), reasons_of(line))
            for line, invoice_line, number, patient_id, first, infix, last in rows]


@dataclass(frozen=True)
class BatchTotals:
    included: int
    excluded: int
    claimed_cents: int
    paid_cents: int
    pending: int
    rejected: int


def batch_totals(batch_id: int) -> BatchTotals:
    row = db.session.execute(
        select(func.count().filter(ClaimLine.included), func.count().filter(ClaimLine.included.is_(False)),
               func.coalesce(func.sum(ClaimLine.claimed_cents).filter(ClaimLine.included), 0),
               func.coalesce(func.sum(ClaimLine.paid_cents), 0),
               func.count().filter(ClaimLine.included, ClaimLine.status == "pending"),
               func.count().filter(ClaimLine.status == "rejected"))
        .where(ClaimLine.batch_id == batch_id)
    ).one()
    return BatchTotals(*(int(v or 0) for v in row))


def batches(insurer_id: int | None = None, limit: int = 200) -> list[tuple[ClaimBatch, BatchTotals]]:
    query = select(ClaimBatch).order_by(ClaimBatch.created_at.desc(), ClaimBatch.id.desc()).limit(limit)
    if insurer_id is not None:
        query = query.where(ClaimBatch.insurer_id == insurer_id)
    found = list(db.session.scalars(query))
    totals: dict[int, BatchTotals] = {}
    if found:
        rows = db.session.execute(
            select(ClaimLine.batch_id, func.count().filter(ClaimLine.included),
                   func.count().filter(ClaimLine.included.is_(False)),
                   func.coalesce(func.sum(ClaimLine.claimed_cents).filter(ClaimLine.included), 0),
                   func.coalesce(func.sum(ClaimLine.paid_cents), 0),
                   func.count().filter(ClaimLine.included, ClaimLine.status == "pending"),
                   func.count().filter(ClaimLine.status == "rejected"))
            .where(ClaimLine.batch_id.in_([b.id for b in found])).group_by(ClaimLine.batch_id))
        totals = {batch_id: BatchTotals(*(int(v or 0) for v in rest)) for batch_id, *rest in rows}
    empty = BatchTotals(0, 0, 0, 0, 0, 0)
    return [(b, totals.get(b.id, empty)) for b in found]


def batch_patient_ids(batch: ClaimBatch) -> list[int]:
    return list(db.session.scalars(
        _batch_treatments(batch.id, Treatment.patient_id).distinct().order_by(Treatment.patient_id)))


# ---- patient-submitted claims (restitution) -------------------------------------------------------------------


def patient_claimable_lines(insurer_id: int, limit: int = 500) -> list[tuple[InvoiceLine, str, Patient]]:
    """Issued, reimbursable, uncredited lines of the insurer's treatments that no one has claimed yet."""
    rows = db.session.execute(
        select(InvoiceLine, Invoice.number, Patient)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Patient, Patient.id == Invoice.patient_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(Invoice.status == "issued", InvoiceLine.reimbursable, Treatment.insurer_id == insurer_id,
               ~exists().where(CreditNoteLine.invoice_line_id == InvoiceLine.id),
               ~_claimed_before(InvoiceLine.id))
        .order_by(InvoiceLine.treatment_date.desc(), InvoiceLine.id.desc()).limit(limit)
    ).all()
    return [(line, number, patient) for line, number, patient in rows]


def record_patient_claim(invoice_line: InvoiceLine, insurer_id: int, submitted_on: date, *,
                         paid: Decimal | None = None, paid_on: date | None = None, reason_code: str = "",
                         reason_text: str = "", user=None, claim: PatientClaim | None = None) -> PatientClaim:
    """Record (or update) that the patient sent the declaration for this line, and what the insurer paid."""
    if claim is None:
        taken = db.session.scalar(select(ClaimLine.id).where(
            ClaimLine.invoice_line_id == invoice_line.id,
            or_(ClaimLine.live.is_(True), ClaimLine.status == "rejected")).limit(1))
        if taken is not None:
            raise ClaimError("The clinic claims this line itself (it is in a claim batch).")
        if db.session.scalar(select(PatientClaim.id).where(PatientClaim.invoice_line_id == invoice_line.id)):
            raise ClaimError("This line already has a patient-submitted claim: change that one.")
        claim = PatientClaim(invoice_line_id=invoice_line.id, insurer_id=insurer_id,
                             claimed_cents=invoice_line.insurer_amount_cents, recorded_by_id=_user_id(user))
        db.session.add(claim)
    claim.submitted_on = submitted_on
    claimed = from_cents(claim.claimed_cents)
    reason = None
    if reason_code.strip() or reason_text.strip():
        reason = Reason(reason_code.strip() or "unspecified", reason_text.strip() or reason_code.strip())
    if paid is None:
        claim.status, claim.paid_cents, claim.paid_on = "pending", 0, None
        claim.rejection_code = claim.rejection_text = ""
    else:
        try:
            outcome = rules.outcome_for(claimed, paid, reason)
        except ValueError as error:
            raise ClaimError(_outcome_message(error)) from error
        claim.status = outcome.status.value
        claim.paid_cents = to_cents(outcome.paid)
        claim.paid_on = paid_on
        claim.rejection_code = outcome.reason.code if outcome.reason else ""
        claim.rejection_text = outcome.reason.text() if outcome.reason else ""
    db.session.flush()
    audit.record("update", invoice_line.invoice.patient_id, f"patient claim {claim.id}",
                 f"declaration submitted by the patient on {submitted_on:%d-%m-%Y}; status {claim.status}",
                 user=user)
    return claim


def patient_claims(limit: int = 200) -> list[tuple[PatientClaim, InvoiceLine, str, Patient]]:
    rows = db.session.execute(
        select(PatientClaim, InvoiceLine, Invoice.number, Patient)
        .join(InvoiceLine, InvoiceLine.id == PatientClaim.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .join(Patient, Patient.id == Invoice.patient_id)
        .order_by(PatientClaim.submitted_on.desc(), PatientClaim.id.desc()).limit(limit)
    ).all()
    return [tuple(row) for row in rows]


# ---- outcome statistics ---------------------------------------------------------------------------------------


def outcome_tallies(start: date | None = None, end: date | None = None) -> list[OutcomeTally]:
    """Claim outcomes grouped in SQL per insurer, indication, status and reason, for both routes."""
    tallies: list[OutcomeTally] = []

    def period(column) -> list:
        conditions = []
        if start is not None:
            conditions.append(column >= start)
        if end is not None:
            conditions.append(column <= end)
        return conditions

    batch_rows = db.session.execute(
        select(Insurer.name, Treatment.indication, ClaimLine.status, ClaimLine.rejection_code,
               ClaimLine.rejection_text, func.count(), func.sum(ClaimLine.claimed_cents),
               func.sum(ClaimLine.paid_cents))
        .select_from(ClaimLine)
        .join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
        .join(Insurer, Insurer.id == ClaimBatch.insurer_id)
        .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(ClaimLine.included, ClaimBatch.status.in_(("submitted", "closed")),
               *period(InvoiceLine.treatment_date))
        .group_by(Insurer.name, Treatment.indication, ClaimLine.status, ClaimLine.rejection_code,
                  ClaimLine.rejection_text))
    patient_rows = db.session.execute(
        select(Insurer.name, Treatment.indication, PatientClaim.status, PatientClaim.rejection_code,
               PatientClaim.rejection_text, func.count(), func.sum(PatientClaim.claimed_cents),
               func.sum(PatientClaim.paid_cents))
        .select_from(PatientClaim)
        .join(Insurer, Insurer.id == PatientClaim.insurer_id)
        .join(InvoiceLine, InvoiceLine.id == PatientClaim.invoice_line_id)
        .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
        .where(*period(InvoiceLine.treatment_date))
        .group_by(Insurer.name, Treatment.indication, PatientClaim.status, PatientClaim.rejection_code,
                  PatientClaim.rejection_text))
    for route, rows in ((rules.ClaimRoute.BATCH, batch_rows), (rules.ClaimRoute.PATIENT, patient_rows)):
        for insurer, indication, status, code, text, count, claimed, paid in rows:
            reason = None
            if status == LineStatus.REJECTED.value:
                reason = Reason(code or "unspecified", text or code or "Rejected without a stated reason.")
            tallies.append(OutcomeTally(
                insurer=insurer, indication=INDICATIONS[Indication(indication)].label, status=LineStatus(status),
                claimed=from_cents(int(claimed or 0)), paid=from_cents(int(paid or 0)), reason=reason,
                lines=int(count), route=route))
    return tallies


def outcomes(per_indication: bool = True, start: date | None = None, end: date | None = None,
             top: int = 3) -> list[rules.OutcomeStats]:
    return rules.outcome_statistics(outcome_tallies(start, end), per_indication=per_indication, top=top)
