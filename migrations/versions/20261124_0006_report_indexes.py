"""report indexes and the dashboard's summary table

Covering indexes for the monthly report's aggregation queries (issued invoices by status and issue date, invoice
lines by invoice with the amounts and by treatment date, treatments by date with the grouping columns, payments
and credit notes by invoice and date; the three single-column invoice_id indexes they start with are dropped),
the dashboard's summary table report_facts, and the triggers that empty its rows in the same transaction as any
write they were read from (the same statements as models.py installs after create_all; tests/test_reporting.py
checks they agree).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-24 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


REPORT_FACTS_TRIGGERS = {
    "sqlite": [
        "CREATE TRIGGER report_facts_treatments_insert AFTER INSERT ON treatments BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'treatments' AND as_of >= NEW.treatment_date AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(i.issue_date) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE l.treatment_id = NEW.id AND i.status = 'issued') AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(n.issue_date) FROM invoice_lines l JOIN credit_note_lines c ON c.invoice_line_id = l.id JOIN credit_notes n ON n.id = c.credit_note_id WHERE l.treatment_id = NEW.id) AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(treatment_date) FROM invoice_lines WHERE treatment_id = NEW.id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_treatments_update AFTER UPDATE OF treatment_date, patient_id, therapist_id, catalogue_item_id, indication, medical ON treatments BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'treatments' AND as_of >= OLD.treatment_date AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(i.issue_date) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE l.treatment_id = OLD.id AND i.status = 'issued') AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(n.issue_date) FROM invoice_lines l JOIN credit_note_lines c ON c.invoice_line_id = l.id JOIN credit_notes n ON n.id = c.credit_note_id WHERE l.treatment_id = OLD.id) AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(treatment_date) FROM invoice_lines WHERE treatment_id = OLD.id) AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'treatments' AND as_of >= NEW.treatment_date AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(i.issue_date) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE l.treatment_id = NEW.id AND i.status = 'issued') AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(n.issue_date) FROM invoice_lines l JOIN credit_note_lines c ON c.invoice_line_id = l.id JOIN credit_notes n ON n.id = c.credit_note_id WHERE l.treatment_id = NEW.id) AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(treatment_date) FROM invoice_lines WHERE treatment_id = NEW.id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_treatments_delete AFTER DELETE ON treatments BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'treatments' AND as_of >= OLD.treatment_date AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(i.issue_date) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE l.treatment_id = OLD.id AND i.status = 'issued') AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(n.issue_date) FROM invoice_lines l JOIN credit_note_lines c ON c.invoice_line_id = l.id JOIN credit_notes n ON n.id = c.credit_note_id WHERE l.treatment_id = OLD.id) AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(treatment_date) FROM invoice_lines WHERE treatment_id = OLD.id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_invoices_insert AFTER INSERT ON invoices BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= CASE WHEN NEW.status = 'issued' THEN NEW.issue_date END AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= CASE WHEN NEW.status = 'issued' THEN NEW.issue_date END AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = date(NEW.issue_date, 'start of month'); END",
        "CREATE TRIGGER report_facts_invoices_update AFTER UPDATE OF status, issue_date, due_date, total_gross_cents ON invoices BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= CASE WHEN OLD.status = 'issued' THEN OLD.issue_date END AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= CASE WHEN OLD.status = 'issued' THEN OLD.issue_date END AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = date(OLD.issue_date, 'start of month'); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= CASE WHEN NEW.status = 'issued' THEN NEW.issue_date END AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= CASE WHEN NEW.status = 'issued' THEN NEW.issue_date END AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = date(NEW.issue_date, 'start of month'); END",
        "CREATE TRIGGER report_facts_credit_notes_insert AFTER INSERT ON credit_notes BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= NEW.issue_date AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= NEW.issue_date AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = date((SELECT issue_date FROM invoices WHERE id = NEW.invoice_id), 'start of month'); END",
        "CREATE TRIGGER report_facts_credit_note_lines_insert AFTER INSERT ON credit_note_lines BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT issue_date FROM credit_notes WHERE id = NEW.credit_note_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_payments_insert AFTER INSERT ON payments BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= NEW.paid_on AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = date((SELECT issue_date FROM invoices WHERE id = NEW.invoice_id), 'start of month'); END",
        "CREATE TRIGGER report_facts_payments_update AFTER UPDATE OF invoice_id, paid_on, amount_cents ON payments BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= OLD.paid_on AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = date((SELECT issue_date FROM invoices WHERE id = OLD.invoice_id), 'start of month'); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= NEW.paid_on AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = date((SELECT issue_date FROM invoices WHERE id = NEW.invoice_id), 'start of month'); END",
        "CREATE TRIGGER report_facts_payments_delete AFTER DELETE ON payments BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= OLD.paid_on AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = date((SELECT issue_date FROM invoices WHERE id = OLD.invoice_id), 'start of month'); END",
        "CREATE TRIGGER report_facts_claim_batches_update AFTER UPDATE OF insurer_id, status, submitted_at ON claim_batches BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(l.treatment_date) FROM claim_lines c JOIN invoice_lines l ON l.id = c.invoice_line_id WHERE c.batch_id = OLD.id) AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(l.treatment_date) FROM claim_lines c JOIN invoice_lines l ON l.id = c.invoice_line_id WHERE c.batch_id = NEW.id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_claim_batches_delete AFTER DELETE ON claim_batches BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(l.treatment_date) FROM claim_lines c JOIN invoice_lines l ON l.id = c.invoice_line_id WHERE c.batch_id = OLD.id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_claim_lines_insert AFTER INSERT ON claim_lines BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = NEW.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_claim_lines_update AFTER UPDATE OF batch_id, invoice_line_id, included, status, claimed_cents, paid_cents, rejection_code, rejection_text, outcome_at ON claim_lines BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = OLD.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = NEW.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_claim_lines_delete AFTER DELETE ON claim_lines BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = OLD.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_patient_claims_insert AFTER INSERT ON patient_claims BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = NEW.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_patient_claims_update AFTER UPDATE OF invoice_line_id, insurer_id, status, claimed_cents, paid_cents, submitted_on, paid_on, rejection_code, rejection_text ON patient_claims BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = OLD.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = NEW.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
        "CREATE TRIGGER report_facts_patient_claims_delete AFTER DELETE ON patient_claims BEGIN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = OLD.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END",
    ],
    "postgresql": [
        "CREATE FUNCTION report_facts_treatments() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'treatments' AND as_of >= OLD.treatment_date AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(i.issue_date) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE l.treatment_id = OLD.id AND i.status = 'issued') AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(n.issue_date) FROM invoice_lines l JOIN credit_note_lines c ON c.invoice_line_id = l.id JOIN credit_notes n ON n.id = c.credit_note_id WHERE l.treatment_id = OLD.id) AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(treatment_date) FROM invoice_lines WHERE treatment_id = OLD.id) AND (facts IS NOT NULL OR claim IS NOT NULL); END IF; IF TG_OP <> 'DELETE' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'treatments' AND as_of >= NEW.treatment_date AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(i.issue_date) FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id WHERE l.treatment_id = NEW.id AND i.status = 'issued') AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT min(n.issue_date) FROM invoice_lines l JOIN credit_note_lines c ON c.invoice_line_id = l.id JOIN credit_notes n ON n.id = c.credit_note_id WHERE l.treatment_id = NEW.id) AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(treatment_date) FROM invoice_lines WHERE treatment_id = NEW.id) AND (facts IS NOT NULL OR claim IS NOT NULL); END IF; RETURN NULL; END $$",
        "CREATE TRIGGER report_facts_treatments AFTER INSERT OR UPDATE OF treatment_date, patient_id, therapist_id, catalogue_item_id, indication, medical OR DELETE ON treatments FOR EACH ROW EXECUTE FUNCTION report_facts_treatments()",
        "CREATE FUNCTION report_facts_invoices() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= CASE WHEN OLD.status = 'issued' THEN OLD.issue_date END AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= CASE WHEN OLD.status = 'issued' THEN OLD.issue_date END AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = CAST(date_trunc('month', OLD.issue_date) AS date); END IF; IF TG_OP <> 'DELETE' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= CASE WHEN NEW.status = 'issued' THEN NEW.issue_date END AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= CASE WHEN NEW.status = 'issued' THEN NEW.issue_date END AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = CAST(date_trunc('month', NEW.issue_date) AS date); END IF; RETURN NULL; END $$",
        "CREATE TRIGGER report_facts_invoices AFTER INSERT OR UPDATE OF status, issue_date, due_date, total_gross_cents ON invoices FOR EACH ROW EXECUTE FUNCTION report_facts_invoices()",
        "CREATE FUNCTION report_facts_credit_notes() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= OLD.issue_date AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= OLD.issue_date AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = CAST(date_trunc('month', (SELECT issue_date FROM invoices WHERE id = OLD.invoice_id)) AS date); END IF; IF TG_OP <> 'DELETE' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= NEW.issue_date AND (facts IS NOT NULL OR claim IS NOT NULL); UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= NEW.issue_date AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = CAST(date_trunc('month', (SELECT issue_date FROM invoices WHERE id = NEW.invoice_id)) AS date); END IF; RETURN NULL; END $$",
        "CREATE TRIGGER report_facts_credit_notes AFTER INSERT ON credit_notes FOR EACH ROW EXECUTE FUNCTION report_facts_credit_notes()",
        "CREATE FUNCTION report_facts_credit_note_lines() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT issue_date FROM credit_notes WHERE id = OLD.credit_note_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END IF; IF TG_OP <> 'DELETE' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'revenue' AND as_of >= (SELECT issue_date FROM credit_notes WHERE id = NEW.credit_note_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END IF; RETURN NULL; END $$",
        "CREATE TRIGGER report_facts_credit_note_lines AFTER INSERT ON credit_note_lines FOR EACH ROW EXECUTE FUNCTION report_facts_credit_note_lines()",
        "CREATE FUNCTION report_facts_payments() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= OLD.paid_on AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = CAST(date_trunc('month', (SELECT issue_date FROM invoices WHERE id = OLD.invoice_id)) AS date); END IF; IF TG_OP <> 'DELETE' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'receivables' AND as_of >= NEW.paid_on AND (facts IS NOT NULL OR claim IS NOT NULL) AND month = CAST(date_trunc('month', (SELECT issue_date FROM invoices WHERE id = NEW.invoice_id)) AS date); END IF; RETURN NULL; END $$",
        "CREATE TRIGGER report_facts_payments AFTER INSERT OR UPDATE OF invoice_id, paid_on, amount_cents OR DELETE ON payments FOR EACH ROW EXECUTE FUNCTION report_facts_payments()",
        "CREATE FUNCTION report_facts_claim_batches() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(l.treatment_date) FROM claim_lines c JOIN invoice_lines l ON l.id = c.invoice_line_id WHERE c.batch_id = OLD.id) AND (facts IS NOT NULL OR claim IS NOT NULL); END IF; IF TG_OP <> 'DELETE' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT min(l.treatment_date) FROM claim_lines c JOIN invoice_lines l ON l.id = c.invoice_line_id WHERE c.batch_id = NEW.id) AND (facts IS NOT NULL OR claim IS NOT NULL); END IF; RETURN NULL; END $$",
        "CREATE TRIGGER report_facts_claim_batches AFTER UPDATE OF insurer_id, status, submitted_at OR DELETE ON claim_batches FOR EACH ROW EXECUTE FUNCTION report_facts_claim_batches()",
        "CREATE FUNCTION report_facts_claim_lines() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = OLD.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END IF; IF TG_OP <> 'DELETE' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = NEW.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END IF; RETURN NULL; END $$",
        "CREATE TRIGGER report_facts_claim_lines AFTER INSERT OR UPDATE OF batch_id, invoice_line_id, included, status, claimed_cents, paid_cents, rejection_code, rejection_text, outcome_at OR DELETE ON claim_lines FOR EACH ROW EXECUTE FUNCTION report_facts_claim_lines()",
        "CREATE FUNCTION report_facts_patient_claims() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF TG_OP <> 'INSERT' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = OLD.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END IF; IF TG_OP <> 'DELETE' THEN UPDATE report_facts SET facts = NULL, claim = NULL WHERE family = 'claims' AND as_of >= (SELECT treatment_date FROM invoice_lines WHERE id = NEW.invoice_line_id) AND (facts IS NOT NULL OR claim IS NOT NULL); END IF; RETURN NULL; END $$",
        "CREATE TRIGGER report_facts_patient_claims AFTER INSERT OR UPDATE OF invoice_line_id, insurer_id, status, claimed_cents, paid_cents, submitted_on, paid_on, rejection_code, rejection_text OR DELETE ON patient_claims FOR EACH ROW EXECUTE FUNCTION report_facts_patient_claims()",
    ],
}
DROP_REPORT_FACTS_TRIGGERS = {
    "sqlite": [
        "DROP TRIGGER IF EXISTS report_facts_treatments_insert",
        "DROP TRIGGER IF EXISTS report_facts_treatments_update",
        "DROP TRIGGER IF EXISTS report_facts_treatments_delete",
        "DROP TRIGGER IF EXISTS report_facts_invoices_insert",
        "DROP TRIGGER IF EXISTS report_facts_invoices_update",
        "DROP TRIGGER IF EXISTS report_facts_credit_notes_insert",
        "DROP TRIGGER IF EXISTS report_facts_credit_note_lines_insert",
        "DROP TRIGGER IF EXISTS report_facts_payments_insert",
        "DROP TRIGGER IF EXISTS report_facts_payments_update",
        "DROP TRIGGER IF EXISTS report_facts_payments_delete",
        "DROP TRIGGER IF EXISTS report_facts_claim_batches_update",
        "DROP TRIGGER IF EXISTS report_facts_claim_batches_delete",
        "DROP TRIGGER IF EXISTS report_facts_claim_lines_insert",
        "DROP TRIGGER IF EXISTS report_facts_claim_lines_update",
        "DROP TRIGGER IF EXISTS report_facts_claim_lines_delete",
        "DROP TRIGGER IF EXISTS report_facts_patient_claims_insert",
        "DROP TRIGGER IF EXISTS report_facts_patient_claims_update",
        "DROP TRIGGER IF EXISTS report_facts_patient_claims_delete",
    ],
    "postgresql": [
        "DROP TRIGGER IF EXISTS report_facts_treatments ON treatments",
        "DROP TRIGGER IF EXISTS report_facts_invoices ON invoices",
        "DROP TRIGGER IF EXISTS report_facts_credit_notes ON credit_notes",
        "DROP TRIGGER IF EXISTS report_facts_credit_note_lines ON credit_note_lines",
        "DROP TRIGGER IF EXISTS report_facts_payments ON payments",
        "DROP TRIGGER IF EXISTS report_facts_claim_batches ON claim_batches",
        "DROP TRIGGER IF EXISTS report_facts_claim_lines ON claim_lines",
        "DROP TRIGGER IF EXISTS report_facts_patient_claims ON patient_claims",
        "DROP FUNCTION IF EXISTS report_facts_treatments()",
        "DROP FUNCTION IF EXISTS report_facts_invoices()",
        "DROP FUNCTION IF EXISTS report_facts_credit_notes()",
        "DROP FUNCTION IF EXISTS report_facts_credit_note_lines()",
        "DROP FUNCTION IF EXISTS report_facts_payments()",
        "DROP FUNCTION IF EXISTS report_facts_claim_batches()",
        "DROP FUNCTION IF EXISTS report_facts_claim_lines()",
        "DROP FUNCTION IF EXISTS report_facts_patient_claims()",
    ],
}


def upgrade():
    op.drop_index('ix_invoice_lines_invoice_id', table_name='invoice_lines')
    op.drop_index('ix_credit_notes_invoice_id', table_name='credit_notes')
    op.drop_index('ix_payments_invoice_id', table_name='payments')
    op.create_index('ix_treatments_report', 'treatments',
                    ['treatment_date', 'therapist_id', 'medical', 'catalogue_item_id', 'indication', 'patient_id'],
                    unique=False)
    op.create_index('ix_invoices_report', 'invoices', ['status', 'issue_date', 'due_date', 'total_gross_cents'],
                    unique=False)
    op.create_index('ix_invoice_lines_report', 'invoice_lines',
                    ['invoice_id', 'medical', 'vat_rate', 'gross_cents', 'net_cents', 'vat_cents', 'treatment_id'],
                    unique=False)
    op.create_index('ix_invoice_lines_treatment_date', 'invoice_lines', ['treatment_date', 'treatment_id'],
                    unique=False)
    op.create_index('ix_credit_notes_invoice_id_issue_date', 'credit_notes',
                    ['invoice_id', 'issue_date', 'total_gross_cents'], unique=False)
    op.create_index('ix_payments_invoice_id_paid_on', 'payments', ['invoice_id', 'paid_on', 'amount_cents'],
                    unique=False)
    op.create_table('report_facts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('family', sa.String(length=12), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('as_of', sa.Date(), nullable=False),
    sa.Column('facts', sa.JSON(none_as_null=True), nullable=True),
    sa.Column('claim', sa.String(length=32), nullable=True),
    sa.Column('computed_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("family IN ('revenue', 'treatments', 'claims', 'receivables')", name=op.f('ck_report_facts_family_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_report_facts')),
    sa.UniqueConstraint('family', 'month', 'as_of', name='uq_report_facts_family_month_as_of')
    )
    op.create_index('ix_report_facts_as_of', 'report_facts', ['as_of'], unique=False)
    for statement in REPORT_FACTS_TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    for statement in DROP_REPORT_FACTS_TRIGGERS.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    op.drop_index('ix_report_facts_as_of', table_name='report_facts')
    op.drop_table('report_facts')
    op.drop_index('ix_payments_invoice_id_paid_on', table_name='payments')
    op.drop_index('ix_credit_notes_invoice_id_issue_date', table_name='credit_notes')
    op.drop_index('ix_invoice_lines_treatment_date', table_name='invoice_lines')
    op.drop_index('ix_invoice_lines_report', table_name='invoice_lines')
    op.drop_index('ix_invoices_report', table_name='invoices')
    op.drop_index('ix_treatments_report', table_name='treatments')
    op.create_index('ix_payments_invoice_id', 'payments', ['invoice_id'], unique=False)
    op.create_index('ix_credit_notes_invoice_id', 'credit_notes', ['invoice_id'], unique=False)
    op.create_index('ix_invoice_lines_invoice_id', 'invoice_lines', ['invoice_id'], unique=False)
