"""credential alerts: which stage was mailed for which credential (issue 14)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 02:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'credential_alerts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=3), nullable=False),
        sa.Column('credential_id', sa.Integer(), nullable=False),
        sa.Column('therapist_id', sa.Integer(), nullable=False),
        sa.Column('stage', sa.String(length=10), nullable=False),
        sa.Column('ends_on', sa.Date(), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_to', sa.Text(), nullable=False),
        sa.Column('message_id', sa.String(length=255), nullable=False),
        sa.CheckConstraint("kind IN ('NVH', 'KP')", name=op.f('ck_credential_alerts_kind_known')),
        sa.CheckConstraint("stage IN ('90', '30', '7', 'lapsed')", name=op.f('ck_credential_alerts_stage_known')),
        sa.ForeignKeyConstraint(['therapist_id'], ['therapists.id'],
                                name=op.f('fk_credential_alerts_therapist_id_therapists')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_credential_alerts')),
        sa.UniqueConstraint('kind', 'credential_id', 'stage', name='uq_credential_alerts_kind_credential_id_stage'),
    )


def downgrade():
    op.drop_table('credential_alerts')
