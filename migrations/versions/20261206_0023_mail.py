"""e-mail to patients: sendings of documents and the practice's message templates (issue 14)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 02:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None


def upgrade():
    # reminder_id is a plain column here: the payment reminders' table comes in 0024, which adds its foreign key.
    op.create_table(
        'document_sendings',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('invoice_id', sa.Integer(), nullable=True),
        sa.Column('credit_note_id', sa.Integer(), nullable=True),
        sa.Column('treatment_id', sa.Integer(), nullable=True),
        sa.Column('reminder_id', sa.Integer(), nullable=True),
        sa.Column('to_address', sa.String(length=254), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('status', sa.String(length=10), nullable=False),
        sa.Column('error', sa.Text(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('last_attempt_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('sent_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('sent_by_id', sa.Integer(), nullable=True),
        sa.Column('message_id', sa.String(length=300), nullable=False),
        sa.CheckConstraint("kind IN ('invoice', 'credit_note', 'declaration', 'aftercare', 'reminder')",
                           name=op.f('ck_document_sendings_kind_known')),
        sa.CheckConstraint("status IN ('sent', 'failed')", name=op.f('ck_document_sendings_status_known')),
        sa.CheckConstraint('attempts >= 1', name=op.f('ck_document_sendings_attempts_positive')),
        sa.CheckConstraint("status <> 'sent' OR sent_at IS NOT NULL", name=op.f('ck_document_sendings_sent_has_time')),
        sa.CheckConstraint(
            "(kind IN ('invoice', 'declaration', 'reminder') AND invoice_id IS NOT NULL) "
            "OR (kind = 'credit_note' AND credit_note_id IS NOT NULL AND invoice_id IS NOT NULL) "
            "OR (kind = 'aftercare' AND treatment_id IS NOT NULL)",
            name=op.f('ck_document_sendings_document_named')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_document_sendings_patient_id_patients')),
        sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_document_sendings_invoice_id_invoices')),
        sa.ForeignKeyConstraint(['credit_note_id'], ['credit_notes.id'],
                                name=op.f('fk_document_sendings_credit_note_id_credit_notes')),
        sa.ForeignKeyConstraint(['treatment_id'], ['treatments.id'],
                                name=op.f('fk_document_sendings_treatment_id_treatments')),
        sa.ForeignKeyConstraint(['sent_by_id'], ['users.id'], name=op.f('fk_document_sendings_sent_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_document_sendings')),
    )
    op.create_index('ix_document_sendings_invoice_id_created_at', 'document_sendings',
                    ['invoice_id', 'created_at'], unique=False)
    op.create_index('ix_document_sendings_treatment_id_created_at', 'document_sendings',
                    ['treatment_id', 'created_at'], unique=False)
    op.create_index('ix_document_sendings_patient_id_created_at', 'document_sendings',
                    ['patient_id', 'created_at'], unique=False)
    op.create_table(
        'message_templates',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('kind', sa.String(length=30), nullable=False),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('updated_by_id', sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('invoice', 'credit_note', 'declaration', 'aftercare', 'reminder_friendly', 'reminder_formal')",
            name=op.f('ck_message_templates_kind_known')),
        sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_message_templates_updated_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_message_templates')),
        sa.UniqueConstraint('kind', name=op.f('uq_message_templates_kind')),
    )


def downgrade():
    op.drop_table('message_templates')
    op.drop_index('ix_document_sendings_patient_id_created_at', table_name='document_sendings')
    op.drop_index('ix_document_sendings_treatment_id_created_at', table_name='document_sendings')
    op.drop_index('ix_document_sendings_invoice_id_created_at', table_name='document_sendings')
    op.drop_table('document_sendings')
