"""What every model module shares: the declarative base, the UTC datetime column type and the CHECK helper."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import DateTime, Dialect, Table
from sqlalchemy.types import TypeDecorator

from ..clock import utc_now
from ..extensions import Base, db

if TYPE_CHECKING:
    # Flask-SQLAlchemy builds db.Model at run time from Base (adding its bind and query mixins), so type
    # checkers cannot see it; both share one metadata and one registry.
    class Model(Base):
        __abstract__ = True
        __table__: ClassVar[Table]  # every model here maps one table (Base says only "a FromClause")
else:
    Model = db.Model


def utcnow() -> datetime:
    return utc_now()


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def one_of(column: str, values: Iterable[object]) -> str:
    """The SQL of a CHECK constraint keeping `column` to `values` (an enum, or the keys of a dict of labels)."""
    return f"{column} IN ({', '.join(repr(str(v)) for v in values)})"
