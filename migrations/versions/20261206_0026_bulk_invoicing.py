"""bulk invoicing jobs (issue 14)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 02:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoice_runs',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('up_to', sa.Date(), nullable=True),
        sa.Column('treatment_ids', sa.JSON(), nullable=False),
        sa.Column('send_email', sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column('issue_date', sa.Date(), nullable=True),
        sa.Column('total_count', sa.Integer(), nullable=False),
        sa.Column('done_count', sa.Integer(), nullable=False),
        sa.Column('invoice_count', sa.Integer(), nullable=False),
        sa.Column('total_gross_cents', sa.Integer(), nullable=False),
        sa.Column('mail_total_count', sa.Integer(), nullable=False),
        sa.Column('mail_done_count', sa.Integer(), nullable=False),
        sa.Column('invoice_ids', sa.JSON(), nullable=False),
        sa.Column('left_out', sa.JSON(), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('on_behalf_of', sa.String(length=200), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('progress_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')",
                           name=op.f('ck_invoice_runs_status_known')),
        sa.CheckConstraint('done_count >= 0 AND total_count >= 0 AND mail_done_count >= 0 AND mail_total_count >= 0 '
                           'AND invoice_count >= 0', name=op.f('ck_invoice_runs_progress_not_negative')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'], name=op.f('fk_invoice_runs_requested_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_runs')),
    )
    op.create_index(op.f('ix_invoice_runs_created_at'), 'invoice_runs', ['created_at'], unique=False)


def downgrade():
    op.drop_index(op.f('ix_invoice_runs_created_at'), table_name='invoice_runs')
    op.drop_table('invoice_runs')
