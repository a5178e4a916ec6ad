"""The PostgreSQL role the application connects as: it owns nothing and may do only what the app needs.

Migrations run as the tables' owner; the running app connects as this role. Because it owns no table it cannot
TRUNCATE, ALTER (DDL) or `ALTER TABLE ... DISABLE TRIGGER` (both need ownership), so the guard triggers on issued
invoices, their lines and credit notes hold against it; and it has no UPDATE or DELETE on the access log (nor on
credit notes, which the app never changes). Invoices and invoice lines keep UPDATE and DELETE, which drafts need:
their issued rows are refused by the triggers, which this role cannot switch off.

`flask db grant-app-role` runs `app_role_statements` as the owner; run it again after every `flask db upgrade`
(it is idempotent: it first revokes everything, then grants), so a new table gets its rights.
"""

from __future__ import annotations

import re

from sqlalchemy import Connection, text

# Tables the app appends to but never changes.
APPEND_ONLY = ("access_log", "credit_notes", "credit_note_lines")
# Tables the app only reads.
READ_ONLY = ("alembic_version",)
_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}", re.ASCII)


class RoleError(RuntimeError):
    """The role cannot be set up as asked; the message says why."""


def quoted(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise RoleError(f"{name!r} is not a plain role or schema name (lower-case letters, digits, _)")
    return f'"{name}"'


def app_role_statements(connection: Connection, role: str) -> list[str]:
    """The REVOKE and GRANT statements that leave `role` with exactly the app's rights in the current schema."""
    schema = connection.scalar(text("SELECT current_schema()"))
    if schema is None:
        raise RoleError("no current schema: check the search_path")
    tables = set(connection.scalars(text(
        "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")))
    r, s = quoted(role), quoted(schema)
    statements = [
        f"REVOKE ALL ON ALL TABLES IN SCHEMA {s} FROM {r}",
        f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {s} FROM {r}",
        f"REVOKE CREATE ON SCHEMA {s} FROM {r}",
        f"GRANT USAGE ON SCHEMA {s} TO {r}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {s} TO {r}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {s} TO {r}",
    ]
    for table in sorted(tables & set(APPEND_ONLY)):
        statements.append(f"REVOKE UPDATE, DELETE ON {s}.{quoted(table)} FROM {r}")
    for table in sorted(tables & set(READ_ONLY)):
        statements.append(f"REVOKE INSERT, UPDATE, DELETE ON {s}.{quoted(table)} FROM {r}")
    return statements


def check_role(connection: Connection, role: str) -> None:
    """Refuse a role that is missing, is the connected (owner) role, a superuser, or a member of a table owner."""
    quoted(role)
    row = connection.execute(text("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = :role"),
                             {"role": role}).first()
    if row is None:
        raise RoleError(f"role {role} does not exist: create it first (--create, or CREATE ROLE {role} LOGIN "
                        "PASSWORD '...' as a superuser)")
    if row.rolsuper or row.rolbypassrls:
        raise RoleError(f"role {role} is a superuser (or bypasses row security): the app must not connect as one")
    owners = set(connection.scalars(text(
        "SELECT DISTINCT tableowner FROM pg_tables WHERE schemaname = current_schema()")))
    for owner in owners | {connection.scalar(text("SELECT current_user"))}:
        if connection.scalar(text("SELECT pg_has_role(:role, :owner, 'MEMBER')"), {"role": role, "owner": owner}):
            raise RoleError(f"role {role} is (a member of) {owner}, which owns the tables: use a role of its own")


def create_role(connection: Connection, role: str, password: str) -> bool:
    """Create `role` as a login role owning nothing; False when it exists already (its password is then set)."""
    exists = connection.scalar(text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role})
    # The password is a literal in DDL (no bind parameters there): quote it as SQL does.
    literal = "'" + password.replace("'", "''") + "'"
    if exists:
        _run_literally(connection, f"ALTER ROLE {quoted(role)} PASSWORD {literal}")
        return False
    _run_literally(connection, f"CREATE ROLE {quoted(role)} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                               f"NOINHERIT PASSWORD {literal}")
    return True


def _run_literally(connection: Connection, statement: str) -> None:
    # On the driver's cursor without parameters, so a '%' in the password is not taken for a placeholder.
    cursor = connection.connection.cursor()
    try:
        cursor.execute(statement)
    finally:
        cursor.close()


def grant_app_role(connection: Connection, role: str) -> list[str]:
    """Check `role` and give it the app's rights in the current schema; returns the statements run."""
    check_role(connection, role)
    statements = app_role_statements(connection, role)
    for statement in statements:
        connection.exec_driver_sql(statement)
    return statements
