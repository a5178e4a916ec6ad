"""month-end pack jobs: the pack built in the background (issue 15 part 5)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 05:00:00.000000

A new table only. The app role gets its rights on it as on every table: `flask db grant-app-role` after the
upgrade (GRANT ... ON ALL TABLES / SEQUENCES IN SCHEMA, backoffice/db_roles.py), as the README's upgrade steps say.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0029'
down_revision = '0028'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'pack_jobs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('month', sa.Date(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('step', sa.String(length=10), nullable=False),
        sa.Column('done_count', sa.Integer(), nullable=False),
        sa.Column('total_count', sa.Integer(), nullable=False),
        sa.Column('document_count', sa.Integer(), nullable=False),
        sa.Column('zip_path', sa.String(length=500), nullable=True),
        sa.Column('size_bytes', sa.BigInteger(), nullable=False),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('documents', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('on_behalf_of', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('progress_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')",
                           name=op.f('ck_pack_jobs_status_known')),
        sa.CheckConstraint('done_count >= 0 AND total_count >= 0 AND document_count >= 0',
                           name=op.f('ck_pack_jobs_progress_not_negative')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_pack_jobs_requested_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_pack_jobs')),
    )
    op.create_index(op.f('ix_pack_jobs_created_at'), 'pack_jobs', ['created_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_pack_jobs_created_at'), table_name='pack_jobs')
    op.drop_table('pack_jobs')
