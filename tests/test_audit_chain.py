"""The access log's hash chain: every entry written is chained, and `flask audit verify` finds a removed, a changed
and a forged entry (exit 1), and says the chain is intact otherwise (exit 0)."""

from __future__ import annotations

import contextlib
import hashlib
import threading
import time
from datetime import UTC, datetime

import factories
import pytest
from conftest import create_tables_for_app_role, make_test_app, owner_engine
from sqlalchemy import func, select, text

from backoffice import audit
from backoffice.audit_chain import GENESIS, canonical, chain_key, row_hash, verify_chain
from backoffice.database_cli import audit_verify_command
from backoffice.extensions import db
from backoffice.models import AccessLog, Patient
from backoffice.models.guards import access_log_guard_statements


def _record(app, *subjects: str, patient_id: int | None = None) -> None:
    with app.app_context():
        for subject in subjects:
            audit.record("view", patient_id, subject, detail="d")
        db.session.commit()


def _verify(app) -> tuple[int, str]:
    result = app.test_cli_runner().invoke(audit_verify_command)
    return result.exit_code, result.output


def _schema(app) -> str:
    return app.config["SQLALCHEMY_ENGINE_OPTIONS"]["connect_args"]["options"].split("search_path=")[1]


@contextlib.contextmanager
def _as_owner_without_guard(app):
    """A connection that can change the log: the owner, with the append-only trigger lifted (as an attacker with
    the owner's rights could do; the app's own role cannot, see test_database_guards.py)."""
    with app.app_context():
        if db.engine.dialect.name == "sqlite":
            with db.engine.begin() as connection:
                connection.exec_driver_sql("DROP TRIGGER access_log_no_update")
                connection.exec_driver_sql("DROP TRIGGER access_log_no_delete")
                yield connection
                for statement in access_log_guard_statements("sqlite"):
                    connection.exec_driver_sql(statement)
            return
    engine = owner_engine(_schema(app))
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("ALTER TABLE access_log DISABLE TRIGGER access_log_no_change")
            yield connection
            connection.exec_driver_sql("ALTER TABLE access_log ENABLE TRIGGER access_log_no_change")
    finally:
        engine.dispose()


def _ids(app) -> list[int]:
    with app.app_context():
        return list(db.session.scalars(select(AccessLog.id).order_by(AccessLog.id)))


def test_entries_are_chained_in_order(app):
    patient_id = factories.committed(app, factories.patient)
    _record(app, "a", "b", patient_id=patient_id)
    _record(app, "c")
    with app.app_context():
        entries = db.session.scalars(select(AccessLog).order_by(AccessLog.id)).all()
        key = chain_key(app.config)
        assert [e.prev_hash for e in entries] == [GENESIS, entries[0].row_hash, entries[1].row_hash]
        for entry in entries:
            assert len(entry.row_hash) == 64
            values = {name: getattr(entry, name) for name in ("at", "user_id", "user_email", "user_role",
                                                               "on_behalf_of", "patient_id", "action", "subject",
                                                               "detail", "ip_address")}
            assert entry.row_hash == row_hash(key, values, entry.prev_hash)
    code, output = _verify(app)
    assert code == 0, output
    assert "Checked 3 access log entries: the chain is intact." in output


def test_an_empty_log_is_intact(app):
    code, output = _verify(app)
    assert (code, output.strip()) == (0, "Checked 0 access log entries: the chain is intact.")


def test_the_foreign_key_set_through_the_relationship_is_hashed(app):
    # patient_id is only filled in during the flush (the patient is new too): the hash must see it.
    with app.app_context():
        new = Patient(first_name="Sem", last_name="Visser", date_of_birth=datetime(1985, 1, 30).date(),
                      street="Laan 2", postcode="3512 BB", city="Utrecht")
        db.session.add(AccessLog(user_email="(system)", user_role="system", action="view", subject="patient",
                                 patient=new))
        db.session.add(AccessLog(user_email="(system)", user_role="system", action="view", subject="other",
                                 at=datetime(2026, 1, 1, 9, tzinfo=UTC)))
        db.session.commit()
        assert db.session.scalar(select(AccessLog.patient_id).where(AccessLog.subject == "patient")) == new.id
    assert _verify(app)[0] == 0


def test_a_removed_entry_is_found(app):
    _record(app, "a", "b", "c", "d")
    second = _ids(app)[1]
    with _as_owner_without_guard(app) as connection:
        connection.execute(text("DELETE FROM access_log WHERE id = :id"), {"id": second})
    code, output = _verify(app)
    assert code == 1
    assert f"entry {second + 1}: the link to the entry before it is broken" in output
    assert f"ids {second}-{second} are missing" in output
    assert "Checked 3 access log entries: 1 findings." in output


def test_a_changed_entry_is_found(app):
    _record(app, "a", "b", "c")
    second = _ids(app)[1]
    with _as_owner_without_guard(app) as connection:
        connection.execute(text("UPDATE access_log SET subject = 'nothing to see' WHERE id = :id"), {"id": second})
    code, output = _verify(app)
    assert code == 1
    assert f"entry {second}: its hash does not fit its contents" in output
    assert "Checked 3 access log entries: 1 findings." in output  # the entries after it still link


def test_a_forged_entry_is_found_even_with_a_well_formed_hash(app):
    # Someone with the app's database rights (INSERT on the log) but not its key: they know the format, link to
    # the newest entry and hash with plain SHA-256. Any time stamp, any user.
    _record(app, "a", "b")
    with app.app_context():
        last = db.session.scalar(select(AccessLog.row_hash).order_by(AccessLog.id.desc()).limit(1))
        values = {"at": datetime(2025, 6, 1, 12, tzinfo=UTC), "user_id": None, "user_email": "someone@else.nl",
                  "user_role": "admin", "on_behalf_of": "", "patient_id": None, "action": "view",
                  "subject": "patient", "detail": "", "ip_address": ""}
        forged = hashlib.sha256(canonical(values, last)).hexdigest()
        with db.engine.begin() as connection:  # the app's own connection (its role on PostgreSQL)
            connection.execute(text(
                "INSERT INTO access_log (at, user_email, user_role, on_behalf_of, action, subject, detail, "
                "ip_address, prev_hash, row_hash) VALUES (:at, :user_email, :user_role, '', 'view', 'patient', "
                "'', '', :prev, :hash)"), {**values, "prev": last, "hash": forged})
    forged_id = _ids(app)[-1]
    code, output = _verify(app)
    assert code == 1
    assert f"entry {forged_id}: its hash does not fit its contents" in output
    # Entries written after it chain onto it: still only the forged one is reported.
    _record(app, "after")
    code, output = _verify(app)
    assert code == 1 and "Checked 4 access log entries: 1 findings." in output


def test_a_raw_insert_without_a_hash_is_found(app):
    _record(app, "a")
    with app.app_context(), db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO access_log (at, user_email, user_role, on_behalf_of, action, subject, detail, ip_address) "
            "VALUES (CURRENT_TIMESTAMP, 'x@y.nl', 'admin', '', 'view', 'patient', '', '')"))
    code, output = _verify(app)
    assert code == 1
    assert "the link to the entry before it (" in output and "inserted outside the application" in output
    assert "its hash does not fit" in output


def test_another_key_fails_every_entry(app):
    _record(app, "a", "b")
    app.config["ACCESS_LOG_KEY"] = "another key altogether"
    code, output = _verify(app)
    assert code == 1 and "Every entry fails" in output


def test_ids_skipped_by_a_rollback_are_no_finding(app):
    _record(app, "a")
    with app.app_context():
        audit.record("view", None, "rolled back")
        db.session.flush()
        db.session.rollback()
    _record(app, "b")
    with app.app_context(), db.engine.connect() as connection:
        report = verify_chain(connection, chain_key(app.config), batch=1)  # batch 1: the keyset walk too
    assert report.intact and report.checked == 2


def _writers(app, count: int, entries: int) -> None:
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            with app.app_context():
                for i in range(entries):
                    audit.record("view", None, f"worker {worker} entry {i}")
                    db.session.flush()
                    time.sleep(0.002)  # the transaction stays open: the others must wait, then chain onto it
                db.session.commit()
                db.session.remove()
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []


def test_concurrent_writers_keep_one_chain(backend, request, tmp_path):
    if backend == "postgresql":
        schema = request.getfixturevalue("postgres_schema")
        create_tables_for_app_role(schema)
        app = make_test_app("postgresql", schema, as_app_role=True)
    else:  # a file: separate connections, as separate worker processes have
        app = make_test_app("sqlite", None, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'log.db'}")
        with app.app_context():
            db.create_all()
    try:
        for _round in range(3):
            _writers(app, count=6, entries=3)
        with app.app_context():
            assert db.session.scalar(select(func.count(AccessLog.id))) == 54
        code, output = _verify(app)
        assert code == 0, output
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_migration_chains_the_entries_already_there(backend, request, tmp_path):
    from flask_migrate import downgrade, upgrade
    from test_migrations import MIGRATIONS

    if backend == "postgresql":
        app = make_test_app("postgresql", request.getfixturevalue("postgres_schema"))
    else:
        app = make_test_app("sqlite", None, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'm.db'}")
    with app.app_context():
        upgrade(directory=str(MIGRATIONS), revision="0018")
        with db.engine.begin() as connection:
            for n in range(3):
                connection.execute(text(
                    "INSERT INTO access_log (at, user_email, user_role, on_behalf_of, action, subject, detail, "
                    "ip_address) VALUES (:at, 'a@b.nl', 'admin', '', 'view', :subject, '', '')"),
                    {"at": datetime(2026, 1, 1 + n, 9, tzinfo=UTC), "subject": f"old {n}"})
        upgrade(directory=str(MIGRATIONS), revision="0019")
        _record(app, "new")
        code, output = _verify(app)
        assert code == 0, output
        assert "Checked 4 access log entries" in output
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as connection:
            connection.execute(text("UPDATE access_log SET subject = 'x'"))  # the guard is back
        downgrade(directory=str(MIGRATIONS), revision="0018")
        db.session.remove()
        db.engine.dispose()
