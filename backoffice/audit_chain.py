"""The access log's hash chain: every entry carries the hash of the one before it, so a removed, changed or forged
entry shows (`flask audit verify`).

- `row_hash` is an HMAC-SHA256 over a canonical serialisation of the entry's own fields and `prev_hash`. HMAC, not a
  bare SHA-256: someone who can write to the database (a leaked database password, an SQL injection) but does not
  have the application's key cannot compute a hash that fits, so a row inserted with raw SQL is found even at the
  end of the chain. The key is ACCESS_LOG_KEY, or derived from SECRET_KEY when that is not set.
- The id is not hashed (the database assigns it during the INSERT); the chain fixes the order instead, and the
  entries are chained in the order their ids are given: the hash is computed in a `before_insert` hook (every
  `audit.record` caller and every ORM insert of an AccessLog is covered) after taking a lock that is held until
  the transaction ends, so a second writer waits and then chains onto the committed entry:
  PostgreSQL: a transaction-level advisory lock; SQLite: the database's write lock, taken before the last hash is
  read. Cost: one indexed read (the newest entry by primary key) per flush that adds entries.
- Ids may have gaps without anything being removed (PostgreSQL sequences skip the ids of rolled-back inserts): a
  removed entry is found by the broken link, not by the gap.
- Not found by the chain: removing the newest entries (the tail). `verify` prints the newest entry's id and hash;
  write them down (or keep the output) and compare them next time.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import Connection, event, select
from sqlalchemy.orm import Mapper, Session

from .models import AccessLog
from .models.base import utcnow

# The first entry's prev_hash.
GENESIS = "0" * 64
# The fields hashed, in this order (id excluded: see above). Changing this list breaks every existing chain.
HASHED_FIELDS = ("at", "user_id", "user_email", "user_role", "on_behalf_of", "patient_id", "action", "subject",
                 "detail", "ip_address")
# pg_advisory_xact_lock's first key for the chain ("7513": NEN 7513); the second is the schema's.
ADVISORY_LOCK_KEY = 7513
_LAST_HASH = "_access_log_chain_last_hash"


def chain_key(config: Mapping[str, Any]) -> bytes:
    """The HMAC key: ACCESS_LOG_KEY when set, else one derived from SECRET_KEY (never SECRET_KEY itself)."""
    own = str(config.get("ACCESS_LOG_KEY") or "")
    if own:
        return own.encode()
    secret = str(config.get("SECRET_KEY") or "")
    if not secret:
        raise RuntimeError("The access log's hash chain needs SECRET_KEY or ACCESS_LOG_KEY.")
    return hmac.new(secret.encode(), b"backoffice access log chain v1", hashlib.sha256).digest()


def _timestamp(value: datetime) -> str:
    if value.tzinfo is None:  # SQLite hands back naive UTC when read without the model's column type
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical(values: Mapping[str, Any], prev_hash: str) -> bytes:
    """The bytes hashed: a JSON list of the fields in a fixed order, then prev_hash."""
    fields: list[Any] = [_timestamp(values["at"]) if name == "at" else values[name] for name in HASHED_FIELDS]
    return json.dumps([*fields, prev_hash], ensure_ascii=False, separators=(",", ":")).encode()


def row_hash(key: bytes, values: Mapping[str, Any], prev_hash: str) -> str:
    return hmac.new(key, canonical(values, prev_hash), hashlib.sha256).hexdigest()


# ---- appending -----------------------------------------------------------------------------------------------

def _lock_and_read_last_hash(connection: Connection) -> str:
    """Take the chain's lock for the rest of the transaction, then read the newest entry's hash."""
    dialect = connection.dialect.name
    if dialect == "postgresql":
        return _postgres_lock_and_read_last_hash(connection)
    if dialect == "sqlite":
        # A write statement makes SQLite take the write (RESERVED) lock now, not at the INSERT: otherwise two
        # processes could read the same last hash before either inserts. It matches no row, so no trigger fires.
        connection.exec_driver_sql("UPDATE access_log SET id = id WHERE 0")
    table = AccessLog.__table__
    last = connection.scalar(select(table.c.row_hash).order_by(table.c.id.desc()).limit(1))
    return last if last is not None else GENESIS


# Keyed by schema too: the chain is one table's, and databases holding several schemas (the tests') need not wait
# for each other.
_POSTGRES_LOCK_AND_READ = (
    f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_KEY}, hashtext(current_schema())); "  # noqa: S608 - constants
    "SELECT row_hash FROM access_log ORDER BY id DESC LIMIT 1")


def _postgres_lock_and_read_last_hash(connection: Connection) -> str:
    """The lock and the read in one round trip (every logged page pays it): two statements sent as one simple query.
    Each statement of such a query takes its own snapshot (READ COMMITTED), so the read, which runs once the lock is
    ours, sees the entry the writer we waited for committed. Not one statement (the read in a subquery under the
    lock): that would read with the snapshot taken before the wait and chain onto a hash that is no longer the last.
    tests/test_audit_chain.py holds writers waiting on each other to this."""
    cursor = connection.connection.cursor()  # the driver's cursor: SQLAlchemy reads only a statement's first result
    try:
        cursor.execute(_POSTGRES_LOCK_AND_READ)  # no parameters: psycopg sends it as one simple query
        cursor.nextset()
        row = cursor.fetchone()
    finally:
        cursor.close()
    return row[0] if row is not None else GENESIS


@event.listens_for(Session, "before_flush")
def _forget_last_hash(session: Session, flush_context: Any, instances: Any) -> None:
    # The newest hash is read again at each flush (and after a rollback the remembered one may be gone).
    session.info.pop(_LAST_HASH, None)


@event.listens_for(AccessLog, "before_insert")
def _chain_entry(mapper: Mapper[Any], connection: Connection, target: AccessLog) -> None:
    # before_insert, not before_flush: the foreign keys (patient_id set through `patient=`) are filled in by now.
    # The column defaults are applied here because they would only be applied during the INSERT, after hashing.
    if target.at is None:
        target.at = utcnow()
    for name in ("on_behalf_of", "detail", "ip_address"):
        if getattr(target, name) is None:
            setattr(target, name, "")
    if not has_app_context():
        raise RuntimeError("Access log entries are written inside the application (its key signs them).")
    session = Session.object_session(target)
    info = session.info if session is not None else {}
    prev_hash = info.get(_LAST_HASH) or _lock_and_read_last_hash(connection)
    target.prev_hash = prev_hash
    target.row_hash = row_hash(chain_key(current_app.config), _values(target), prev_hash)
    info[_LAST_HASH] = target.row_hash


def _values(entry: Any) -> dict[str, Any]:
    return {name: getattr(entry, name) for name in HASHED_FIELDS}


# ---- verifying ---------------------------------------------------------------------------------------------------

@dataclass
class Finding:
    entry_id: int
    kind: str  # "removed" or "relinked" (the link to the entry before is broken), "changed" (its hash does not fit)
    message: str


@dataclass
class ChainReport:
    checked: int = 0
    findings: list[Finding] = field(default_factory=list)
    last_id: int | None = None
    last_hash: str | None = None
    id_gaps: int = 0  # gaps with an intact link: rolled-back inserts, not removals

    @property
    def intact(self) -> bool:
        return not self.findings


def _entries(connection: Connection, batch: int) -> Iterator[Any]:
    """All entries in id order, read in keyset batches (never the whole table in memory)."""
    table = AccessLog.__table__
    columns = [table.c.id, table.c.prev_hash, table.c.row_hash, *(table.c[name] for name in HASHED_FIELDS)]
    after = None
    while True:
        query = select(*columns).order_by(table.c.id).limit(batch)
        if after is not None:
            query = query.where(table.c.id > after)
        rows = connection.execute(query).all()
        yield from rows
        if len(rows) < batch:
            return
        after = rows[-1].id


def _broken_link(entry_id: int, previous_id: int | None) -> Finding:
    if previous_id is None:
        return Finding(entry_id, "removed", f"entry {entry_id}: the first entry does not start the chain: the "
                                            "entries before it were removed")
    if entry_id != previous_id + 1:
        return Finding(entry_id, "removed", f"entry {entry_id}: the link to the entry before it is broken: "
                                            f"ids {previous_id + 1}-{entry_id - 1} are missing (removed)")
    return Finding(entry_id, "relinked", f"entry {entry_id}: the link to the entry before it ({previous_id}) is "
                                         "broken: it was inserted outside the application or its link was changed")


def verify_chain(connection: Connection, key: bytes, batch: int = 2000) -> ChainReport:
    """Walk the chain in id order; each entry must link to the one before and its hash must fit its fields.

    The walk goes on from each entry's stored hash, so one changed entry is one finding, not all that follow.
    """
    report = ChainReport()
    expected_prev, previous_id = GENESIS, None
    for row in _entries(connection, batch):
        report.checked += 1
        values = row._mapping
        gap = previous_id is not None and row.id != previous_id + 1
        if row.prev_hash != expected_prev:
            report.findings.append(_broken_link(row.id, previous_id))
        elif gap:
            report.id_gaps += 1
        if row.row_hash != row_hash(key, values, row.prev_hash):
            report.findings.append(Finding(row.id, "changed", f"entry {row.id}: its hash does not fit its contents: "
                                                              "changed, or inserted outside the application"))
        expected_prev, previous_id = row.row_hash, row.id
    report.last_id, report.last_hash = previous_id, (expected_prev if previous_id is not None else None)
    return report
