"""`clinic_day(moment)`: the clinic's calendar day of a stored UTC moment, in SQL, on both backends.

A moment stored at 23:30 UTC on 23 November is 24 November in Amsterdam: cutting the date off the UTC value would
put it on the wrong day (the trap of docs/architecture: "a server on UTC dates a 00:30 Dutch invoice one day early").
PostgreSQL converts with `timezone(zone, moment)`; SQLite has no time zones, so it gets a function of its own,
registered on every connection, that converts with Python's zoneinfo.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, String, event, literal
from sqlalchemy.engine import Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from ..clock import clinic_timezone


class _ClinicDay(FunctionElement[Any]):
    name = "clinic_day"
    type = Date()
    inherit_cache = True


@compiles(_ClinicDay)
def _registered_function(element: _ClinicDay, compiler: Any, **kw: Any) -> str:
    """SQLite (and any other backend): the function registered below."""
    return f"clinic_day({compiler.process(element.clauses, **kw)})"


@compiles(_ClinicDay, "postgresql")
def _postgresql(element: _ClinicDay, compiler: Any, **kw: Any) -> str:
    moment, zone = list(element.clauses)
    return f"CAST(timezone({compiler.process(zone, **kw)}, {compiler.process(moment, **kw)}) AS DATE)"


def clinic_day(moment: ColumnElement[Any] | Any) -> ColumnElement[Any]:
    """The clinic's day (CLINIC_TIMEZONE) of a UtcDateTime column, as a DATE."""
    return _ClinicDay(moment, literal(clinic_timezone().key, String))


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _sqlite_clinic_day(moment: str | None, zone: str) -> str | None:
    """SQLite stores a UtcDateTime as "2026-11-24 09:30:00.000000" (UTC, no offset)."""
    if moment is None:
        return None
    value = datetime.fromisoformat(moment)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(_zone(zone)).date().isoformat()


@event.listens_for(Engine, "connect")
def _register_sqlite_function(dbapi_connection: Any, connection_record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        dbapi_connection.create_function("clinic_day", 2, _sqlite_clinic_day, deterministic=True)
