"""Migrations: one head, and upgrading an empty database yields exactly the models (no drift), CHECK constraints
included; the models package exports every model and keeps each status column to its enum."""

from __future__ import annotations

import re
from enum import StrEnum
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import make_test_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import CheckConstraint, inspect, text

import backoffice.models as models
from backoffice.domain.claims import BatchStatus, LineStatus
from backoffice.domain.statuses import InvoiceRunStatus, InvoiceStatus, PrintJobStatus, RemittanceStatus
from backoffice.extensions import db

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


def test_one_head_and_named_revisions():
    script = ScriptDirectory.from_config(_config())
    assert len(script.get_heads()) == 1
    for revision in script.walk_revisions():
        assert revision.doc and revision.doc.strip(), f"revision {revision.revision} has no message"
        assert Path(revision.path).name.split("_", 2)[1] == revision.revision


def _config() -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


@pytest.fixture
def migrated_app(backend, request, tmp_path):
    if backend == "postgresql":
        schema = request.getfixturevalue("postgres_schema")
        app = make_test_app("postgresql", schema)
    else:
        app = make_test_app("sqlite", None, SQLALCHEMY_DATABASE_URI=f"sqlite:///{tmp_path / 'migrated.db'}")
    with app.app_context():
        upgrade(directory=str(MIGRATIONS))
        yield app
        db.session.remove()
        db.engine.dispose()


def test_upgrade_gives_exactly_the_models(migrated_app):
    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def _quoted(sql: str) -> set[str]:
    return set(re.findall(r"'([^']*)'", sql))


def test_upgrade_gives_the_models_check_constraints(migrated_app):
    # compare_metadata skips CHECK constraints: a new enum member without a migration would pass the test above
    # and then fail on the first INSERT. Compare each constraint's literals instead ('draft', 'issued', ...).
    inspector = inspect(db.engine)
    checked = 0
    for table in db.metadata.sorted_tables:
        in_db = {c["name"]: _quoted(c["sqltext"]) for c in inspector.get_check_constraints(table.name)}
        for constraint in table.constraints:
            if isinstance(constraint, CheckConstraint):
                assert in_db.get(constraint.name) == _quoted(str(constraint.sqltext)), (table.name, constraint.name)
                checked += 1
    assert checked >= 40


def test_the_models_package_exports_every_model():
    exported = set(models.__all__)
    assert {mapper.class_.__name__ for mapper in db.Model.registry.mappers} <= exported
    assert all(hasattr(models, name) for name in exported)


@pytest.mark.parametrize(("model", "statuses"), [
    (models.Invoice, InvoiceStatus), (models.PrintJob, PrintJobStatus), (models.ClaimBatch, BatchStatus),
    (models.ClaimLine, LineStatus), (models.PatientClaim, LineStatus), (models.RemittanceImport, RemittanceStatus),
    (models.InvoiceRun, InvoiceRunStatus),
])
def test_each_status_column_is_kept_to_its_enum(model, statuses: type[StrEnum]):
    table = model.__table__
    (check,) = [c for c in table.constraints if c.name == f"ck_{table.name}_status_known"]
    assert _quoted(str(check.sqltext)) == {str(status) for status in statuses}
    assert table.c.status.default.arg in set(statuses)
    assert table.c.status.type.length >= max(len(status) for status in statuses)


def test_upgrade_installs_the_access_log_guard(migrated_app):
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO access_log (at, user_email, user_role, on_behalf_of, action, subject, detail, ip_address) "
            "VALUES (CURRENT_TIMESTAMP, 'a@b.nl', 'admin', '', 'view', 'patient', '', '')"
        ))
    with pytest.raises(Exception, match="append-only"), db.engine.begin() as connection:
        connection.execute(text("UPDATE access_log SET action = 'export'"))
    with pytest.raises(Exception, match="append-only"), db.engine.begin() as connection:
        connection.execute(text("DELETE FROM access_log"))


def test_downgrade_to_base_leaves_no_tables(migrated_app):
    downgrade(directory=str(MIGRATIONS), revision="base")
    assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
