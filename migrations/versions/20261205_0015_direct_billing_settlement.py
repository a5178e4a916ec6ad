"""direct billing: insurer part settled on the patient's invoice

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 08:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None

OLD_METHODS = "method IN ('bank_transfer', 'pin', 'cash', 'ideal', 'credit_card', 'other')"
NEW_METHODS = "method IN ('bank_transfer', 'pin', 'cash', 'ideal', 'credit_card', 'other', 'insurer')"


def _report_facts_triggers(table):
    from backoffice.models.guards import report_facts_trigger_statements

    for statement in report_facts_trigger_statements(table, op.get_bind().dialect.name):
        op.execute(statement)


def _payments_method_check(expression):
    """Replace the payments' method CHECK. SQLite changes a CHECK only by rebuilding the table, which drops its
    triggers: the report_facts triggers are put back afterwards."""
    if op.get_bind().dialect.name == 'sqlite':
        with op.batch_alter_table('payments', schema=None, recreate='always') as batch_op:
            batch_op.drop_constraint(op.f('ck_payments_method_known'), type_='check')
            batch_op.create_check_constraint(op.f('ck_payments_method_known'), sa.text(expression))
        _report_facts_triggers('payments')
        return
    op.drop_constraint(op.f('ck_payments_method_known'), 'payments', type_='check')
    op.create_check_constraint(op.f('ck_payments_method_known'), 'payments', sa.text(expression))


def upgrade():
    # Invoice lines: an added column only (issued lines never change; existing ones keep 0: restitution, as billed).
    op.add_column('invoice_lines', sa.Column('insurer_part_cents', sa.Integer(), nullable=False, server_default='0'))
    # Payments: the insurer's payment names its claim line (SQLite takes the foreign key only inline).
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE payments ADD COLUMN claim_line_id INTEGER '
                   'CONSTRAINT fk_payments_claim_line_id_claim_lines REFERENCES claim_lines (id)')
    else:
        op.add_column('payments', sa.Column('claim_line_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_payments_claim_line_id_claim_lines'), 'payments', 'claim_lines',
                              ['claim_line_id'], ['id'])
    _payments_method_check(NEW_METHODS)
    op.create_index(op.f('ix_payments_claim_line_id'), 'payments', ['claim_line_id'], unique=True)
    op.create_table(
        'insurer_settlements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('invoice_line_id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=12), nullable=False),
        sa.Column('amount_cents', sa.Integer(), nullable=False),
        sa.Column('reason', sa.String(length=200), nullable=False),
        sa.Column('settled_on', sa.Date(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('to_patient', 'written_off')", name=op.f('ck_insurer_settlements_kind_known')),
        sa.CheckConstraint('amount_cents > 0', name=op.f('ck_insurer_settlements_amount_positive')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_insurer_settlements_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['invoice_line_id'], ['invoice_lines.id'],
                                name=op.f('fk_insurer_settlements_invoice_line_id_invoice_lines')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                name=op.f('fk_insurer_settlements_recorded_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_insurer_settlements')),
    )
    with op.batch_alter_table('insurer_settlements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_insurer_settlements_invoice_line_id'), ['invoice_line_id'], unique=False)
        batch_op.create_index('ix_insurer_settlements_invoice_id_settled_on',
                              ['invoice_id', 'settled_on', 'amount_cents'], unique=False)
    _report_facts_triggers('insurer_settlements')


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == 'postgresql':
        op.execute('DROP TRIGGER IF EXISTS report_facts_insurer_settlements ON insurer_settlements')
        op.execute('DROP FUNCTION IF EXISTS report_facts_insurer_settlements()')
    op.drop_table('insurer_settlements')
    op.drop_index(op.f('ix_payments_claim_line_id'), table_name='payments')
    op.execute("DELETE FROM payments WHERE method = 'insurer'")
    if dialect == 'sqlite':
        with op.batch_alter_table('payments', schema=None, recreate='always') as batch_op:
            batch_op.drop_column('claim_line_id')
            batch_op.drop_constraint(op.f('ck_payments_method_known'), type_='check')
            batch_op.create_check_constraint(op.f('ck_payments_method_known'), sa.text(OLD_METHODS))
        _report_facts_triggers('payments')
    else:
        op.drop_constraint(op.f('fk_payments_claim_line_id_claim_lines'), 'payments', type_='foreignkey')
        op.drop_column('payments', 'claim_line_id')
        _payments_method_check(OLD_METHODS)
    # Dropped in place (SQLite >= 3.35 too): a rebuild would drop the invoice lines' guard triggers.
    op.execute('ALTER TABLE invoice_lines DROP COLUMN insurer_part_cents')
