"""Shared fixtures: a fresh database per test on SQLite (in memory) and on PostgreSQL (own schema).

Tests that take `app` run once per backend. PostgreSQL is required when REQUIRE_POSTGRES=1 (as in CI);
otherwise a missing server skips those runs and the summary says so loudly.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections import Counter

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import DBAPIError

from backoffice import create_app, db_roles
from backoffice.extensions import db
from backoffice.models import User

PASSWORD = "correct horse battery"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("REQUIRE_POSTGRES") == "1"
# The `app` fixture on PostgreSQL runs as this role, as production does (backoffice/db_roles.py): the tables are
# created by the owner (POSTGRES_URL's user), the app gets only the rights `flask db grant-app-role` gives. The
# password is a throwaway for the test server (trust auth ignores it; CI's password auth needs one).
APP_ROLE = os.environ.get("TEST_APP_ROLE", "backoffice_app_test")
APP_ROLE_PASSWORD = "backoffice-app-test"  # noqa: S105 - test-only role on the test server
# CI (.ci/run) sets this: a Debian tool the tests use (pdftoppm, soffice) that is missing fails, never skips.
REQUIRE_TOOLS = os.environ.get("REQUIRE_TOOLS") == "1"


def need_tool(*commands: str, package: str) -> str:
    """The path of the first of `commands` on PATH; otherwise skip locally (saying why) or fail in CI."""
    for command in commands:
        found = shutil.which(command)
        if found:
            return found
    reason = f"{commands[0]} is not installed: `make test` installs the Debian package {package}"
    if REQUIRE_TOOLS:
        pytest.fail(f"REQUIRE_TOOLS=1 but {reason}")
    pytest.skip(reason)
_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"')

_postgres_state: dict[str, object] = {}


def postgres_available() -> str | None:
    """None when PostgreSQL answers, else the reason it does not."""
    if "reason" not in _postgres_state:
        try:
            engine = create_engine(POSTGRES_URL)
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
            _postgres_state["reason"] = None
        except Exception as error:  # any failure to connect means: no PostgreSQL here
            _postgres_state["reason"] = f"PostgreSQL not reachable at {POSTGRES_URL}: {error.__class__.__name__}"
    return _postgres_state["reason"]


def _require_postgres():
    reason = postgres_available()
    if reason:
        if REQUIRE_POSTGRES:
            pytest.fail(f"REQUIRE_POSTGRES=1 but {reason}")
        pytest.skip(reason)


@pytest.fixture
def postgres_schema():
    """A fresh PostgreSQL schema; yields the URL whose connections use it, drops it afterwards."""
    _require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield schema
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def app_role_url() -> str:
    return make_url(POSTGRES_URL).set(username=APP_ROLE, password=APP_ROLE_PASSWORD).render_as_string(
        hide_password=False)


def owner_engine(schema: str) -> Engine:
    """An engine on `schema` as the tables' owner (what migrations and `grant-app-role` run as)."""
    return create_engine(POSTGRES_URL, connect_args={"options": f"-c search_path={schema}"})


def _ensure_app_role(connection) -> None:
    if _postgres_state.get("app_role"):
        return
    try:
        with connection.begin_nested():
            db_roles.create_role(connection, APP_ROLE, APP_ROLE_PASSWORD)
    except DBAPIError:  # another test run created it at the same moment
        pass
    _postgres_state["app_role"] = True


def create_tables_for_app_role(schema: str) -> None:
    """Create every table in `schema` as the owner, then give APP_ROLE the app's rights on them."""
    engine = owner_engine(schema)
    try:
        with engine.begin() as connection:
            _ensure_app_role(connection)
            db.metadata.create_all(connection)
            db_roles.grant_app_role(connection, APP_ROLE)
    finally:
        engine.dispose()


def make_test_app(database: str, schema: str | None = None, as_app_role: bool = False, **overrides):
    """An app on SQLite in memory, or on PostgreSQL `schema` as the owner (or, `as_app_role`, as APP_ROLE)."""
    # Cheaper scrypt parameters keep the suite fast; production uses werkzeug's default (n=2**15).
    settings = {"TESTING": True, "SQLALCHEMY_DATABASE_URI": "sqlite://", "PASSWORD_HASH_METHOD": "scrypt:4096:8:1",
                # The suite signs in by password (`login`); tests/test_two_factor.py sets None: the real rule.
                "TWO_FACTOR_REQUIRED_ROLES": ()}
    if database == "postgresql":
        settings["SQLALCHEMY_DATABASE_URI"] = app_role_url() if as_app_role else POSTGRES_URL
        settings["SQLALCHEMY_ENGINE_OPTIONS"] = {"connect_args": {"options": f"-c search_path={schema}"}}
    settings.update(overrides)
    return create_app(settings)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request):
    return request.param


@pytest.fixture
def app(backend, request):
    if backend == "postgresql":
        # As in production: the owner creates the tables, the app under test connects as the limited role.
        schema = request.getfixturevalue("postgres_schema")
        create_tables_for_app_role(schema)
        app = make_test_app(backend, schema, as_app_role=True)
    else:
        app = make_test_app(backend)
        with app.app_context():
            db.create_all()
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()


def create_user(
    app, email: str, role: str, name: str | None = None, password: str = PASSWORD, language: str | None = "en"
) -> int:
    """A user; English by default so assertions on screen texts read as the msgids (Dutch tests pass "nl")."""
    with app.app_context():
        user = User(email=email, name=name or email.split("@")[0].title(), role=role, language=language)
        user.set_password(password)
        db.session.add(user)
        db.session.commit()
        return user.id


@pytest.fixture
def users(app) -> dict[str, str]:
    """One user per role; returns role -> e-mail. Password: PASSWORD."""
    emails = {role: f"{role}@test.nl" for role in ("admin", "therapist", "manager")}
    for role, email in emails.items():
        create_user(app, email, role)
    return emails


def csrf_token(client, url: str = "/login") -> str:
    html = client.get(url).get_data(as_text=True)
    match = _CSRF.search(html)
    assert match, f"no CSRF token on {url}"
    return match.group(1) or match.group(2)


def login(client, email: str, password: str = PASSWORD):
    token = csrf_token(client, "/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": token})


def post_form(client, url: str, data: dict, token_from: str | None = None, **kwargs):
    """POST like a browser would: with the CSRF token of the page the form is on."""
    token = csrf_token(client, token_from or url)
    return client.post(url, data={**data, "csrf_token": token}, **kwargs)


@pytest.fixture
def as_role(client, users):
    """as_role('admin') signs the test client in with that role and returns the client."""

    def sign_in(role: str):
        response = login(client, users[role])
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return sign_in


# ---- summary: how many tests ran on each backend and in the browser -------------------------------

_outcomes: Counter = Counter()
_labels: dict[str, list[str]] = {}


def pytest_collection_modifyitems(items):
    for item in items:
        labels = []
        callspec = getattr(item, "callspec", None)
        if callspec is not None and "backend" in callspec.params:
            labels.append(callspec.params["backend"])
        if item.get_closest_marker("browser"):
            labels.append("browser (chromium)")
        _labels[item.nodeid] = labels


def pytest_runtest_logreport(report):
    if report.when != "call" and not (report.when == "setup" and report.outcome != "passed"):
        return
    for label in _labels.get(report.nodeid, []):
        _outcomes[(label, report.outcome)] += 1


def pytest_terminal_summary(terminalreporter):
    terminalreporter.section("backends")
    for label in ("sqlite", "postgresql", "browser (chromium)"):
        counts = {o: _outcomes[(label, o)] for o in ("passed", "failed", "skipped")}
        terminalreporter.write_line(
            f"{label}: {counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped"
        )
        if counts["skipped"] and not counts["passed"]:
            terminalreporter.write_line(
                f"!!! NOTICE: every {label} test was SKIPPED on this machine; run `make test` in CI "
                "(.ci/run) or install it to run them. !!!",
                red=True,
                bold=True,
            )
