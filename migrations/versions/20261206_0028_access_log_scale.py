"""access log at scale: indexes that match each reading's WHERE + ORDER BY (at, id) (issue 15)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 03:00:00.000000

The three old indexes (at), (patient_id, at) and (user_id) are replaced by (at, id), (patient_id, at, id) and
(user_id, at, id), with (action, at, id) for the filter by action and a partial (at, id) for the break-the-glass
entries. Indexes only: no table rebuild on SQLite (the append-only triggers stay). On PostgreSQL each CREATE INDEX
holds off writes to the log while it runs (about 5-10 s per index at 10 million rows): run it with the app stopped,
as the README's upgrade steps do.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0028'
down_revision = '0027'
branch_labels = None
depends_on = None

# The subject care/services.py writes for a break-the-glass access (frozen here, as the model spells it).
BREAK_GLASS = sa.text("subject = 'break the glass'")


def upgrade():
    op.drop_index('ix_access_log_at', table_name='access_log')
    op.drop_index('ix_access_log_patient_id_at', table_name='access_log')
    op.drop_index('ix_access_log_user_id', table_name='access_log')
    op.create_index('ix_access_log_at_id', 'access_log', ['at', 'id'], unique=False)
    op.create_index('ix_access_log_patient_id_at_id', 'access_log', ['patient_id', 'at', 'id'], unique=False)
    op.create_index('ix_access_log_user_id_at_id', 'access_log', ['user_id', 'at', 'id'], unique=False)
    op.create_index('ix_access_log_action_at_id', 'access_log', ['action', 'at', 'id'], unique=False)
    op.create_index('ix_access_log_break_glass_at_id', 'access_log', ['at', 'id'], unique=False,
                    sqlite_where=BREAK_GLASS, postgresql_where=BREAK_GLASS)


def downgrade():
    op.drop_index('ix_access_log_break_glass_at_id', table_name='access_log')
    op.drop_index('ix_access_log_action_at_id', table_name='access_log')
    op.drop_index('ix_access_log_user_id_at_id', table_name='access_log')
    op.drop_index('ix_access_log_patient_id_at_id', table_name='access_log')
    op.drop_index('ix_access_log_at_id', table_name='access_log')
    op.create_index('ix_access_log_user_id', 'access_log', ['user_id'], unique=False)
    op.create_index('ix_access_log_patient_id_at', 'access_log', ['patient_id', 'at'], unique=False)
    op.create_index('ix_access_log_at', 'access_log', ['at'], unique=False)
