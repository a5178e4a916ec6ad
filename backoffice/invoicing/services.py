"""Invoice use cases: draft, issue, credit, record payments, status and overdue list.

Services add and flush; the caller (view or CLI command) commits once, so the number a service takes, the
invoice it numbers, its PDF and the access-log entry are stored together or not at all.

Issuing locks the draft row and then the counter row (always in that order, so two issuers cannot deadlock),
re-reads the status after the lock (a double-click or a second process finds it issued and gets it back
unchanged), checks for missing data before any number is taken, and renders the PDF exactly once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal

from flask import current_app
from sqlalchemy import Integer, and_, exists, func, literal_column, or_, select, union_all
from sqlalchemy.orm import joinedload, selectinload

from .. import audit
from ..documents.data import InvoiceDocument
from ..domain import invoicing as rules
from ..domain.indications import INDICATIONS, TECHNIQUE_LABELS, Indication, Technique
from ..domain.money import from_cents, to_cents
from ..domain.referrals import REFERRER_LABELS, ReferrerType
from ..extensions import db
from ..formtools import month_arg
from ..models import (
    PAYMENT_METHODS,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoicedTreatment,
    InvoiceLine,
    Patient,
    Payment,
    Practice,
    Treatment,
)
from . import documents, numbering

Renderer = Callable[[InvoiceDocument], bytes]


class InvoiceError(Exception):
    """A use case cannot go ahead; the message says why, for the user."""


class MissingData(InvoiceError):  # noqa: N818 - reads as the message: "missing data: ..."
    """Issuing stopped before a number was taken; `fields` names every missing field."""

    def __init__(self, fields: Sequence[str]):
        self.fields = list(fields)
        super().__init__("Cannot issue: missing " + "; ".join(self.fields) + ".")


def _default_renderer(doc: InvoiceDocument) -> bytes:
    from ..documents.pdf import render_invoice  # WeasyPrint costs 0.6 s to import: only when printing

    return render_invoice(doc)


def _practice() -> Practice | None:
    return db.session.scalar(select(Practice).order_by(Practice.id).limit(1))


def _user_id(user) -> int | None:
    return getattr(user, "id", None) if getattr(user, "is_authenticated", True) else None


def _lock_invoice(invoice: Invoice) -> Invoice:
    """Lock the invoice row (FOR UPDATE on PostgreSQL) and read it afresh: another transaction may have
    issued it since it was loaded."""
    return db.session.execute(
        select(Invoice).where(Invoice.id == invoice.id).with_for_update().execution_options(populate_existing=True)
    ).scalar_one()


# ---- drafting -------------------------------------------------------------------------------------------

def _claimed():
    return exists().where(InvoicedTreatment.treatment_id == Treatment.id)


def invoiceable_treatments(patient: Patient) -> list[Treatment]:
    """The patient's treatments not on any invoice (draft or issued) now; credited ones count as free again."""
    return list(db.session.scalars(
        select(Treatment)
        .options(selectinload(Treatment.catalogue_item), selectinload(Treatment.therapist))
        .where(Treatment.patient_id == patient.id, ~_claimed())
        .order_by(Treatment.treatment_date, Treatment.id)
    ))


def _referral_text(treatment: Treatment) -> str:
    referral = treatment.referral
    if referral is None:
        return ""
    kind = REFERRER_LABELS.get(ReferrerType(referral.referrer_type), referral.referrer_type)
    agb = f" (AGB {referral.referrer_agb})" if referral.referrer_agb else ""
    diagnosis = f": {referral.diagnosis}" if referral.diagnosis else ""
    return f"{kind} {referral.referrer_name}{agb}, {referral.referral_date:%d-%m-%Y}{diagnosis}"


def _copy_treatment(line: InvoiceLine, treatment: Treatment) -> None:
    """Copy the treatment's stored assessment and names onto a draft line (again at issue, so a therapist AGB
    filled in after drafting, or a re-assessment, is what gets printed)."""
    item = treatment.catalogue_item
    amounts = rules.LineAmounts(
        gross=from_cents(treatment.price_cents), net=from_cents(treatment.net_cents),
        vat=from_cents(treatment.vat_cents), rate=Decimal(treatment.vat_rate), exempt=treatment.vat_rate == 0,
    )  # raises if the stored figures do not add up: better than printing them
    indication = INDICATIONS[Indication(treatment.indication)]  # the column's CHECK keeps it a known value
    line.treatment_id = treatment.id
    line.treatment_date = treatment.treatment_date
    line.description = item.name
    line.prestatiecode = item.prestatiecode or ""
    line.indication = indication.label
    line.medical = treatment.medical
    line.reimbursable = treatment.reimbursable
    line.quantity = 1
    line.gross_cents, line.net_cents, line.vat_cents = (to_cents(amounts.gross), to_cents(amounts.net),
                                                        to_cents(amounts.vat))
    line.vat_rate = treatment.vat_rate
    line.vat_exemption = rules.TOTAL_EXEMPT_LABEL if amounts.exempt else ""
    line.therapist_name = treatment.therapist.name
    line.therapist_agb = treatment.therapist.agb_code or ""
    line.technique = TECHNIQUE_LABELS[Technique(item.technique)] if item.technique else ""
    line.body_area = treatment.body_area.replace("_", " ")
    line.referral = _referral_text(treatment)
    line.insurer_amount_cents = treatment.insurer_amount_cents


def _store_totals(invoice: Invoice) -> rules.Totals:
    totals = rules.totals(documents.line_amounts(line) for line in invoice.lines)
    invoice.total_gross_cents = to_cents(totals.gross)
    invoice.total_net_cents = to_cents(totals.net)
    invoice.total_vat_cents = to_cents(totals.vat)
    return totals


def _describe(treatments: Iterable[Treatment]) -> str:
    return ", ".join(f"{t.treatment_date:%d-%m-%Y} (#{t.id})" for t in treatments)


def draft_invoice(patient: Patient, treatment_ids: Iterable[int], user=None) -> Invoice:
    """A draft invoice for some of this patient's treatments that are on no other invoice."""
    wanted = sorted(set(treatment_ids))
    if not wanted:
        raise InvoiceError("Choose at least one treatment to invoice.")
    found = {t.id: t for t in db.session.scalars(
        select(Treatment)
        .options(selectinload(Treatment.catalogue_item), selectinload(Treatment.therapist),
                 selectinload(Treatment.referral))
        .where(Treatment.id.in_(wanted))
    )}
    foreign = [i for i in wanted if i not in found or found[i].patient_id != patient.id]
    if foreign:
        raise InvoiceError(f"Treatment(s) {', '.join(map(str, foreign))} are not treatments of this patient.")
    taken = db.session.execute(
        select(InvoicedTreatment.treatment_id, Invoice.number)
        .join(InvoiceLine, InvoiceLine.id == InvoicedTreatment.invoice_line_id)
        .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
        .where(InvoicedTreatment.treatment_id.in_(wanted))
    ).all()
    if taken:
        where = ", ".join(
            f"{found[tid].treatment_date:%d-%m-%Y} (#{tid}) on {'invoice ' + number if number else 'a draft invoice'}"
            for tid, number in taken
        )
        raise InvoiceError(f"Already invoiced: {where}. Credit the invoice (or remove the draft line) first.")
    invoice = Invoice(patient_id=patient.id, status="draft", created_by_id=_user_id(user))
    db.session.add(invoice)
    for treatment in sorted(found.values(), key=lambda t: (t.treatment_date, t.id)):
        line = InvoiceLine()
        _copy_treatment(line, treatment)
        # The claim row is the database's guarantee: a treatment is on at most one live invoice line.
        line.claim = InvoicedTreatment(treatment_id=treatment.id)
        invoice.lines.append(line)
    _store_totals(invoice)
    db.session.flush()
    audit.record("create", patient, f"invoice draft {invoice.id}",
                 f"draft for treatments {_describe(found.values())}", user=user)
    return invoice


def _require_draft(invoice: Invoice) -> None:
    if invoice.status != "draft":
        raise InvoiceError(f"Invoice {invoice.number} is issued: it cannot be changed. Credit it instead.")


def remove_line(invoice: Invoice, line_id: int, user=None) -> None:
    """Take a treatment off a draft; it becomes invoiceable again."""
    invoice = _lock_invoice(invoice)
    _require_draft(invoice)
    line = next((line for line in invoice.lines if line.id == line_id), None)
    if line is None:
        raise InvoiceError("That line is not on this invoice.")
    invoice.lines.remove(line)
    _store_totals(invoice)
    db.session.flush()
    audit.record("update", invoice.patient_id, f"invoice draft {invoice.id}",
                 f"removed treatment {line.treatment_date:%d-%m-%Y} (#{line.treatment_id})", user=user)


def delete_draft(invoice: Invoice, user=None) -> None:
    invoice = _lock_invoice(invoice)
    _require_draft(invoice)
    patient_id, invoice_id = invoice.patient_id, invoice.id
    db.session.delete(invoice)
    db.session.flush()
    audit.record("delete", patient_id, f"invoice draft {invoice_id}", "draft deleted", user=user)


# ---- issuing --------------------------------------------------------------------------------------------

def _practice_facts(practice: Practice | None) -> rules.PracticeFacts | None:
    if practice is None:
        return None
    return rules.PracticeFacts(name=practice.name, street=practice.street, postcode=practice.postcode,
                               city=practice.city, kvk_number=practice.kvk_number, vat_id=practice.vat_id,
                               agb_code=practice.agb_code)


def _patient_facts(patient: Patient, day: date) -> rules.PatientFacts:
    insurance = patient.insurance_on(day)
    return rules.PatientFacts(name=patient.full_name, street=patient.street, postcode=patient.postcode,
                              city=patient.city, policy_number=insurance.policy_number if insurance else "")


def _line_facts(lines: Iterable[InvoiceLine]) -> list[rules.LineFacts]:
    return [rules.LineFacts(treatment_date=line.treatment_date, medical=line.medical,
                            therapist_name=line.therapist_name, therapist_agb=line.therapist_agb,
                            reimbursable=line.reimbursable) for line in lines]


def missing_for_invoice(invoice: Invoice, practice: Practice | None = None) -> list[str]:
    """What stops this draft from being issued (empty when it can be). Safe to show before issuing."""
    lines = invoice.lines
    day = documents.last_treatment_date(lines) or date.today()
    return rules.missing_invoice_fields(_practice_facts(practice or _practice()),
                                        _patient_facts(invoice.patient, day), _line_facts(lines))


def _pdf_fields(pdf: bytes) -> tuple[bytes, str]:
    if not isinstance(pdf, bytes) or not pdf:
        raise InvoiceError("The document renderer returned no PDF.")
    return pdf, hashlib.sha256(pdf).hexdigest()


def issue_invoice(invoice: Invoice, user=None, today: date | None = None,
                  renderer: Renderer | None = None) -> Invoice:
    """Number, freeze and print a draft. Issuing an issued invoice returns it unchanged (double-click).

    `renderer` turns the InvoiceDocument into PDF bytes (default: backoffice.documents.pdf.render_invoice);
    tests pass a stub where they are about numbering, not printing.
    """
    if invoice.status == "issued":
        return invoice
    invoice = _lock_invoice(invoice)
    if invoice.status == "issued":  # issued by someone else while we waited for the lock
        return invoice
    today = today or date.today()
    # Refresh the draft from its treatments before checking: what is checked is what gets printed.
    treatments = {t.id: t for t in db.session.scalars(
        select(Treatment)
        .options(selectinload(Treatment.catalogue_item), selectinload(Treatment.therapist),
                 selectinload(Treatment.referral))
        .where(Treatment.id.in_([line.treatment_id for line in invoice.lines]))
    )}
    for line in invoice.lines:
        _copy_treatment(line, treatments[line.treatment_id])
    _store_totals(invoice)
    db.session.flush()  # lines first: once the invoice row says 'issued' its lines are frozen

    practice = _practice()
    missing = missing_for_invoice(invoice, practice)
    if missing:
        raise MissingData(missing)  # before the number: nothing is taken, nothing to roll back

    # Read everything the document needs before taking the number: the counter row stays locked until commit.
    term = int(current_app.config.get("INVOICE_PAYMENT_TERM_DAYS", 14))
    due = rules.due_date(today, term)
    practice_info = documents.practice_info(practice)
    patient_info = documents.patient_info(invoice.patient, documents.last_treatment_date(invoice.lines) or today)
    sequence = numbering.take_next(rules.series_name(rules.INVOICE_SERIES, today.year))
    number = rules.format_number(rules.INVOICE_SERIES, today.year, sequence)
    doc = documents.invoice_document(invoice, practice_info, patient_info, number, today, due, term)
    pdf, digest = _pdf_fields((renderer or _default_renderer)(doc))

    invoice.status = "issued"
    invoice.number = number
    invoice.series_year = today.year
    invoice.sequence = sequence
    invoice.issue_date = today
    invoice.due_date = due
    invoice.snapshot = documents.document_snapshot(doc)
    invoice.pdf = pdf
    invoice.pdf_sha256 = digest
    invoice.issued_by_id = _user_id(user)
    invoice.issued_at = datetime.now(UTC)
    db.session.flush()
    audit.record("create", invoice.patient_id, f"invoice {number}",
                 f"issued invoice {number} ({len(invoice.lines)} lines, total {doc.total_gross}); "
                 f"PDF sha256 {digest[:12]}", user=user)
    audit.record("print", invoice.patient_id, f"invoice {number}", "PDF rendered at issue", user=user)
    return invoice


def invoice_pdf(invoice: Invoice, user=None) -> bytes:
    """The PDF exactly as rendered at issue (checked against its SHA-256); logged as a print."""
    if invoice.status != "issued":
        raise InvoiceError("A draft has no PDF yet: issue it first.")
    return _stored_pdf(invoice, f"invoice {invoice.number}", user)


def credit_note_pdf(credit_note: CreditNote, user=None) -> bytes:
    return _stored_pdf(credit_note, f"credit note {credit_note.number}", user,
                       patient_id=credit_note.invoice.patient_id)


def _stored_pdf(document, subject: str, user, patient_id: int | None = None) -> bytes:
    pdf = document.pdf
    if hashlib.sha256(pdf).hexdigest() != document.pdf_sha256:
        raise InvoiceError(f"The stored PDF of {subject} does not match its SHA-256: it was altered.")
    audit.record("print", patient_id if patient_id is not None else document.patient_id, subject,
                 "stored PDF downloaded", user=user)
    return pdf


def invoice_document(invoice: Invoice) -> InvoiceDocument:
    """The document as printed, from the snapshot taken at issue."""
    if invoice.snapshot is None:
        raise InvoiceError("A draft has no printed document yet.")
    return documents.document_from_snapshot(invoice.snapshot)


# ---- credit notes ---------------------------------------------------------------------------------------

def credit_invoice(invoice: Invoice, line_ids: Iterable[int] | None = None, reason: str = "", user=None,
                   today: date | None = None, renderer: Renderer | None = None) -> CreditNote:
    """A credit note (own series) for the given lines of an issued invoice, or for all lines not yet credited.

    The credited treatments become invoiceable again; a replacement is simply a new invoice.
    """
    invoice = _lock_invoice(invoice)
    if invoice.status != "issued":
        raise InvoiceError("Only an issued invoice can be credited; a draft can be changed or deleted.")
    open_lines = [line for line in invoice.lines if line.credit_line is None]
    if line_ids is None:
        lines = open_lines
        if not lines:
            raise InvoiceError(f"Invoice {invoice.number} is already fully credited.")
    else:
        wanted = set(line_ids)
        if not wanted:
            raise InvoiceError("Choose at least one line to credit.")
        by_id = {line.id: line for line in invoice.lines}
        unknown = sorted(wanted - by_id.keys())
        if unknown:
            raise InvoiceError(f"Line(s) {', '.join(map(str, unknown))} are not on invoice {invoice.number}.")
        done = sorted(i for i in wanted if by_id[i].credit_line is not None)
        if done:
            raise InvoiceError(f"Line(s) {', '.join(map(str, done))} of invoice {invoice.number} "
                               "are already credited.")
        lines = [line for line in invoice.lines if line.id in wanted]

    practice = _practice()
    missing = rules.missing_invoice_fields(
        _practice_facts(practice), _patient_facts(invoice.patient, documents.last_treatment_date(lines)),
        _line_facts(lines))
    if missing:
        raise MissingData(missing)

    today = today or date.today()
    reason = (reason or "").strip()
    practice_info = documents.practice_info(practice)
    patient_info = documents.patient_info(invoice.patient, documents.last_treatment_date(lines))
    sequence = numbering.take_next(rules.series_name(rules.CREDIT_SERIES, today.year))
    number = rules.format_number(rules.CREDIT_SERIES, today.year, sequence)
    doc = documents.credit_note_document(invoice, lines, practice_info, patient_info, number, today, reason)
    pdf, digest = _pdf_fields((renderer or _default_renderer)(doc))

    credit_note = CreditNote(
        number=number, series_year=today.year, sequence=sequence, invoice_id=invoice.id, issue_date=today,
        reason=reason, total_gross_cents=to_cents(doc.total_gross), total_net_cents=to_cents(doc.total_net),
        total_vat_cents=to_cents(doc.total_vat), snapshot=documents.document_snapshot(doc), pdf=pdf,
        pdf_sha256=digest, created_by_id=_user_id(user),
    )
    for line in lines:
        amounts = documents.line_amounts(line).negated()
        credit_note.lines.append(CreditNoteLine(
            invoice_line=line, gross_cents=to_cents(amounts.gross), net_cents=to_cents(amounts.net),
            vat_cents=to_cents(amounts.vat), vat_rate=line.vat_rate,
        ))
    db.session.add(credit_note)
    # Free the treatments: the claim rows go (delete-orphan); the issued lines stay exactly as printed.
    for line in lines:
        line.claim = None
    db.session.flush()
    audit.record("create", invoice.patient_id, f"credit note {number}",
                 f"credits {len(lines)} line(s) of invoice {invoice.number}, total {doc.total_gross}"
                 + (f"; reason: {reason}" if reason else ""), user=user)
    audit.record("print", invoice.patient_id, f"credit note {number}", "PDF rendered at issue", user=user)
    return credit_note


# ---- payments and status --------------------------------------------------------------------------------

def record_payment(invoice: Invoice, paid_on: date, method: str, amount: Decimal | str, note: str = "",
                   user=None) -> Payment:
    """Record money received (or refunded, negative) against an issued invoice."""
    if invoice.status != "issued":
        raise InvoiceError("Payments are recorded against issued invoices only.")
    if method not in PAYMENT_METHODS:
        raise InvoiceError(f"Unknown payment method {method!r}; choose one of {', '.join(PAYMENT_METHODS)}.")
    cents = to_cents(Decimal(amount))
    if cents == 0:
        raise InvoiceError("A payment needs an amount.")
    payment = Payment(invoice_id=invoice.id, paid_on=paid_on, method=method, amount_cents=cents,
                      note=(note or "").strip()[:200], recorded_by_id=_user_id(user))
    db.session.add(payment)
    db.session.flush()
    audit.record("update", invoice.patient_id, f"invoice {invoice.number}",
                 f"payment {from_cents(cents)} on {paid_on:%d-%m-%Y} by {PAYMENT_METHODS[method]}", user=user)
    return payment


def _credited_cents(invoice: Invoice) -> int:
    return -sum(note.total_gross_cents for note in invoice.credit_notes)


def invoice_status(invoice: Invoice, today: date | None = None) -> rules.InvoiceStatus:
    """Open / paid / credited, derived from payments and credit notes (the invoice row never changes)."""
    payments = [rules.PaymentFact(p.paid_on, p.method, from_cents(p.amount_cents)) for p in invoice.payments]
    fully_credited = bool(invoice.lines) and all(line.credit_line is not None for line in invoice.lines)
    return rules.invoice_status(
        issued=invoice.status == "issued", total=from_cents(invoice.total_gross_cents),
        credited=from_cents(_credited_cents(invoice)), payments=payments, fully_credited=fully_credited,
        due=invoice.due_date, today=today or date.today(),
    )


@dataclass(frozen=True)
class OverdueInvoice:
    invoice: Invoice
    status: rules.InvoiceStatus


def _balance_cents():
    """Still to pay on an invoice, in SQL (as invoice_status' balance): gross + credit notes (negative) - paid."""
    paid = (select(func.coalesce(func.sum(Payment.amount_cents), 0))
            .where(Payment.invoice_id == Invoice.id).correlate(Invoice).scalar_subquery())
    credited = (select(func.coalesce(func.sum(CreditNote.total_gross_cents), 0))
                .where(CreditNote.invoice_id == Invoice.id).correlate(Invoice).scalar_subquery())
    return Invoice.total_gross_cents + credited - paid


def overdue_invoices(today: date | None = None, after: tuple[date, str] | None = None,
                     limit: int | None = None) -> list[OverdueInvoice]:
    """Issued invoices past their due date with money still to pay, oldest due first. Sums in SQL.

    `after` (due date, number) and `limit` page through the list by its order (keyset: no count, no offset)."""
    today = today or date.today()
    query = (
        select(Invoice)
        .options(selectinload(Invoice.patient), selectinload(Invoice.payments),
                 selectinload(Invoice.credit_notes), selectinload(Invoice.lines).selectinload(InvoiceLine.credit_line))
        .where(Invoice.status == "issued", Invoice.due_date < today, _balance_cents() > 0)
        .order_by(Invoice.due_date, Invoice.number)
    )
    if after is not None:
        due, number = after
        query = query.where(or_(Invoice.due_date > due, and_(Invoice.due_date == due, Invoice.number > number)))
    if limit is not None:
        query = query.limit(limit)
    result = []
    for invoice in db.session.scalars(query):
        status = invoice_status(invoice, today)
        if status.overdue:
            result.append(OverdueInvoice(invoice, status))
    return result


def overdue_cursor(token: str | None) -> tuple[date, str] | None:
    """`after=` of the overdue list: "<due date>_<invoice number>"; None when absent or malformed."""
    if not token or "_" not in token:
        return None
    day, _, number = token.partition("_")
    try:
        return date.fromisoformat(day), number
    except ValueError:
        return None


# ---- the invoice list -----------------------------------------------------------------------------------

# ?status= of the invoice list; empty: every issued invoice and credit note (drafts only when asked for).
LIST_STATUSES = {"draft": "drafts", "open": "open", "paid": "paid", "credited": "fully credited",
                 "overdue": "overdue", "credit_notes": "credit notes"}
INVOICE_RANK, CREDIT_NOTE_RANK = 0, 1  # on the same day a credit note lists above (after) the invoices


@dataclass(frozen=True)
class ListFilters:
    status: str = ""                    # a key of LIST_STATUSES, or "" for all issued documents
    month: date | None = None           # first day of the month (issue date; a draft's creation date)
    q: str = ""                         # patient search words (name, date of birth, policy number, BSN)


def parse_list_filters(args) -> ListFilters:
    """Filters from the query string; anything malformed is ignored rather than refused."""
    status = args.get("status", "")
    month = month_arg(args.get("month"))
    return ListFilters(status=status if status in LIST_STATUSES else "", month=month,
                       q=(args.get("q") or "").strip())


@dataclass(frozen=True)
class ListCursor:
    """Where a page of the invoice list ends: (issue date, rank, id) of an issued document, or a draft's id."""

    id: int
    day: date | None = None
    rank: int = INVOICE_RANK

    def token(self) -> str:
        return str(self.id) if self.day is None else f"{self.day.isoformat()}.{self.rank}.{self.id}"

    @classmethod
    def parse(cls, text: str | None) -> ListCursor | None:
        parts = (text or "").split(".")
        try:
            if len(parts) == 1:
                return cls(int(parts[0]))
            if len(parts) == 3 and int(parts[1]) in (INVOICE_RANK, CREDIT_NOTE_RANK):
                return cls(int(parts[2]), date.fromisoformat(parts[0]), int(parts[1]))
        except ValueError:
            pass
        return None

    def values(self) -> tuple:
        return (self.id,) if self.day is None else (self.day, self.rank, self.id)


@dataclass(frozen=True)
class ListRow:
    """One line of the list: an invoice (draft or issued) with its status, or a credit note and its invoice."""

    invoice: Invoice
    status: rules.InvoiceStatus
    credit_note: CreditNote | None = None

    @property
    def number(self) -> str | None:
        return self.credit_note.number if self.credit_note else self.invoice.number

    @property
    def day(self) -> date | None:
        return self.credit_note.issue_date if self.credit_note else self.invoice.issue_date

    @property
    def total_cents(self) -> int:
        return self.credit_note.total_gross_cents if self.credit_note else self.invoice.total_gross_cents


@dataclass
class ListPage:
    rows: list[ListRow]
    newer: ListCursor | None   # pass as ?before= to show the rows just newer than this page
    older: ListCursor | None   # pass as ?after= to show the rows just older than this page


def _fully_credited():
    """Every line of the invoice credited (as invoice_status: an invoice without lines is not credited)."""
    uncredited = ~exists().where(CreditNoteLine.invoice_line_id == InvoiceLine.id)
    return and_(exists().where(InvoiceLine.invoice_id == Invoice.id),
                ~exists().where(InvoiceLine.invoice_id == Invoice.id, uncredited))


def _status_condition(status: str, today: date):
    """Issued invoices in this payment state, in SQL (the same rules as domain.invoicing.invoice_status)."""
    if status == "credited":
        return _fully_credited()
    if status == "paid":
        return and_(~_fully_credited(), _balance_cents() <= 0)
    condition = and_(~_fully_credited(), _balance_cents() > 0)  # open
    return and_(condition, Invoice.due_date < today) if status == "overdue" else condition


def _month_bounds(month: date) -> tuple[date, date]:
    return month, date(month.year + (month.month == 12), month.month % 12 + 1, 1)


def _beyond(columns: Sequence, values: Sequence, older: bool):
    """(columns) < (values) lexicographically when `older`, else >: the rows past a cursor in either direction."""
    condition = None
    for column, value in reversed(list(zip(columns, values, strict=True))):
        strict = column < value if older else column > value
        condition = strict if condition is None else or_(strict, and_(column == value, condition))
    return condition


def _draft_keys(filters: ListFilters, patients):
    from ..formatting import AMSTERDAM

    query = select(Invoice.id.label("id")).where(Invoice.status == "draft")
    if filters.month is not None:
        first, after = (datetime(day.year, day.month, day.day, tzinfo=AMSTERDAM) for day in
                        _month_bounds(filters.month))
        query = query.where(Invoice.created_at >= first, Invoice.created_at < after)
    if patients is not None:
        query = query.where(Invoice.patient_id.in_(patients))
    return query.subquery()


def _document_keys(filters: ListFilters, patients, today: date):
    """(day, rank, id) of the issued invoices and credit notes the filters let through, as one subquery."""
    arms = []
    if filters.status != "credit_notes":
        invoices = select(Invoice.issue_date.label("day"), literal_column(str(INVOICE_RANK), Integer).label("rank"),
                          Invoice.id.label("id")).where(Invoice.status == "issued")
        if filters.status:
            invoices = invoices.where(_status_condition(filters.status, today))
        if filters.month is not None:
            first, after = _month_bounds(filters.month)
            invoices = invoices.where(Invoice.issue_date >= first, Invoice.issue_date < after)
        if patients is not None:
            invoices = invoices.where(Invoice.patient_id.in_(patients))
        arms.append(invoices)
    if filters.status in ("", "credit_notes"):
        notes = select(CreditNote.issue_date.label("day"),
                       literal_column(str(CREDIT_NOTE_RANK), Integer).label("rank"), CreditNote.id.label("id"))
        if filters.month is not None:
            first, after = _month_bounds(filters.month)
            notes = notes.where(CreditNote.issue_date >= first, CreditNote.issue_date < after)
        if patients is not None:
            notes = notes.where(CreditNote.invoice_id.in_(select(Invoice.id).where(Invoice.patient_id.in_(patients))))
        arms.append(notes)
    return (union_all(*arms) if len(arms) > 1 else arms[0]).subquery()


def list_invoices(filters: ListFilters, per_page: int, after: ListCursor | None = None,
                  before: ListCursor | None = None, today: date | None = None) -> ListPage:
    """One page of the invoice list, newest first: issued invoices and credit notes by (issue date, id), or
    drafts by id when filters.status is "draft".

    Paged by key, never counted: per_page + 1 keys tell whether there is a further page. `after` shows the
    rows older than a cursor, `before` the rows newer than it. Then the invoices and credit notes of the page
    are loaded with what their status needs (a fixed number of queries, whatever the page size).
    """
    from ..patients.services import search_query

    today = today or date.today()
    patients = search_query(filters.q).with_only_columns(Patient.id).order_by(None) if filters.q else None
    drafts = filters.status == "draft"
    keys = _draft_keys(filters, patients) if drafts else _document_keys(filters, patients, today)
    columns = [keys.c.id] if drafts else [keys.c.day, keys.c.rank, keys.c.id]
    query = select(*columns)
    after, before = ((cursor if cursor is not None and (cursor.day is None) == drafts else None)
                     for cursor in (after, before))
    if before is not None:
        query = query.where(_beyond(columns, before.values(), older=False)).order_by(*columns)
    else:
        if after is not None:
            query = query.where(_beyond(columns, after.values(), older=True))
        query = query.order_by(*(column.desc() for column in columns))
    found = db.session.execute(query.limit(per_page + 1)).all()
    more = len(found) > per_page
    found = found[:per_page]
    if before is not None:
        found.reverse()
    cursors = [ListCursor(row.id) if drafts else ListCursor(row.id, row.day, row.rank) for row in found]
    if before is not None:
        newer, older = (cursors[0] if cursors and more else None), (cursors[-1] if cursors else None)
    else:
        newer = cursors[0] if cursors and after is not None else None
        older = cursors[-1] if cursors and more else None
    return ListPage(_list_rows(cursors, today), newer, older)


def _list_rows(keys: Sequence[ListCursor], today: date) -> list[ListRow]:
    note_ids = [key.id for key in keys if key.day is not None and key.rank == CREDIT_NOTE_RANK]
    notes = {note.id: note for note in db.session.scalars(
        select(CreditNote).options(joinedload(CreditNote.invoice)).where(CreditNote.id.in_(note_ids))
    )} if note_ids else {}
    invoice_ids = {key.id for key in keys if key.day is None or key.rank == INVOICE_RANK}
    invoice_ids |= {note.invoice_id for note in notes.values()}
    invoices = {invoice.id: invoice for invoice in db.session.scalars(
        select(Invoice)
        .options(joinedload(Invoice.patient), selectinload(Invoice.payments), selectinload(Invoice.credit_notes),
                 selectinload(Invoice.lines).selectinload(InvoiceLine.credit_line))
        .where(Invoice.id.in_(invoice_ids))
    ).unique()} if invoice_ids else {}
    rows = []
    for key in keys:
        if key.day is not None and key.rank == CREDIT_NOTE_RANK:
            note = notes[key.id]
            invoice = invoices[note.invoice_id]
            rows.append(ListRow(invoice, invoice_status(invoice, today), note))
        else:
            invoice = invoices[key.id]
            rows.append(ListRow(invoice, invoice_status(invoice, today)))
    return rows
