"""invoices, credit notes and number series

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 13:24:26.403727

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


# Issued invoices, their lines and credit notes never change: besides the ORM guards in models.py, the database
# refuses UPDATE and DELETE (and new lines on an issued invoice). The same statements as models.py installs
# after create_all; a later migration that rebuilds one of these tables on SQLite must create them again.
DOCUMENT_GUARDS = {
    "sqlite": [
        "CREATE TRIGGER invoices_issued_no_update BEFORE UPDATE ON invoices WHEN OLD.status = 'issued' BEGIN SELECT RAISE(ABORT, 'an issued invoice cannot be changed or deleted: issue a credit note'); END",
        "CREATE TRIGGER invoices_issued_no_delete BEFORE DELETE ON invoices WHEN OLD.status = 'issued' BEGIN SELECT RAISE(ABORT, 'an issued invoice cannot be changed or deleted: issue a credit note'); END",
        "CREATE TRIGGER invoice_lines_issued_no_insert BEFORE INSERT ON invoice_lines WHEN (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'issued' BEGIN SELECT RAISE(ABORT, 'the lines of an issued invoice cannot be changed or deleted'); END",
        "CREATE TRIGGER invoice_lines_issued_no_update BEFORE UPDATE ON invoice_lines WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued' OR (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'issued' BEGIN SELECT RAISE(ABORT, 'the lines of an issued invoice cannot be changed or deleted'); END",
        "CREATE TRIGGER invoice_lines_issued_no_delete BEFORE DELETE ON invoice_lines WHEN (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued' BEGIN SELECT RAISE(ABORT, 'the lines of an issued invoice cannot be changed or deleted'); END",
        "CREATE TRIGGER credit_notes_no_update BEFORE UPDATE ON credit_notes BEGIN SELECT RAISE(ABORT, 'a credit note cannot be changed or deleted'); END",
        "CREATE TRIGGER credit_notes_no_delete BEFORE DELETE ON credit_notes BEGIN SELECT RAISE(ABORT, 'a credit note cannot be changed or deleted'); END",
        "CREATE TRIGGER credit_note_lines_no_update BEFORE UPDATE ON credit_note_lines BEGIN SELECT RAISE(ABORT, 'a credit note cannot be changed or deleted'); END",
        "CREATE TRIGGER credit_note_lines_no_delete BEFORE DELETE ON credit_note_lines BEGIN SELECT RAISE(ABORT, 'a credit note cannot be changed or deleted'); END",
    ],
    "postgresql": [
        "CREATE FUNCTION invoice_issued_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'an issued invoice cannot be changed or deleted: issue a credit note'; END $$",
        "CREATE TRIGGER invoices_issued_no_change BEFORE UPDATE OR DELETE ON invoices FOR EACH ROW WHEN (OLD.status = 'issued') EXECUTE FUNCTION invoice_issued_immutable()",
        "CREATE FUNCTION invoice_line_issued_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' AND (SELECT status FROM invoices WHERE id = OLD.invoice_id) = 'issued' OR TG_OP <> 'DELETE' AND (SELECT status FROM invoices WHERE id = NEW.invoice_id) = 'issued' THEN RAISE EXCEPTION 'the lines of an issued invoice cannot be changed or deleted'; END IF; IF TG_OP = 'DELETE' THEN RETURN OLD; END IF; RETURN NEW; END $$",
        'CREATE TRIGGER invoice_lines_issued_no_change BEFORE INSERT OR UPDATE OR DELETE ON invoice_lines FOR EACH ROW EXECUTE FUNCTION invoice_line_issued_immutable()',
        "CREATE FUNCTION credit_note_immutable() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'a credit note cannot be changed or deleted'; END $$",
        'CREATE TRIGGER credit_notes_no_change BEFORE UPDATE OR DELETE ON credit_notes FOR EACH ROW EXECUTE FUNCTION credit_note_immutable()',
        'CREATE TRIGGER credit_note_lines_no_change BEFORE UPDATE OR DELETE ON credit_note_lines FOR EACH ROW EXECUTE FUNCTION credit_note_immutable()',
    ],
}
DROP_GUARDS = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS invoices_issued_no_update",
        "DROP TRIGGER IF EXISTS invoices_issued_no_delete",
        "DROP TRIGGER IF EXISTS invoice_lines_issued_no_insert",
        "DROP TRIGGER IF EXISTS invoice_lines_issued_no_update",
        "DROP TRIGGER IF EXISTS invoice_lines_issued_no_delete",
        "DROP TRIGGER IF EXISTS credit_notes_no_update",
        "DROP TRIGGER IF EXISTS credit_notes_no_delete",
        "DROP TRIGGER IF EXISTS credit_note_lines_no_update",
        "DROP TRIGGER IF EXISTS credit_note_lines_no_delete",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS invoices_issued_no_change ON invoices",
        "DROP TRIGGER IF EXISTS invoice_lines_issued_no_change ON invoice_lines",
        "DROP TRIGGER IF EXISTS credit_notes_no_change ON credit_notes",
        "DROP TRIGGER IF EXISTS credit_note_lines_no_change ON credit_note_lines",
        "DROP FUNCTION IF EXISTS invoice_issued_immutable()",
        "DROP FUNCTION IF EXISTS invoice_line_issued_immutable()",
        "DROP FUNCTION IF EXISTS credit_note_immutable()",
    ],
}


def upgrade():
    # ### commands auto generated by Alembic - please adjust! ###
    op.create_table('number_series',
    sa.Column('name', sa.String(length=40), nullable=False),
    sa.Column('next_value', sa.Integer(), nullable=False),
    sa.CheckConstraint('next_value >= 1', name=op.f('ck_number_series_next_value_positive')),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_number_series'))
    )
    op.create_table('invoices',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('patient_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=10), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=True),
    sa.Column('series_year', sa.Integer(), nullable=True),
    sa.Column('sequence', sa.Integer(), nullable=True),
    sa.Column('issue_date', sa.Date(), nullable=True),
    sa.Column('due_date', sa.Date(), nullable=True),
    sa.Column('total_gross_cents', sa.Integer(), nullable=False),
    sa.Column('total_net_cents', sa.Integer(), nullable=False),
    sa.Column('total_vat_cents', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=True),
    sa.Column('pdf', sa.LargeBinary(), nullable=True),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=True),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('issued_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("(status = 'draft' AND number IS NULL) OR (status = 'issued' AND number IS NOT NULL AND issue_date IS NOT NULL AND due_date IS NOT NULL AND pdf_sha256 IS NOT NULL)", name=op.f('ck_invoices_issued_complete')),
    sa.CheckConstraint("status IN ('draft', 'issued')", name=op.f('ck_invoices_status_known')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_invoices_created_by_id_users')),
    sa.ForeignKeyConstraint(['issued_by_id'], ['users.id'], name=op.f('fk_invoices_issued_by_id_users')),
    sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_invoices_patient_id_patients')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoices')),
    sa.UniqueConstraint('number', name=op.f('uq_invoices_number')),
    sa.UniqueConstraint('series_year', 'sequence', name='uq_invoices_series_year_sequence')
    )
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoices_issue_date'), ['issue_date'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoices_patient_id'), ['patient_id'], unique=False)
        batch_op.create_index('ix_invoices_status_due_date', ['status', 'due_date'], unique=False)

    op.create_table('credit_notes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('series_year', sa.Integer(), nullable=False),
    sa.Column('sequence', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('issue_date', sa.Date(), nullable=False),
    sa.Column('reason', sa.Text(), nullable=False),
    sa.Column('total_gross_cents', sa.Integer(), nullable=False),
    sa.Column('total_net_cents', sa.Integer(), nullable=False),
    sa.Column('total_vat_cents', sa.Integer(), nullable=False),
    sa.Column('snapshot', sa.JSON(), nullable=False),
    sa.Column('pdf', sa.LargeBinary(), nullable=False),
    sa.Column('pdf_sha256', sa.String(length=64), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('total_gross_cents <= 0', name=op.f('ck_credit_notes_total_not_positive')),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_credit_notes_created_by_id_users')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_credit_notes_invoice_id_invoices')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_notes')),
    sa.UniqueConstraint('number', name=op.f('uq_credit_notes_number')),
    sa.UniqueConstraint('series_year', 'sequence', name='uq_credit_notes_series_year_sequence')
    )
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_notes_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_credit_notes_issue_date'), ['issue_date'], unique=False)

    op.create_table('payments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('paid_on', sa.Date(), nullable=False),
    sa.Column('method', sa.String(length=20), nullable=False),
    sa.Column('amount_cents', sa.Integer(), nullable=False),
    sa.Column('note', sa.String(length=200), nullable=False),
    sa.Column('recorded_by_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("method IN ('bank_transfer', 'pin', 'cash', 'ideal', 'credit_card', 'other')", name=op.f('ck_payments_method_known')),
    sa.CheckConstraint('amount_cents <> 0', name=op.f('ck_payments_amount_not_zero')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_payments_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'], name=op.f('fk_payments_recorded_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_payments'))
    )
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_payments_invoice_id'), ['invoice_id'], unique=False)

    op.create_table('invoice_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('invoice_id', sa.Integer(), nullable=False),
    sa.Column('treatment_id', sa.Integer(), nullable=False),
    sa.Column('treatment_date', sa.Date(), nullable=False),
    sa.Column('description', sa.String(length=200), nullable=False),
    sa.Column('prestatiecode', sa.String(length=10), nullable=False),
    sa.Column('indication', sa.String(length=100), nullable=False),
    sa.Column('medical', sa.Boolean(), nullable=False),
    sa.Column('reimbursable', sa.Boolean(), nullable=False),
    sa.Column('quantity', sa.Integer(), nullable=False),
    sa.Column('gross_cents', sa.Integer(), nullable=False),
    sa.Column('net_cents', sa.Integer(), nullable=False),
    sa.Column('vat_cents', sa.Integer(), nullable=False),
    sa.Column('vat_rate', sa.Integer(), nullable=False),
    sa.Column('vat_exemption', sa.String(length=200), nullable=False),
    sa.Column('therapist_name', sa.String(length=200), nullable=False),
    sa.Column('therapist_agb', sa.String(length=8), nullable=False),
    sa.Column('technique', sa.String(length=100), nullable=False),
    sa.Column('body_area', sa.String(length=100), nullable=False),
    sa.Column('referral', sa.Text(), nullable=False),
    sa.Column('insurer_amount_cents', sa.Integer(), nullable=False),
    sa.CheckConstraint('net_cents + vat_cents = gross_cents', name=op.f('ck_invoice_lines_amounts_add_up')),
    sa.CheckConstraint('vat_rate >= 0', name=op.f('ck_invoice_lines_vat_rate_not_negative')),
    sa.ForeignKeyConstraint(['invoice_id'], ['invoices.id'], name=op.f('fk_invoice_lines_invoice_id_invoices')),
    sa.ForeignKeyConstraint(['treatment_id'], ['treatments.id'], name=op.f('fk_invoice_lines_treatment_id_treatments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_invoice_lines'))
    )
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_invoice_lines_invoice_id'), ['invoice_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_invoice_lines_treatment_id'), ['treatment_id'], unique=False)

    op.create_table('credit_note_lines',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('credit_note_id', sa.Integer(), nullable=False),
    sa.Column('invoice_line_id', sa.Integer(), nullable=False),
    sa.Column('gross_cents', sa.Integer(), nullable=False),
    sa.Column('net_cents', sa.Integer(), nullable=False),
    sa.Column('vat_cents', sa.Integer(), nullable=False),
    sa.Column('vat_rate', sa.Integer(), nullable=False),
    sa.CheckConstraint('net_cents + vat_cents = gross_cents', name=op.f('ck_credit_note_lines_amounts_add_up')),
    sa.ForeignKeyConstraint(['credit_note_id'], ['credit_notes.id'], name=op.f('fk_credit_note_lines_credit_note_id_credit_notes')),
    sa.ForeignKeyConstraint(['invoice_line_id'], ['invoice_lines.id'], name=op.f('fk_credit_note_lines_invoice_line_id_invoice_lines')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_note_lines')),
    sa.UniqueConstraint('invoice_line_id', name=op.f('uq_credit_note_lines_invoice_line_id'))
    )
    with op.batch_alter_table('credit_note_lines', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_note_lines_credit_note_id'), ['credit_note_id'], unique=False)

    op.create_table('invoiced_treatments',
    sa.Column('treatment_id', sa.Integer(), nullable=False),
    sa.Column('invoice_line_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['invoice_line_id'], ['invoice_lines.id'], name=op.f('fk_invoiced_treatments_invoice_line_id_invoice_lines')),
    sa.ForeignKeyConstraint(['treatment_id'], ['treatments.id'], name=op.f('fk_invoiced_treatments_treatment_id_treatments')),
    sa.PrimaryKeyConstraint('treatment_id', name=op.f('pk_invoiced_treatments')),
    sa.UniqueConstraint('invoice_line_id', name=op.f('uq_invoiced_treatments_invoice_line_id'))
    )
    # ### end Alembic commands ###
    for statement in DOCUMENT_GUARDS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    for statement in DROP_GUARDS.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    # ### commands auto generated by Alembic - please adjust! ###
    op.drop_table('invoiced_treatments')
    with op.batch_alter_table('credit_note_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_note_lines_credit_note_id'))

    op.drop_table('credit_note_lines')
    with op.batch_alter_table('invoice_lines', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_invoice_lines_treatment_id'))
        batch_op.drop_index(batch_op.f('ix_invoice_lines_invoice_id'))

    op.drop_table('invoice_lines')
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_payments_invoice_id'))

    op.drop_table('payments')
    with op.batch_alter_table('credit_notes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_credit_notes_issue_date'))
        batch_op.drop_index(batch_op.f('ix_credit_notes_invoice_id'))

    op.drop_table('credit_notes')
    with op.batch_alter_table('invoices', schema=None) as batch_op:
        batch_op.drop_index('ix_invoices_status_due_date')
        batch_op.drop_index(batch_op.f('ix_invoices_patient_id'))
        batch_op.drop_index(batch_op.f('ix_invoices_issue_date'))

    op.drop_table('invoices')
    op.drop_table('number_series')
    # ### end Alembic commands ###
