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

A view reads the rows it needs (January up to the month, three kinds each, and one receivables row per issue
month up to the reference day) and reads afresh only what is missing or emptied, usually the month that just
changed, then stores it. Storing is optimistic: before reading afresh the view marks its rows with a token of
its own (claim), in a transaction that first waits for the writes in flight to finish (SQLite: its write lock;
PostgreSQL: a SHARE lock on the tables the triggers watch); it stores its facts only where the token is still
there, and a trigger clears the token, so facts read while a write was being made serve that one view but are
never kept. The view waits at most LOCK_TIMEOUT_MS for that and then keeps nothing; writers only ever wait for
the view's two short transactions. Downloads (the workbook, the month-end pack, the command line) never use the
summary: they read everything afresh.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import OperationalError

from ..domain.reporting import Month, Period, Receivables, months_to_date
from ..extensions import db
from ..models import REPORT_FACTS_SOURCES, Invoice, ReportFacts
from . import queries
from .queries import FAMILIES, YearFacts

RECEIVABLES = "receivables"
LOCK_TIMEOUT_MS = 200

Key = tuple[str, date, date]  # (family, first day of the month, as_of)


@dataclass(frozen=True)
class DashboardFacts:
    facts: YearFacts                 # January up to the month, without detail
    receivables: Receivables
    calculated_at: datetime          # when the oldest of the figures was read from the raw rows
    read_afresh: int                 # rows read from the raw rows in this view (the rest were kept)


def _monthly_keys(month: Month) -> list[Key]:
    return [(family, m.first, m.last) for m in months_to_date(month) for family in FAMILIES]


def _first_issued() -> date | None:
    return db.session.scalar(select(func.min(Invoice.issue_date)).where(Invoice.status == "issued"))


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


def _read_afresh(keys: list[Key], as_of: date, first_issued: date | None) -> dict[Key, dict]:
    """The facts of `keys` from the raw rows: one query set per kind over the months concerned."""
    result: dict[Key, dict] = {}
    by_family: dict[str, list[date]] = defaultdict(list)
    for family, first, _last in keys:
        by_family[family].append(first)
    for family, firsts in by_family.items():
        if family == RECEIVABLES:
            since = min(firsts)
            if first_issued is not None and since <= first_issued:
                since = None  # all of them: one pass over the tables is cheaper than reaching them by invoice
            parts = queries.receivables_parts(as_of, since, Month.of(max(firsts)).last)
            for first in firsts:
                result[(family, first, as_of)] = parts.get(first, {"rows": []})
            continue
        span = Period(min(firsts), Month.of(max(firsts)).last)
        months = queries.family_months(family, span, detail=False)
        for first in firsts:
            result[(family, first, Month.of(first).last)] = months[first.month]
    return result


@contextmanager
def _waiting_briefly() -> Iterator[str]:
    """A write transaction on report_facts that waits at most LOCK_TIMEOUT_MS for a lock; yields the dialect."""
    dialect = db.session.get_bind().dialect.name
    if dialect == "postgresql":
        db.session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT_MS}ms'"))
        yield dialect
        return
    connection = db.session.connection().connection.dbapi_connection
    waited = connection.execute("PRAGMA busy_timeout").fetchone()[0]
    connection.execute(f"PRAGMA busy_timeout = {LOCK_TIMEOUT_MS}")
    try:
        yield dialect
    finally:
        connection.execute(f"PRAGMA busy_timeout = {int(waited)}")


def _claim(keys: list[Key], token: str) -> bool:
    """Mark `keys` as being read afresh by this view (creating the rows that do not exist yet), once no write is
    in flight: a write that started before is committed by then, and the view will read it."""
    try:
        with _waiting_briefly() as dialect:
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            if dialect == "postgresql":  # SQLite's single write lock waits for writers by itself
                tables = ", ".join(dict.fromkeys(source[0] for source in REPORT_FACTS_SOURCES))
                db.session.execute(text(f"LOCK TABLE {tables} IN SHARE MODE"))
            statement = insert(ReportFacts).values(
                [{"family": family, "month": first, "as_of": last, "claim": token} for family, first, last in keys])
            db.session.execute(statement.on_conflict_do_update(index_elements=["family", "month", "as_of"],
                                                               set_={"claim": token}))
            db.session.commit()
    except OperationalError:  # a write held on too long: read afresh for this view, keep nothing
        db.session.rollback()
        return False
    return True


def _store(facts: dict[Key, dict], token: str, calculated_at: datetime, as_of: date) -> None:
    try:
        with _waiting_briefly():
            for (family, first, last), value in sorted(facts.items()):
                db.session.execute(
                    update(ReportFacts)
                    .where(ReportFacts.family == family, ReportFacts.month == first, ReportFacts.as_of == last,
                           ReportFacts.claim == token)
                    .values(facts=value, computed_at=calculated_at, claim=None))
            if as_of != Month.of(as_of).last:
                _forget_past_days(as_of)
            db.session.commit()
    except OperationalError:
        db.session.rollback()


def _forget_past_days(as_of: date) -> None:
    """Receivables kept for a running month's earlier days are not asked for again: drop them."""
    days = db.session.scalars(select(ReportFacts.as_of).distinct().where(
        ReportFacts.family == RECEIVABLES, ReportFacts.as_of < as_of)).all()
    stale = [day for day in days if (day + timedelta(days=1)).day != 1]
    if stale:
        db.session.execute(delete(ReportFacts).where(ReportFacts.family == RECEIVABLES,
                                                     ReportFacts.as_of.in_(stale)))


def dashboard_facts(month: Month, as_of: date, fresh: bool = False) -> DashboardFacts:
    """The facts of January up to `month` and the receivables on `as_of`: kept rows where valid, the rest read
    afresh (everything with `fresh`) and kept."""
    first_issued = _first_issued()
    keys = _monthly_keys(month) + _receivable_keys(as_of, first_issued)
    kept = {} if fresh else _kept(month, as_of)
    missing = [key for key in keys if key not in kept]
    values = {key: kept[key][0] for key in keys if key in kept}
    calculated = [kept[key][1] for key in values]
    if missing:
        token = uuid.uuid4().hex
        claimed = _claim(missing, token)
        now = datetime.now(UTC)
        afresh = _read_afresh(missing, as_of, first_issued)
        if claimed:
            _store(afresh, token, now, as_of)
        values.update(afresh)
        calculated.append(now)
    months: dict[str, dict[int, dict]] = {family: {} for family in FAMILIES}
    parts = []
    for (family, first, _last), value in values.items():
        if family == RECEIVABLES:
            parts.append(value)
        else:
            months[family][first.month] = value
    calculated_at = min((at if at.tzinfo else at.replace(tzinfo=UTC) for at in calculated),
                        default=datetime.now(UTC))
    return DashboardFacts(facts=queries.facts_from_months(month.year, months),
                          receivables=queries.receivables_from_parts(as_of, parts),
                          calculated_at=calculated_at, read_afresh=len(missing))
