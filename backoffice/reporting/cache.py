"""The dashboard's cache of the report's heavy parts: a year's grouped facts and the receivables on a day.

Reading a year of a large chain costs about a second on SQLite, which a page should not pay on every view, and
switching months within a year needs the same facts again. Entries are kept per application (so per worker
process) and dropped
- at once when this process commits a change to a table the report reads (session events below), and
- after REPORT_CACHE_SECONDS (default 120) in any case, for changes other processes make (a second web worker,
  the command line, the print worker);
the dashboard says when its figures were calculated and offers to recalculate. Downloads (the workbook, the
month-end pack, the command line) never use the cache.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..models import (
    CatalogueItem,
    ClaimBatch,
    ClaimLine,
    CreditNote,
    CreditNoteLine,
    Invoice,
    InvoiceLine,
    PatientClaim,
    Payment,
    Treatment,
)

DEFAULT_SECONDS = 120
MAX_ENTRIES = 8
EXTENSION = "reporting_cache"
# What the cached parts are read from (names and credentials are read at every view anyway).
WATCHED = (Treatment, Invoice, InvoiceLine, CreditNote, CreditNoteLine, Payment, ClaimBatch, ClaimLine,
           PatientClaim, CatalogueItem)


@dataclass
class _Entry:
    value: Any
    version: int
    stored: float            # time.monotonic()
    calculated_at: datetime


class ReportCache:
    def __init__(self, seconds: float):
        self.seconds = seconds
        self._entries: dict[tuple, _Entry] = {}
        self._version = 0
        self._lock = threading.Lock()

    def invalidate(self) -> None:
        with self._lock:
            self._version += 1
            self._entries.clear()

    def get(self, key: tuple, compute: Callable[[], Any], fresh: bool = False) -> tuple[Any, datetime]:
        """The cached value of `key` with the time it was calculated, or `compute()` now (and kept)."""
        with self._lock:
            entry = self._entries.get(key)
            version = self._version
        if (not fresh and entry is not None and entry.version == version
                and time.monotonic() - entry.stored < self.seconds):
            return entry.value, entry.calculated_at
        calculated_at = datetime.now(UTC)
        value = compute()
        with self._lock:
            if version == self._version and self.seconds > 0:  # nothing changed while computing
                if len(self._entries) >= MAX_ENTRIES:
                    self._entries.pop(min(self._entries, key=lambda k: self._entries[k].stored))
                self._entries[key] = _Entry(value, version, time.monotonic(), calculated_at)
        return value, calculated_at


def cache_for(app: Flask | None = None) -> ReportCache:
    app = app or current_app
    cache = app.extensions.get(EXTENSION)
    if cache is None:
        cache = app.extensions[EXTENSION] = ReportCache(float(app.config.get("REPORT_CACHE_SECONDS",
                                                                              DEFAULT_SECONDS)))
    return cache


# ---- dropping entries when this process changes what they were read from ---------------------------------------

_FLAG = "reporting_changed"


@event.listens_for(Session, "after_flush")
def _note_changes(session: Session, flush_context) -> None:
    if session.info.get(_FLAG):
        return
    for instance in (*session.new, *session.dirty, *session.deleted):
        if isinstance(instance, WATCHED):
            session.info[_FLAG] = True
            return


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(state) -> None:
    # Bulk UPDATE/DELETE statements (claims services use them) skip the flush.
    if (state.is_update or state.is_delete) and any(
            mapper.class_ in WATCHED for mapper in state.all_mappers):
        state.session.info[_FLAG] = True


@event.listens_for(Session, "after_commit")
def _drop_after_commit(session: Session) -> None:
    if session.info.pop(_FLAG, False) and has_app_context():
        cache = current_app.extensions.get(EXTENSION)
        if cache is not None:
            cache.invalidate()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session: Session) -> None:
    session.info.pop(_FLAG, None)
