"""What each list exports: its columns and rows, from the list's own filters and query (the page's one definition).

Each function takes the filters the page parsed and the signed-in user (whose care relationships limit the rows as
they limit the page) and returns a services.ListExport. Rows are built inside i18n.dutch(): labels are Dutch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select

from ..care import services as care
from ..claims import line_list
from ..clock import clinic_timezone, clinic_today
from ..documents.spreadsheets import Column, Kind
from ..domain.claim_lifecycle import LINE_STATUS_LABELS, LineStatus
from ..domain.money import from_cents
from ..domain.texts import N_
from ..invoicing import payment_list
from ..invoicing import services as invoicing
from ..labels import indication_label, payment_state_label
from ..models import PAYMENT_METHODS, ClaimLine, Patient, Payment, Treatment, User
from ..paging import Cursor, Keyset
from ..patients import services as patients_services
from ..reminders.services import stages_for
from ..treatments import services as treatments_services
from .services import CHUNK, ListExport, filter_words, walk

PATIENT_NUMBER = Column(N_("Patient number"), 14, Kind.NUMBER)
PATIENT = Column(N_("Patient"), 30)


def _keyset_rows(keyset: Keyset, query: Select[Any]) -> Iterator[Any]:
    """Every row of a list paged by `keyset`, CHUNK at a time, in the page's order."""
    def fetch(cursor: Cursor | None) -> tuple[list[Any], Cursor | None]:
        page = keyset.page(query, CHUNK, after=cursor)
        return page.items, page.next

    return walk(fetch)


def _yes_no(value: bool) -> str:
    return _("yes") if value else _("no")


# ---- patients ----------------------------------------------------------------------------------------------------

PATIENT_COLUMNS = (PATIENT_NUMBER, Column(N_("Last name"), 22), Column(N_("Infix (tussenvoegsel)"), 12),
                   Column(N_("First name"), 16), Column(N_("Date of birth"), 13, Kind.DATE),
                   Column(N_("Street and number"), 28), Column(N_("Postcode"), 10), Column(N_("City"), 18),
                   Column(N_("Phone"), 16), Column(N_("E-mail"), 28), Column(N_("BSN"), 12))


def patients(q: str, user: User) -> ListExport:
    query = patients_services.list_query(q, user)

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        for p in _keyset_rows(patients_services.LIST_ORDER, query):
            # The BSN as the list shows it, masked: whether one is recorded, never the number.
            yield p.id, (p.id, p.last_name, p.infix, p.first_name, p.date_of_birth, p.street, p.postcode, p.city,
                         p.phone, p.email, p.bsn_masked)

    return ListExport("patienten", "patient list", N_("Patients"), PATIENT_COLUMNS, rows,
                      query.with_only_columns(Patient.id).order_by(None), filter_words(q))


# ---- treatments --------------------------------------------------------------------------------------------------

TREATMENT_COLUMNS = (Column(N_("Date"), 12, Kind.DATE), PATIENT_NUMBER, PATIENT, Column(N_("Therapist"), 22),
                     Column(N_("Treatment"), 28), Column(N_("Indication"), 24), Column(N_("Medical / cosmetic"), 12),
                     Column(N_("Price"), 12, Kind.MONEY), Column(N_("Insurer"), 22),
                     Column(N_("Insurer amount"), 14, Kind.MONEY), Column(N_("Reimbursable"), 12),
                     Column(N_("Withdrawn"), 11))


def treatments(filters: treatments_services.ListFilters, user: User) -> ListExport:
    own = care.own_patient_ids(user)

    def fetch(cursor: Cursor | None) -> tuple[list[Treatment], Cursor | None]:
        page = treatments_services.list_page(filters, CHUNK, after=cursor, patients=own)
        return page.items, page.next

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        for t in walk(fetch):
            yield t.patient_id, (
                t.treatment_date, t.patient_id, t.patient.sort_name, t.therapist.name, t.catalogue_item.name,
                indication_label(t.indication), _("medical") if t.medical else _("cosmetic"),
                from_cents(t.price_cents), t.insurer.name if t.insurer else "",
                from_cents(t.insurer_amount_cents) if t.reimbursable else None, _yes_no(t.reimbursable),
                _yes_no(t.withdrawn))

    kind = {True: "medical", False: "cosmetic", None: ""}[filters.medical]
    words = filter_words(kind=kind, reimbursable={True: "yes", False: "no", None: ""}[filters.reimbursable],
                         therapist_id=filters.therapist_id, insurer_id=filters.insurer_id,
                         month=filters.month.iso if filters.month else "", patient_id=filters.patient_id,
                         search=filters.q)
    ids = treatments_services.list_query(filters, own).with_only_columns(Treatment.patient_id).order_by(None)
    return ListExport("behandelingen", "treatment list", N_("Treatments"), TREATMENT_COLUMNS, rows, ids.distinct(),
                      words)


# ---- invoices ----------------------------------------------------------------------------------------------------

INVOICE_COLUMNS = (Column(N_("Date"), 12, Kind.DATE), Column(N_("Kind"), 12), Column(N_("Number"), 14),
                   Column(N_("Credits invoice"), 14), PATIENT_NUMBER, PATIENT, Column(N_("Status"), 22),
                   Column(N_("Total"), 12, Kind.MONEY), Column(N_("Still to pay"), 13, Kind.MONEY),
                   Column(N_("Due date"), 12, Kind.DATE))


def _status_words(row: invoicing.ListRow) -> str:
    status = row.status
    words = payment_state_label(status.state)
    if status.overdue:
        words += ", " + _("Overdue %(days)s days", days=status.days_overdue)
    return words


def _invoice_values(row: invoicing.ListRow) -> tuple[Any, ...]:
    invoice = row.invoice
    patient = (invoice.patient_id, invoice.patient.sort_name)
    if row.credit_note is not None:
        return (row.day, _("Credit note"), row.number, invoice.number, *patient, "",
                from_cents(row.total_cents), None, None)
    if not invoice.issued:
        created = invoice.created_at.astimezone(clinic_timezone()).date()
        return (created, _("Draft"), "", "", *patient, payment_state_label(row.status.state),
                from_cents(row.total_cents), None, None)
    return (row.day, _("Invoice"), row.number, "", *patient, _status_words(row), from_cents(row.total_cents),
            row.status.balance, invoice.due_date)


def invoices(filters: invoicing.ListFilters, user: User) -> ListExport:
    own = care.own_patient_ids(user)
    today = clinic_today()

    def fetch(cursor: invoicing.ListCursor | None) -> tuple[list[invoicing.ListRow], invoicing.ListCursor | None]:
        page = invoicing.list_invoices(filters, CHUNK, after=cursor, today=today, only_patients=own)
        return page.rows, page.next

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        for row in walk(fetch):
            yield row.invoice.patient_id, _invoice_values(row)

    words = filter_words(status=filters.status, month=filters.month.iso if filters.month else "",
                         search=filters.q)
    return ListExport("facturen", "invoice list", N_("Invoices"), INVOICE_COLUMNS, rows,
                      invoicing.list_patient_ids(filters, today, own), words)


OVERDUE_COLUMNS = (Column(N_("Invoice"), 14), PATIENT_NUMBER, PATIENT, Column(N_("Invoice date"), 12, Kind.DATE),
                   Column(N_("Due date"), 12, Kind.DATE), Column(N_("Days overdue"), 12, Kind.NUMBER),
                   Column(N_("Total"), 12, Kind.MONEY), Column(N_("Still to pay"), 13, Kind.MONEY),
                   Column(N_("Reminder"), 34))


def _reminder_labels(invoice_ids: list[int], today: date) -> dict[int, str]:
    """The reminder stage of each invoice in words, as the reminders feature says it ("Herinnering verstuurd ...")."""
    return {invoice_id: str(status.label or "") for invoice_id, status in stages_for(invoice_ids, today).items()}


def overdue(user: User) -> ListExport:
    own = care.own_patient_ids(user)
    today = clinic_today()

    def fetch(cursor: Cursor | None) -> tuple[list[invoicing.OverdueInvoice], Cursor | None]:
        page = invoicing.overdue_page(CHUNK, after=cursor, today=today, patients=own)
        return page.items, page.next

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        pending: list[invoicing.OverdueInvoice] = []
        for item in walk(fetch):
            pending.append(item)
            if len(pending) == CHUNK:
                yield from _overdue_values(pending, today)
                pending = []
        yield from _overdue_values(pending, today)

    return ListExport("achterstallige-facturen", "overdue invoice list", N_("Overdue invoices"), OVERDUE_COLUMNS,
                      rows, invoicing.overdue_patient_ids(today, own))


def _overdue_values(items: list[invoicing.OverdueInvoice], today: date) -> Iterator[tuple[int, Sequence[Any]]]:
    """The rows of a chunk of overdue invoices, with their reminder stages read for the chunk at once."""
    reminders = _reminder_labels([item.invoice.id for item in items], today) if items else {}
    for item in items:
        invoice, status = item.invoice, item.status
        yield invoice.patient_id, (invoice.number, invoice.patient_id, invoice.patient.sort_name, invoice.issue_date,
                                   invoice.due_date, status.days_overdue, status.total, status.balance,
                                   reminders.get(invoice.id, ""))


# ---- payments ----------------------------------------------------------------------------------------------------

PAYMENT_COLUMNS = (Column(N_("Date"), 12, Kind.DATE), Column(N_("Invoice number"), 14), PATIENT_NUMBER, PATIENT,
                   Column(N_("Payment method"), 24), Column(N_("Amount"), 12, Kind.MONEY), Column(N_("Note"), 40))


def _payment_values(payment: Payment) -> tuple[Any, ...]:
    invoice = payment.invoice
    method = PAYMENT_METHODS.get(payment.method)
    return (payment.paid_on, invoice.number, invoice.patient_id, invoice.patient.sort_name,
            _(method) if method else payment.method, from_cents(payment.amount_cents), payment.note)


def payments(filters: payment_list.PaymentFilters, user: User) -> ListExport:
    own = care.own_patient_ids(user)

    def fetch(cursor: Cursor | None) -> tuple[list[Payment], Cursor | None]:
        page = payment_list.list_page(filters, CHUNK, after=cursor, only_patients=own)
        return page.items, page.next

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        for payment in walk(fetch):
            yield payment.invoice.patient_id, _payment_values(payment)

    words = filter_words(method=filters.method, month=filters.month.iso if filters.month else "",
                         search=filters.q)
    return ListExport("betalingen", "payment list", N_("Payments"), PAYMENT_COLUMNS, rows,
                      payment_list.patient_ids(filters, own), words)


# ---- claim lines -------------------------------------------------------------------------------------------------

CLAIM_LINE_COLUMNS = (Column(N_("Batch"), 16), Column(N_("Insurer"), 22), Column(N_("Claim reference"), 22),
                      PATIENT_NUMBER, PATIENT, Column(N_("Treatment date"), 13, Kind.DATE),
                      Column(N_("Invoice number"), 14), Column(N_("Description"), 32), Column(N_("Prestatiecode"), 13),
                      Column(N_("Therapist"), 22), Column(N_("Amount"), 12, Kind.MONEY),
                      Column(N_("Claimed"), 12, Kind.MONEY), Column(N_("Paid"), 12, Kind.MONEY),
                      Column(N_("Status"), 14), Column(N_("Reason"), 60))


def claim_line_status(line: ClaimLine) -> str:
    """A claim line's status in words: its outcome, or "excluded" for a line its batch left out."""
    if not line.included:
        return _("excluded")
    try:
        return _(LINE_STATUS_LABELS[LineStatus(line.status)])
    except ValueError:
        return line.status


def _claim_line_values(line: ClaimLine, language: str) -> tuple[Any, ...]:
    invoice_line = line.invoice_line
    invoice = invoice_line.invoice
    claimed = from_cents(line.claimed_cents) if line.included else None
    paid = from_cents(line.paid_cents) if line.included else None
    return (line.batch.number, line.batch.insurer.name, line.claim_reference or "", invoice.patient_id,
            invoice.patient.sort_name, invoice_line.treatment_date, invoice.number, invoice_line.description,
            invoice_line.prestatiecode, invoice_line.therapist_name, from_cents(line.amount_cents), claimed, paid,
            claim_line_status(line), line_list.reason_text(line, language))


def claim_lines(filters: line_list.LineFilters, user: User) -> ListExport:
    own = care.own_patient_ids(user)

    def fetch(cursor: Cursor | None) -> tuple[list[ClaimLine], Cursor | None]:
        page = line_list.list_page(filters, CHUNK, after=cursor, only_patients=own)
        return page.items, page.next

    def rows() -> Iterator[tuple[int, Sequence[Any]]]:
        for line in walk(fetch):
            yield line.invoice_line.invoice.patient_id, _claim_line_values(line, "nl")

    words = filter_words(status=filters.status, insurer_id=filters.insurer_id,
                         month=filters.month.iso if filters.month else "", search=filters.q)
    return ListExport("declaratieregels", "claim line list", N_("Claim lines"), CLAIM_LINE_COLUMNS, rows,
                      line_list.patient_ids(filters, own), words)

