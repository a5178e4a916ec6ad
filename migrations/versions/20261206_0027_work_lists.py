"""work lists and list exports (issue 14)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 02:00:00.000000

"""
from alembic import op  # noqa: F401
import sqlalchemy as sa  # noqa: F401


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None


def upgrade():
    pass


def downgrade():
    pass
