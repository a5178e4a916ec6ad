"""stacked reimbursement rules, more rule data, prior authorisations, rule parts per treatment

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 11:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None

SESSION_PERIODS = "session_period IN ('calendar_year', 'policy_year', 'lifetime', 'per_referral')"
REFERRER_KINDS = "referrer_kind IN ('any', 'gp', 'specialist')"
PACKAGE_KINDS = "kind IN ('basic', 'supplementary')"


def upgrade():
    # Packages: basic insurance or a supplementary package (every existing one is supplementary).
    with op.batch_alter_table('packages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=20), nullable=False, server_default='supplementary'))
        batch_op.create_check_constraint(batch_op.f('ck_packages_kind_known'), sa.text(PACKAGE_KINDS))

    # Coverage rules: added columns, and the percentage with two decimals (82.50).
    with op.batch_alter_table('coverage_rules', schema=None) as batch_op:
        batch_op.alter_column('percentage', existing_type=sa.Integer(), type_=sa.Numeric(precision=5, scale=2),
                              existing_nullable=False)
        batch_op.add_column(sa.Column('priority', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('applies_after_rule_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('from_treatment_number', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('authorisation_required', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('max_per_treatment_cents', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('session_period', sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column('min_age', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('max_age', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('referrer_kind', sa.String(length=20), nullable=False, server_default='any'))
        batch_op.add_column(sa.Column('referral_valid_months', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('referral_indication_must_match', sa.Boolean(), nullable=False,
                                      server_default=sa.false()))
        batch_op.add_column(sa.Column('nvh_required', sa.Boolean(), nullable=False, server_default=sa.true()))
        batch_op.add_column(sa.Column('techniques', sa.JSON(), nullable=True))
        batch_op.create_foreign_key(batch_op.f('fk_coverage_rules_applies_after_rule_id_coverage_rules'),
                                    'coverage_rules', ['applies_after_rule_id'], ['id'])
        batch_op.create_check_constraint(batch_op.f('ck_coverage_rules_session_period_known'),
                                         sa.text(SESSION_PERIODS + ' OR session_period IS NULL'))
        batch_op.create_check_constraint(batch_op.f('ck_coverage_rules_referrer_kind_known'),
                                         sa.text(REFERRER_KINDS))
        batch_op.create_check_constraint(batch_op.f('ck_coverage_rules_max_per_treatment_not_negative'),
                                         sa.text('max_per_treatment_cents IS NULL OR max_per_treatment_cents >= 0'))
        batch_op.create_check_constraint(batch_op.f('ck_coverage_rules_from_treatment_number_positive'),
                                         sa.text('from_treatment_number IS NULL OR from_treatment_number >= 1'))
        batch_op.create_check_constraint(batch_op.f('ck_coverage_rules_ages_ordered'),
                                         sa.text('min_age IS NULL OR max_age IS NULL OR min_age <= max_age'))
    op.execute("UPDATE coverage_rules SET techniques = '[]'")
    with op.batch_alter_table('coverage_rules', schema=None) as batch_op:
        batch_op.alter_column('techniques', existing_type=sa.JSON(), nullable=False)

    # Referrals: the indication the referrer refers for (added in place: no rebuild).
    op.add_column('referrals', sa.Column('indication', sa.String(length=40), nullable=True))

    op.create_table(
        'prior_authorisations',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('patient_id', sa.Integer(), nullable=False),
        sa.Column('insurer_id', sa.Integer(), nullable=False),
        sa.Column('number', sa.String(length=40), nullable=False),
        sa.Column('valid_from', sa.Date(), nullable=False),
        sa.Column('valid_until', sa.Date(), nullable=False),
        sa.Column('indications', sa.JSON(), nullable=False),
        sa.Column('max_treatments', sa.Integer(), nullable=True),
        sa.Column('notes', sa.Text(), nullable=False),
        sa.Column('recorded_by_id', sa.Integer(), nullable=True),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('withdrawn_by_id', sa.Integer(), nullable=True),
        sa.Column('withdrawn_reason', sa.Text(), nullable=True),
        sa.CheckConstraint('valid_until >= valid_from', name=op.f('ck_prior_authorisations_period_ordered')),
        sa.CheckConstraint('max_treatments IS NULL OR max_treatments > 0',
                           name=op.f('ck_prior_authorisations_max_treatments_positive')),
        sa.ForeignKeyConstraint(['patient_id'], ['patients.id'], name=op.f('fk_prior_authorisations_patient_id_patients')),
        sa.ForeignKeyConstraint(['insurer_id'], ['insurers.id'], name=op.f('fk_prior_authorisations_insurer_id_insurers')),
        sa.ForeignKeyConstraint(['recorded_by_id'], ['users.id'],
                                name=op.f('fk_prior_authorisations_recorded_by_id_users')),
        sa.ForeignKeyConstraint(['withdrawn_by_id'], ['users.id'],
                                name=op.f('fk_prior_authorisations_withdrawn_by_id_users')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_prior_authorisations')),
    )
    with op.batch_alter_table('prior_authorisations', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_prior_authorisations_patient_id'), ['patient_id'], unique=False)

    op.create_table(
        'treatment_rule_parts',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('treatment_id', sa.Integer(), nullable=False),
        sa.Column('coverage_rule_id', sa.Integer(), nullable=True),
        sa.Column('position', sa.Integer(), nullable=False),
        sa.Column('cap_group', sa.String(length=100), nullable=False),
        sa.Column('insurer_amount_cents', sa.Integer(), nullable=False),
        sa.Column('own_risk', sa.Boolean(), nullable=False),
        sa.Column('authorisation_number', sa.String(length=40), nullable=False),
        sa.CheckConstraint('insurer_amount_cents >= 0', name=op.f('ck_treatment_rule_parts_amount_not_negative')),
        sa.ForeignKeyConstraint(['treatment_id'], ['treatments.id'],
                                name=op.f('fk_treatment_rule_parts_treatment_id_treatments')),
        sa.ForeignKeyConstraint(['coverage_rule_id'], ['coverage_rules.id'],
                                name=op.f('fk_treatment_rule_parts_coverage_rule_id_coverage_rules')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_treatment_rule_parts')),
    )
    with op.batch_alter_table('treatment_rule_parts', schema=None) as batch_op:
        batch_op.create_index('ix_treatment_rule_parts_treatment_id_cap_group',
                              ['treatment_id', 'cap_group', 'insurer_amount_cents'], unique=False)
    # Every treatment assessed before rules stacked had one rule: its part is what it took from its cap.
    op.execute(
        "INSERT INTO treatment_rule_parts (treatment_id, coverage_rule_id, position, cap_group, "
        "insurer_amount_cents, own_risk, authorisation_number) "
        "SELECT id, coverage_rule_id, 0, cap_group, insurer_amount_cents, false, '' FROM treatments "
        "WHERE reimbursable = true AND cap_group IS NOT NULL"
    )


def downgrade():
    op.drop_table('treatment_rule_parts')
    op.drop_table('prior_authorisations')
    # Dropped in place (SQLite >= 3.35 too): a rebuild would drop the referrals' triggers, if any.
    op.execute('ALTER TABLE referrals DROP COLUMN indication')
    with op.batch_alter_table('coverage_rules', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_coverage_rules_ages_ordered'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_coverage_rules_from_treatment_number_positive'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_coverage_rules_max_per_treatment_not_negative'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_coverage_rules_referrer_kind_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('ck_coverage_rules_session_period_known'), type_='check')
        batch_op.drop_constraint(batch_op.f('fk_coverage_rules_applies_after_rule_id_coverage_rules'),
                                 type_='foreignkey')
        for column in ('techniques', 'nvh_required', 'referral_indication_must_match', 'referral_valid_months',
                       'referrer_kind', 'max_age', 'min_age', 'session_period', 'max_per_treatment_cents',
                       'authorisation_required', 'from_treatment_number', 'applies_after_rule_id', 'priority'):
            batch_op.drop_column(column)
        batch_op.alter_column('percentage', existing_type=sa.Numeric(precision=5, scale=2), type_=sa.Integer(),
                              existing_nullable=False, postgresql_using='round(percentage)::integer')
    with op.batch_alter_table('packages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_packages_kind_known'), type_='check')
        batch_op.drop_column('kind')
