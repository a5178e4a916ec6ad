"""What the benchmarks share: the backend a run is on, its database, and how figures are printed.

`make bench` runs `bench/_run.py`, which runs every `bench/*.py` script (not the `_` ones) once per backend the
script declares in a module-level `BACKENDS = (...)` tuple (default: SQLite only), with BENCH_BACKEND set to
`sqlite` or `postgresql`. On PostgreSQL every figure gets `_pg` appended to its name, so the two runs' figures
stand side by side: `figure assess_per_s 404 treatments/s` and `figure assess_per_s_pg 330 treatments/s`.

PostgreSQL is the server at BENCH_POSTGRES_URL, else TEST_POSTGRES_URL, else the local test database; each run
gets a schema of its own that is dropped afterwards.
"""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
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


def _copy_value(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    return (str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r"))


def bulk_insert(connection: Connection, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Insert many rows fast: COPY on PostgreSQL, executemany on SQLite. Returns the number of rows."""
    if connection.dialect.name == POSTGRES:
        raw = connection.connection.driver_connection  # psycopg 3
        count = 0
        buffer = io.StringIO()
        for row in rows:
            buffer.write("\t".join(_copy_value(v) for v in row) + "\n")
            count += 1
        names = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor, cursor.copy(f'COPY "{table}" ({names}) FROM STDIN') as copy:
            copy.write(buffer.getvalue())
        return count
    materialised = [tuple(row) for row in rows]
    if materialised:
        placeholders = ", ".join(f":c{i}" for i in range(len(columns)))
        names = ", ".join(f'"{c}"' for c in columns)
        connection.execute(text(f'INSERT INTO "{table}" ({names}) VALUES ({placeholders})'),
                           [{f"c{i}": v for i, v in enumerate(row)} for row in materialised])
    return len(materialised)


def reset_sequences(connection: Connection, tables: Iterable[str]) -> None:
    """After COPY with explicit ids on PostgreSQL, move each table's id sequence past the highest id."""
    if connection.dialect.name != POSTGRES:
        return
    for table in tables:
        connection.execute(text(
            f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
            f"COALESCE((SELECT MAX(id) FROM \"{table}\"), 0) + 1, false)"))
