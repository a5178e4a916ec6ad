"""insurances and referrals: withdrawn (who, when, why) instead of deleted

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None

TABLES = ('insurances', 'referrals')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
            batch_op.add_column(sa.Column('withdrawn_by_id', sa.Integer(), nullable=True))
            batch_op.add_column(sa.Column('withdrawn_reason', sa.Text(), nullable=True))
            batch_op.create_foreign_key(batch_op.f(f'fk_{table}_withdrawn_by_id_users'), 'users',
                                        ['withdrawn_by_id'], ['id'])


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(batch_op.f(f'fk_{table}_withdrawn_by_id_users'), type_='foreignkey')
            batch_op.drop_column('withdrawn_reason')
            batch_op.drop_column('withdrawn_by_id')
            batch_op.drop_column('withdrawn_at')
