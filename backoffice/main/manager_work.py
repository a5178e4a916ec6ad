"""The manager's part of the home page: credentials running out, and the month's close for the month just ended
and the one running (templates/main/_manager_work.html renders it; main/views.py calls `manager_work`).

What tells that a month is closed, truthfully:
- the monthly report and the month-end pack were exported: the access log's "export" entries the reporting
  feature writes for every download and command-line run ("monthly report 2026-11", "month-end pack 2026-11";
  backoffice/reporting/views.py and cli.py). Only exports made after the month ended count: one made while the
  month ran holds part of it. The pack holds the report, so a pack counts as the report exported too.
- nothing of the month was recorded after that export: an invoice or credit note dated in the month and issued
  later, or a payment dated in the month and recorded later, is missing from what went to the accountant
  (`changed_since`).
- no claimable line of the month is left unclaimed: issued, reimbursable, uncredited invoice lines of directly
  billed insurers not yet in a claim, as claims/batches.py `candidate_lines` selects them for a new batch.

Credentials come from credentials/services.py `credential_report` in the stages the managers' e-mail uses
(domain.credential_alerts). All figures are plain data: the page renders them and tests read them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from sqlalchemy import and_, exists, func, select

from ..claims.batches import candidate_lines
from ..claims.settings import settings_for
from ..clock import clinic_timezone
from ..credentials.services import CredentialLine, credential_report
from ..domain.credential_alerts import STAGE_LABELS, STAGE_ORDER, AlertStage, stage_on
from ..domain.money import from_cents
from ..domain.months import Month
from ..extensions import db
from ..models import AccessLog, CreditNote, Insurer, Invoice, InvoiceLine, Payment

ZERO = Decimal("0.00")


@dataclass(frozen=True)
class CredentialGroup:
    stage: AlertStage
    lines: tuple[CredentialLine, ...]

    @property
    def label(self) -> str:
        return str(STAGE_LABELS[self.stage])


@dataclass(frozen=True)
class Export:
    """The latest export of a month's report or pack made after the month ended."""

    at: datetime
    by: str               # the account's e-mail as the access log has it; "(system)" for cron
    changed_since: bool   # documents or payments of the month were recorded after it


@dataclass(frozen=True)
class UnclaimedInsurer:
    insurer_id: int
    name: str
    lines: int
    amount: Decimal       # the expected reimbursement of those lines


@dataclass(frozen=True)
class MonthClose:
    month: Month
    over: bool                      # the month has ended: its report and pack can be made
    report: Export | None           # the report's own export, else the pack's (report_in_pack)
    report_in_pack: bool
    pack: Export | None
    unclaimed: tuple[UnclaimedInsurer, ...]

    @property
    def unclaimed_lines(self) -> int:
        return sum(insurer.lines for insurer in self.unclaimed)

    @property
    def unclaimed_amount(self) -> Decimal:
        return sum((insurer.amount for insurer in self.unclaimed), ZERO)

    @property
    def done(self) -> bool:
        exported = all(export is not None and not export.changed_since for export in (self.report, self.pack))
        return self.over and exported and not self.unclaimed


@dataclass(frozen=True)
class ManagerWork:
    today: date
    credentials: tuple[CredentialGroup, ...]   # the groups with something in them, most urgent first
    months: tuple[MonthClose, ...]             # the month just ended, then the running one

    @property
    def credentials_count(self) -> int:
        return sum(len(group.lines) for group in self.credentials)


def credential_groups(today: date) -> tuple[CredentialGroup, ...]:
    report = credential_report(today, unclaimable=False)
    lines = list(report.expired) + [line for group in report.expiring.values() for line in group]
    grouped: dict[AlertStage, list[CredentialLine]] = {}
    for line in lines:
        stage = stage_on(line.ends_on, today)
        if stage is not None:
            grouped.setdefault(stage, []).append(line)
    return tuple(CredentialGroup(stage, tuple(sorted(grouped[stage], key=lambda line: (line.ends_on, line.therapist))))
                 for stage in STAGE_ORDER if stage in grouped)


def _month_end(month: Month) -> datetime:
    """The moment the month ended at the clinic, in UTC (as the access log stores moments)."""
    return datetime.combine(month.last + timedelta(days=1), time(0), tzinfo=clinic_timezone()).astimezone(UTC)


def report_subject(month: Month) -> str:
    return f"monthly report {month.iso}"


def pack_subject(month: Month) -> str:
    return f"month-end pack {month.iso}"


def _latest_exports(month: Month) -> dict[str, tuple[datetime, str]]:
    """subject -> (moment, by) of the latest report and pack export made after the month ended."""
    rows = db.session.execute(
        select(AccessLog.subject, AccessLog.at, AccessLog.user_email)
        .where(AccessLog.action == "export", AccessLog.patient_id.is_(None),
               AccessLog.subject.in_((report_subject(month), pack_subject(month))),
               AccessLog.at >= _month_end(month))
        .order_by(AccessLog.at, AccessLog.id))
    return {subject: (at, by) for subject, at, by in rows}  # the latest wins


def changed_since(month: Month, moment: datetime) -> bool:
    """Was an invoice or credit note dated in the month issued, or a payment dated in the month recorded, after
    `moment`? Then an export made at `moment` misses it."""
    first, last = month.first, month.last
    return bool(db.session.scalar(select(
        exists().where(Invoice.issue_date.between(first, last), Invoice.issued_at > moment)
        | exists().where(CreditNote.issue_date.between(first, last), CreditNote.created_at > moment)
        | exists().where(Payment.paid_on.between(first, last), Payment.created_at > moment))))


def unclaimed_lines(months: tuple[Month, ...]) -> dict[Month, tuple[UnclaimedInsurer, ...]]:
    """Per month, the lines a new claim batch would take, per directly billed active insurer (one query per
    insurer over all the months, counted per month in SQL)."""
    found: dict[Month, list[UnclaimedInsurer]] = {month: [] for month in months}
    if not months:
        return {}
    start, end = min(m.first for m in months), max(m.last for m in months)
    for insurer in db.session.scalars(select(Insurer).where(Insurer.active).order_by(Insurer.name, Insurer.id)):
        if not settings_for(insurer.id).direct_billing:
            continue  # its patients claim themselves
        in_month = [and_(InvoiceLine.treatment_date >= m.first, InvoiceLine.treatment_date <= m.last)
                    for m in months]
        columns = []
        for condition in in_month:
            columns += [func.count().filter(condition),
                        func.coalesce(func.sum(InvoiceLine.insurer_amount_cents).filter(condition), 0)]
        row = db.session.execute(select(*columns).where(
            InvoiceLine.id.in_(candidate_lines(insurer.id, start, end).order_by(None)))).one()
        for index, month in enumerate(months):
            count, cents = int(row[2 * index] or 0), int(row[2 * index + 1] or 0)
            if count:
                found[month].append(UnclaimedInsurer(insurer.id, insurer.name, count, from_cents(cents)))
    return {month: tuple(insurers) for month, insurers in found.items()}


def month_close(month: Month, today: date, unclaimed: tuple[UnclaimedInsurer, ...]) -> MonthClose:
    over = month.last < today
    exports = _latest_exports(month) if over else {}

    def export(subject: str) -> Export | None:
        if subject not in exports:
            return None
        at, by = exports[subject]
        return Export(at, by, changed_since(month, at))

    pack = export(pack_subject(month))
    report = export(report_subject(month))
    in_pack = False
    if pack is not None and (report is None or report.at < pack.at):
        report, in_pack = pack, True  # the pack's report is the later one
    return MonthClose(month, over, report, in_pack, pack, unclaimed)


def manager_work(today: date) -> ManagerWork:
    current = Month.of(today)
    months = (current.previous(), current)
    unclaimed = unclaimed_lines(months)
    return ManagerWork(today=today, credentials=credential_groups(today),
                       months=tuple(month_close(month, today, unclaimed[month]) for month in months))
