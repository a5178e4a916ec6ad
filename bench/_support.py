"""What the benchmarks share: the backend a run is on, its database, and how figures are printed.

`make bench` runs `bench/_run.py`, which runs every `bench/*.py` script (not the `_` ones) once per backend the
script declares in a module-level `BACKENDS = (...)` tuple (default: SQLite only), with BENCH_BACKEND set to
`sqlite` or `postgresql`. On PostgreSQL every figure gets `_pg` appended to its name, so the two runs' figures
stand side by side: `figure assess_per_s 404 treatments/s` and `figure assess_per_s_pg 330 treatments/s`.

PostgreSQL is the server at BENCH_POSTGRES_URL, else TEST_POSTGRES_URL, else the local test database; each run
gets a schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from psycopg.types.json import JsonDumper
from sqlalchemy import Table, TypeDecorator, create_engine, insert, text
from sqlalchemy.engine import Connection

SQLITE, POSTGRES = "sqlite", "postgresql"
POSTGRES_URL = (os.environ.get("BENCH_POSTGRES_URL") or os.environ.get("TEST_POSTGRES_URL")
                or "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def backend() -> str:
    """The backend of this run: BENCH_BACKEND, or DATABASE_URL's scheme, else SQLite."""
    chosen = os.environ.get("BENCH_BACKEND", "")
    if not chosen and os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        chosen = POSTGRES
    if chosen not in ("", SQLITE, POSTGRES):
        raise SystemExit(f"BENCH_BACKEND must be {SQLITE} or {POSTGRES}, not {chosen!r}")
    return chosen or SQLITE


def on_postgres() -> bool:
    return backend() == POSTGRES


def suffix() -> str:
    return "_pg" if on_postgres() else ""


def figure(name: str, value: Any, unit: str = "") -> None:
    """Print one figure as `figure <name>[_pg] <value> <unit...>`."""
    print(f"figure {name}{suffix()} {value} {unit}".rstrip(), flush=True)


def postgres_url() -> str:
    url = POSTGRES_URL
    if url.startswith("postgresql://"):
        url = url.replace("postgresql://", "postgresql+psycopg://", 1)
    return url


def postgres_reachable() -> bool:
    try:
        engine = create_engine(postgres_url(), connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable"; _run.py says so
        return False


@contextmanager
def database(folder: str | os.PathLike[str], name: str = "bench.db") -> Iterator[tuple[str, dict[str, Any]]]:
    """(SQLALCHEMY_DATABASE_URI, SQLALCHEMY_ENGINE_OPTIONS) for this run's backend: a SQLite file in `folder`, or a
    fresh PostgreSQL schema (dropped on exit) reached through search_path."""
    if not on_postgres():
        yield f"sqlite:///{Path(folder) / name}", {}
        return
    url = postgres_url()
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield url, {"connect_args": {"options": f"-c search_path={schema}"}}
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def label() -> str:
    return "PostgreSQL" if on_postgres() else "SQLite file"


def bulk_insert(connection: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert many rows fast: COPY on PostgreSQL, executemany on SQLite. Returns the number of rows."""
    if connection.dialect.name == POSTGRES:
        raw = connection.connection.driver_connection  # psycopg 3
        count = 0
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor:
            # Rows are formatted by psycopg's C code (about 15 times faster than escaping them in Python); dicts and
            # lists go in as JSON, for this cursor only.
            cursor.adapters.register_dumper(dict, JsonDumper)
            cursor.adapters.register_dumper(list, JsonDumper)
            with cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        return count
    materialised = [tuple(row) for row in rows]
    if materialised:
        placeholders = ", ".join("?" for _ in columns)  # SQLite's DB-API executemany, without a dict per row
        names = ", ".join(f'"{c}"' for c in columns)
        connection.exec_driver_sql(f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})', materialised)
    return len(materialised)


def reset_sequences(connection: Connection, tables: Iterable[str]) -> None:
    """After COPY with explicit ids on PostgreSQL, move each table's id sequence past the highest id."""
    if connection.dialect.name != POSTGRES:
        return
    for table in tables:
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM \"{table}\"), 0) + 1, false)"))


def insert_rows(connection: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert dicts into a model's table fast, with the columns' Python-side defaults filled in as the ORM would:
    COPY on PostgreSQL (bulk_insert), one executemany INSERT on SQLite. Pass `Model.__table__`. Returns the number
    of rows. Rows without an id get the sequence's (no reset_sequences needed)."""
    if connection.dialect.name != POSTGRES:
        if rows:
            connection.execute(insert(table), list(rows))
        return len(rows)
    given = set().union(*(row.keys() for row in rows)) if rows else set()
    columns = [c for c in table.columns if c.name in given or (c.default is not None and not c.primary_key)]
    defaults = {}
    for column in columns:
        default = column.default
        if column.name in given or default is None:
            continue
        arg = getattr(default, "arg", None)
        defaults[column.name] = (arg, bool(getattr(default, "is_callable", False)))
    binders = {c.name: c.type for c in columns if isinstance(c.type, TypeDecorator)}
    dialect = connection.dialect

    def values(row: dict[str, Any]) -> list[Any]:
        out = []
        for column in columns:
            name = column.name
            if name in row:
                value = row[name]
            elif name in defaults:
                arg, is_callable = defaults[name]
                value = arg(None) if is_callable else arg
            else:
                value = None
            if name in binders:
                value = binders[name].process_bind_param(value, dialect)
            out.append(value)
        return out

    return bulk_insert(connection, table.name, [c.name for c in columns], (values(row) for row in rows))
