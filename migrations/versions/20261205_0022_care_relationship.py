"""care relationship: therapists assigned to patients; practices: therapists see only their own patients

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-05 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'care_assignments',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('therapist_id', sa.Integer(), nullable=False),
        sa.Column('assigned_by_id', sa.Integer(), nullable=True),
        sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(['assigned_by_id'], ['users.id'],
                                name=op.f('fk_care_assignments_assigned_by_id_users')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_care_assignments_patient_id_patients')),
        sa.ForeignKeyConstraint(['therapist_id'], ['therapists.id'],
                                name=op.f('fk_care_assignments_therapist_id_therapists')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_care_assignments')),
        sa.UniqueConstraint('patient_id', 'therapist_id', name='uq_care_assignments_patient_id_therapist_id'),
    )
    op.create_index('ix_care_assignments_therapist_id_patient_id', 'care_assignments',
                    ['therapist_id', 'patient_id'], unique=False)
    # Added column and index only: no SQLite table rebuild (treatments keeps its triggers).
    with op.batch_alter_table('practices', schema=None) as batch_op:
        batch_op.add_column(sa.Column('therapists_own_patients_only', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
    op.create_index('ix_treatments_therapist_id_patient_id', 'treatments',
                    ['therapist_id', 'patient_id', 'withdrawn_at'], unique=False)


def downgrade():
    op.drop_index('ix_treatments_therapist_id_patient_id', table_name='treatments')
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE practices DROP COLUMN therapists_own_patients_only')
    else:
        op.drop_column('practices', 'therapists_own_patients_only')
    op.drop_index('ix_care_assignments_therapist_id_patient_id', table_name='care_assignments')
    op.drop_table('care_assignments')
