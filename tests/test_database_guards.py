"""A database the app cannot rewrite: on SQLite `REPLACE` cannot rewrite a guarded row; on PostgreSQL the app
connects as a role that owns nothing (`flask db grant-app-role`), so it cannot TRUNCATE, disable a trigger or change
the access log, while its normal work (treatments, invoices, credit notes) still goes through."""

from __future__ import annotations

import uuid
from datetime import date

import factories
import pytest
from conftest import APP_ROLE, POSTGRES_URL, create_tables_for_app_role, make_test_app, owner_engine
from sqlalchemy import create_engine, func, make_url, select, text
from sqlalchemy.exc import DBAPIError
from test_invoicing import DAY, Clinic, Renderer

from backoffice import audit
from backoffice.database_cli import grant_app_role_command
from backoffice.extensions import db
from backoffice.invoicing import services
from backoffice.models import AccessLog, CreditNote, Invoice, InvoiceLine

# ---- SQLite: REPLACE fires the delete guards ---------------------------------------------------------------

@pytest.fixture
def sqlite_app():
    app = make_test_app("sqlite")
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def issued(sqlite_app):
    clinic = Clinic()
    invoice = clinic.issued(clinic.treatment(), clinic.treatment("60.50", medical=False))
    services.credit_invoice(invoice, [invoice.lines[0].id], today=DAY, renderer=Renderer())
    audit.record("view", clinic.patient_id, "patient")
    db.session.commit()
    return invoice.id


def _replace(table: str, where: str, change: str, verb: str) -> None:
    """Rewrite a row the way an attacker would: a changed copy put back with REPLACE (the same id)."""
    with db.engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE IF EXISTS temp.copy")
        connection.exec_driver_sql(f"CREATE TEMP TABLE copy AS SELECT * FROM {table} WHERE {where}")  # noqa: S608
        connection.exec_driver_sql(f"UPDATE temp.copy SET {change}")
        connection.exec_driver_sql(f"{verb} INTO {table} SELECT * FROM temp.copy")  # noqa: S608


def test_every_sqlite_connection_fires_triggers_on_replace(sqlite_app):
    with db.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA recursive_triggers").scalar() == 1


REPLACED = [
    ("access_log", "1 = 1", "subject = 'nothing to see'", "append-only"),
    ("invoices", "status = 'issued'", "total_gross_cents = 1", "issued invoice cannot be changed"),
    ("invoice_lines", "1 = 1", "gross_cents = 1", "issued invoice cannot be changed"),
    ("credit_notes", "1 = 1", "reason = 'other'", "credit note cannot be changed"),
    ("credit_note_lines", "1 = 1", "vat_rate = 9", "credit note cannot be changed"),
]


@pytest.mark.parametrize("verb", ["REPLACE", "INSERT OR REPLACE"])
@pytest.mark.parametrize(("table", "where", "change", "refusal"), REPLACED)
def test_replace_cannot_rewrite_a_guarded_row(sqlite_app, issued, verb, table, where, change, refusal):
    def contents():
        with db.engine.connect() as connection:
            return connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id").all()  # noqa: S608

    before = contents()
    with pytest.raises(DBAPIError, match=refusal):
        _replace(table, where, change, verb)
    assert contents() == before


def test_without_recursive_triggers_replace_would_rewrite_the_log(sqlite_app, issued):
    # Why the pragma is there: the same statement goes through on a connection without it.
    with db.engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA recursive_triggers=OFF")
        try:
            connection.exec_driver_sql("CREATE TEMP TABLE copy AS SELECT * FROM access_log")
            connection.exec_driver_sql("UPDATE temp.copy SET subject = 'nothing to see'")
            connection.exec_driver_sql("REPLACE INTO access_log SELECT * FROM temp.copy")
            assert connection.exec_driver_sql("SELECT subject FROM access_log").scalars().all()[-1] == \
                "nothing to see"
            connection.rollback()
        finally:
            connection.exec_driver_sql("PRAGMA recursive_triggers=ON")
            connection.commit()
    assert db.session.scalars(select(AccessLog.subject).order_by(AccessLog.id)).all()[-1] == "patient"


def test_replace_still_works_on_unguarded_tables(sqlite_app, issued):
    # REPLACE on an unguarded table (a user's name) still works: only the guards refuse.
    _replace("users", "1 = 1", "name = 'Renamed'", "REPLACE")
    db.session.expire_all()
    assert set(db.session.scalars(text("SELECT name FROM users"))) == {"Renamed"}


# ---- PostgreSQL: the app's role ----------------------------------------------------------------------------

@pytest.fixture
def role_app(postgres_schema):
    """The app as production runs it: tables created by the owner, the app connected as the limited role."""
    create_tables_for_app_role(postgres_schema)
    app = make_test_app("postgresql", postgres_schema, as_app_role=True)
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()


def _fails_for_the_app(statement: str, message: str) -> None:
    with pytest.raises(DBAPIError, match=message), db.engine.begin() as connection:
        connection.exec_driver_sql(statement)


@pytest.fixture
def role_clinic(role_app):
    clinic = Clinic()
    invoice = clinic.issued(clinic.treatment(), clinic.treatment("60.50", medical=False))
    services.credit_invoice(invoice, [invoice.lines[0].id], today=DAY, renderer=Renderer())
    db.session.commit()
    return clinic


def test_the_app_connects_as_the_limited_role(role_app):
    assert db.session.scalar(text("SELECT current_user")) == APP_ROLE
    assert not db.session.scalar(text("SELECT rolsuper FROM pg_roles WHERE rolname = current_user"))


@pytest.mark.parametrize(("statement", "message"), [
    ("TRUNCATE access_log", "permission denied for table access_log"),
    ("TRUNCATE invoices CASCADE", "permission denied for table invoices"),
    ("TRUNCATE credit_notes CASCADE", "permission denied for table credit_notes"),
    ("ALTER TABLE access_log DISABLE TRIGGER ALL", "must be owner of table access_log"),
    ("ALTER TABLE invoices DISABLE TRIGGER invoices_issued_no_change", "must be owner of table invoices"),
    ("UPDATE access_log SET subject = 'nothing to see'", "permission denied for table access_log"),
    ("DELETE FROM access_log", "permission denied for table access_log"),
    ("DELETE FROM credit_notes", "permission denied for table credit_notes"),
    ("UPDATE credit_note_lines SET gross_cents = 1", "permission denied for table credit_note_lines"),
    ("DROP TABLE access_log", "must be owner of table access_log"),
    ("CREATE TABLE scratch (id integer)", "permission denied for schema"),
    ("CREATE TRIGGER sneaky BEFORE INSERT ON access_log FOR EACH ROW EXECUTE FUNCTION access_log_append_only()",
     "permission denied for table access_log"),
    ("SELECT setval(pg_get_serial_sequence('access_log', 'id'), 1)", "permission denied for sequence"),
])
def test_the_app_role_cannot_rewrite_the_database(role_clinic, statement, message):
    _fails_for_the_app(statement, message)
    assert db.session.scalar(select(func.count()).select_from(AccessLog)) >= 3
    assert db.session.scalar(select(func.count()).select_from(CreditNote)) == 1


def test_issued_invoices_stay_guarded_by_their_triggers_for_the_role(role_clinic):
    _fails_for_the_app("UPDATE invoices SET total_gross_cents = 1 WHERE status = 'issued'",
                       "issued invoice cannot be changed")
    _fails_for_the_app("DELETE FROM invoice_lines", "issued invoice cannot be changed")


def test_the_apps_normal_work_goes_through_as_the_role(role_clinic):
    clinic = role_clinic
    # A treatment recorded through the service, a draft edited and deleted, an invoice issued, a payment.
    treatment = factories.recorded_treatment(clinic.patient_id, clinic.therapist_id, clinic.item_id,
                                             date(2026, 11, 3))
    draft = services.draft_invoice(clinic.patient, [clinic.treatment(), clinic.treatment()], user=clinic.user)
    db.session.commit()
    services.remove_line(draft, draft.lines[0].id, user=clinic.user)
    services.delete_draft(draft, user=clinic.user)
    db.session.commit()
    invoice = clinic.issued(treatment.id)
    assert invoice.number and invoice.status == "issued"
    assert db.session.scalar(select(func.count()).select_from(InvoiceLine)) >= 3
    assert db.session.scalar(select(func.count()).select_from(Invoice).where(Invoice.status == "issued")) == 2
    assert db.session.scalar(select(func.count()).select_from(AccessLog)) > 3


# ---- the command -------------------------------------------------------------------------------------------

@pytest.fixture
def owner_app(postgres_schema):
    app = make_test_app("postgresql", postgres_schema)
    with app.app_context():
        db.create_all()
        yield app
        db.session.remove()
        db.engine.dispose()


def _privileges(role: str, table: str) -> set[str]:
    kinds = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")
    return {kind for kind in kinds
            if db.session.scalar(text("SELECT has_table_privilege(:role, :table, :kind)"),
                                 {"role": role, "table": table, "kind": kind})}


def test_grant_app_role_gives_exactly_the_apps_rights_and_is_idempotent(owner_app):
    runner = owner_app.test_cli_runner()
    for _ in range(2):
        result = runner.invoke(grant_app_role_command, ["--role", APP_ROLE])
        assert result.exit_code == 0, result.output
    assert "REVOKE UPDATE, DELETE ON" in result.output and f"Role {APP_ROLE} has the app's rights" in result.output
    assert _privileges(APP_ROLE, "access_log") == {"SELECT", "INSERT"}
    assert _privileges(APP_ROLE, "credit_notes") == {"SELECT", "INSERT"}
    assert _privileges(APP_ROLE, "invoices") == {"SELECT", "INSERT", "UPDATE", "DELETE"}
    assert _privileges(APP_ROLE, "patients") == {"SELECT", "INSERT", "UPDATE", "DELETE"}


def test_grant_app_role_dry_run_changes_nothing(owner_app):
    role = f"bo_dry_{uuid.uuid4().hex[:8]}"
    result = owner_app.test_cli_runner().invoke(grant_app_role_command, ["--role", role, "--dry-run"])
    assert result.exit_code == 0, result.output
    assert 'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA' in result.output
    assert db.session.scalar(text("SELECT count(*) FROM pg_roles WHERE rolname = :r"), {"r": role}) == 0


@pytest.mark.parametrize(("role", "refusal"), [
    ("postgres", "is a superuser"),
    ("no_such_role_here", "does not exist"),
    ("Robert'); DROP TABLE patients;--", "not a plain role"),
])
def test_grant_app_role_refuses_unsuitable_roles(owner_app, role, refusal):
    result = owner_app.test_cli_runner().invoke(grant_app_role_command, ["--role", role])
    assert result.exit_code == 1 and refusal in result.output


def test_grant_app_role_creates_a_login_role(owner_app, postgres_schema):
    role = f"bo_new_{uuid.uuid4().hex[:8]}"
    password = "it's 100% secret"  # a quote and a percent sign survive the DDL literal
    try:
        result = owner_app.test_cli_runner().invoke(grant_app_role_command, ["--role", role, "--create"],
                                                    env={"APP_ROLE_PASSWORD": password})
        assert result.exit_code == 0, result.output
        assert f"Created role {role}." in result.output
        url = make_url(POSTGRES_URL).set(username=role, password=password)
        engine = create_engine(url, connect_args={"options": f"-c search_path={postgres_schema}"})
        try:
            with engine.connect() as connection:
                assert connection.scalar(text("SELECT current_user")) == role
                assert connection.scalar(text("SELECT count(*) FROM access_log")) == 0
        finally:
            engine.dispose()
    finally:
        owner = owner_engine(postgres_schema)
        with owner.begin() as connection:
            connection.exec_driver_sql(f'DROP OWNED BY "{role}"')
            connection.exec_driver_sql(f'DROP ROLE "{role}"')
        owner.dispose()


def test_grant_app_role_is_for_postgresql_only(sqlite_app):
    result = sqlite_app.test_cli_runner().invoke(grant_app_role_command, ["--role", "backoffice_app"])
    assert result.exit_code == 1 and "for PostgreSQL" in result.output
