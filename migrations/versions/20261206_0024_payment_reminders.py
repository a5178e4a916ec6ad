"""payment reminders: stages per invoice and the collection-cost scale (issue 14)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 02:00:00.000000

"""
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

# Frozen copies of models/reminders.py reminder_guard_statements: a sent reminder never changes (printed_at aside).
FIXED_COLUMNS = ('invoice_id, stage, sent_on, deadline, open_cents, collection_costs_cents, '
                 'collection_costs_vat_cents, delivery, pdf, pdf_sha256, created_by_id, created_at')
GUARDS = {
    'sqlite': [
        f'CREATE TRIGGER invoice_reminders_no_update BEFORE UPDATE OF {FIXED_COLUMNS} ON invoice_reminders '
        "BEGIN SELECT RAISE(ABORT, 'a sent reminder never changes'); END",
        'CREATE TRIGGER invoice_reminders_no_delete BEFORE DELETE ON invoice_reminders '
        "BEGIN SELECT RAISE(ABORT, 'a sent reminder is never deleted'); END",
    ],
    'postgresql': [
        'CREATE FUNCTION invoice_reminders_fixed() RETURNS trigger LANGUAGE plpgsql AS $$ '
        "BEGIN RAISE EXCEPTION 'a sent reminder never changes'; END $$",
        f'CREATE TRIGGER invoice_reminders_no_change BEFORE UPDATE OF {FIXED_COLUMNS} OR DELETE ON invoice_reminders '
        'FOR EACH ROW EXECUTE FUNCTION invoice_reminders_fixed()',
    ],
}

# The Besluit vergoeding voor buitengerechtelijke incassokosten (Stb. 2012, 141), art. 2, without VAT: the
# defaults of domain/reminders.py, seeded so the settings page shows (and an admin edits) the practice's own rows.
BRACKETS = [(0, 1500), (250_000, 1000), (500_000, 500), (1_000_000, 100), (20_000_000, 50)]


def upgrade():
    op.create_table(
        'invoice_reminders',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=10), nullable=False),
        sa.Column('sent_on', sa.Date(), nullable=False),
        sa.Column('deadline', sa.Date(), nullable=False),
        sa.Column('open_cents', sa.Integer(), nullable=False),
        sa.Column('collection_costs_cents', sa.Integer(), nullable=False),
        sa.Column('collection_costs_vat_cents', sa.Integer(), nullable=False),
        sa.Column('delivery', sa.String(length=10), nullable=False),
        sa.Column('pdf', sa.LargeBinary(), nullable=False),
        sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
        sa.Column('created_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('printed_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("stage IN ('friendly', 'formal')", name=op.f('ck_invoice_reminders_stage_known')),
        sa.CheckConstraint("delivery IN ('email', 'print')", name=op.f('ck_invoice_reminders_delivery_known')),
        sa.CheckConstraint('open_cents > 0', name=op.f('ck_invoice_reminders_open_positive')),
        sa.CheckConstraint('collection_costs_vat_cents >= 0 AND collection_costs_vat_cents <= collection_costs_cents',
                           name=op.f('ck_invoice_reminders_costs_vat_within_costs')),
        sa.CheckConstraint("stage = 'formal' OR collection_costs_cents = 0",
                           name=op.f('ck_invoice_reminders_costs_only_formal')),
        sa.CheckConstraint('deadline > sent_on', name=op.f('ck_invoice_reminders_deadline_after_sending')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_reminders_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['created_by_id'], ['users.id'],
                                name=op.f('fk_invoice_reminders_created_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_reminders')),
        sa.UniqueConstraint('invoice_id', 'stage', name='uq_invoice_reminders_invoice_id_stage'),
    )
    for statement in GUARDS.get(op.get_bind().dialect.name, []):
        op.execute(statement)

    settings = op.create_table(
        'reminder_settings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('friendly_after_days', sa.Integer(), nullable=False),
        sa.Column('friendly_term_days', sa.Integer(), nullable=False),
        sa.Column('formal_after_days', sa.Integer(), nullable=False),
        sa.Column('receipt_days', sa.Integer(), nullable=False),
        sa.Column('formal_term_days', sa.Integer(), nullable=False),
        sa.Column('costs_minimum_cents', sa.Integer(), nullable=False),
        sa.Column('costs_maximum_cents', sa.Integer(), nullable=True),
        sa.Column('costs_vat_rate', sa.Integer(), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint('friendly_after_days >= 1', name=op.f('ck_reminder_settings_friendly_after_days_positive')),
        sa.CheckConstraint('friendly_term_days >= 1', name=op.f('ck_reminder_settings_friendly_term_days_positive')),
        sa.CheckConstraint('formal_after_days >= 1', name=op.f('ck_reminder_settings_formal_after_days_positive')),
        sa.CheckConstraint('receipt_days >= 0', name=op.f('ck_reminder_settings_receipt_days_not_negative')),
        sa.CheckConstraint('formal_term_days >= 14', name=op.f('ck_reminder_settings_formal_term_days_legal')),
        sa.CheckConstraint('costs_minimum_cents >= 0', name=op.f('ck_reminder_settings_costs_minimum_not_negative')),
        sa.CheckConstraint('costs_maximum_cents IS NULL OR costs_maximum_cents >= costs_minimum_cents',
                           name=op.f('ck_reminder_settings_costs_maximum_above_minimum')),
        sa.CheckConstraint('costs_vat_rate >= 0 AND costs_vat_rate <= 100',
                           name=op.f('ck_reminder_settings_costs_vat_rate_percent')),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_reminder_settings_updated_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_reminder_settings')),
    )
    brackets = op.create_table(
        'collection_cost_brackets',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('start_cents', sa.Integer(), nullable=False),
        sa.Column('rate_basis_points', sa.Integer(), nullable=False),
        sa.CheckConstraint('start_cents >= 0', name=op.f('ck_collection_cost_brackets_start_not_negative')),
        sa.CheckConstraint('rate_basis_points >= 0 AND rate_basis_points <= 10000',
                           name=op.f('ck_collection_cost_brackets_rate_percent')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_collection_cost_brackets')),
        sa.UniqueConstraint('start_cents', name=op.f('uq_collection_cost_brackets_start_cents')),
    )
    op.bulk_insert(settings, [{
        'friendly_after_days': 7, 'friendly_term_days': 7, 'formal_after_days': 14, 'receipt_days': 2,
        'formal_term_days': 14, 'costs_minimum_cents': 4_000, 'costs_maximum_cents': 677_500, 'costs_vat_rate': 0,
        'updated_by_id': None, 'updated_at': datetime.now(UTC)}])
    op.bulk_insert(brackets, [{'start_cents': start, 'rate_basis_points': rate} for start, rate in BRACKETS])

    # 0023 left document_sendings.reminder_id a plain column (this table did not exist yet): now its foreign key.
    with op.batch_alter_table('document_sendings', schema=None) as batch_op:
        batch_op.create_foreign_key(op.f('fk_document_sendings_reminder_id_invoice_reminders'), 'invoice_reminders',
                                    ['reminder_id'], ['id'])


def downgrade():
    with op.batch_alter_table('document_sendings', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('fk_document_sendings_reminder_id_invoice_reminders'), type_='foreignkey')
    op.drop_table('collection_cost_brackets')
    op.drop_table('reminder_settings')
    op.drop_table('invoice_reminders')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('DROP FUNCTION invoice_reminders_fixed()')
