"""Reading the NEN 7513 access log: the pages' queries and the export of one patient's log.

The log is the fastest-growing table (every view writes a row), so every reading here is one index range in the
pages' order, (at, id), and costs the same at 10 thousand and at 10 million rows (bench/access_log.py):
- the newest entries and a date range: ix_access_log_at_id; a filter by patient, user or action: the index that
  starts with that column and goes on with (at, id). Several filters: the planner takes the most selective of
  those and checks the others on its rows.
- pages by key (paging.Keyset): no COUNT, no OFFSET; page 1,000 costs what page 1 costs.
- one patient's export walks the log in chunks of EXPORT_CHUNK rows, so memory stays flat however long it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Select, func, select
from sqlalchemy.orm import selectinload

from ..extensions import db
from ..models import AccessLog
from ..paging import Cursor, Keyset, Page

# Browsing: newest first. One patient's log: oldest first (the overview NEN 7513 gives a patient).
NEWEST_FIRST = Keyset((AccessLog.at, AccessLog.id), descending=True)
OLDEST_FIRST = Keyset((AccessLog.at, AccessLog.id))
# Rows per query while exporting: few round trips, little memory.
EXPORT_CHUNK = 1000
# What an export row holds (the id and time also place the next chunk).
EXPORT_COLUMNS = (AccessLog.id, AccessLog.at, AccessLog.user_email, AccessLog.user_role, AccessLog.on_behalf_of,
                  AccessLog.patient_id, AccessLog.action, AccessLog.subject, AccessLog.detail, AccessLog.ip_address)


@dataclass(frozen=True)
class LogFilter:
    """What the browse page's filters ask for; None is "any". `since` is inclusive, `until` exclusive."""

    user_id: int | None = None
    patient_id: int | None = None
    action: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def filtered(log_filter: LogFilter) -> Select[Any]:
    """The entries `log_filter` lets through (with their patients: the page shows the names), in no order yet."""
    query = select(AccessLog).options(selectinload(AccessLog.patient))
    if log_filter.user_id is not None:
        query = query.where(AccessLog.user_id == log_filter.user_id)
    if log_filter.patient_id is not None:
        query = query.where(AccessLog.patient_id == log_filter.patient_id)
    if log_filter.action:
        query = query.where(AccessLog.action == log_filter.action)
    if log_filter.since is not None:
        query = query.where(AccessLog.at >= log_filter.since)
    if log_filter.until is not None:
        query = query.where(AccessLog.at < log_filter.until)
    return query


def browse_page(log_filter: LogFilter, per_page: int, after: Cursor | None = None,
                before: Cursor | None = None) -> Page[AccessLog]:
    """One page of the log, newest first: two queries (the entries, their patients)."""
    return NEWEST_FIRST.page(filtered(log_filter), per_page, after, before)


def patient_page(patient_id: int, per_page: int, after: Cursor | None = None,
                 before: Cursor | None = None) -> Page[AccessLog]:
    """One page of a patient's own log, oldest first: one query."""
    return OLDEST_FIRST.page(select(AccessLog).where(AccessLog.patient_id == patient_id), per_page, after, before)


@dataclass(frozen=True)
class ExportScope:
    """The entries of one patient's export: those that existed when it was asked for (`count` of them, ids up to
    `last_id`), so the export's own log entry, written after, is not in it."""

    patient_id: int
    count: int
    last_id: int | None


def export_scope(patient_id: int) -> ExportScope:
    # One statement: the count and the newest id are read from the same snapshot.
    count, last_id = db.session.execute(
        select(func.count(AccessLog.id), func.max(AccessLog.id)).where(AccessLog.patient_id == patient_id)).one()
    return ExportScope(patient_id, count, last_id)


def export_rows(scope: ExportScope, chunk: int | None = None) -> Iterator[Any]:
    """The scope's entries oldest first, as rows of EXPORT_COLUMNS, read `chunk` at a time: each chunk is one
    range of ix_access_log_patient_id_at_id past the last row of the chunk before."""
    if scope.last_id is None:
        return
    query = cast(Select[Any], select(*EXPORT_COLUMNS).where(AccessLog.patient_id == scope.patient_id,
                                                            AccessLog.id <= scope.last_id))
    after: Cursor | None = None
    while True:
        page = OLDEST_FIRST.page(query, chunk or EXPORT_CHUNK, after, rows=True)
        yield from page.items
        if page.next is None:
            return
        after = page.next
