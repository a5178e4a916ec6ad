"""payments: reversal entries and overpayments to refund

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    # Added columns only, never a table rebuild on SQLite: a rebuild would drop the payments triggers of 0006.
    # SQLite takes the foreign key only inline with ADD COLUMN; PostgreSQL as a named constraint.
    op.add_column('payments', sa.Column('overpayment', sa.Boolean(), nullable=False, server_default=sa.false()))
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE payments ADD COLUMN reverses_id INTEGER '
                   'CONSTRAINT fk_payments_reverses_id_payments REFERENCES payments (id)')
    else:
        op.add_column('payments', sa.Column('reverses_id', sa.Integer(), nullable=True))
        op.create_foreign_key(op.f('fk_payments_reverses_id_payments'), 'payments', 'payments', ['reverses_id'],
                              ['id'])
    op.create_index(op.f('ix_payments_reverses_id'), 'payments', ['reverses_id'], unique=True)


def downgrade():
    op.drop_index(op.f('ix_payments_reverses_id'), table_name='payments')
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite drops a column with a foreign key only by rebuilding the table, which drops its triggers too:
        # put the report_facts triggers back afterwards.
        from backoffice.models.guards import report_facts_trigger_statements

        with op.batch_alter_table('payments', schema=None) as batch_op:
            batch_op.drop_column('reverses_id')
            batch_op.drop_column('overpayment')
        for statement in report_facts_trigger_statements('payments', 'sqlite'):
            op.execute(statement)
        return
    op.drop_constraint(op.f('fk_payments_reverses_id_payments'), 'payments', type_='foreignkey')
    op.drop_column('payments', 'reverses_id')
    op.drop_column('payments', 'overpayment')
