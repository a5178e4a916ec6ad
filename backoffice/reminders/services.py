"""Payment reminders: which invoices are due for which stage, creating a reminder (its PDF stored with the SHA-256)
and sending it by e-mail (backoffice/mail/) or listing it to print, the reminder stage of invoices for the lists,
and the practice's reminder settings with the collection-cost scale. The rules: backoffice/domain/reminders.py.

Services add and flush and never commit; the request or the command does. `send_due` (the cron command) stores
each reminder as soon as it went out (unit_of_work.checkpoint, as the report cache does): an e-mail cannot be
taken back, so a failure with the tenth invoice must not forget the nine sent before it. A second run the same
day finds their stages recorded and sends nothing twice. Two runs at the same moment cannot both record a stage:
the reminder row (unique per invoice and stage) is flushed before its e-mail goes out, so the second insert waits
for the first transaction and then fails.

A reminder goes by e-mail when the patient has a valid e-mail address, else it is listed "to print" (the list at
/reminders/ and the invoice page) until its PDF is first downloaded. A failed e-mail stays a failed sending that
can be retried (mail/services.py), with the same stored PDF.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from .. import audit, unit_of_work
from ..clock import clinic_today, utc_now
from ..documents.data import PatientInfo
from ..documents.reminders import ReminderDocument
from ..domain import reminders as rules
from ..domain.dutch import euro, nl_date
from ..domain.money import from_cents, round_cents, to_cents
from ..domain.patient_mail import MessageKind, SendingKind
from ..domain.reminders import Stage
from ..domain.statuses import InvoiceStatus
from ..errors import ServiceError
from ..extensions import db
from ..i18n import dutch
from ..invoicing import balance
from ..invoicing import documents as invoice_documents
from ..invoicing import services as invoicing
from ..mail import services as mail
from ..mail import templates as mail_templates
from ..mail.transport import Attachment
from ..models import (
    CollectionCostBracket,
    DocumentSending,
    Invoice,
    InvoiceReminder,
    Patient,
    Practice,
    ReminderSettings,
    User,
)
from ..models.reminders import STAGE_LABELS
from ..paging import Cursor, Keyset, Page

Renderer = Callable[[ReminderDocument], bytes]

FILE_NAMES = {Stage.FRIENDLY: "herinnering", Stage.FORMAL: "aanmaning"}
MESSAGE_KINDS = {Stage.FRIENDLY: MessageKind.REMINDER_FRIENDLY, Stage.FORMAL: MessageKind.REMINDER_FORMAL}
_CHUNK = 500  # ids per IN (...) when the lists ask for many invoices at once


class ReminderError(ServiceError):
    """No reminder can be made or sent now; the message says why."""


def _default_renderer(doc: ReminderDocument) -> bytes:
    from ..documents.reminders import render_reminder  # WeasyPrint costs 0.6 s to import: only when printing

    return render_reminder(doc)


def _user_id(user: User | None) -> int | None:
    return user.id if user is not None and getattr(user, "is_authenticated", True) else None


def stage_label(stage: Stage | str) -> str:
    """"Payment reminder" or "14-day letter", translated."""
    return _(STAGE_LABELS[str(stage)])


# ---- settings -----------------------------------------------------------------------------------------------

def settings_row() -> ReminderSettings | None:
    return db.session.scalar(select(ReminderSettings).order_by(ReminderSettings.id).limit(1))


def _brackets() -> list[CollectionCostBracket]:
    return list(db.session.scalars(select(CollectionCostBracket).order_by(CollectionCostBracket.start_cents)))


def policy() -> rules.ReminderPolicy:
    """The practice's reminder days; the defaults of domain/reminders.py until an admin saves others."""
    row = settings_row()
    if row is None:
        return rules.ReminderPolicy()
    return rules.ReminderPolicy(
        friendly_after_days=row.friendly_after_days, friendly_term_days=row.friendly_term_days,
        formal_after_days=row.formal_after_days, receipt_days=row.receipt_days, formal_term_days=row.formal_term_days)


def cost_scale() -> rules.CostScale:
    """The practice's collection-cost scale (table collection_cost_brackets and the settings' minimum, maximum and
    VAT rate); the Besluit's scale without VAT until an admin saves another."""
    default = rules.DEFAULT_SCALE
    row = settings_row()
    brackets = tuple(rules.Bracket(from_cents(bracket.start_cents), Decimal(bracket.rate_basis_points) / 100)
                     for bracket in _brackets())
    if row is None:
        return rules.CostScale(brackets or default.brackets, default.minimum, default.maximum, default.vat_rate)
    maximum = from_cents(row.costs_maximum_cents) if row.costs_maximum_cents is not None else None
    return rules.CostScale(brackets or default.brackets, from_cents(row.costs_minimum_cents), maximum,
                           Decimal(row.costs_vat_rate))


def save_settings(new_policy: rules.ReminderPolicy, scale: rules.CostScale, user: User | None = None) -> bool:
    """Store the reminder days and the scale (both already checked by their dataclasses); False when nothing
    changed. A reminder already sent keeps what it said."""
    if policy() == new_policy and cost_scale() == scale:
        return False
    row = settings_row()
    if row is None:
        row = ReminderSettings()
        db.session.add(row)
    row.friendly_after_days = new_policy.friendly_after_days
    row.friendly_term_days = new_policy.friendly_term_days
    row.formal_after_days = new_policy.formal_after_days
    row.receipt_days = new_policy.receipt_days
    row.formal_term_days = new_policy.formal_term_days
    row.costs_minimum_cents = to_cents(scale.minimum)
    row.costs_maximum_cents = to_cents(scale.maximum) if scale.maximum is not None else None
    row.costs_vat_rate = int(scale.vat_rate)
    row.updated_by_id = _user_id(user)
    wanted = [(to_cents(bracket.start), int(bracket.rate * 100)) for bracket in scale.brackets]
    if [(b.start_cents, b.rate_basis_points) for b in _brackets()] != wanted:
        db.session.execute(delete(CollectionCostBracket))
        db.session.add_all(CollectionCostBracket(start_cents=start, rate_basis_points=rate) for start, rate in wanted)
    db.session.flush()
    return True


# ---- the stage of invoices (lists, the work list, exports) --------------------------------------------------

@dataclass(frozen=True)
class ReminderStatus:
    """Where an invoice stands with its reminders: the last stage sent (None: none yet) and the next one due."""

    stage: Stage | None
    sent_on: date | None
    deadline: date | None
    to_print: bool                   # the last reminder still waits to be printed and posted
    next_stage: Stage | None
    next_on: date | None
    label: str                       # for a list: "Reminder sent 12-11-2026"; "" when there is nothing to say
    next_label: str = ""             # "14-day letter due 26-11-2026"; "" when none is to come


def _reminders_by_invoice(invoice_ids: Sequence[int]) -> dict[int, list[InvoiceReminder]]:
    found: dict[int, list[InvoiceReminder]] = {}
    for start in range(0, len(invoice_ids), _CHUNK):
        for reminder in db.session.scalars(
                select(InvoiceReminder).where(InvoiceReminder.invoice_id.in_(invoice_ids[start:start + _CHUNK]))
                .order_by(InvoiceReminder.sent_on, InvoiceReminder.id)):
            found.setdefault(reminder.invoice_id, []).append(reminder)
    return found


def _sent(reminders: Iterable[InvoiceReminder]) -> list[rules.SentReminder]:
    return [rules.SentReminder(Stage(reminder.stage), reminder.sent_on) for reminder in reminders]


def _status(reminders: Sequence[InvoiceReminder], due_date: date | None, open_amount: Decimal, today: date,
            settings: rules.ReminderPolicy) -> ReminderStatus:
    upcoming = rules.next_reminder(due_date, open_amount, _sent(reminders), settings)
    next_label = ""
    if upcoming is not None:
        next_label = (_("Reminder due %(date)s", date=nl_date(upcoming.due_on)) if upcoming.stage is Stage.FRIENDLY
                      else _("14-day letter due %(date)s", date=nl_date(upcoming.due_on)))
    last = reminders[-1] if reminders else None
    if last is None:
        label = _("No reminder sent") if upcoming is not None else ""
        return ReminderStatus(None, None, None, False, upcoming.stage if upcoming else None,
                              upcoming.due_on if upcoming else None, label, next_label)
    if last.stage == Stage.FORMAL:
        label = (_("14-day letter sent %(date)s, term ended %(deadline)s", date=nl_date(last.sent_on),
                   deadline=nl_date(last.deadline)) if today > last.deadline
                 else _("14-day letter sent %(date)s, pay by %(deadline)s", date=nl_date(last.sent_on),
                        deadline=nl_date(last.deadline)))
    else:
        label = _("Reminder sent %(date)s", date=nl_date(last.sent_on))
    return ReminderStatus(Stage(last.stage), last.sent_on, last.deadline, last.to_print,
                          upcoming.stage if upcoming else None, upcoming.due_on if upcoming else None, label,
                          next_label)


def stages_for(invoice_ids: Iterable[int], today: date | None = None) -> dict[int, ReminderStatus]:
    """{invoice id: its reminder status} for the given invoices (those that exist), in a few queries. Drafts,
    paid and credited invoices have no next stage; their label names the last reminder sent, if any."""
    ids = sorted({int(invoice_id) for invoice_id in invoice_ids})
    if not ids:
        return {}
    today = today or clinic_today()
    settings = policy()
    sent = _reminders_by_invoice(ids)
    statuses: dict[int, ReminderStatus] = {}
    for start in range(0, len(ids), _CHUNK):
        rows = db.session.execute(
            select(Invoice.id, Invoice.status, Invoice.due_date, balance.balance_cents().label("open_cents"))
            .where(Invoice.id.in_(ids[start:start + _CHUNK])))
        for row in rows:
            due = row.due_date if row.status == InvoiceStatus.ISSUED else None
            statuses[row.id] = _status(sent.get(row.id, []), due, from_cents(int(row.open_cents)), today, settings)
    return statuses


# ---- what is due ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class DueReminder:
    """A reminder the command would send today (no patient data beyond the invoice number: cron mails it)."""

    invoice_id: int
    invoice_number: str
    stage: Stage
    due_on: date
    open_amount: Decimal
    delivery: str                    # "email" or "print"
    collection_costs: Decimal        # what the 14-day letter would announce (0 for the friendly reminder)


def _delivery(email: str | None) -> str:
    """By e-mail when the patient has a valid address, else on paper."""
    if not (email or "").strip():
        return "print"
    try:
        mail.normalised_address(email or "")
    except ServiceError:
        return "print"
    return "email"


def due_reminders(today: date | None = None) -> list[DueReminder]:
    """The reminders due on `today` (one stage per invoice at most), oldest due date first."""
    today = today or clinic_today()
    settings, scale = policy(), cost_scale()
    # A stage is never due sooner than this after the due date (a friendly reminder sent by hand the day after
    # the due date, then the formal one `formal_after_days` later), so older invoices alone are looked at.
    earliest = min(settings.friendly_after_days, 1 + settings.formal_after_days)
    rows = db.session.execute(
        select(Invoice.id, Invoice.number, Invoice.due_date, Patient.email,
               balance.balance_cents().label("open_cents"))
        .join(Patient, Patient.id == Invoice.patient_id)
        .where(balance.in_state("overdue", today), Invoice.due_date <= today - timedelta(days=earliest))
        .order_by(Invoice.due_date, Invoice.number)).all()
    sent = _reminders_by_invoice([row.id for row in rows])
    due: list[DueReminder] = []
    for row in rows:
        open_amount = from_cents(int(row.open_cents))
        reminder = rules.due_reminder(row.due_date, open_amount, _sent(sent.get(row.id, [])), today, settings)
        if reminder is None:
            continue
        costs = rules.collection_costs(open_amount, scale).total if reminder.stage is Stage.FORMAL \
            else round_cents(Decimal(0))
        due.append(DueReminder(row.id, row.number or "", reminder.stage, reminder.due_on, open_amount,
                               _delivery(row.email), costs))
    return due


# ---- creating and sending a reminder ----------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    reminder: InvoiceReminder
    sending: DocumentSending | None  # None: to print (no valid e-mail address)

    @property
    def emailed(self) -> bool:
        return self.sending is not None and self.sending.sent

    @property
    def failed(self) -> bool:
        return self.sending is not None and self.sending.failed


def send_next(invoice: Invoice, user: User | None = None, today: date | None = None,
              renderer: Renderer | None = None, by_hand: bool = False) -> Outcome:
    """Create the invoice's next reminder and send it (or list it to print).

    The command sends a stage on the day it is due; by hand (the invoice page) the next stage may go earlier, as
    long as the invoice is overdue, but the 14-day letter never on the day of the friendly reminder (a double
    click would otherwise send both)."""
    today = today or clinic_today()
    if invoice.status != InvoiceStatus.ISSUED or invoice.due_date is None:
        raise ReminderError(_("Only an issued invoice gets payment reminders."))
    status = invoicing.invoice_status(invoice, today)
    reminders = _reminders_by_invoice([invoice.id]).get(invoice.id, [])
    settings = policy()
    upcoming = rules.next_reminder(invoice.due_date, status.balance, _sent(reminders), settings)
    if upcoming is None:
        if status.balance <= 0:
            raise ReminderError(_("Invoice %(number)s has nothing left to pay: no reminder.", number=invoice.number))
        raise ReminderError(_("Both reminders of invoice %(number)s were sent already.", number=invoice.number))
    if by_hand:
        if invoice.due_date >= today:
            raise ReminderError(_("Invoice %(number)s is not overdue yet (due %(date)s): no reminder before then.",
                                  number=invoice.number, date=nl_date(invoice.due_date)))
        if upcoming.stage is Stage.FORMAL and any(r.sent_on >= today for r in reminders):
            raise ReminderError(_("The payment reminder went out today: the 14-day letter can follow from "
                                  "tomorrow."))
    elif upcoming.due_on > today:
        raise ReminderError(_("No reminder of invoice %(number)s is due before %(date)s.", number=invoice.number,
                              date=nl_date(upcoming.due_on)))
    return _create(invoice, upcoming.stage, status.total - status.credited - status.insurer_share, status.balance,
                   reminders, today, settings, user, renderer)


def _create(invoice: Invoice, stage: Stage, invoice_total: Decimal, open_amount: Decimal,
            earlier: Sequence[InvoiceReminder], today: date, settings: rules.ReminderPolicy, user: User | None,
            renderer: Renderer | None) -> Outcome:
    practice = db.session.scalar(select(Practice).order_by(Practice.id).limit(1))
    if practice is None or not practice.name or not practice.iban:
        raise ReminderError(_("Enter the practice's name and IBAN first (Practice): a reminder tells the patient "
                              "where to pay."))
    patient = invoice.patient
    formal = stage is Stage.FORMAL
    costs = rules.collection_costs(open_amount, cost_scale()) if formal else None
    deadline = rules.deadline(stage, today, settings)
    friendly = next((r for r in earlier if r.stage == Stage.FRIENDLY), None)
    delivery = _delivery(patient.email)
    zero = round_cents(Decimal(0))
    doc = ReminderDocument(
        stage=stage.value, sent_on=today, practice=invoice_documents.practice_info(practice),
        patient=PatientInfo(name=patient.full_name, street=patient.street, postcode=patient.postcode,
                            city=patient.city, date_of_birth=patient.date_of_birth),
        invoice_number=invoice.number or "", invoice_date=invoice.issue_date or today,
        due_date=invoice.due_date or today, invoice_total=invoice_total, settled=invoice_total - open_amount,
        open_amount=open_amount, deadline=deadline,
        received_on=rules.received_on(today, settings) if formal else None, term_days=settings.formal_term_days,
        collection_costs=costs.costs if costs else zero, collection_costs_vat=costs.vat if costs else zero,
        collection_costs_vat_rate=costs.vat_rate if costs else Decimal(0),
        friendly_sent_on=friendly.sent_on if friendly else None,
    )
    pdf = (renderer or _default_renderer)(doc)
    if not isinstance(pdf, bytes) or not pdf:
        raise ReminderError(_("The document renderer returned no PDF."))
    digest = hashlib.sha256(pdf).hexdigest()
    reminder = InvoiceReminder(
        invoice_id=invoice.id, stage=stage.value, sent_on=today, deadline=deadline, open_cents=to_cents(open_amount),
        collection_costs_cents=to_cents(costs.total) if costs else 0,
        collection_costs_vat_cents=to_cents(costs.vat) if costs else 0, delivery=delivery, pdf=pdf,
        pdf_sha256=digest, created_by_id=_user_id(user))
    reminder.invoice = invoice
    db.session.add(reminder)
    try:
        db.session.flush()  # before any e-mail: a second run racing this one stops here
    except IntegrityError:
        raise ReminderError(_("This reminder of invoice %(number)s was just recorded by someone else.",
                              number=invoice.number)) from None
    audit.record("create", invoice.patient_id, f"invoice {invoice.number}",
                 f"{stage.value} payment reminder ({delivery}): open {open_amount}"
                 + (f", collection costs {costs.total}" if costs else "") + f", pay by {deadline.isoformat()}; "
                 f"PDF sha256 {digest[:12]}", user=user)
    sending = None
    if delivery == "email":
        subject, body = _message(invoice, stage, open_amount, deadline, costs)
        sending = mail.send_document(patient, SendingKind.REMINDER, subject=subject, body=body,
                                     attachments=[Attachment(file_name(reminder), pdf)], invoice=invoice,
                                     reminder_id=reminder.id, user=user)
    return Outcome(reminder, sending)


def _message(invoice: Invoice, stage: Stage, open_amount: Decimal, deadline: date,
             costs: rules.CollectionCosts | None) -> tuple[str, str]:
    """The practice's e-mail text for the stage (mail/templates.py), filled in, in Dutch."""
    values = {"patient_name": invoice.patient.full_name, "invoice_number": invoice.number or "",
              "amount": euro(open_amount), "due_date": nl_date(invoice.due_date)}
    if costs is not None:
        values |= {"deadline": nl_date(deadline), "collection_costs": euro(costs.total)}
    with dutch():
        return mail_templates.compose(MESSAGE_KINDS[stage], values)


def file_name(reminder: InvoiceReminder) -> str:
    return f"{FILE_NAMES[Stage(reminder.stage)]}-{reminder.invoice.number}.pdf"


@dataclass
class RunResult:
    due: list[DueReminder]
    sent: list[Outcome] = field(default_factory=list)
    refused: list[tuple[DueReminder, str]] = field(default_factory=list)

    @property
    def emailed(self) -> list[Outcome]:
        return [outcome for outcome in self.sent if outcome.emailed]

    @property
    def to_print(self) -> list[Outcome]:
        return [outcome for outcome in self.sent if outcome.sending is None]

    @property
    def failed(self) -> list[Outcome]:
        return [outcome for outcome in self.sent if outcome.failed]


def send_due(today: date | None = None, user: User | None = None, renderer: Renderer | None = None) -> RunResult:
    """Send every reminder due today, each stored as soon as it is made and sent (see the module's docstring);
    one that is refused is rolled back alone and reported, and the others go on."""
    today = today or clinic_today()
    result = RunResult(due_reminders(today))
    for item in result.due:
        try:
            invoice = db.session.get_one(Invoice, item.invoice_id)
            outcome = send_next(invoice, user=user, today=today, renderer=renderer)
            unit_of_work.checkpoint()
        except (ServiceError, IntegrityError) as error:
            unit_of_work.rollback()
            result.refused.append((item, str(error)))
        else:
            result.sent.append(outcome)
    return result


# ---- the stored PDF -------------------------------------------------------------------------------------------

def stored_pdf(reminder: InvoiceReminder) -> bytes:
    """The PDF exactly as made (checked against its SHA-256)."""
    if hashlib.sha256(reminder.pdf).hexdigest() != reminder.pdf_sha256:
        raise ReminderError(_("The stored PDF of this reminder does not match its checksum: it was altered."))
    return reminder.pdf


def reminder_pdf(reminder: InvoiceReminder, user: User | None = None) -> bytes:
    """The stored PDF for download, logged as a print; a reminder to print leaves that list once downloaded."""
    pdf = stored_pdf(reminder)
    audit.record("print", reminder.invoice.patient_id, f"invoice {reminder.invoice.number}",
                 f"{reminder.stage} payment reminder of {reminder.sent_on.isoformat()}: stored PDF downloaded",
                 user=user)
    if reminder.to_print:
        reminder.printed_at = utc_now()
        db.session.flush()
    return pdf


def _retry_attachments(sending: DocumentSending) -> list[Attachment]:
    """A failed reminder e-mail sent again: the same stored PDF. A 14-day letter is not sent after the day it
    says it arrives: its term would then be shorter than the law asks."""
    reminder = db.session.get(InvoiceReminder, sending.reminder_id) if sending.reminder_id else None
    if reminder is None:
        raise ReminderError(_("The reminder of this sending no longer exists."))
    arrival = rules.received_on(reminder.sent_on, policy())
    if reminder.stage == Stage.FORMAL and clinic_today() > arrival:
        raise ReminderError(_("This 14-day letter assumes it arrives on %(date)s: sent later, its term would be too "
                              "short. Contact the patient instead.", date=nl_date(arrival)))
    return [Attachment(file_name(reminder), stored_pdf(reminder))]


mail.register_attachments(SendingKind.REMINDER, _retry_attachments)


# ---- the invoice page and the list of reminders to print ------------------------------------------------

@dataclass(frozen=True)
class PanelRow:
    reminder: InvoiceReminder
    label: str                             # "Payment reminder" or "14-day letter", translated
    sending: DocumentSending | None        # its latest e-mail (None: to print)


@dataclass(frozen=True)
class InvoicePanel:
    """The invoice page's reminder section."""

    rows: list[PanelRow]
    status: ReminderStatus
    can_send: bool                         # a next stage can be sent by hand today
    next_stage_label: str


def invoice_panel(invoice: Invoice, today: date | None = None) -> InvoicePanel | None:
    if invoice.status != InvoiceStatus.ISSUED:
        return None
    today = today or clinic_today()
    reminders = _reminders_by_invoice([invoice.id]).get(invoice.id, [])
    status = stages_for([invoice.id], today)[invoice.id]
    sendings: dict[int, DocumentSending] = {}
    if reminders:
        for sending in db.session.scalars(
                select(DocumentSending)  # by invoice: its index; then the reminders' sendings among them
                .where(DocumentSending.invoice_id == invoice.id,
                       DocumentSending.reminder_id.in_([r.id for r in reminders]))
                .order_by(DocumentSending.created_at, DocumentSending.id)):
            if sending.reminder_id is not None:
                sendings[sending.reminder_id] = sending
    overdue = invoice.due_date is not None and invoice.due_date < today
    same_day = status.next_stage is Stage.FORMAL and any(r.sent_on >= today for r in reminders)
    return InvoicePanel([PanelRow(r, stage_label(r.stage), sendings.get(r.id)) for r in reminders], status,
                        status.next_stage is not None and overdue and not same_day,
                        stage_label(status.next_stage) if status.next_stage else "")


TO_PRINT_ORDER = Keyset((InvoiceReminder.id,), descending=True)


def to_print_page(per_page: int, after: Cursor | None = None, before: Cursor | None = None,
                  patients=None) -> Page[InvoiceReminder]:
    """The reminders still to print and post (patients without an e-mail address), newest first; `patients`: only
    those patients' (a therapist's own, backoffice/care/)."""
    query = (select(InvoiceReminder).join(Invoice, Invoice.id == InvoiceReminder.invoice_id)
             .options(selectinload(InvoiceReminder.invoice).selectinload(Invoice.patient))
             .where(InvoiceReminder.delivery == "print", InvoiceReminder.printed_at.is_(None)))
    if patients is not None:
        query = query.where(Invoice.patient_id.in_(patients))
    return TO_PRINT_ORDER.page(query, per_page, after, before)
