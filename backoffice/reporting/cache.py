"""The dashboard's summary table (report_facts): each month's grouped facts, and the open receivables per issue
month on a day, kept in the database between views.

Reading a year of a large chain from the raw rows costs about a second on SQLite, which a page should not pay on
every view; a month costs a tenth of that. So the facts are kept per calendar month and kind (queries.FAMILIES,
without the breakdown by catalogue item and indication the dashboard does not show) and the receivables per
issue month of the invoices. Database triggers (models.REPORT_FACTS_SOURCES) empty every row a write could change,
in the same transaction as the write and whichever process or command makes it: a treatment in its month (and
the later months, whose new patients it can change), an issued invoice or credit note in its month and in the
receivables from that day on, a payment in the receivables of its invoice's issue month from its date on, a claim
outcome in the month of the treatment. A kept row is therefore never stale, and there is no time limit.

The view never writes and never waits for a writer (`dashboard_facts`): it reads the kept rows it needs (January
up to the month, three kinds each, and one receivables row per issue month up to the reference day), reads afresh
from the raw rows, for itself, only what is missing or emptied (usually the month that just changed), and asks
for the summary to be kept once its request is over. Keeping (`keep_facts`) is a background job in its own
transactions (unit_of_work.checkpoint), never a lock on a table the writers use:

1. claim: the rows to keep get a token of this job (created where they do not exist yet), committed at once. Rows
   a writer has locked right now are skipped (PostgreSQL: FOR UPDATE SKIP LOCKED): the writer is emptying them.
2. wait for the writes in flight: a write that started before the claim was committed may have run its trigger
   before the token existed, so it would not clear it. PostgreSQL: such a transaction still holds ROW EXCLUSIVE
   on the table it wrote; right after the claim the job lists the transactions holding it on the tables the
   triggers watch (pg_locks) and polls until every one has ended (at most WRITERS_WAIT_MS; otherwise it keeps
   nothing). Unlike waiting for the whole xip list of pg_current_snapshot(), a long transaction elsewhere on the
   server (another database, a report reading) does not stop the summary from being kept. SQLite: the claim
   needed the single write lock, so no write was in flight once it had it (waiting at most WRITERS_WAIT_MS for
   it, as busy_timeout).
   Every write that starts later finds the token committed and its trigger clears it.
3. read afresh what was claimed, from the raw rows (now including every write committed before);
4. store the facts only where the token is still there, skipping rows a writer holds; commit at once.

So facts read while a write was being made may be shown by one view but are never kept, and a writer waits at
most for the job's claim or store transaction (a few row updates, no reads), never for a page view or for
reading the raw rows. After a web request the job runs in a background thread of the process (REPORT_SUMMARY_
BACKGROUND, default on outside tests); in tests and with an in-memory SQLite database (one connection shared by
every thread) it runs right after the request's commit, before the response. Downloads (the workbook, the
month-end pack, the command line) never use the summary: they read everything afresh.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import Any

from flask import Flask, current_app
from sqlalchemy import and_, delete, func, or_, select, text, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from .. import unit_of_work
from ..clock import utc_now
from ..domain.reporting import Month, Period, Receivables, months_to_date
from ..domain.statuses import InvoiceStatus
from ..extensions import db
from ..models import REPORT_FACTS_SOURCES, Invoice, ReportFacts
from . import queries
from .queries import FAMILIES, RECEIVABLES, YearFacts

WRITERS_WAIT_MS = 200  # the longest a keeping job waits for writes in flight (it then keeps nothing)
POLL_SECONDS = 0.002

Key = tuple[str, date, date]  # (family, first day of the month, as_of)

log = logging.getLogger("backoffice.reporting")


@dataclass(frozen=True)
class DashboardFacts:
    facts: YearFacts                 # January up to the month, without detail
    receivables: Receivables
    calculated_at: datetime          # when the oldest of the figures was read from the raw rows
    read_afresh: int                 # rows read from the raw rows in this view (the rest were kept)


def _monthly_keys(month: Month) -> list[Key]:
    return [(family, m.first, m.last) for m in months_to_date(month) for family in FAMILIES]


def _first_issued() -> date | None:
    return db.session.scalar(select(func.min(Invoice.issue_date)).where(Invoice.status == InvoiceStatus.ISSUED))


def _receivable_keys(as_of: date, first_issued: date | None) -> list[Key]:
    """One key per month from the first invoice issued up to `as_of` (a month without open invoices keeps an
    empty row, so a missing row always means: not read yet)."""
    keys: list[Key] = []
    if first_issued is None:
        return keys
    month = Month.of(first_issued)
    while month.first <= as_of:
        keys.append((RECEIVABLES, month.first, as_of))
        month = month.next()
    return keys


def _kept(month: Month, as_of: date) -> dict[Key, tuple[dict, datetime]]:
    rows = db.session.execute(
        select(ReportFacts.family, ReportFacts.month, ReportFacts.as_of, ReportFacts.facts, ReportFacts.computed_at)
        .where(ReportFacts.facts.is_not(None), or_(
            and_(ReportFacts.family.in_(FAMILIES), ReportFacts.month >= date(month.year, 1, 1),
                 ReportFacts.month <= month.first),
            and_(ReportFacts.family == RECEIVABLES, ReportFacts.as_of == as_of))))
    return {(family, first, last): (facts, computed_at) for family, first, last, facts, computed_at in rows}


def _read_afresh(keys: list[Key], as_of: date, first_issued: date | None,
                 side_by_side: bool = False) -> dict[Key, dict]:
    """The facts of `keys` from the raw rows: one query set per kind over the months concerned (`side_by_side`:
    the kinds at once, each on a connection of its own: queries.read_side_by_side)."""
    by_family: dict[str, list[date]] = defaultdict(list)
    for family, first, _last in keys:
        by_family[family].append(first)
    reads: dict[str, Callable[[], dict]] = {}
    for family, firsts in by_family.items():
        if family == RECEIVABLES:
            since: date | None = min(firsts)
            if first_issued is not None and since is not None and since <= first_issued:
                since = None  # all of them: one pass over the tables is cheaper than reaching them by invoice
            reads[family] = partial(queries.receivables_parts, as_of, since, Month.of(max(firsts)).last)
        else:
            reads[family] = partial(queries.family_months, family, Period(min(firsts), Month.of(max(firsts)).last),
                                    detail=False)
    read = queries.read_side_by_side(reads, side_by_side)
    result: dict[Key, dict] = {}
    for family, firsts in by_family.items():
        for first in firsts:
            if family == RECEIVABLES:
                result[(family, first, as_of)] = read[family].get(first, {"rows": []})
            else:
                result[(family, first, Month.of(first).last)] = read[family][first.month]
    return result


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# ---- the view: read only ---------------------------------------------------------------------------------------

def read_facts(month: Month, as_of: date, fresh: bool = False) -> DashboardFacts:
    """The facts of January up to `month` and the receivables on `as_of`: kept rows where valid, the rest read
    afresh (everything with `fresh`), each kind on a connection of its own (the view has written nothing).
    Writes nothing, locks nothing."""
    first_issued = _first_issued()
    keys = _monthly_keys(month) + _receivable_keys(as_of, first_issued)
    kept = {} if fresh else _kept(month, as_of)
    missing = [key for key in keys if key not in kept]
    values = {key: kept[key][0] for key in keys if key in kept}
    calculated = [_aware(kept[key][1]) for key in values]
    if missing:
        calculated.append(utc_now())
        values.update(_read_afresh(missing, as_of, first_issued, side_by_side=True))
    months: dict[str, dict[int, dict]] = {family: {} for family in FAMILIES}
    parts = []
    for (family, first, _last), value in values.items():
        if family == RECEIVABLES:
            parts.append(value)
        else:
            months[family][first.month] = value
    return DashboardFacts(facts=queries.facts_from_months(month.year, months),
                          receivables=queries.receivables_from_parts(as_of, parts),
                          calculated_at=min(calculated, default=utc_now()), read_afresh=len(missing))


def dashboard_facts(month: Month, as_of: date, fresh: bool = False) -> DashboardFacts:
    """For the dashboard view: `read_facts`, and what had to be read afresh is kept once the request is over."""
    result = read_facts(month, as_of, fresh)
    if result.read_afresh and not fresh:
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        unit_of_work.after_commit(lambda: keeper.submit(app, month, as_of))
    return result


# ---- keeping: a background job ---------------------------------------------------------------------------------

@contextmanager
def _waiting_briefly() -> Iterator[str]:
    """A write transaction on report_facts that waits at most WRITERS_WAIT_MS for a lock; yields the dialect."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(text(f"SET LOCAL lock_timeout = '{WRITERS_WAIT_MS}ms'"))
        yield dialect
        return
    connection = db.session.connection().connection.dbapi_connection
    assert connection is not None
    waited = connection.execute("PRAGMA busy_timeout").fetchone()[0]
    connection.execute(f"PRAGMA busy_timeout = {WRITERS_WAIT_MS}")
    try:
        yield dialect
    finally:
        connection.execute(f"PRAGMA busy_timeout = {int(waited)}")


def _unlocked_rows(*where: Any) -> list[tuple[int, str, date, date]]:
    """(id, family, month, as_of) of the rows matching `where` that no one else has locked, locked now (SQLite:
    the write lock is taken by the next statement anyway)."""
    query = (select(ReportFacts.id, ReportFacts.family, ReportFacts.month, ReportFacts.as_of).where(*where)
             .order_by(ReportFacts.id).with_for_update(skip_locked=True))
    return [(row.id, row.family, row.month, row.as_of) for row in db.session.execute(query)]


def _claim(keys: list[Key], token: str) -> bool:
    """Mark `keys` as being read afresh by this job (creating the rows that do not exist yet), committed."""
    try:
        with _waiting_briefly() as dialect:
            wanted = set(keys)
            existing = db.session.execute(
                select(ReportFacts.family, ReportFacts.month, ReportFacts.as_of)
                .where(tuple_(ReportFacts.family, ReportFacts.month, ReportFacts.as_of).in_(keys))).all()
            new = wanted - {tuple(row) for row in existing}
            if new:
                statement = (postgresql.insert if dialect == "postgresql" else sqlite.insert)(ReportFacts)
                db.session.execute(statement.values(
                    [{"family": family, "month": first, "as_of": last, "claim": token}
                     for family, first, last in sorted(new)]).on_conflict_do_nothing())
            rows = _unlocked_rows(tuple_(ReportFacts.family, ReportFacts.month, ReportFacts.as_of).in_(keys),
                                  ReportFacts.facts.is_(None), or_(ReportFacts.claim.is_(None),
                                                                   ReportFacts.claim != token))
            if rows:
                db.session.execute(update(ReportFacts), [{"id": row[0], "claim": token} for row in rows])
            unit_of_work.checkpoint()
    except OperationalError:  # a write held on too long: keep nothing this time
        unit_of_work.rollback()
        return False
    return True


_WRITERS = text(
    "SELECT DISTINCT CAST(a.backend_xid AS text) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    "WHERE l.locktype = 'relation' AND l.mode = 'RowExclusiveLock' AND a.backend_xid IS NOT NULL "
    "AND l.pid <> pg_backend_pid() AND l.relation IN (SELECT to_regclass(name) FROM unnest(CAST(:tables AS text[])) "
    "AS t(name))")
_RUNNING = text("SELECT count(*) FROM pg_stat_activity WHERE CAST(backend_xid AS text) = ANY(CAST(:xids AS text[]))")


def _writers_finished() -> bool:
    """PostgreSQL: wait (at most WRITERS_WAIT_MS) until every transaction that was writing to a table the triggers
    watch when the claim was committed has ended, so that the raw rows read next include every write whose
    trigger may have run before the claim existed. (A transaction holds ROW EXCLUSIVE on a table it wrote until
    it ends; only those of this database's tables count, not every transaction on the server.)"""
    if db.session.get_bind().dialect.name != "postgresql":
        return True  # SQLite: the claim held the single write lock, no write was in flight
    tables = list(dict.fromkeys(source[0] for source in REPORT_FACTS_SOURCES))
    xids = list(db.session.scalars(_WRITERS, {"tables": tables}))
    deadline = time.monotonic() + WRITERS_WAIT_MS / 1000
    while xids:
        in_flight = db.session.scalar(_RUNNING, {"xids": xids})
        unit_of_work.rollback()  # hold no snapshot while waiting
        if not in_flight:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(POLL_SECONDS)
    unit_of_work.rollback()
    return True


def _store(facts: dict[Key, dict], token: str, calculated_at: datetime, as_of: date) -> int:
    """Store `facts` where this job's claim is still there (a trigger clears it), skipping rows a writer holds."""
    try:
        with _waiting_briefly():
            stored = [{"id": row_id, "facts": facts[(family, first, last)], "computed_at": calculated_at,
                       "claim": None}
                      for row_id, family, first, last in _unlocked_rows(ReportFacts.claim == token)
                      if (family, first, last) in facts]
            if stored:
                db.session.execute(update(ReportFacts), stored)
            if as_of != Month.of(as_of).last:
                _forget_past_days(as_of)
            unit_of_work.checkpoint()
    except OperationalError:
        unit_of_work.rollback()
        return 0
    return len(stored)


def _forget_past_days(as_of: date) -> None:
    """Receivables kept for a running month's earlier days are not asked for again: drop them."""
    days = db.session.scalars(select(ReportFacts.as_of).distinct().where(
        ReportFacts.family == RECEIVABLES, ReportFacts.as_of < as_of)).all()
    stale = [day for day in days if (day + timedelta(days=1)).day != 1]
    if stale:
        db.session.execute(delete(ReportFacts).where(ReportFacts.family == RECEIVABLES,
                                                     ReportFacts.as_of.in_(stale)))


def keep_facts(month: Month, as_of: date) -> int:
    """The background job: read afresh and keep what the summary lacks for `month` and `as_of` (see the module
    notes for why no write is ever kept half-seen). Returns the number of rows stored."""
    first_issued = _first_issued()
    keys = _monthly_keys(month) + _receivable_keys(as_of, first_issued)
    kept = _kept(month, as_of)
    missing = [key for key in keys if key not in kept]
    unit_of_work.rollback()  # end the read: the claim is a transaction of its own
    if not missing:
        return 0
    token = uuid.uuid4().hex
    if not _claim(missing, token) or not _writers_finished():
        return 0
    calculated_at = utc_now()
    facts = _read_afresh(missing, as_of, first_issued)
    return _store(facts, token, calculated_at, as_of)


class Keeper:
    """One background thread per process that runs `keep_facts` for the views that asked, one job at a time
    (a second request for the same month and day while one waits is dropped)."""

    def __init__(self) -> None:
        self._jobs: queue.Queue[tuple[Flask, Month, date]] = queue.Queue()
        self._waiting: set[tuple[int, Month, date]] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def submit(self, app: Flask, month: Month, as_of: date) -> None:
        if not in_background(app):
            with app.app_context():  # its own session and after-commit list: the request's are done
                keep_facts(month, as_of)
            return
        with self._lock:
            if (id(app), month, as_of) in self._waiting:
                return
            self._waiting.add((id(app), month, as_of))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="report-facts-keeper", daemon=True)
                self._thread.start()
        self._jobs.put((app, month, as_of))

    def wait(self) -> None:
        """Until every job submitted so far is done (tests and benchmarks)."""
        self._jobs.join()

    def _work(self) -> None:
        while True:
            app, month, as_of = self._jobs.get()
            with self._lock:
                self._waiting.discard((id(app), month, as_of))
            try:
                with app.app_context():
                    keep_facts(month, as_of)
            except Exception:  # a failed job keeps nothing; the next view reads afresh again
                log.exception("keeping the dashboard facts of %s on %s failed", month, as_of)
            finally:
                self._jobs.task_done()


keeper = Keeper()


def in_background(app: Flask) -> bool:
    """Whether keeping runs in the background thread: not for an in-memory SQLite database (its one connection
    is shared by every thread), and by default not in tests."""
    url = str(app.config.get("SQLALCHEMY_DATABASE_URI", ""))
    if url.startswith("sqlite") and (url.rstrip("/") == "sqlite:" or ":memory:" in url):
        return False
    return bool(app.config.get("REPORT_SUMMARY_BACKGROUND", not app.testing))
