"""print jobs: progress_at, the worker's last progress commit (replaces the heartbeat file)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24 17:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('print_jobs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('progress_at', sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table('print_jobs', schema=None) as batch_op:
        batch_op.drop_column('progress_at')
