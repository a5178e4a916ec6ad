"""Payment reminders: each stage sent for an invoice, and the practice's reminder settings and collection-cost scale.

An issued invoice never changes, so what happens after it lives here: one row per stage per invoice (the unique
constraint makes a second friendly or formal reminder for the same invoice impossible, also when two runs race).
A reminder is a document sent to a patient: its PDF is stored with its SHA-256 and checked on download, and the
columns that say what was sent never change (an ORM listener and a database trigger refuse it; only the moment it
was printed is filled in later). Rules and defaults: backoffice/domain/reminders.py.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Connection,
    ForeignKey,
    LargeBinary,
    String,
    Table,
    UniqueConstraint,
    event,
    inspect,
)
from sqlalchemy.orm import Mapped, Mapper, mapped_column, relationship

from ..domain.reminders import Stage
from ..domain.texts import N_
from .base import Model, UtcDateTime, one_of, utcnow
from .invoices import Invoice
from .users import User

# How the reminder reached the patient: by e-mail (backoffice/mail/), or printed and posted (no e-mail address).
REMINDER_DELIVERIES = {"email": N_("by e-mail"), "print": N_("to print and post")}
STAGE_LABELS = {Stage.FRIENDLY.value: N_("Payment reminder"), Stage.FORMAL.value: N_("14-day letter")}


class InvoiceReminderChangeError(RuntimeError):
    """A reminder that was sent was about to change or be deleted."""


class InvoiceReminder(Model):
    __tablename__ = "invoice_reminders"
    __table_args__ = (
        UniqueConstraint("invoice_id", "stage", name="uq_invoice_reminders_invoice_id_stage"),
        CheckConstraint(one_of("stage", Stage), name="stage_known"),
        CheckConstraint(one_of("delivery", REMINDER_DELIVERIES), name="delivery_known"),
        CheckConstraint("open_cents > 0", name="open_positive"),
        CheckConstraint("collection_costs_vat_cents >= 0 AND collection_costs_vat_cents <= collection_costs_cents",
                        name="costs_vat_within_costs"),
        # Only the formal reminder (the 14-day letter) announces collection costs.
        CheckConstraint(f"stage = '{Stage.FORMAL}' OR collection_costs_cents = 0", name="costs_only_formal"),
        CheckConstraint("deadline > sent_on", name="deadline_after_sending"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    invoice_id: Mapped[int] = mapped_column(ForeignKey("invoices.id"))
    stage: Mapped[str] = mapped_column(String(10))
    sent_on: Mapped[date]
    # The pay-by date printed: for the formal reminder the last day of the 14 days after the day of receipt.
    deadline: Mapped[date]
    open_cents: Mapped[int]  # the open balance stated (the principal the costs are computed over)
    # The collection costs announced, VAT included (0 for the friendly reminder), and the VAT part of them.
    collection_costs_cents: Mapped[int] = mapped_column(default=0)
    collection_costs_vat_cents: Mapped[int] = mapped_column(default=0)
    delivery: Mapped[str] = mapped_column(String(10))
    pdf: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    pdf_sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    # A reminder to print: when it was first downloaded (it then leaves the list of reminders to print).
    printed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)

    invoice: Mapped[Invoice] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def to_print(self) -> bool:
        return self.delivery == "print" and self.printed_at is None


class ReminderSettings(Model):
    """The practice's reminder days and the collection-cost bounds (one row; none: the defaults of
    domain/reminders.py). Editable by an admin (/reminders/settings)."""

    __tablename__ = "reminder_settings"
    __table_args__ = (
        CheckConstraint("friendly_after_days >= 1", name="friendly_after_days_positive"),
        CheckConstraint("friendly_term_days >= 1", name="friendly_term_days_positive"),
        CheckConstraint("formal_after_days >= 1", name="formal_after_days_positive"),
        CheckConstraint("receipt_days >= 0", name="receipt_days_not_negative"),
        CheckConstraint("formal_term_days >= 14", name="formal_term_days_legal"),
        CheckConstraint("costs_minimum_cents >= 0", name="costs_minimum_not_negative"),
        CheckConstraint("costs_maximum_cents IS NULL OR costs_maximum_cents >= costs_minimum_cents",
                        name="costs_maximum_above_minimum"),
        CheckConstraint("costs_vat_rate >= 0 AND costs_vat_rate <= 100", name="costs_vat_rate_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    friendly_after_days: Mapped[int]
    friendly_term_days: Mapped[int]
    formal_after_days: Mapped[int]
    receipt_days: Mapped[int]
    formal_term_days: Mapped[int]
    costs_minimum_cents: Mapped[int]
    costs_maximum_cents: Mapped[int | None]
    costs_vat_rate: Mapped[int]  # percent added to the costs (0: the practice adds no VAT)
    updated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class CollectionCostBracket(Model):
    """One bracket of the collection-cost scale: the part of the open balance above `start_cents` (up to the next
    bracket's start) is charged `rate_basis_points` hundredths of a percent (1500 = 15 %, 50 = 0,5 %)."""

    __tablename__ = "collection_cost_brackets"
    __table_args__ = (
        CheckConstraint("start_cents >= 0", name="start_not_negative"),
        CheckConstraint("rate_basis_points >= 0 AND rate_basis_points <= 10000", name="rate_percent"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    start_cents: Mapped[int] = mapped_column(unique=True)
    rate_basis_points: Mapped[int]


# ---- a sent reminder never changes --------------------------------------------------------------------------

# What the reminder said and how it was sent; `printed_at` alone may be filled in afterwards.
FIXED_COLUMNS = ("invoice_id", "stage", "sent_on", "deadline", "open_cents", "collection_costs_cents",
                 "collection_costs_vat_cents", "delivery", "pdf", "pdf_sha256", "created_by_id", "created_at")


@event.listens_for(InvoiceReminder, "before_update")
def _refuse_reminder_change(mapper: Mapper[Any], connection: Connection, target: InvoiceReminder) -> None:
    state = inspect(target)
    changed = [name for name in FIXED_COLUMNS if state.attrs[name].history.has_changes()]
    if changed:
        raise InvoiceReminderChangeError(f"A sent reminder never changes (tried: {', '.join(changed)}).")


@event.listens_for(InvoiceReminder, "before_delete")
def _refuse_reminder_delete(mapper: Mapper[Any], connection: Connection, target: InvoiceReminder) -> None:
    raise InvoiceReminderChangeError("A sent reminder is never deleted.")


def reminder_guard_statements(dialect: str) -> list[str]:
    """The database's own guard (raw SQL cannot change a sent reminder either); migration 0024 holds a copy."""
    columns = ", ".join(FIXED_COLUMNS)
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER invoice_reminders_no_update BEFORE UPDATE OF {columns} ON invoice_reminders "
            "BEGIN SELECT RAISE(ABORT, 'a sent reminder never changes'); END",
            "CREATE TRIGGER invoice_reminders_no_delete BEFORE DELETE ON invoice_reminders "
            "BEGIN SELECT RAISE(ABORT, 'a sent reminder is never deleted'); END",
        ]
    if dialect == "postgresql":
        return [
            "CREATE FUNCTION invoice_reminders_fixed() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN RAISE EXCEPTION 'a sent reminder never changes'; END $$",
            f"CREATE TRIGGER invoice_reminders_no_change BEFORE UPDATE OF {columns} OR DELETE ON invoice_reminders "
            "FOR EACH ROW EXECUTE FUNCTION invoice_reminders_fixed()",
        ]
    return []


@event.listens_for(InvoiceReminder.__table__, "after_create")
def _create_reminder_guards(table: Table, connection: Connection, **kw: Any) -> None:
    for statement in reminder_guard_statements(connection.dialect.name):
        connection.exec_driver_sql(statement)
