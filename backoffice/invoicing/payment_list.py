"""The payments list: every payment, refund and reversal on issued invoices, newest first, filtered by month, payment
method and patient; paged by key (paging.Keyset). The page and its export read the same filters and query here."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from ..domain.months import Month
from ..formtools import month_arg
from ..models import PAYMENT_METHODS, Invoice, Patient, Payment
from ..paging import Cursor, Keyset, Page

# Newest payment date first, then the newest entry of a day (id): no two rows share a key.
LIST_ORDER = Keyset((Payment.paid_on, Payment.id), descending=True)


@dataclass(frozen=True)
class PaymentFilters:
    month: Month | None = None   # the payment date's month
    method: str = ""             # a key of PAYMENT_METHODS, or "" for every method
    q: str = ""                  # patient search words (name, date of birth, policy number)


def parse_filters(args) -> PaymentFilters:
    """Filters from the query string; anything malformed is ignored rather than refused."""
    method = args.get("method", "")
    return PaymentFilters(month=month_arg(args.get("month")), method=method if method in PAYMENT_METHODS else "",
                          q=(args.get("q") or "").strip())


def _patients(filters: PaymentFilters, only_patients) -> Select[Any] | None:
    """The patients whose payments may be listed: those the search finds, within a therapist's own (care/)."""
    from ..patients.services import search_query

    patients = search_query(filters.q).with_only_columns(Patient.id).order_by(None) if filters.q else None
    if only_patients is not None:
        patients = only_patients if patients is None else patients.where(Patient.id.in_(only_patients))
    return patients


def list_query(filters: PaymentFilters, only_patients=None) -> Select[Any]:
    """The payments the list shows for `filters` (unordered, nothing loaded with them): the page and its export.
    `only_patients`: only those patients' payments (a subquery of ids: a therapist's own patients)."""
    query = select(Payment)
    if filters.month is not None:
        first, after = filters.month.bounds
        query = query.where(Payment.paid_on >= first, Payment.paid_on < after)
    if filters.method:
        query = query.where(Payment.method == filters.method)
    patients = _patients(filters, only_patients)
    if patients is not None:
        query = query.where(Payment.invoice_id.in_(select(Invoice.id).where(Invoice.patient_id.in_(patients))))
    return query


def list_page(filters: PaymentFilters, per_page: int, after: Cursor | None = None, before: Cursor | None = None,
              only_patients=None) -> Page[Payment]:
    """One page of payments, newest first, each with its invoice and patient (no COUNT, no OFFSET)."""
    query = list_query(filters, only_patients).options(joinedload(Payment.invoice).joinedload(Invoice.patient))
    return LIST_ORDER.page(query, per_page, after, before)


def patient_ids(filters: PaymentFilters, only_patients=None) -> Select[Any]:
    """The patients of the payments the list shows for `filters` (distinct ids): whom its export names."""
    payments = list_query(filters, only_patients).with_only_columns(Payment.invoice_id).order_by(None)
    return select(Invoice.patient_id).where(Invoice.id.in_(payments)).distinct()
