"""The day's work on the home page: one list per job, each item linking to where the job is done.

- at the chair (therapist): today's and yesterday's treatments, drafts to issue, documents to hand out (invoices
  issued today or yesterday and aftercare sheets of today's treatments that were neither printed nor sent);
- at the billing desk (admin): treatments not yet invoiced per patient, claimable lines not yet in a batch per
  insurer with the claim deadline, the records that block a claim grouped per reason, batches waiting too long for
  their outcome, overdue invoices with their reminder stage.

Each list is one query whatever the data's size (the claimable lines and what blocks them share one pass): it
selects at most LIST_LIMIT items and counts all of them in the same statement (a window count; overdue invoices up
to OVERDUE_COUNT_LIMIT), sums in SQL; the page's statement count does not grow with the data (a test counts them).
What a section shows follows the user's permissions (`allowed_sections`), and a therapist limited to their own
patients (backoffice/care/) sees only those.

A document counts as handed out once the access log has a "print" or "export" entry for it after issue (a download,
a batch print) or a sent e-mail (backoffice/mail/, DocumentSending): printing at issue
("PDF rendered at issue", invoicing/services.py) is not handing out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Generic, TypeVar

from flask import current_app
from sqlalchemy import ColumnElement, Select, String, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import selectinload

from ..care import services as care
from ..claims import batches
from ..clock import clinic_timezone, utc_now
from ..domain import invoicing as invoicing_rules
from ..domain import worklists as rules
from ..domain.claim_facts import DEFAULT_DEADLINE_MONTHS
from ..domain.claims import BatchStatus, LineStatus
from ..domain.credentials import Badge
from ..domain.money import to_cents
from ..domain.patient_mail import SendingKind, SendingStatus
from ..domain.roles import Permission
from ..domain.statuses import InvoiceStatus
from ..extensions import db
from ..invoicing import balance
from ..invoicing.services import not_invoiced
from ..models import (
    AccessLog,
    CatalogueItem,
    ClaimBatch,
    ClaimLine,
    CoverageRule,
    DocumentSending,
    Insurer,
    InsurerClaimSettings,
    Intake,
    Invoice,
    InvoicedTreatment,
    InvoiceLine,
    Patient,
    Referral,
    Therapist,
    Treatment,
    User,
)
from ..reminders import services as reminders
from ..reminders.services import ReminderStatus

T = TypeVar("T")

# Items shown per list; the heading counts them all and the list's own page has the rest.
LIST_LIMIT = 15
# Overdue invoices are counted up to this many ("100+").
OVERDUE_COUNT_LIMIT = 100
# The claim check looks at this many unclaimed lines at most (oldest first): enough for months of a busy practice.
BLOCKER_LINE_LIMIT = 5000
# The access log's entry for the PDF rendered when an invoice is issued (invoicing/services.py): not handed out.
ISSUE_PRINT_DETAIL = "PDF rendered at issue"
HANDED_OUT_ACTIONS = ("print", "export")

# The sections of the page and the permissions each needs (all of them). The chair's lists go to whoever records
# treatments; the billing desk's to whoever claims from insurers (the admin), so a therapist who may also issue
# invoices is not shown the practice's whole invoicing backlog.
P = Permission
SECTION_PERMISSIONS: dict[str, tuple[Permission, ...]] = {
    "treatments": (P.TREATMENTS_WRITE,),
    "drafts": (P.TREATMENTS_WRITE, P.INVOICES_WRITE),
    "hand_out": (P.TREATMENTS_WRITE, P.INVOICES_READ),
    "uninvoiced": (P.CLAIMS_WRITE, P.INVOICES_WRITE),
    "claimable": (P.CLAIMS_WRITE,),
    "blockers": (P.CLAIMS_WRITE, P.PATIENTS_WRITE),
    "waiting": (P.CLAIMS_WRITE,),
    "overdue": (P.CLAIMS_WRITE, P.INVOICES_WRITE),
    "manager": (P.REPORTS_READ,),
}
CHAIR = ("treatments", "drafts", "hand_out")
DESK = ("uninvoiced", "claimable", "blockers", "waiting", "overdue")


def allowed_sections(can: Callable[[Permission], bool]) -> frozenset[str]:
    """The sections a user holding the permissions `can` answers for may see. The manager's overview (the month's
    close, credentials running out: main/manager_work.py) is not repeated at the billing desk, whose own lists hold
    the unclaimed lines and whose credential list the rest (and it would double the page's time: 2.7 s of 3.7 s
    on the bench chain)."""
    sections = {name for name, needed in SECTION_PERMISSIONS.items() if all(can(p) for p in needed)}
    if sections & set(DESK):
        sections.discard("manager")
    return frozenset(sections)


@dataclass(frozen=True)
class Listed(Generic[T]):
    """The first items of a list and how many there are in all."""

    items: list[T]
    total: int
    capped: bool = False               # there are more than `total`: the heading says "total+"

    @property
    def more(self) -> int:
        return max(self.total - len(self.items), 0)


def _listed(rows: Sequence[Any], make: Callable[[Any], T]) -> Listed[T]:
    return Listed([make(row) for row in rows], int(rows[0].total) if rows else 0)


def _name(first: str, infix: str | None, last: str) -> str:
    return " ".join(part for part in (first, infix, last) if part)


_NAMES = (Patient.first_name, Patient.infix, Patient.last_name)


def _patient_name(row: Any) -> str:
    return _name(row.first_name, row.infix, row.last_name)


# ---- who the lists are for --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """Whose work: the user, their own therapist record ("my treatments"), and the patients they may see (a
    subquery of ids when the practice limits therapists to their own patients; None: all)."""

    user_id: int
    therapist_id: int | None
    patients: Any | None


def scope_for(user: User) -> Scope:
    therapist_id = db.session.scalar(select(Therapist.id).where(Therapist.user_id == user.id))
    patients = care.related_patient_ids(therapist_id) if care.limited(user) else None
    return Scope(user.id, therapist_id, patients)


def _visible(column: Any, scope: Scope) -> list[ColumnElement[bool]]:
    return [] if scope.patients is None else [column.in_(scope.patients)]


def _own_treatments(scope: Scope) -> list[ColumnElement[bool]]:
    """A therapist's own treatments; a user who is no therapist sees every treatment they may see."""
    own = [] if scope.therapist_id is None else [Treatment.therapist_id == scope.therapist_id]
    return own + _visible(Treatment.patient_id, scope)


def _own_invoices(scope: Scope) -> list[ColumnElement[bool]]:
    """A therapist's own invoices: made by them or with a treatment of theirs on it."""
    own: list[ColumnElement[bool]] = []
    if scope.therapist_id is not None:
        theirs = (select(InvoiceLine.id).join(Treatment, Treatment.id == InvoiceLine.treatment_id)
                  .where(InvoiceLine.invoice_id == Invoice.id, Treatment.therapist_id == scope.therapist_id)
                  .exists())
        own.append(or_(Invoice.created_by_id == scope.user_id, Invoice.issued_by_id == scope.user_id, theirs))
    return own + _visible(Invoice.patient_id, scope)


# ---- documents handed out ---------------------------------------------------------------------------------

def _logged(patient_id: Any, subject: Any, *more: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(AccessLog.patient_id == patient_id, AccessLog.action.in_(HANDED_OUT_ACTIONS),
                          AccessLog.subject == subject, *more)


def _sent(*match: ColumnElement[bool]) -> ColumnElement[bool]:
    return exists().where(DocumentSending.status == SendingStatus.SENT.value, *match)


def invoice_handed_out() -> ColumnElement[bool]:
    """The invoice was downloaded, printed in a batch or sent after issue (printing at issue does not count)."""
    logged = _logged(Invoice.patient_id, literal("invoice ") + Invoice.number, AccessLog.detail != ISSUE_PRINT_DETAIL)
    return or_(logged, _sent(DocumentSending.invoice_id == Invoice.id,
                             DocumentSending.kind == SendingKind.INVOICE.value))


def aftercare_handed_out() -> ColumnElement[bool]:
    """The treatment's aftercare sheet was printed (declarations.aftercare_pdf logs "treatment <id>") or sent."""
    logged = _logged(Treatment.patient_id, literal("treatment ") + cast(Treatment.id, String))
    return or_(logged, _sent(DocumentSending.treatment_id == Treatment.id,
                             DocumentSending.kind == SendingKind.AFTERCARE.value))


# ---- at the chair -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TreatmentItem:
    treatment_id: int
    treatment_date: date
    patient_id: int
    patient_name: str
    item_name: str
    therapist_name: str
    invoice_id: int | None = None      # the invoice it is on (draft or issued); None: not invoiced yet


def _treatment_item(row: Any) -> TreatmentItem:
    return TreatmentItem(row.id, row.treatment_date, row.patient_id, _patient_name(row), row.item_name,
                         row.therapist_name, row.invoice_id)


def _treatments_query(*where: ColumnElement[bool]) -> Select:
    invoice_id = (select(InvoiceLine.invoice_id)
                  .join(InvoicedTreatment, InvoicedTreatment.invoice_line_id == InvoiceLine.id)
                  .where(InvoicedTreatment.treatment_id == Treatment.id).scalar_subquery())
    return (select(Treatment.id, Treatment.treatment_date, Treatment.patient_id, *_NAMES,
                   CatalogueItem.name.label("item_name"), Therapist.name.label("therapist_name"),
                   invoice_id.label("invoice_id"), func.count().over().label("total"))
            .join(Patient, Patient.id == Treatment.patient_id)
            .join(CatalogueItem, CatalogueItem.id == Treatment.catalogue_item_id)
            .join(Therapist, Therapist.id == Treatment.therapist_id)
            .where(Treatment.withdrawn_at.is_(None), *where)
            .order_by(Treatment.treatment_date.desc(), Treatment.id.desc())
            .limit(LIST_LIMIT))


def day_treatments(scope: Scope, today: date) -> Listed[TreatmentItem]:
    """Today's and yesterday's treatments (the therapist's own), latest first, with the invoice each is on."""
    rows = db.session.execute(_treatments_query(
        Treatment.treatment_date.between(today - timedelta(days=1), today), *_own_treatments(scope))).all()
    return _listed(rows, _treatment_item)


def aftercare_to_hand_out(scope: Scope, today: date) -> Listed[TreatmentItem]:
    """Today's treatments whose aftercare sheet was neither printed nor sent."""
    rows = db.session.execute(_treatments_query(
        Treatment.treatment_date == today, ~aftercare_handed_out(), *_own_treatments(scope))).all()
    return _listed(rows, _treatment_item)


@dataclass(frozen=True)
class InvoiceItem:
    invoice_id: int
    number: str | None                 # None: a draft
    patient_id: int
    patient_name: str
    day: date | datetime               # an invoice's issue date, a draft's creation moment
    total_cents: int


def _invoices_query(*where: ColumnElement[bool]) -> Select:
    return (select(Invoice.id, Invoice.number, Invoice.patient_id, *_NAMES, Invoice.issue_date, Invoice.created_at,
                   Invoice.total_gross_cents, func.count().over().label("total"))
            .join(Patient, Patient.id == Invoice.patient_id)
            .where(*where)
            .limit(LIST_LIMIT))


def _invoice_item(row: Any) -> InvoiceItem:
    return InvoiceItem(row.id, row.number, row.patient_id, _patient_name(row), row.issue_date or row.created_at,
                       row.total_gross_cents)


def drafts(scope: Scope) -> Listed[InvoiceItem]:
    """Draft invoices still to issue (the therapist's own), oldest first."""
    rows = db.session.execute(_invoices_query(Invoice.status == InvoiceStatus.DRAFT, *_own_invoices(scope))
                              .order_by(Invoice.created_at, Invoice.id)).all()
    return _listed(rows, _invoice_item)


def invoices_to_hand_out(scope: Scope, today: date) -> Listed[InvoiceItem]:
    """Invoices issued today or yesterday (the therapist's own) that were neither printed nor sent since."""
    rows = db.session.execute(_invoices_query(
        Invoice.status == InvoiceStatus.ISSUED, Invoice.issue_date.between(today - timedelta(days=1), today),
        ~invoice_handed_out(), *_own_invoices(scope)).order_by(Invoice.issue_date.desc(), Invoice.id.desc())).all()
    return _listed(rows, _invoice_item)


# ---- at the billing desk ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class UninvoicedPatient:
    patient_id: int
    patient_name: str
    treatments: int
    total_cents: int
    oldest: date


@dataclass(frozen=True)
class Uninvoiced:
    listed: Listed[UninvoicedPatient]
    treatments: int                    # of all patients
    total_cents: int


def uninvoiced(scope: Scope, today: date) -> Uninvoiced:
    """Treatments up to today on no invoice, per patient (count, total, oldest date), oldest first."""
    oldest = func.min(Treatment.treatment_date)
    count, cents = func.count(Treatment.id), func.sum(Treatment.price_cents)
    rows = db.session.execute(
        select(Treatment.patient_id, *_NAMES, count.label("treatments"), cents.label("cents"), oldest.label("oldest"),
               func.count().over().label("total"), func.sum(count).over().label("all_treatments"),
               func.sum(cents).over().label("all_cents"))
        .join(Patient, Patient.id == Treatment.patient_id)
        .where(not_invoiced(), Treatment.treatment_date <= today, *_visible(Treatment.patient_id, scope))
        .group_by(Treatment.patient_id, *_NAMES)
        .order_by(oldest, Treatment.patient_id)
        .limit(LIST_LIMIT)).all()
    listed = _listed(rows, lambda row: UninvoicedPatient(row.patient_id, _patient_name(row), int(row.treatments),
                                                          int(row.cents or 0), row.oldest))
    return Uninvoiced(listed, int(rows[0].all_treatments) if rows else 0, int(rows[0].all_cents or 0) if rows else 0)


def _direct_billing() -> ColumnElement[bool]:
    """The insurer is billed directly (claim batches): its setting, or the default (settings.settings_for)."""
    return or_(InsurerClaimSettings.direct_billing.is_(None), InsurerClaimSettings.direct_billing.is_(True))


def _claimable_lines(*columns: Any) -> Select:
    """Invoice lines a batch could claim now (claims/batches.claimable), of insurers billed directly."""
    return (select(*columns)
            .select_from(InvoiceLine)
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .join(Treatment, Treatment.id == InvoiceLine.treatment_id)
            .join(Insurer, Insurer.id == Treatment.insurer_id)
            .outerjoin(InsurerClaimSettings, InsurerClaimSettings.insurer_id == Insurer.id)
            .where(*batches.claimable(), _direct_billing()))


@dataclass(frozen=True)
class ClaimableInsurer:
    insurer_id: int
    name: str
    uzovi: str
    lines: int
    amount_cents: int                  # charged on the lines
    expected_cents: int                # the insurer's part to claim
    oldest: date
    deadline: rules.Deadline           # of the oldest line


_MONTHS = func.coalesce(InsurerClaimSettings.deadline_months, DEFAULT_DEADLINE_MONTHS)


def _claimable_insurer(row: Any, today: date, lines: Any, amount: Any, expected: Any, oldest: Any) -> ClaimableInsurer:
    return ClaimableInsurer(row.insurer_id, row.insurer_name, row.uzovi, int(lines), int(amount or 0),
                            int(expected or 0), oldest, rules.deadline_of(oldest, int(row.months), today))


def claimable_per_insurer(today: date) -> list[ClaimableInsurer]:
    """Per insurer billed directly: its unclaimed lines, their totals and the deadline of the oldest."""
    oldest = func.min(InvoiceLine.treatment_date)
    rows = db.session.execute(
        _claimable_lines(Insurer.id.label("insurer_id"), Insurer.name.label("insurer_name"), Insurer.uzovi,
                         _MONTHS.label("months"), func.count(InvoiceLine.id).label("lines"),
                         func.sum(InvoiceLine.gross_cents).label("amount"),
                         func.sum(InvoiceLine.insurer_amount_cents).label("expected"), oldest.label("oldest"))
        .group_by(Insurer.id, Insurer.name, Insurer.uzovi, _MONTHS)
        .order_by(oldest, Insurer.name)).all()
    return [_claimable_insurer(row, today, row.lines, row.amount, row.expected, row.oldest) for row in rows]


@dataclass(frozen=True)
class Blockers:
    groups: list[rules.BlockerGroup]
    lines_checked: int
    capped: bool                       # more lines than BLOCKER_LINE_LIMIT: the oldest were checked


@dataclass(frozen=True)
class ClaimWork:
    per_insurer: list[ClaimableInsurer]
    blockers: Blockers


def claim_work(today: date, intake_validity_months: int) -> ClaimWork:
    """The unclaimed lines of insurers billed directly, in one pass over the invoice lines (the costly part: every
    issued reimbursable line is looked up in the claims): per insurer their count, totals and deadline (window
    sums in SQL), and what the claim check would find missing on them (BSN and ID document where the insurer asks
    for the BSN, prestatiecode, referral, an intake valid on the treatment date), grouped per reason with the
    record to fix. The rule is the claim check's own (domain.invoicing.claim_gaps), fed as
    invoicing.services.claim_lines/claim_patient feed it. Beyond BLOCKER_LINE_LIMIT lines the oldest are checked
    and the totals per insurer come from their own query."""
    latest_intake = (select(func.max(Intake.intake_date))
                     .where(Intake.patient_id == Treatment.patient_id, Intake.intake_date <= Treatment.treatment_date)
                     .correlate(Treatment).scalar_subquery())
    per = Treatment.insurer_id
    rows = db.session.execute(
        _claimable_lines(
            InvoiceLine.treatment_id, InvoiceLine.treatment_date, InvoiceLine.prestatiecode,
            Treatment.patient_id, Treatment.catalogue_item_id, CatalogueItem.name.label("item_name"),
            Insurer.id.label("insurer_id"), Insurer.name.label("insurer_name"), Insurer.uzovi,
            _MONTHS.label("months"), InsurerClaimSettings.bsn_required,
            CoverageRule.referral_required, Referral.referral_date, Referral.valid_until,
            *_NAMES, Patient.bsn_encrypted, Patient.id_document_type, Patient.id_document_number,
            latest_intake.label("latest_intake"),
            func.count().over(partition_by=per).label("insurer_lines"),
            func.sum(InvoiceLine.gross_cents).over(partition_by=per).label("insurer_amount"),
            func.sum(InvoiceLine.insurer_amount_cents).over(partition_by=per).label("insurer_expected"),
            func.min(InvoiceLine.treatment_date).over(partition_by=per).label("insurer_oldest"))
        .join(Patient, Patient.id == Treatment.patient_id)
        .join(CatalogueItem, CatalogueItem.id == Treatment.catalogue_item_id)
        .outerjoin(CoverageRule, CoverageRule.id == Treatment.coverage_rule_id)
        .outerjoin(Referral, and_(Referral.id == Treatment.referral_id, Referral.withdrawn_at.is_(None)))
        .order_by(InvoiceLine.treatment_date, InvoiceLine.id)
        .limit(BLOCKER_LINE_LIMIT + 1)).all()
    capped = len(rows) > BLOCKER_LINE_LIMIT
    rows = rows[:BLOCKER_LINE_LIMIT]
    if capped:  # an insurer whose lines all lie beyond the limit would be missing
        per_insurer = claimable_per_insurer(today)
    else:
        firsts = {row.insurer_id: row for row in reversed(rows)}
        per_insurer = sorted((_claimable_insurer(row, today, row.insurer_lines, row.insurer_amount,
                                                 row.insurer_expected, row.insurer_oldest)
                              for row in firsts.values()), key=lambda item: (item.oldest, item.name))
    return ClaimWork(per_insurer, Blockers(_blocker_groups(rows, intake_validity_months), len(rows), capped))


def _blocker_groups(rows: Sequence[Any], intake_validity_months: int) -> list[rules.BlockerGroup]:
    per_patient: dict[int, list[Any]] = {}
    for row in rows:
        per_patient.setdefault(row.patient_id, []).append(row)
    found = []
    for patient_id, lines in per_patient.items():
        first = lines[0]
        patient = invoicing_rules.ClaimPatient(
            bsn_recorded=bool(first.bsn_encrypted),
            id_document_recorded=bool(first.id_document_type and (first.id_document_number or "").strip()),
            intake_dates=tuple({line.latest_intake for line in lines if line.latest_intake is not None}))
        claim_lines = [invoicing_rules.ClaimLine(
            treatment_id=line.treatment_id, treatment_date=line.treatment_date, description=line.item_name,
            catalogue_item_id=line.catalogue_item_id, prestatiecode=line.prestatiecode or "",
            insurer_name=line.insurer_name, bsn_required=bool(line.bsn_required),
            referral_required=bool(line.referral_required), referral_from=line.referral_date,
            referral_until=line.valid_until) for line in lines]
        missing = invoicing_rules.claim_gaps(patient, claim_lines, intake_validity_months)
        if missing:
            found.append(rules.PatientGaps(patient_id, _patient_name(first), missing))
    return rules.group_blockers(found, LIST_LIMIT)


@dataclass(frozen=True)
class WaitingBatch:
    batch_id: int
    number: str
    insurer_name: str
    submitted_on: date
    days: int
    pending_lines: int
    pending_cents: int


def waiting_batches(today: date, wait_days: int) -> Listed[WaitingBatch]:
    """Submitted batches without every outcome more than `wait_days` after submission, longest waiting first."""
    pending = and_(ClaimLine.included.is_(True), ClaimLine.status == LineStatus.PENDING.value)
    rows = db.session.execute(
        select(ClaimBatch.id, ClaimBatch.number, Insurer.name, ClaimBatch.submitted_at,
               func.count(ClaimLine.id).filter(pending).label("lines"),
               func.coalesce(func.sum(ClaimLine.claimed_cents).filter(pending), 0).label("cents"),
               func.count().over().label("total"))
        .join(Insurer, Insurer.id == ClaimBatch.insurer_id)
        .outerjoin(ClaimLine, ClaimLine.batch_id == ClaimBatch.id)
        .where(ClaimBatch.status == BatchStatus.SUBMITTED.value,
               ClaimBatch.submitted_at <= utc_now() - timedelta(days=wait_days))
        .group_by(ClaimBatch.id, ClaimBatch.number, Insurer.name, ClaimBatch.submitted_at)
        .order_by(ClaimBatch.submitted_at, ClaimBatch.id)
        .limit(LIST_LIMIT)).all()

    def make(row: Any) -> WaitingBatch:
        submitted = row.submitted_at.astimezone(clinic_timezone()).date()
        return WaitingBatch(row.id, row.number, row.name, submitted, (today - submitted).days, int(row.lines),
                            int(row.cents))

    return _listed(rows, make)


@dataclass(frozen=True)
class OverdueItem:
    invoice_id: int
    number: str
    patient_id: int
    patient_name: str
    due_date: date
    days_overdue: int
    balance_cents: int
    reminder: ReminderStatus | None = None  # the reminders sent and the next one due (backoffice/reminders/)


def overdue(scope: Scope, today: date) -> Listed[OverdueItem]:
    """Issued invoices past their due date with money still to pay (invoicing/balance.py: the overdue list's own
    definition), oldest due first, counted up to OVERDUE_COUNT_LIMIT: whether an invoice is overdue is derived from
    its payments and credit notes, so counting them all would read every invoice ever issued on every view."""
    first = (select(Invoice.id)
             .where(balance.in_state("overdue", today), *_visible(Invoice.patient_id, scope))
             .order_by(Invoice.due_date, Invoice.number)
             .limit(OVERDUE_COUNT_LIMIT + 1)
             .subquery())
    rows = db.session.execute(
        select(Invoice, *balance.status_columns(), *_NAMES, func.count().over().label("total"))
        .join(first, first.c.id == Invoice.id)
        .join(Patient, Patient.id == Invoice.patient_id)
        .order_by(Invoice.due_date, Invoice.number)
        .limit(LIST_LIMIT)).all()
    stages = reminders.stages_for([row.Invoice.id for row in rows], today) if rows else {}

    def make(row: Any) -> OverdueItem:
        invoice = row.Invoice
        status = balance.status_from_row(invoice, row, today)
        return OverdueItem(invoice.id, invoice.number or "", invoice.patient_id, _patient_name(row),
                           invoice.due_date, status.days_overdue, to_cents(status.balance),
                           stages.get(invoice.id))

    listed = _listed(rows, make)
    return Listed(listed.items, min(listed.total, OVERDUE_COUNT_LIMIT), listed.total > OVERDUE_COUNT_LIMIT)


# ---- credentials ------------------------------------------------------------------------------------------

def credential_attention(today: date, warn_days: int) -> list[tuple[Therapist, Any]]:
    """Active therapists whose credentials need attention on `today` (any badge but valid), with their status;
    three queries however many therapists."""
    therapists = db.session.scalars(
        select(Therapist).where(Therapist.active).order_by(Therapist.name)
        .options(selectinload(Therapist.nvh_memberships), selectinload(Therapist.kp_registrations)))
    found = [(therapist, therapist.badge(today, warn_days)) for therapist in therapists]
    return [(therapist, status) for therapist, status in found if status.badge is not Badge.VALID]


# ---- the page ---------------------------------------------------------------------------------------------

@dataclass
class HomeWork:
    """The lists a user may see (None: not theirs to see)."""

    sections: frozenset[str]
    treatments: Listed[TreatmentItem] | None = None
    drafts: Listed[InvoiceItem] | None = None
    invoices_to_hand_out: Listed[InvoiceItem] | None = None
    aftercare_to_hand_out: Listed[TreatmentItem] | None = None
    uninvoiced: Uninvoiced | None = None
    claimable: list[ClaimableInsurer] | None = None
    blockers: Blockers | None = None
    waiting: Listed[WaitingBatch] | None = None
    overdue: Listed[OverdueItem] | None = None
    wait_days: int = 0
    patient_ids: list[int] = field(default_factory=list)

    @property
    def chair(self) -> bool:
        return any(name in self.sections for name in CHAIR)

    @property
    def desk(self) -> bool:
        return any(name in self.sections for name in DESK)


def home_work(user: User, today: date, sections: frozenset[str]) -> HomeWork:
    """Every list of `sections` for `user` on `today`, and the patients they show (for the access log)."""
    scope = scope_for(user)
    work = HomeWork(sections, wait_days=int(current_app.config["CLAIM_OUTCOME_WAIT_DAYS"]))
    if "treatments" in sections:
        work.treatments = day_treatments(scope, today)
    if "drafts" in sections:
        work.drafts = drafts(scope)
    if "hand_out" in sections:
        work.invoices_to_hand_out = invoices_to_hand_out(scope, today)
        work.aftercare_to_hand_out = aftercare_to_hand_out(scope, today)
    if "uninvoiced" in sections:
        work.uninvoiced = uninvoiced(scope, today)
    if "claimable" in sections or "blockers" in sections:
        claims = claim_work(today, int(current_app.config["INTAKE_VALIDITY_MONTHS"]))
        work.claimable = claims.per_insurer if "claimable" in sections else None
        work.blockers = claims.blockers if "blockers" in sections else None
    if "waiting" in sections:
        work.waiting = waiting_batches(today, work.wait_days)
    if "overdue" in sections:
        work.overdue = overdue(scope, today)
    work.patient_ids = _shown_patients(work)
    return work


def _shown_patients(work: HomeWork) -> list[int]:
    shown: list[int] = []
    for listed in (work.treatments, work.drafts, work.invoices_to_hand_out, work.aftercare_to_hand_out,
                   work.overdue, work.uninvoiced.listed if work.uninvoiced else None):
        shown += [item.patient_id for item in listed.items] if listed else []
    for group in work.blockers.groups if work.blockers else ():
        for blocker in group.blockers:
            shown += blocker.patients if blocker.patient_id is not None else []
    return list(dict.fromkeys(shown))


