"""The claim lines list: the lines of every claim batch not cancelled, newest first, filtered by insurer, status,
treatment month and patient; paged by key (paging.Keyset). The page and its export read the same filters and query
here.

Without a status the list shows the claimed lines (included in their batch); "excluded" shows the lines a batch
left out, with their reasons. Lines of cancelled batches were never claimed and are not listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import contains_eager

from ..domain import claim_reasons
from ..domain.claims import BatchStatus, LineStatus
from ..domain.months import Month
from ..domain.texts import N_
from ..formtools import month_arg
from ..models import ClaimBatch, ClaimLine, Invoice, InvoiceLine, Patient
from ..paging import Cursor, Keyset, Page
from .common import reasons_of

EXCLUDED = "excluded"
# ?status= of the list: a claimed line's outcome, or the lines left out of their batch.
STATUSES = {LineStatus.PENDING.value: N_("pending"), LineStatus.PAID.value: N_("paid"),
            LineStatus.PARTLY_PAID.value: N_("partly paid"), LineStatus.REJECTED.value: N_("rejected"),
            EXCLUDED: N_("excluded")}
# Newest line first: ids grow as batches are built.
LIST_ORDER = Keyset((ClaimLine.id,), descending=True)


@dataclass(frozen=True)
class LineFilters:
    insurer_id: int | None = None
    status: str = ""            # a key of STATUSES, or "" for every claimed line
    month: Month | None = None  # the treatment date's month
    q: str = ""                 # patient search words (name, date of birth, policy number)


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value and value.isascii() and value.isdigit() else None


def parse_filters(args) -> LineFilters:
    """Filters from the query string; anything malformed is ignored rather than refused."""
    status = args.get("status", "")
    return LineFilters(insurer_id=_int_or_none(args.get("insurer_id")), status=status if status in STATUSES else "",
                       month=month_arg(args.get("month")), q=(args.get("q") or "").strip())


def list_query(filters: LineFilters, only_patients=None) -> Select[Any]:
    """The claim lines the list shows for `filters`, joined to their batch, invoice line and invoice (unordered):
    the page and its export. `only_patients`: only those patients' lines (a therapist's own, backoffice/care/)."""
    from ..patients.services import search_query

    query = (select(ClaimLine)
             .join(ClaimBatch, ClaimBatch.id == ClaimLine.batch_id)
             .join(InvoiceLine, InvoiceLine.id == ClaimLine.invoice_line_id)
             .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
             .where(ClaimBatch.status != BatchStatus.CANCELLED.value))
    if filters.status == EXCLUDED:
        query = query.where(ClaimLine.included.is_(False))
    else:
        query = query.where(ClaimLine.included.is_(True))
        if filters.status:
            query = query.where(ClaimLine.status == filters.status)
    if filters.insurer_id is not None:
        query = query.where(ClaimBatch.insurer_id == filters.insurer_id)
    if filters.month is not None:
        first, after = filters.month.bounds
        query = query.where(InvoiceLine.treatment_date >= first, InvoiceLine.treatment_date < after)
    if filters.q:
        query = query.where(Invoice.patient_id.in_(search_query(filters.q).with_only_columns(Patient.id)
                                                   .order_by(None)))
    if only_patients is not None:
        query = query.where(Invoice.patient_id.in_(only_patients))
    return query


def list_page(filters: LineFilters, per_page: int, after: Cursor | None = None, before: Cursor | None = None,
              only_patients=None) -> Page[ClaimLine]:
    """One page of claim lines, newest first, each with its batch, insurer, invoice line, invoice and patient."""
    query = list_query(filters, only_patients).options(
        contains_eager(ClaimLine.batch).joinedload(ClaimBatch.insurer),
        contains_eager(ClaimLine.invoice_line).contains_eager(InvoiceLine.invoice).joinedload(Invoice.patient))
    return LIST_ORDER.page(query, per_page, after, before)


def patient_ids(filters: LineFilters, only_patients=None) -> Select[Any]:
    """The patients of the lines the list shows for `filters` (distinct ids): whom its export names."""
    return list_query(filters, only_patients).with_only_columns(Invoice.patient_id).order_by(None).distinct()


def reason_text(line: ClaimLine, language: str) -> str:
    """Why a line was left out (its reasons) or rejected (the insurer's reason), in `language`; "" otherwise."""
    if not line.included:
        return " ".join(reason.text(language) for reason in reasons_of(line))
    rejection = claim_reasons.stored_reason(line.rejection_code, line.rejection_text)
    return rejection.text(language) if rejection is not None else ""
