"""Migrations: one head, and upgrading an empty database yields exactly the models (no drift)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from conftest import make_test_app
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect, text

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
