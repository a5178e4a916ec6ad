"""Consecutive numbers from a locked counter row, taken in the transaction that uses them.

A database sequence hands out numbers outside the transaction, so a rollback leaves a gap. Here the counter is
an ordinary row: `SELECT ... FOR UPDATE` makes concurrent issuers wait for each other on PostgreSQL, and the
increment commits or rolls back together with the invoice that took the number, so the series has no gaps and
no repeats. On SQLite (no FOR UPDATE) the INSERT below takes the database write lock first, which serialises
issuers just the same.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from ..extensions import db
from ..models import NumberSeries

# INSERT ... ON CONFLICT DO NOTHING, per dialect.
_INSERTS: dict[str, Callable[..., Any]] = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}


def take_next(series: str) -> int:
    """The next number of `series` (1 for a new series), reserved until the current transaction ends."""
    dialect = db.session.get_bind().dialect.name
    insert = _INSERTS.get(dialect)
    if insert is None:  # another database: create the row the portable way (a race there raises, never repeats)
        if db.session.get(NumberSeries, series) is None:
            db.session.add(NumberSeries(name=series, next_value=1))
            db.session.flush()
    else:
        # Creates the series row on first use; when it exists this does nothing (but on SQLite it already
        # holds the write lock, so the read below cannot go stale).
        db.session.execute(
            insert(NumberSeries).values(name=series, next_value=1).on_conflict_do_nothing(index_elements=["name"])
        )
    counter = db.session.execute(
        select(NumberSeries)
        .where(NumberSeries.name == series)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).scalar_one()
    value = counter.next_value
    counter.next_value = value + 1
    db.session.flush()
    return value
