"""`flask backup create` / `flask backup restore`: an encrypted round trip into an empty database on both backends,
every table compared row by row, the guards (triggers) still refusing afterwards; and the refusals."""

from __future__ import annotations

import io
import os
import stat
import uuid
from pathlib import Path

import pytest
from conftest import POSTGRES_URL, make_test_app
from cryptography.fernet import Fernet
from sqlalchemy import create_engine, select, text
from sqlalchemy.exc import DatabaseError

from backoffice import audit
from backoffice.demo import seed_demo
from backoffice.extensions import db
from backoffice.maintenance import sealed

KEY = Fernet.generate_key().decode()


def _rows(app) -> dict[str, list[tuple]]:
    """Every table of the model, every row, in primary-key order."""
    with app.app_context():
        return {table.name: [tuple(row) for row in db.session.execute(
                    select(table).order_by(*table.primary_key.columns)).all()]
                for table in db.metadata.sorted_tables}


def _triggers(app) -> set[str]:
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        else:
            query = ("SELECT t.tgname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                     "JOIN pg_namespace n ON n.oid = c.relnamespace "
                     "WHERE n.nspname = current_schema() AND NOT t.tgisinternal")
        return set(db.session.execute(text(query)).scalars())


@pytest.fixture
def empty_target(backend, request, tmp_path):
    """A second, empty database of the same backend: a new SQLite file, or a new PostgreSQL database (createdb)
    whose search path names the source's schema (a dump restores into the schema it was taken from)."""
    created: list[str] = []
    apps = []

    def make(claims_dir):
        if backend == "sqlite":
            apps.append(make_test_app("sqlite", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'restored.sqlite3'}",
                                      CLAIMS_DIR=str(claims_dir), BACKUP_KEY=KEY))
            return apps[-1]
        schema = request.getfixturevalue("postgres_schema")
        name = f"restore_{uuid.uuid4().hex[:10]}"
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        created.append(name)
        url = POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
        # The schema exists (empty), as `public` does in a new production database: restore fills it.
        fresh = create_engine(url)
        with fresh.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        fresh.dispose()
        apps.append(make_test_app("postgresql", schema, SQLALCHEMY_DATABASE_URI=url, CLAIMS_DIR=str(claims_dir),
                                  BACKUP_KEY=KEY))
        return apps[-1]

    yield make
    for app in apps:
        with app.app_context():
            db.engine.dispose()
    for name in created:
        admin = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def source(backend, request, tmp_path):
    """The demo practice on a file database (SQLite) or the test's schema (PostgreSQL), claim files included."""
    claims = tmp_path / "claims"
    if backend == "sqlite":
        app = make_test_app("sqlite", SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'source.sqlite3'}",
                            CLAIMS_DIR=str(claims), BACKUP_KEY=KEY)
    else:
        app = make_test_app("postgresql", request.getfixturevalue("postgres_schema"), CLAIMS_DIR=str(claims),
                            BACKUP_KEY=KEY)
    with app.app_context():
        db.create_all()
        seed_demo()
        db.session.commit()
    yield app
    with app.app_context():
        db.engine.dispose()


def _backup(app, folder) -> str:
    result = app.test_cli_runner().invoke(args=["backup", "create", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    written = sorted(folder.glob("*.backup"))
    assert len(written) == 1 and str(written[0]) in result.output
    return str(written[0])


def test_backup_restores_every_row_file_and_guard_into_an_empty_database(source, empty_target, tmp_path):
    before = _rows(source)
    assert sum(map(len, before.values())) > 500  # the demo practice: patients, care, invoices, claims, the log
    backup = _backup(source, tmp_path / "backups")
    assert stat.S_IMODE((tmp_path / "backups").stat().st_mode) == 0o700
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    raw = Path(backup).read_bytes()
    assert raw.startswith(sealed.MAGIC) and b"access_log" not in raw and b"BEGIN" not in raw  # encrypted

    claims_before = {p.relative_to(tmp_path / "claims"): p.read_bytes()
                     for p in (tmp_path / "claims").rglob("*") if p.is_file()}
    assert any(path.parts[0] == "exports" for path in claims_before)
    assert any(path.parts[0] == "remittances" for path in claims_before)

    target = empty_target(tmp_path / "restored_claims")
    result = target.test_cli_runner().invoke(args=["backup", "restore", backup])
    assert result.exit_code == 0, result.output
    assert "each table's count checked" in result.output

    assert _rows(target) == before
    claims_after = {p.relative_to(tmp_path / "restored_claims"): p.read_bytes()
                    for p in (tmp_path / "restored_claims").rglob("*") if p.is_file()}
    assert claims_after == claims_before
    assert all(stat.S_IMODE(p.stat().st_mode) == 0o600
               for p in (tmp_path / "restored_claims").rglob("*") if p.is_file())

    # The guards came back with the data: the access log and issued invoices refuse raw SQL.
    triggers = _triggers(target)
    assert triggers == _triggers(source) and any("access_log" in name for name in triggers)
    with target.app_context():
        for statement in ("UPDATE access_log SET detail = 'forged'",
                          "DELETE FROM invoices WHERE status = 'issued'"):
            with pytest.raises(DatabaseError):
                db.session.execute(text(statement))
            db.session.rollback()
        # The restored database works on: new rows get fresh ids (PostgreSQL sequences were restored too).
        entry = audit.record("view", None, "restored backup", "checked")
        db.session.commit()
        assert entry.id > max(row[0] for row in before["access_log"])

    # Restoring again into the now filled database is refused and changes nothing.
    again = target.test_cli_runner().invoke(args=["backup", "restore", backup])
    assert again.exit_code != 0 and "not empty" in again.output
    assert len(_rows(target)["access_log"]) == len(before["access_log"]) + 1


def test_restore_refuses_a_wrong_key_a_changed_file_and_a_missing_key(app, tmp_path):
    app.config.update(BACKUP_KEY=KEY, CLAIMS_DIR=str(tmp_path / "claims"))
    runner = app.test_cli_runner()
    backup = _backup(app, tmp_path / "backups")

    app.config["BACKUP_KEY"] = Fernet.generate_key().decode()
    result = runner.invoke(args=["backup", "restore", backup])
    assert result.exit_code != 0 and "another BACKUP_KEY" in result.output

    app.config["BACKUP_KEY"] = ""
    for args in (["backup", "create", "--out", str(tmp_path / "other")], ["backup", "restore", backup]):
        result = runner.invoke(args=args, env={"BACKUP_KEY": ""})
        assert result.exit_code != 0 and "BACKUP_KEY is not set" in result.output
    assert not (tmp_path / "other").exists() or not list((tmp_path / "other").iterdir())

    # A rotated key: the new key first, the old one still decrypts older backups (the refusal is "not empty").
    app.config["BACKUP_KEY"] = f"{Fernet.generate_key().decode()},{KEY}"
    result = runner.invoke(args=["backup", "restore", backup])
    assert result.exit_code != 0 and "not empty" in result.output

    changed = bytearray(Path(backup).read_bytes())
    changed[len(sealed.MAGIC) + 40] ^= 1
    tampered = tmp_path / "tampered.backup"
    tampered.write_bytes(bytes(changed))
    result = runner.invoke(args=["backup", "restore", str(tampered)])
    assert result.exit_code != 0 and "cannot be decrypted" in result.output


def _seal(chunks: list[bytes]) -> tuple[bytes, list[bytes]]:
    fernet = sealed.fernet_from(KEY)
    out = io.BytesIO()
    writer = sealed.SealingWriter(out, fernet)
    for chunk in chunks:
        writer.write(chunk)
    writer.close()
    data = out.getvalue()
    records, offset = [], len(sealed.MAGIC)
    while offset < len(data):
        length = int.from_bytes(data[offset:offset + 4], "big")
        records.append(data[offset:offset + 4 + length])
        offset += 4 + length
    return data, records


def _unseal(data: bytes) -> bytes:
    return sealed.UnsealingReader(io.BytesIO(data), sealed.fernet_from(KEY)).read()


def test_sealed_stream_round_trips_and_refuses_reordered_dropped_or_cut_chunks():
    payload = bytes(range(256)) * (3 * sealed.CHUNK_SIZE // 256 + 17)
    data, records = _seal([payload[:1000], payload[1000:]])
    assert len(records) == 4 and _unseal(data) == payload
    assert _unseal(_seal([])[0]) == b""
    magic = sealed.MAGIC
    for broken, message in (
        (magic + records[1] + records[0] + b"".join(records[2:]), "out of order"),
        (magic + records[0] + b"".join(records[2:]), "out of order"),
        (magic + b"".join(records[:3]), "cut short"),
        (data + records[3], "after its last part"),
        (b"PK\x03\x04" + data[4:], "not a backup"),
    ):
        with pytest.raises(sealed.SealError, match=message):
            _unseal(broken)
    with pytest.raises(sealed.SealError, match="not a valid Fernet key"):
        sealed.fernet_from("not-a-key")
