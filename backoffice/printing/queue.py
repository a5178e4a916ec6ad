"""The task queue (Huey) that runs print jobs in the background.

PRINT_QUEUE_URL (app config, from the environment) chooses where queued tasks wait:
- unset: a SQLite file instance/print_queue.sqlite3 (no server needed; `make run` starts the consumer);
- sqlite:////absolute/path.sqlite3: another SQLite file;
- redis://host:6379/0 (or rediss://): Redis (needs `pip install redis`);
- postgresql://user@host/db: PostgreSQL (psycopg 3, already installed; Huey 3 or newer), tables huey_*;
- immediate: run each task at once in the process that queues it (the default of tests and tools that bring
  their own config, or a clinic without a worker).

The consumer: `huey_consumer backoffice.printing.tasks.huey -w 1 -m 1` (what `make run` starts; -m 1 polls
an idle queue every second instead of backing off to ten).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from huey import Huey, MemoryHuey, RedisHuey, SqliteHuey
from huey.storage import SqliteStorage

QUEUE_NAME = "backoffice-print"


class QueueConfigError(RuntimeError):
    """PRINT_QUEUE_URL is unusable; the message says what to set."""


class _LazySqliteStorage(SqliteStorage):
    """Creates its file and tables on first use instead of at import: the web process imports the queue to
    enqueue, tests never use the file, and the instance folder may not exist yet at import."""

    def __init__(self, *args, **kwargs):
        kwargs["create_tables"] = False
        super().__init__(*args, **kwargs)

    def _create_connection(self):
        from ..files import private_file

        private_file(self.filename)  # 0600 (folder 0700) before SQLite creates it with the umask's mode
        connection = super()._create_connection()
        for statement in self.ddl:
            connection.execute(statement)
        return connection


class _SqliteHuey(SqliteHuey):
    storage_class = _LazySqliteStorage


def make_huey(url: str, default_file: Path | None = None) -> Huey:
    """The queue PRINT_QUEUE_URL names; an empty URL means the SQLite file `default_file`."""
    url = (url or "").strip()
    # Job state lives in the print_jobs table: Huey keeps no results.
    if url == "immediate":
        return MemoryHuey(QUEUE_NAME, results=False, immediate=True)
    if not url:
        if default_file is None:
            raise QueueConfigError("PRINT_QUEUE_URL is empty and no default queue file was given.")
        return _SqliteHuey(QUEUE_NAME, results=False, filename=str(default_file))
    scheme = url.split(":", 1)[0].lower()
    if scheme == "sqlite":
        path = url.split("://", 1)[1][1:] if "://" in url else ""
        if not path:
            raise QueueConfigError("PRINT_QUEUE_URL=sqlite:///<path> needs a file path, e.g. "
                                   "sqlite:////var/lib/backoffice/print_queue.sqlite3")
        return _SqliteHuey(QUEUE_NAME, results=False, filename=path)
    if scheme in ("redis", "rediss"):
        try:
            import redis  # noqa: F401 - only to give a clear message when it is missing
        except ImportError as error:
            raise QueueConfigError("PRINT_QUEUE_URL points at Redis: install the client with "
                                   "`.venv/bin/pip install redis`.") from error
        return RedisHuey(QUEUE_NAME, results=False, url=url)
    if scheme in ("postgres", "postgresql", "postgresql+psycopg"):
        try:
            from huey import PostgresHuey
        except ImportError as error:
            raise QueueConfigError("PRINT_QUEUE_URL points at PostgreSQL, which needs Huey 3 or newer.") from error
        huey = PostgresHuey(QUEUE_NAME, results=False, dsn="postgresql://" + url.split("://", 1)[1],
                            create_tables=False)
        _create_tables(huey.storage)
        return huey
    raise QueueConfigError(f"PRINT_QUEUE_URL must be empty, 'immediate', or a sqlite:///, redis:// or "
                           f"postgresql:// URL, not {url.split('://', 1)[0]}://...")


def _create_tables(storage: Any, attempts: int = 3) -> None:
    """Huey's tables (CREATE TABLE IF NOT EXISTS). Two processes doing that at the same moment on a new queue
    schema collide in PostgreSQL's catalogue (duplicate key in pg_type): two app servers and a worker started
    together, and one of them failed to boot. The loser tries again: by then the tables exist (its CREATE waits for
    the winner's transaction), and IF NOT EXISTS passes."""
    import psycopg.errors

    for attempt in range(1, attempts + 1):
        try:
            storage.initialize_schema()
            return
        except (psycopg.errors.UniqueViolation, psycopg.errors.DuplicateTable, psycopg.errors.DuplicateObject):
            if attempt == attempts:
                raise


def check_reachable(huey: Huey) -> None:
    """Raise when queued jobs could not be stored: the queue does not answer (Redis, PostgreSQL) or its SQLite file
    cannot be created or written (a full disk or read-only folder shows up here, not only at the next print)."""
    huey.pending_count()  # a round trip to the storage; creates the SQLite file and tables on first use
    if isinstance(huey.storage, SqliteStorage):
        path = Path(huey.storage.filename)
        # SQLite in WAL mode writes beside the file too (-wal, -shm).
        if not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)):
            raise QueueConfigError(f"the print queue file {path} is not writable")
