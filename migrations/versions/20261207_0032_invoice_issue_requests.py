"""invoice issue requests: a draft issued by the print worker after the request has answered (issue 15)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07 00:00:00.000000

A new table only (invoice_issue_requests): the invoices table, its CHECK constraints and its guards are untouched,
so nothing is rebuilt on SQLite. The app role gets its rights on it as on every table: `flask db grant-app-role`
after the upgrade, as the README's upgrade steps say.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0032'
down_revision = '0031'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'invoice_issue_requests',
        sa.Column('invoice_id', sa.Integer(), nullable=False),
        sa.Column('requested_by_id', sa.Integer(), nullable=True),
        sa.Column('requested_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('failed_at', sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], ondelete='CASCADE',
                                name=op.f('fk_invoice_issue_requests_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['requested_by_id'], ['users.id'],
                                name=op.f('fk_invoice_issue_requests_requested_by_id_users')),
        sa.PrimaryKeyConstraint('invoice_id', name=op.f('pk_invoice_issue_requests')),
    )


def downgrade():
    op.drop_table('invoice_issue_requests')
