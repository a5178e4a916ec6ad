"""Encrypted backups of the database and the files that cannot be made again, and their restore.

A backup is one file: a tar archive, encrypted as it is written (sealed.py), holding
- manifest.json: the backend, the schema, when it was made and every table's row count;
- the database: PostgreSQL as `pg_dump --format=custom` of the app's schema, SQLite as a copy made with SQLite's
  online backup API (both consistent while the app keeps running);
- files/claims/...: CLAIMS_DIR (the claim workbooks as sent and the insurers' remittance files as uploaded).
Print output (instance/print_jobs) and report scratch files are left out: the documents are stored in the
database and can be printed again. The keys (SECRET_KEY, FIELD_ENCRYPTION_KEY, BACKUP_KEY) are never in a backup:
keep them apart, or the BSNs in a restored database cannot be read.

Restore goes into an EMPTY database only: it never overwrites data. It checks every table's row count against
the manifest afterwards. The database's guards (triggers, constraints) are part of the dump and come back with it.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import tarfile
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

from flask import current_app
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from config import normalise_database_url

from .. import clock
from ..claims.settings import claims_dir
from ..extensions import db
from ..files import atomic_write, private_folder
from . import sealed

FORMAT = 1
MANIFEST = "manifest.json"
POSTGRES_DUMP = "database.pgdump"
SQLITE_COPY = "database.sqlite3"
CLAIM_FILES = "files/claims"
SUFFIX = ".backup"


class BackupError(Exception):
    """A backup or restore was refused or failed; the message says why and what to do."""


@dataclass
class BackupResult:
    path: Path
    backend: str
    tables: dict[str, int]
    files: int
    size: int


@dataclass
class RestoreResult:
    backend: str
    created_at: str
    tables: dict[str, int]
    files: int
    skipped_files: list[str] = field(default_factory=list)


def backup_key() -> str:
    """BACKUP_KEY from the app config, else the environment (the web server need not hold it, the cron job does)."""
    return current_app.config.get("BACKUP_KEY") or os.environ.get("BACKUP_KEY", "")


def default_folder() -> Path:
    """BACKUP_DIR (config or environment), by default instance/backups. Copy backups off this machine too."""
    configured = current_app.config.get("BACKUP_DIR") or os.environ.get("BACKUP_DIR", "").strip()
    return Path(configured) if configured else Path(current_app.instance_path) / "backups"


def _private_folder(folder: Path) -> Path:
    return private_folder(folder)  # missing parents 0700 too, whatever the umask


# ---- the database: which tables, how many rows -------------------------------------------------------------

def _dialect(engine: Engine) -> str:
    name = engine.dialect.name
    if name not in {"postgresql", "sqlite"}:
        raise BackupError(f"Backups support PostgreSQL and SQLite, not {name}.")
    return name


def _postgres_tables(connection, schema: str) -> list[str]:
    return list(connection.execute(text(
        "SELECT table_name FROM information_schema.tables WHERE table_schema = :schema "
        "AND table_type = 'BASE TABLE' ORDER BY table_name"), {"schema": schema}).scalars())


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _count_rows(connection, tables: list[str], schema: str) -> dict[str, int]:
    # The names come from the catalogue and are quoted: no outside input reaches this SQL.
    return {table: int(connection.execute(text(f"SELECT count(*) FROM {_quote(schema)}.{_quote(table)}"))  # noqa: S608
                       .scalar_one()) for table in tables}


def _sqlite_tables(connection: sqlite3.Connection) -> list[str]:
    return [row[0] for row in connection.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")]


# ---- PostgreSQL: pg_dump / pg_restore ---------------------------------------------------------------------------

def _pg_tool(name: str) -> str:
    """pg_dump / pg_restore from PG_BIN_DIR when set, else from PATH. Its major version must be at least the
    server's (pg_dump says so when it is not)."""
    folder = current_app.config.get("PG_BIN_DIR") or os.environ.get("PG_BIN_DIR", "").strip()
    found = str(Path(folder) / name) if folder else shutil.which(name)
    if not found or not Path(found).exists():
        raise BackupError(f"{name} was not found: install the PostgreSQL client (Debian: postgresql-client-15) "
                          "or set PG_BIN_DIR.")
    return found


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq connection URI without the password, and the environment carrying it (never on a command line,
    where `ps` shows it)."""
    environment = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    if url.password:
        environment["PGPASSWORD"] = str(url.password)
    # Query options in the URL (sslmode, sslrootcert, ...) are libpq parameters: they stay in the URI.
    return url.set(drivername="postgresql", password=None).render_as_string(hide_password=False), environment


def _run(command: list[str], environment: dict[str, str], what: str) -> str:
    # A list of arguments (no shell): the tool's path and options are ours, the URI a single argument.
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, check=False)  # noqa: S603
    if completed.returncode != 0:
        raise BackupError(f"{what} failed: {completed.stderr.strip() or completed.stdout.strip()}")
    return completed.stdout


def _dump_postgres(engine: Engine, scratch: Path) -> tuple[Path, dict[str, Any]]:
    """pg_dump of the app's schema from one snapshot, with the row counts read in that same snapshot."""
    uri, environment = _libpq(engine.url)
    target = scratch / POSTGRES_DUMP
    with engine.connect().execution_options(isolation_level="REPEATABLE READ") as connection, connection.begin():
        schema = connection.execute(text("SELECT current_schema()")).scalar_one()
        if schema is None:
            raise BackupError("The database has no schema on the search path: nothing to back up.")
        snapshot = connection.execute(text("SELECT pg_export_snapshot()")).scalar_one()
        counts = _count_rows(connection, _postgres_tables(connection, schema), schema)
        # The transaction stays open while pg_dump runs: the exported snapshot lives only as long as it does.
        _run([_pg_tool("pg_dump"), "--format=custom", "--no-owner", f"--schema={schema}", f"--snapshot={snapshot}",
              f"--file={target}", f"--dbname={uri}"], environment, "pg_dump")
    return target, {"schema": schema, "tables": counts}


def _postgres_objects(engine: Engine, schema: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(text(
            "SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "        WHERE n.nspname = :schema) "
            "     + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
            "        WHERE n.nspname = :schema)"), {"schema": schema}).scalar_one())


def _schema_exists(engine: Engine, schema: str) -> bool:
    with engine.connect() as connection:
        return bool(connection.execute(text("SELECT count(*) FROM pg_namespace WHERE nspname = :schema"),
                                       {"schema": schema}).scalar_one())


def _restore_postgres(engine: Engine, dump: Path, schema: str, scratch: Path) -> dict[str, int]:
    uri, environment = _libpq(engine.url)
    restore = _pg_tool("pg_restore")
    command = [restore, "--no-owner", "--exit-on-error", "--single-transaction", f"--dbname={uri}"]
    if _schema_exists(engine, schema):
        # The schema is there (empty; `public` always is): leave out its CREATE, COMMENT and ACL entries.
        listing = _run([restore, "--list", str(dump)], environment, "pg_restore --list")
        own = re.compile(rf"^\d+; \d+ \d+ (?:SCHEMA - |(?:COMMENT|ACL) - SCHEMA ){re.escape(schema)} ")
        kept = [line for line in listing.splitlines() if not own.match(line)]
        (scratch / "restore.list").write_text("\n".join(kept) + "\n")
        command.insert(1, f"--use-list={scratch / 'restore.list'}")
    _run([*command, str(dump)], environment, "pg_restore")
    with engine.connect() as connection:
        return _count_rows(connection, _postgres_tables(connection, schema), schema)


# ---- SQLite: the online backup API ------------------------------------------------------------------------------

def _copy_sqlite(engine: Engine, scratch: Path) -> tuple[Path, dict[str, Any]]:
    target = scratch / SQLITE_COPY
    raw = engine.raw_connection()
    try:
        copy = sqlite3.connect(target)
        try:
            raw.driver_connection.backup(copy)  # type: ignore[union-attr]
            counts = _sqlite_counts(copy)
        finally:
            copy.close()
    finally:
        raw.close()
    return target, {"schema": None, "tables": counts}


def _sqlite_counts(connection: sqlite3.Connection) -> dict[str, int]:
    # The names come from sqlite_master and are quoted: no outside input reaches this SQL.
    return {table: connection.execute(f"SELECT count(*) FROM {_quote(table)}").fetchone()[0]  # noqa: S608
            for table in _sqlite_tables(connection)}


def _sqlite_is_empty(engine: Engine) -> bool:
    raw = engine.raw_connection()
    try:
        return not raw.driver_connection.execute(  # type: ignore[union-attr]
            "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'").fetchone()[0]
    finally:
        raw.close()


def _restore_sqlite(engine: Engine, copy: Path) -> dict[str, int]:
    raw = engine.raw_connection()
    try:
        source = sqlite3.connect(copy)
        try:
            source.backup(raw.driver_connection)  # type: ignore[arg-type]
        finally:
            source.close()
        counts = _sqlite_counts(raw.driver_connection)  # type: ignore[arg-type]
    finally:
        raw.close()
    engine.dispose()  # pooled connections opened before the restore must not keep an old view of the file
    return counts


# ---- the files ------------------------------------------------------------------------------------------------

def _claim_files(folder: Path) -> Iterator[tuple[str, Path]]:
    """(name in the archive, path) of every regular file in CLAIMS_DIR; half-written temporary files excluded."""
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and not path.name.endswith(".tmp"):
            yield f"{CLAIM_FILES}/{path.relative_to(folder).as_posix()}", path


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes, mtime: float) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), int(mtime), 0o600
    archive.addfile(info, io.BytesIO(data))


def _add_file(archive: tarfile.TarFile, name: str, path: Path) -> None:
    info = tarfile.TarInfo(name)
    stat = path.stat()
    info.size, info.mtime, info.mode = stat.st_size, int(stat.st_mtime), 0o600
    with path.open("rb") as handle:
        archive.addfile(info, handle)


# ---- create ---------------------------------------------------------------------------------------------------

def create_backup(folder: Path | None = None, key: str | None = None) -> BackupResult:
    """Write an encrypted backup (mode 0600) to `folder` (default: default_folder()) and return what it holds."""
    fernet = _fernet(key)
    engine = db.engine
    backend = _dialect(engine)
    folder = _private_folder(folder or default_folder())
    now = clock.utc_now()
    target = folder / f"backoffice-{now:%Y%m%dT%H%M%SZ}{SUFFIX}"
    files = list(_claim_files(claims_dir()))
    # Private scratch (mkdtemp makes it 0700): the unencrypted dump lives there only until it is archived.
    with tempfile.TemporaryDirectory(prefix="backoffice-backup-") as scratch:
        if backend == "postgresql":
            dump, facts = _dump_postgres(engine, Path(scratch))
        else:
            dump, facts = _copy_sqlite(engine, Path(scratch))
        manifest = {"format": FORMAT, "backend": backend, "created_at": now.isoformat(), "schema": facts["schema"],
                    "database": dump.name, "tables": facts["tables"], "files": [name for name, _ in files]}
        with atomic_write(target, 0o600) as handle:
            writer = sealed.SealingWriter(handle, fernet)
            with tarfile.open(fileobj=writer, mode="w|", format=tarfile.PAX_FORMAT) as archive:
                _add_bytes(archive, MANIFEST, json.dumps(manifest, indent=2).encode(), now.timestamp())
                _add_file(archive, dump.name, dump)
                for name, path in files:
                    _add_file(archive, name, path)
            writer.close()
    return BackupResult(target, backend, facts["tables"], len(files), target.stat().st_size)


def _fernet(key: str | None):
    try:
        return sealed.fernet_from(key if key is not None else backup_key())
    except sealed.SealError as error:
        raise BackupError(str(error)) from error


# ---- restore --------------------------------------------------------------------------------------------------

def _safe_member(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"The backup holds an unsafe file name ({name!r}): not restored.")
    return path


def _unpack(source: IO[bytes], fernet, scratch: Path) -> dict[str, Any]:
    """Decrypt and unpack into `scratch`; returns the manifest. Only regular files under known names."""
    reader = io.BufferedReader(sealed.UnsealingReader(source, fernet), buffer_size=sealed.CHUNK_SIZE)
    with tarfile.open(fileobj=reader, mode="r|") as archive:
        for member in archive:
            path = _safe_member(member.name)
            if not member.isfile() or not (path.name == MANIFEST or path.name in {POSTGRES_DUMP, SQLITE_COPY}
                                           and len(path.parts) == 1 or str(path).startswith(CLAIM_FILES + "/")):
                raise BackupError(f"The backup holds an unexpected entry ({member.name!r}): not restored.")
            target = scratch.joinpath(*path.parts)
            target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            extracted = archive.extractfile(member)
            if extracted is None:
                raise BackupError(f"The backup's entry {member.name!r} cannot be read.")
            with extracted, target.open("wb") as handle:
                shutil.copyfileobj(extracted, handle, sealed.CHUNK_SIZE)
    try:
        manifest = json.loads((scratch / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise BackupError("The backup has no readable manifest.") from error
    if manifest.get("format") != FORMAT:
        raise BackupError(f"This backup has format {manifest.get('format')!r}; this version reads format {FORMAT}.")
    return manifest


def _is_empty(engine: Engine, backend: str, schema: str | None) -> bool:
    if backend == "postgresql":
        return _postgres_objects(engine, schema or "public") == 0
    return _sqlite_is_empty(engine)


def _file_conflicts(scratch: Path, names: list[str], folder: Path) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(from, to) pairs to copy and the names already there with the same bytes; BackupError when a file
    with the same name but other bytes is there (never overwritten)."""
    todo, same = [], []
    for name in names:
        source = scratch / name
        target = folder / name[len(CLAIM_FILES) + 1:]
        if target.exists():
            if target.read_bytes() != source.read_bytes():
                raise BackupError(f"{target} exists with other content: move it away (restore never overwrites).")
            same.append(name)
        else:
            todo.append((source, target))
    return todo, same


def restore_backup(path: Path, key: str | None = None, database_url: str | None = None) -> RestoreResult:
    """Restore `path` into the app's database (or `database_url`, e.g. the owner role's), which must be empty,
    and its files into CLAIMS_DIR. Raises BackupError, leaving the database as it was, when anything is wrong."""
    fernet = _fernet(key)
    engine = create_engine(make_url(normalise_database_url(database_url))) if database_url else db.engine
    try:
        backend = _dialect(engine)
        with tempfile.TemporaryDirectory(prefix="backoffice-restore-") as folder:
            scratch = Path(folder)
            try:
                with path.open("rb") as source:
                    manifest = _unpack(source, fernet, scratch)
            except sealed.SealError as error:
                raise BackupError(str(error)) from error
            except (tarfile.TarError, EOFError) as error:
                raise BackupError(f"The backup's archive is damaged: {error}") from error
            if manifest["backend"] != backend:
                raise BackupError(f"This is a {manifest['backend']} backup; the database here is {backend}.")
            if not _is_empty(engine, backend, manifest.get("schema")):
                raise BackupError("The database is not empty: restore only into a new, empty database "
                                  "(PostgreSQL: createdb; SQLite: a new file). Nothing was changed.")
            todo, same = _file_conflicts(scratch, list(manifest.get("files") or []), claims_dir())
            dump = scratch / manifest["database"]
            if backend == "postgresql":
                counts = _restore_postgres(engine, dump, manifest["schema"], scratch)
            else:
                counts = _restore_sqlite(engine, dump)
            for unpacked, target in todo:
                _private_folder(target.parent)
                with unpacked.open("rb") as data, atomic_write(target, 0o600) as handle:
                    shutil.copyfileobj(data, handle, sealed.CHUNK_SIZE)
        expected = {name: int(count) for name, count in manifest["tables"].items()}
        if counts != expected:
            differing = sorted(name for name in expected.keys() | counts.keys()
                               if expected.get(name) != counts.get(name))
            raise BackupError(f"Restored, but the row counts differ from the backup's in: {', '.join(differing)}.")
        return RestoreResult(backend, manifest["created_at"], counts, len(todo), same)
    finally:
        if database_url:
            engine.dispose()
