"""claims: insurer claim settings, claim batches and lines, patient-submitted claims, remittance imports

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24 14:06:40.587173

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('claim_batches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('insurer_id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=30), nullable=False),
    sa.Column('period_start', sa.Date(), nullable=False),
    sa.Column('period_end', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('claim_date', sa.Date(), nullable=False),
    sa.Column('validated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('exported_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exported_by_id', sa.Integer(), nullable=True),
    sa.Column('submitted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('submitted_by_id', sa.Integer(), nullable=True),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('closed_by_id', sa.Integer(), nullable=True),
    sa.Column('cancelled_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancelled_by_id', sa.Integer(), nullable=True),
    sa.Column('export_snapshot', sa.JSON(), nullable=True),
    sa.Column('file_path', sa.String(length=500), nullable=True),
    sa.Column('file_sha256', sa.String(length=64), nullable=True),
    sa.CheckConstraint("status IN ('draft', 'exported', 'submitted', 'closed', 'cancelled')", name=op.f('ck_claim_batches_status_known')),
    sa.CheckConstraint('period_end >= period_start', name=op.f('ck_claim_batches_period_ordered')),
    sa.ForeignKeyConstraint(['cancelled_by_id'], ['users.id'], name=op.f('fk_claim_batches_cancelled_by_id_users')),
    sa.ForeignKeyConstraint(['closed_by_id'], ['users.id'], name=op.f('fk_claim_batches_closed_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_claim_batches_created_by_id_users')),
    sa.ForeignKeyConstraint(['exported_by_id'], ['users.id'], name=op.f('fk_claim_batches_exported_by_id_users')),
    sa.ForeignKeyConstraint(['insurer_id'], ['insurers.id'], name=op.f('fk_claim_batches_insurer_id_insurers')),
    sa.ForeignKeyConstraint(['submitted_by_id'], ['users.id'], name=op.f('fk_claim_batches_submitted_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_batches')),
    sa.UniqueConstraint('number', name=op.f('uq_claim_batches_number'))
    )
    with op.batch_alter_table('claim_batches', schema=None) as batch_op:
        batch_op.create_index('ix_claim_batches_insurer_id_status', ['insurer_id', 'status'], unique=False)

    op.create_table('insurer_claim_settings',
    sa.Column('insurer_id', sa.Integer(), nullable=False),
    sa.Column('direct_billing', sa.Boolean(), nullable=False),
    sa.Column('deadline_months', sa.Integer(), nullable=False),
    sa.Column('bsn_required', sa.Boolean(), nullable=False),
    sa.Column('template', sa.JSON(), nullable=True),
    sa.Column('remittance_mapping', sa.JSON(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint('deadline_months >= 1', name=op.f('ck_insurer_claim_settings_deadline_positive')),
    sa.ForeignKeyConstraint(['insurer_id'], ['insurers.id'], name=op.f('fk_insurer_claim_settings_insurer_id_insurers')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_insurer_claim_settings_updated_by_id_users')),
    sa.PrimaryKeyConstraint('insurer_id', name=op.f('pk_insurer_claim_settings'))
    )
    op.create_table('remittance_imports',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('insurer_id', sa.Integer(), nullable=False),
    sa.Column('filename', sa.String(length=200), nullable=False),
    sa.Column('stored_path', sa.String(length=500), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size_bytes', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('row_count', sa.Integer(), nullable=False),
    sa.Column('matched_count', sa.Integer(), nullable=False),
    sa.Column('unmatched_count', sa.Integer(), nullable=False),
    sa.Column('disputed_count', sa.Integer(), nullable=False),
    sa.Column('paid_cents', sa.Integer(), nullable=False),
    sa.Column('mapping', sa.JSON(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('applied_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('applied_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('previewed', 'applied')", name=op.f('ck_remittance_imports_status_known')),
    sa.ForeignKeyConstraint(['applied_by_id'], ['users.id'], name=op.f('fk_remittance_imports_applied_by_id_users')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_remittance_imports_created_by_id_users')),
    sa.ForeignKeyConstraint(['insurer_id'], ['insurers.id'], name=op.f('fk_remittance_imports_insurer_id_insurers')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_remittance_imports'))
    )
    with op.batch_alter_table('remittance_imports', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_remittance_imports_insurer_id'), ['insurer_id'], unique=False)

    op.create_table('claim_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Integer(), nullable=False),
    sa.Column('invoice_line_id', sa.Integer(), nullable=False),
    sa.Column('included', sa.Boolean(), nullable=False),
    sa.Column('live', sa.Boolean(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('expected_cents', sa.Integer(), nullable=False),
    sa.Column('claimed_cents', sa.Integer(), nullable=False),
    sa.Column('paid_cents', sa.Integer(), nullable=False),
    sa.Column('reasons', sa.JSON(), nullable=False),
    sa.Column('rejection_code', sa.String(length=40), nullable=False),
    sa.Column('rejection_text', sa.Text(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('claim_reference', sa.String(length=40), nullable=True),
    sa.Column('resubmission_of_id', sa.Integer(), nullable=True),
    sa.Column('snapshot', sa.JSON(), nullable=True),
    sa.Column('outcome_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('outcome_by_id', sa.Integer(), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'paid', 'partly_paid', 'rejected')", name=op.f('ck_claim_lines_status_known')),
    sa.CheckConstraint('claimed_cents >= 0 AND paid_cents >= 0 AND paid_cents <= claimed_cents', name=op.f('ck_claim_lines_amounts_in_range')),
    sa.CheckConstraint('live IS NULL OR live = true', name=op.f('ck_claim_lines_live_true_or_null')),
    sa.ForeignKeyConstraint(['batch_id'], ['claim_batches.id'], name=op.f('fk_claim_lines_batch_id_claim_batches')),
    sa.ForeignKeyConstraint(['invoice_line_id'], ['invoice_lines.id'], name=op.f('fk_claim_lines_invoice_line_id_invoice_lines')),
    sa.ForeignKeyConstraint(['outcome_by_id'], ['users.id'], name=op.f('fk_claim_lines_outcome_by_id_users')),
    sa.ForeignKeyConstraint(['resubmission_of_id'], ['claim_lines.id'], name=op.f('fk_claim_lines_resubmission_of_id_claim_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_claim_lines')),
    sa.UniqueConstraint('batch_id', 'invoice_line_id', name='uq_claim_lines_batch_id_invoice_line_id'),
    sa.UniqueConstraint('claim_reference', name=op.f('uq_claim_lines_claim_reference')),
    sa.UniqueConstraint('invoice_line_id', 'live', name='uq_claim_lines_invoice_line_id_live')
    )
    op.create_table('patient_claims',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_line_id', sa.Integer(), nullable=False),
    sa.Column('insurer_id', sa.Integer(), nullable=False),
    sa.Column('submitted_on', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('claimed_cents', sa.Integer(), nullable=False),
    sa.Column('paid_cents', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=True),
    sa.Column('rejection_code', sa.String(length=40), nullable=False),
    sa.Column('rejection_text', sa.Text(), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'paid', 'partly_paid', 'rejected')", name=op.f('ck_patient_claims_status_known')),
    sa.CheckConstraint('claimed_cents >= 0 AND paid_cents >= 0 AND paid_cents <= claimed_cents', name=op.f('ck_patient_claims_amounts_in_range')),
    sa.ForeignKeyConstraint(['insurer_id'], ['insurers.id'], name=op.f('fk_patient_claims_insurer_id_insurers')),
    sa.ForeignKeyConstraint(['invoice_line_id'], ['invoice_lines.id'], name=op.f('fk_patient_claims_invoice_line_id_invoice_lines')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_patient_claims_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_patient_claims')),
    sa.UniqueConstraint('invoice_line_id', name=op.f('uq_patient_claims_invoice_line_id'))
    )
    with op.batch_alter_table('patient_claims', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_patient_claims_insurer_id'), ['insurer_id'], unique=False)



def downgrade():
    with op.batch_alter_table('patient_claims', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_patient_claims_insurer_id'))

    op.drop_table('patient_claims')
    op.drop_table('claim_lines')
    with op.batch_alter_table('remittance_imports', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_remittance_imports_insurer_id'))

    op.drop_table('remittance_imports')
    op.drop_table('insurer_claim_settings')
    with op.batch_alter_table('claim_batches', schema=None) as batch_op:
        batch_op.drop_index('ix_claim_batches_insurer_id_status')

    op.drop_table('claim_batches')
