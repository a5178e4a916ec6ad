"""treatments: corrections keep each earlier version (who, when, why)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 19:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('treatment_corrections',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('treatment_id', sa.Integer(), nullable=False),
    sa.Column('corrected_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('corrected_by_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('previous', sa.JSON(), nullable=False),
    sa.Column('changed_fields', sa.JSON(), nullable=False),
    sa.Column('previous_assessment', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['corrected_by_id'], ['users.id'], name=op.f('fk_treatment_corrections_corrected_by_id_users')),
    sa.ForeignKeyConstraint(['treatment_id'], ['treatments.id'], name=op.f('fk_treatment_corrections_treatment_id_treatments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_corrections'))
    )
    with op.batch_alter_table('treatment_corrections', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_treatment_corrections_treatment_id'), ['treatment_id'], unique=False)


def downgrade():
    with op.batch_alter_table('treatment_corrections', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_treatment_corrections_treatment_id'))

    op.drop_table('treatment_corrections')
