"""reporting speed: a partial index on the invoice lines with an insurer's share (issue 15)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 06:00:00.000000

The receivables (invoicing/balance.py open_on, read by the dashboard and the monthly report) subtract the
insurer's share of direct-billed lines: invoice lines with insurer_part_cents > 0, a few among many. Without an
index PostgreSQL scanned every invoice line for them on each read (about 80 ms on the benchmark chain's 180,000
lines, finding none); the partial index (invoice_id, insurer_part_cents) WHERE insurer_part_cents > 0 holds only
those lines. Index only, on both databases: no table rebuild on SQLite; on PostgreSQL the CREATE INDEX holds off
writes to invoice_lines while it runs (well under a second for a chain's year).
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0031'
down_revision = '0030'
branch_labels = None
depends_on = None

# Frozen here as models/invoices.py spells it.
INSURER_PART = sa.text("insurer_part_cents > 0")


def upgrade():
    op.create_index('ix_invoice_lines_insurer_part', 'invoice_lines', ['invoice_id', 'insurer_part_cents'],
                    unique=False, sqlite_where=INSURER_PART, postgresql_where=INSURER_PART)


def downgrade():
    op.drop_index('ix_invoice_lines_insurer_part', table_name='invoice_lines')
