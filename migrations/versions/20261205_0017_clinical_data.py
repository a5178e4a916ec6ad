"""techniques, indications and contraindications as data

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 11:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None

# Before this revision a CHECK kept these columns to the built-in codes; the tables below now hold the codes, so
# an indication or technique the practice adds can be stored.
OLD_TECHNIQUE_CHECK = ("technique IN ('fractional_laser', 'laser_hair_removal', 'ipl', 'electrolysis', "
                       "'camouflage_lesson', 'lymph_drainage', 'peel', 'other') OR technique IS NULL")
OLD_INDICATION_CHECK = ("indication IN ('acne_scar', 'burn_scar', 'surgical_scar', 'trauma_scar', 'acne', 'hirsutism', "
                        "'hypertrichosis', 'pcos', 'camouflage', 'oedema', 'fine_lines', 'coarse_pores', 'sun_damage', "
                        "'skin_firming', 'ageing_prevention', 'cosmetic_hair_removal')")
# The report summary's UPDATE trigger on treatments as revision 0016 left it (0018 replaces it).
TREATMENT_TRIGGER_COLUMNS = ("treatment_date", "patient_id", "therapist_id", "catalogue_item_id", "indication",
                             "medical")


def _treatment_triggers():
    from backoffice.models import guards

    dialect = op.get_bind().dialect.name
    build = {"sqlite": guards._sqlite_report_facts_triggers, "postgresql": guards._postgres_report_facts_triggers}
    [(_name, events, _columns, rules)] = [s for s in guards.REPORT_FACTS_SOURCES if s[0] == 'treatments']
    return build[dialect]('treatments', events, f" OF {', '.join(TREATMENT_TRIGGER_COLUMNS)}", rules)


def _sqlite_foreign_keys(on):
    """A rebuild drops the old table while other tables' rows refer to it: SQLite must not check foreign keys
    meanwhile, and takes that switch only outside a transaction."""
    with op.get_context().autocommit_block():
        op.execute(f"PRAGMA foreign_keys = {'ON' if on else 'OFF'}")


def _replace_check(table, name, expression):
    """Drop (expression None) or put back a CHECK. SQLite changes a CHECK only by rebuilding the table, which drops
    its triggers: the treatments' report summary triggers are put back afterwards."""
    if op.get_bind().dialect.name == 'sqlite':
        _sqlite_foreign_keys(False)
        try:
            with op.batch_alter_table(table, schema=None, recreate='always') as batch_op:
                if expression is None:
                    batch_op.drop_constraint(op.f(name), type_='check')
                else:
                    batch_op.create_check_constraint(op.f(name), sa.text(expression))
            if table == 'treatments':
                for statement in _treatment_triggers():
                    op.execute(statement)
        finally:
            _sqlite_foreign_keys(True)
        return
    if expression is None:
        op.drop_constraint(op.f(name), table, type_='check')
    else:
        op.create_check_constraint(op.f(name), table, sa.text(expression))


def upgrade():
    op.create_table('techniques',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('minimum_age', sa.Integer(), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint('minimum_age IS NULL OR (minimum_age >= 0 AND minimum_age <= 120)',
                       name=op.f('ck_techniques_minimum_age_range')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_techniques')),
    sa.UniqueConstraint('code', name=op.f('uq_techniques_code'))
    )
    op.create_table('indications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=30), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("category IN ('scars', 'acne', 'hair_removal', 'camouflage', 'oedema', 'cosmetic')",
                       name=op.f('ck_indications_category_known')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indications')),
    sa.UniqueConstraint('code', name=op.f('uq_indications_code'))
    )
    op.create_table('contraindications',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('medication', sa.Boolean(), nullable=False),
    sa.Column('area_bound', sa.Boolean(), nullable=False),
    sa.Column('rule', sa.String(length=20), nullable=False),
    sa.Column('wait_amount', sa.Integer(), nullable=True),
    sa.Column('wait_unit', sa.String(length=10), nullable=True),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.CheckConstraint("rule IN ('blocks', 'wait_after_end')", name=op.f('ck_contraindications_rule_known')),
    sa.CheckConstraint("wait_unit IN ('days', 'weeks', 'months', 'years') OR wait_unit IS NULL",
                       name=op.f('ck_contraindications_wait_unit_known')),
    sa.CheckConstraint("(rule = 'wait_after_end') = (wait_amount IS NOT NULL AND wait_unit IS NOT NULL)",
                       name=op.f('ck_contraindications_wait_with_its_rule')),
    sa.CheckConstraint('wait_amount IS NULL OR wait_amount > 0', name=op.f('ck_contraindications_wait_positive')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contraindications')),
    sa.UniqueConstraint('code', name=op.f('uq_contraindications_code'))
    )
    op.create_table('indication_techniques',
    sa.Column('indication_id', sa.Integer(), nullable=False),
    sa.Column('technique_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['indication_id'], ['indications.id'],
                            name=op.f('fk_indication_techniques_indication_id_indications')),
    sa.ForeignKeyConstraint(['technique_id'], ['techniques.id'],
                            name=op.f('fk_indication_techniques_technique_id_techniques')),
    sa.PrimaryKeyConstraint('indication_id', 'technique_id', name=op.f('pk_indication_techniques'))
    )
    op.create_table('contraindication_techniques',
    sa.Column('contraindication_id', sa.Integer(), nullable=False),
    sa.Column('technique_id', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['contraindication_id'], ['contraindications.id'],
                            name=op.f('fk_contraindication_techniques_contraindication_id_contraindications')),
    sa.ForeignKeyConstraint(['technique_id'], ['techniques.id'],
                            name=op.f('fk_contraindication_techniques_technique_id_techniques')),
    sa.PrimaryKeyConstraint('contraindication_id', 'technique_id', name=op.f('pk_contraindication_techniques'))
    )
    # Today's built-in set, as `create_all` seeds it (models/clinical.py): every existing code stays valid.
    from backoffice.models.clinical import seed_table

    for table in ('techniques', 'indications', 'contraindications', 'indication_techniques',
                  'contraindication_techniques'):
        seed_table(table, op.get_bind())
    _replace_check('catalogue_items', 'ck_catalogue_items_technique_known', None)
    _replace_check('treatments', 'ck_treatments_indication_known', None)


def downgrade():
    # Only possible while every treatment and catalogue item uses a built-in code (the CHECK refuses the others).
    _replace_check('treatments', 'ck_treatments_indication_known', OLD_INDICATION_CHECK)
    _replace_check('catalogue_items', 'ck_catalogue_items_technique_known', OLD_TECHNIQUE_CHECK)
    op.drop_table('contraindication_techniques')
    op.drop_table('indication_techniques')
    op.drop_table('contraindications')
    op.drop_table('indications')
    op.drop_table('techniques')
