"""prestatiecode code list on catalogue items

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-05 08:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade():
    # An added column only (no table rebuild on SQLite). Existing items get "" and show as missing their code list
    # in the catalogue until the practice enters it.
    op.add_column('catalogue_items', sa.Column('prestatiecode_list', sa.String(length=3), nullable=False,
                                               server_default=''))


def downgrade():
    with op.batch_alter_table('catalogue_items', schema=None) as batch_op:
        batch_op.drop_column('prestatiecode_list')
