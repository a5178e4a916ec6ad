"""Database guards: what the ORM refuses and the triggers the database adds, kept apart from the tables.

Three kinds of rows are protected twice, once in the ORM (a clear Python error) and once by a trigger (raw SQL
cannot slip past either):
- the access log is append-only (NEN 7513);
- an issued invoice, its lines and every credit note never change (a correction is a credit note);
- and the dashboard's summary rows (report_facts) are emptied in the same transaction as any write they were
  read from.
The triggers are installed after `create_all` creates their table, and by the migrations (0001, 0003, 0006), which
hold frozen copies of the same statements; tests/test_migrations.py and tests/test_reporting.py check they agree.
The trigger SQL spells the statuses out ('issued' is InvoiceStatus.ISSUED) so it reads like the migrations.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, Table, event, inspect, select
from sqlalchemy.orm import Mapper

from ..domain.statuses import InvoiceStatus
from ..extensions import db
from .access_log import AccessLog
from .invoices import CreditNote, CreditNoteLine, Invoice, InvoiceLine


class AppendOnlyError(RuntimeError):
    """An access log entry was about to be changed or deleted."""


class ImmutableDocumentError(RuntimeError):
    """An issued invoice, its lines or a credit note was about to change: issue a credit note instead."""


def _install(table: Table, statements: Iterable[str], connection: Connection) -> None:
    for statement in statements:
        connection.exec_driver_sql(statement)


# ---- the access log: append-only -----------------------------------------------------------------------

@event.listens_for(AccessLog, "before_update")
@event.listens_for(AccessLog, "before_delete")
def _refuse_access_log_change(mapper: Mapper[Any], connection: Connection, target: AccessLog) -> None:
    raise AppendOnlyError("The access log is append-only: entries cannot be changed or deleted.")


# Database-level guard, besides the ORM guard above: raw SQL cannot change it either.
_ACCESS_LOG_SQLITE_GUARDS = [
    "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
    "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END",
]
_ACCESS_LOG_POSTGRES_GUARDS = [
    "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'access_log is append-only'; END $$",
    "CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log "
    "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()",
]


def access_log_guard_statements(dialect: str) -> list[str]:
    return {"sqlite": _ACCESS_LOG_SQLITE_GUARDS, "postgresql": _ACCESS_LOG_POSTGRES_GUARDS}.get(dialect, [])


@event.listens_for(AccessLog.__table__, "after_create")
def _create_access_log_guards(table: Table, connection: Connection, **kw: Any) -> None:
    _install(table, access_log_guard_statements(connection.dialect.name), connection)


# ---- issued invoices, their lines and credit notes: immutable ------------------------------------------

def _changed_columns(target: object) -> list[str]:
    # before_update also fires for rows that are only "dirty" through a collection (a payment appended to
    # invoice.payments): those have no column change and are let through.
    state = inspect(target)
    return [attr.key for attr in state.mapper.column_attrs if state.attrs[attr.key].history.has_changes()]


def _committed_status(target: Invoice) -> str | None:
    history = inspect(target).attrs.status.history
    return history.deleted[0] if history.deleted else target.status


def _invoice_status_in_db(connection: Connection, invoice_id: int | None) -> str | None:
    if invoice_id is None:
        return None
    table = Invoice.__table__
    return connection.scalar(select(table.c.status).where(table.c.id == invoice_id))


@event.listens_for(Invoice, "before_update")
def _refuse_issued_invoice_update(mapper: Mapper[Any], connection: Connection, target: Invoice) -> None:
    if _committed_status(target) == InvoiceStatus.ISSUED and _changed_columns(target):
        raise ImmutableDocumentError(
            f"Invoice {target.number} is issued and cannot be changed: issue a credit note and a new invoice."
        )


@event.listens_for(Invoice, "before_delete")
def _refuse_issued_invoice_delete(mapper: Mapper[Any], connection: Connection, target: Invoice) -> None:
    if _committed_status(target) == InvoiceStatus.ISSUED:
        raise ImmutableDocumentError(f"Invoice {target.number} is issued and cannot be deleted.")


def _refuse_if_issued(connection: Connection, *invoice_ids: int | None) -> None:
    if any(_invoice_status_in_db(connection, invoice_id) == InvoiceStatus.ISSUED for invoice_id in set(invoice_ids)):
        raise ImmutableDocumentError("The lines of an issued invoice cannot be added, changed or deleted.")


@event.listens_for(InvoiceLine, "before_insert")
@event.listens_for(InvoiceLine, "before_delete")
def _refuse_issued_line_insert_or_delete(mapper: Mapper[Any], connection: Connection, target: InvoiceLine) -> None:
    _refuse_if_issued(connection, target.invoice_id)


@event.listens_for(InvoiceLine, "before_update")
def _refuse_issued_line_update(mapper: Mapper[Any], connection: Connection, target: InvoiceLine) -> None:
    if _changed_columns(target):
        _refuse_if_issued(connection, target.invoice_id, *inspect(target).attrs.invoice_id.history.deleted)


@event.listens_for(CreditNote, "before_update")
@event.listens_for(CreditNoteLine, "before_update")
def _refuse_credit_note_update(mapper: Mapper[Any], connection: Connection, target: object) -> None:
    if _changed_columns(target):
        raise ImmutableDocumentError("A credit note cannot be changed.")


@event.listens_for(CreditNote, "before_delete")
@event.listens_for(CreditNoteLine, "before_delete")
def _refuse_credit_note_delete(mapper: Mapper[Any], connection: Connection, target: object) -> None:
    raise ImmutableDocumentError("A credit note cannot be deleted.")


# Database-level guards, besides the ORM ones: raw SQL cannot change an issued invoice either.
# The same statements are in migration 0003; a later migration that rebuilds one of these tables on SQLite
# (batch mode copies the table) must create them again.
_INVOICE_SQLITE_GUARDS = [
    "CREATE TRIGGER invoices_issued_no_update BEFORE UPDATE ON invoices WHEN OLD.status = 'issued' "
    "BEGIN SELECT RAISE(ABORT, 'an issued invoice cannot be changed or deleted: issue a credit note'); END",
    "CREATE TRIGGER invoices_issued_no_delete BEFORE DELETE ON invoices WHEN OLD.status = 'issued' "
    "BEGIN SELECT RAISE(ABORT, 'an issued invoice cannot be changed or deleted: issue a credit note'); END",
]
_LINE_SQLITE_GUARDS = [
    "CREATE TRIGGER invoice_lines_issued_no_insert BEFORE INSERT ON invoice_lines "
    "WHEN (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'issued' "
    "BEGIN SELECT RAISE(ABORT, 'the lines of an issued invoice cannot be changed or deleted'); END",
    "CREATE TRIGGER invoice_lines_issued_no_update BEFORE UPDATE ON invoice_lines "
    "WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued' "
    "OR (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'issued' "
    "BEGIN SELECT RAISE(ABORT, 'the lines of an issued invoice cannot be changed or deleted'); END",
    "CREATE TRIGGER invoice_lines_issued_no_delete BEFORE DELETE ON invoice_lines "
    "WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued' "
    "BEGIN SELECT RAISE(ABORT, 'the lines of an issued invoice cannot be changed or deleted'); END",
]
_CREDIT_SQLITE_GUARDS = [
    f"CREATE TRIGGER {table}_no_{op.lower()} BEFORE {op} ON {table} "
    "BEGIN SELECT RAISE(ABORT, 'a credit note cannot be changed or deleted'); END"
    for table in ("credit_notes", "credit_note_lines")
    for op in ("UPDATE", "DELETE")
]
_INVOICE_POSTGRES_GUARDS = [
    "CREATE FUNCTION invoice_issued_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'an issued invoice cannot be changed or deleted: issue a credit note'; END $$",
    "CREATE TRIGGER invoices_issued_no_change BEFORE UPDATE OR DELETE ON invoices "
    "FOR EACH ROW WHEN (OLD.status = 'issued') EXECUTE FUNCTION invoice_issued_immutable()",
]
_LINE_POSTGRES_GUARDS = [
    "CREATE FUNCTION invoice_line_issued_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP <> 'INSERT' AND (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued' "
    "OR TG_OP <> 'DELETE' AND (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'issued' THEN "
    "RAISE EXCEPTION 'the lines of an issued invoice cannot be changed or deleted'; END IF; "
    "IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
    "CREATE TRIGGER invoice_lines_issued_no_change BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines "
    "FOR EACH ROW EXECUTE FUNCTION invoice_line_issued_immutable()",
]
_CREDIT_POSTGRES_GUARDS = [
    "CREATE FUNCTION credit_note_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ "
    "BEGIN RAISE EXCEPTION 'a credit note cannot be changed or deleted'; END $$",
    "CREATE TRIGGER credit_notes_no_change BEFORE UPDATE OR DELETE ON credit_notes "
    "FOR EACH ROW EXECUTE FUNCTION credit_note_immutable()",
    "CREATE TRIGGER credit_note_lines_no_change BEFORE UPDATE OR DELETE ON credit_note_lines "
    "FOR EACH ROW EXECUTE FUNCTION credit_note_immutable()",
]

_DOCUMENT_GUARDS = {
    "invoices": {"sqlite": _INVOICE_SQLITE_GUARDS, "postgresql": _INVOICE_POSTGRES_GUARDS},
    "invoice_lines": {"sqlite": _LINE_SQLITE_GUARDS, "postgresql": _LINE_POSTGRES_GUARDS},
    "credit_note_lines": {"sqlite": _CREDIT_SQLITE_GUARDS, "postgresql": _CREDIT_POSTGRES_GUARDS},
}


def document_guard_statements(table: str, dialect: str) -> list[str]:
    """The trigger DDL installed after `table` is created (credit note guards wait for their lines table)."""
    return _DOCUMENT_GUARDS.get(table, {}).get(dialect, [])


def _create_document_guards(table: Table, connection: Connection, **kw: Any) -> None:
    _install(table, document_guard_statements(table.name, connection.dialect.name), connection)


for _table in (Invoice.__table__, InvoiceLine.__table__, CreditNoteLine.__table__):
    event.listen(_table, "after_create", _create_document_guards)


# ---- the dashboard's summary: emptied by every write it was read from -----------------------------------

# Which report_facts rows a write can change, per table: (table, events, the columns whose UPDATE matters, rules);
# a rule is (family, the first day concerned, the day whose month is the receivables' issue month or None), as
# SQL on {row} (OLD and NEW). Rows with as_of on or after that day are emptied. The same rules are frozen in
# migration 0006; tests/test_reporting.py checks they agree and that each write empties what it should.
_INVOICE_ISSUE_DATE = "(SELECT issue_date FROM invoices WHERE id = {row}.invoice_id)"
_LINE_TREATMENT_DATE = "(SELECT treatment_date FROM invoice_lines WHERE id = {row}.invoice_line_id)"
ReportFactsRule = tuple[str, str, str | None]  # (family, first day concerned, receivables' issue day or None)
ReportFactsSource = tuple[str, tuple[str, ...], tuple[str, ...], tuple[ReportFactsRule, ...]]
REPORT_FACTS_SOURCES: tuple[ReportFactsSource, ...] = (
    ("treatments", ("INSERT", "UPDATE", "DELETE"),
     ("treatment_date", "patient_id", "therapist_id", "catalogue_item_id", "indication", "medical", "withdrawn_at"), (
         ("treatments", "{row}.treatment_date", None),
         ("revenue", "(SELECT min(i.issue_date) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id "
                     "WHERE l.treatment_id = {row}.id AND i.status = 'issued')", None),
         ("revenue", "(SELECT min(n.issue_date) FROM invoice_lines l "
                     "JOIN credit_note_lines c ON c.invoice_line_id = l.id "
                     "JOIN credit_notes n ON n.id = c.credit_note_id WHERE l.treatment_id = {row}.id)", None),
         ("claims", "(SELECT min(treatment_date) FROM invoice_lines WHERE treatment_id = {row}.id)", None),
     )),
    ("invoices", ("INSERT", "UPDATE"), ("status", "issue_date", "due_date", "total_gross_cents"), (
        ("revenue", "CASE WHEN {row}.status = 'issued' THEN {row}.issue_date END", None),
        ("receivables", "CASE WHEN {row}.status = 'issued' THEN {row}.issue_date END", "{row}.issue_date"),
    )),
    ("credit_notes", ("INSERT",), (), (
        ("revenue", "{row}.issue_date", None),
        ("receivables", "{row}.issue_date", _INVOICE_ISSUE_DATE),
    )),
    ("credit_note_lines", ("INSERT",), (), (
        ("revenue", "(SELECT issue_date FROM credit_notes WHERE id = {row}.credit_note_id)", None),
    )),
    ("payments", ("INSERT", "UPDATE", "DELETE"), ("invoice_id", "paid_on", "amount_cents"), (
        ("receivables", "{row}.paid_on", _INVOICE_ISSUE_DATE),
    )),
    # Direct billing (migration 0015 installs these): a short payment moved to the patient changes the balance.
    ("insurer_settlements", ("INSERT",), (), (
        ("receivables", "{row}.settled_on", _INVOICE_ISSUE_DATE),
    )),
    ("claim_batches", ("UPDATE", "DELETE"), ("insurer_id", "status", "submitted_at"), (
        ("claims", "(SELECT min(l.treatment_date) FROM claim_lines c JOIN invoice_lines l ON l.id = c.invoice_line_id "
                   "WHERE c.batch_id = {row}.id)", None),
    )),
    ("claim_lines", ("INSERT", "UPDATE", "DELETE"),
     ("batch_id", "invoice_line_id", "included", "status", "claimed_cents", "paid_cents", "rejection_code",
      "rejection_text", "outcome_at"), (
         ("claims", _LINE_TREATMENT_DATE, None),
     )),
    ("patient_claims", ("INSERT", "UPDATE", "DELETE"),
     ("invoice_line_id", "insurer_id", "status", "claimed_cents", "paid_cents", "submitted_on", "paid_on",
      "rejection_code", "rejection_text"), (
         ("claims", _LINE_TREATMENT_DATE, None),
     )),
)


def _report_facts_emptied(dialect: str, rules: Iterable[ReportFactsRule], row: str) -> list[str]:
    statements = []
    for family, day, issued in rules:
        sql = (f"UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = '{family}' "  # noqa: S608 - constants
               f"AND as_of >= {day.format(row=row)} AND (facts IS NOT NULL OR claim IS NOT NULL)")
        if issued is not None:
            issued = issued.format(row=row)
            month = (f"date({issued}, 'start of month')" if dialect == "sqlite"
                     else f"CAST(date_trunc('month', {issued}) AS date)")
            sql += f" AND month = {month}"
        statements.append(sql + ";")
    return statements


def _sqlite_report_facts_triggers(table: str, events: tuple[str, ...], of: str,
                                  rules: Iterable[ReportFactsRule]) -> list[str]:
    statements = []
    for event_name in events:
        rows = [r for r, skip in (("OLD", "INSERT"), ("NEW", "DELETE")) if event_name != skip]
        body = " ".join(s for r in rows for s in _report_facts_emptied("sqlite", rules, r))
        statements.append(f"CREATE TRIGGER report_facts_{table}_{event_name.lower()} AFTER {event_name}"
                          f"{of if event_name == 'UPDATE' else ''} ON {table} BEGIN {body} END")
    return statements


# PostgreSQL: the function first asks whether any row is kept at all, and returns when none is. Every UPDATE
# below only empties kept rows, so this changes nothing but the cost: with nothing kept (after the first write
# since the dashboard was last read, most writes) one probe of report_facts instead of up to eight UPDATEs with
# their subqueries, 0.02 instead of 0.7 ms per row written (issue 15; a treatment's assessment writes one). A
# keeping job that claims rows right after the probe waits for this transaction (reporting/cache.py, step 2), as
# it does for a trigger that ran before its claim. Migration 0030 put it into the functions installed before.
_POSTGRES_NOTHING_KEPT = ("IF NOT EXISTS (SELECT FROM report_facts WHERE facts IS NOT NULL OR claim IS NOT NULL) "
                          "THEN RETURN NULL; END IF; ")


def _postgres_report_facts_triggers(table: str, events: tuple[str, ...], of: str,
                                    rules: Iterable[ReportFactsRule], nothing_kept_exit: bool = False) -> list[str]:
    """The function and trigger; `nothing_kept_exit` (what report_facts_trigger_statements installs since
    migration 0030): return at once when report_facts keeps nothing. Without it: the statements of the migrations
    before 0030, frozen there."""
    old = " ".join(_report_facts_emptied("postgresql", rules, "OLD"))
    new = " ".join(_report_facts_emptied("postgresql", rules, "NEW"))
    on = " OR ".join(e + (of if e == "UPDATE" else "") for e in events)
    return [
        f"CREATE FUNCTION report_facts_{table}() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        f"{_POSTGRES_NOTHING_KEPT if nothing_kept_exit else ''}"
        f"IF TG_OP <> 'INSERT' THEN {old} END IF; IF TG_OP <> 'DELETE' THEN {new} END IF; "
        "RETURN NULL; END $$",
        f"CREATE TRIGGER report_facts_{table} AFTER {on} ON {table} "
        f"FOR EACH ROW EXECUTE FUNCTION report_facts_{table}()",
    ]


def report_facts_trigger_statements(table: str, dialect: str, nothing_kept_exit: bool = True) -> list[str]:
    """The trigger DDL that keeps report_facts true to `table` (installed after the table is created).
    `nothing_kept_exit=False`: the PostgreSQL functions as they were before migration 0030."""
    statements = []
    for name, events, columns, rules in REPORT_FACTS_SOURCES:
        if name != table:
            continue
        of = f" OF {', '.join(columns)}" if columns else ""
        if dialect == "sqlite":
            statements += _sqlite_report_facts_triggers(table, events, of, rules)
        elif dialect == "postgresql":
            statements += _postgres_report_facts_triggers(table, events, of, rules, nothing_kept_exit)
    return statements


def _create_report_facts_triggers(table: Table, connection: Connection, **kw: Any) -> None:
    _install(table, report_facts_trigger_statements(table.name, connection.dialect.name), connection)


for _name in dict.fromkeys(source[0] for source in REPORT_FACTS_SOURCES):
    event.listen(db.metadata.tables[_name], "after_create", _create_report_facts_triggers)
