"""Configuration from the environment: secrets, database selection, SQLite foreign keys."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

import config
from backoffice import create_app
from backoffice.extensions import db
from backoffice.models import Insurance


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for name in ("BACKOFFICE_ENV", "SECRET_KEY", "FIELD_ENCRYPTION_KEY", "FIELD_ENCRYPTION_OLD_KEYS", "DATABASE_URL",
                 "SESSION_COOKIE_SECURE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("BACKOFFICE_INSTANCE_PATH", str(tmp_path / "instance"))
    return tmp_path / "instance"


@pytest.mark.parametrize("secret", [None, "", "changeme", "short-but-not-placeholder"])
def test_production_refuses_to_start_without_a_real_secret(clean_env, monkeypatch, secret):
    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    if secret is not None:
        monkeypatch.setenv("SECRET_KEY", secret)
    with pytest.raises(config.ConfigError, match="SECRET_KEY"):
        create_app()


STRONG_SECRET = "kX3vQ9pL2mN8rT5wY7zB1cD4fG6hJ0aS"   # 32 characters, no pattern (not a real key)
STRONG_FIELD_KEY = "Zr8Kp2Lm5Nq9Tv3Wx6Yb1Cd4Fg7Hj0Ae"


def test_production_starts_with_a_real_secret(clean_env, monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ENV", "production")
    monkeypatch.setenv("MAIL_SERVER", "smtp.example.nl")  # production sends e-mail by SMTP (tests/test_mail.py)
    monkeypatch.setenv("MAIL_FROM", "info@example.nl")
    monkeypatch.setenv("SECRET_KEY", STRONG_SECRET)
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", STRONG_FIELD_KEY)
    app = create_app()
    assert app.config["SECRET_KEY"] == STRONG_SECRET
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert not (clean_env / "secret_key").exists()


def test_development_creates_a_secret_once_and_reuses_it(clean_env):
    first = create_app()
    key_file = clean_env / "secret_key"
    assert key_file.exists() and oct(key_file.stat().st_mode)[-3:] == "600"
    second = create_app()
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text().strip()
    assert len(first.config["SECRET_KEY"]) >= 32


def test_unknown_environment_is_refused(clean_env, monkeypatch):
    monkeypatch.setenv("BACKOFFICE_ENV", "staging")
    with pytest.raises(config.ConfigError, match="BACKOFFICE_ENV"):
        create_app()


def test_default_database_is_a_sqlite_file_in_instance(clean_env):
    app = create_app()
    with app.app_context():
        assert db.engine.url.drivername == "sqlite"
        assert db.engine.url.database == str(clean_env / "backoffice.sqlite3")
        db.engine.dispose()


@pytest.mark.parametrize(("given", "expected"), [
    ("postgresql://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgres://u@h/db", "postgresql+psycopg://u@h/db"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg://u@h/db"),
    ("sqlite:////tmp/x.db", "sqlite:////tmp/x.db"),
])
def test_database_url_selects_psycopg3(given, expected):
    assert config.normalise_database_url(given) == expected


def test_database_url_from_environment(clean_env, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql://clinic@db.internal/backoffice")
    app = create_app()
    assert app.config["SQLALCHEMY_DATABASE_URI"] == "postgresql+psycopg://clinic@db.internal/backoffice"


def test_sqlite_enforces_foreign_keys(app, backend):
    with app.app_context():
        if backend == "sqlite":
            assert db.session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        db.session.add(Insurance(patient_id=999, insurer_id=999, policy_number="X",
                                 valid_from=date(2026, 1, 1)))
        with pytest.raises(IntegrityError):
            db.session.commit()
        db.session.rollback()


def test_each_new_connection_gets_the_apps_settings(app):
    """backoffice._connection_settings: SQLite enforces foreign keys and fires triggers on REPLACE; PostgreSQL runs
    without JIT (which compiled the home page's claimable-lines query for 0.9 s on a chain's data). The settings
    hold on a connection the pool hands out again after a rollback."""
    with app.app_context():
        for _round in range(2):
            with db.engine.connect() as connection:
                if connection.dialect.name == "sqlite":
                    assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
                    assert connection.execute(text("PRAGMA recursive_triggers")).scalar() == 1
                else:
                    assert connection.execute(text("SHOW jit")).scalar() == "off"
                connection.rollback()
