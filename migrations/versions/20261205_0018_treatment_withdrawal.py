"""treatments: withdrawn (recorded in error) instead of deleted

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 11:40:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

# The report summary's triggers on treatments, before this revision: a withdrawal must empty the summary too, so
# the UPDATE trigger now also fires on withdrawn_at (models/guards.py REPORT_FACTS_SOURCES).
REPORT_INDEX = ('treatment_date', 'therapist_id', 'medical', 'catalogue_item_id', 'indication', 'patient_id')
OLD_COLUMNS = ("treatment_date", "patient_id", "therapist_id", "catalogue_item_id", "indication", "medical")


def _triggers(columns=None):
    """The treatments' summary triggers: as guards.py builds them now, or with `columns` (the earlier ones)."""
    from backoffice.models import guards

    dialect = op.get_bind().dialect.name
    if columns is None:
        return guards.report_facts_trigger_statements('treatments', dialect)
    build = {"sqlite": guards._sqlite_report_facts_triggers, "postgresql": guards._postgres_report_facts_triggers}
    [(_name, events, _columns, rules)] = [s for s in guards.REPORT_FACTS_SOURCES if s[0] == 'treatments']
    return build[dialect]('treatments', events, f" OF {', '.join(columns)}", rules)


def _drop_triggers():
    if op.get_bind().dialect.name == 'sqlite':
        for event in ('insert', 'update', 'delete'):
            op.execute(f'DROP TRIGGER IF EXISTS report_facts_treatments_{event}')
    else:
        op.execute('DROP TRIGGER IF EXISTS report_facts_treatments ON treatments')
        op.execute('DROP FUNCTION IF EXISTS report_facts_treatments()')


def upgrade():
    # Added columns only (SQLite takes the foreign key only inline; a rebuild would drop the table's triggers).
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('ALTER TABLE treatments ADD COLUMN withdrawn_at DATETIME')
        op.execute('ALTER TABLE treatments ADD COLUMN withdrawn_by_id INTEGER '
                   'CONSTRAINT fk_treatments_withdrawn_by_id_users REFERENCES users (id)')
        op.execute('ALTER TABLE treatments ADD COLUMN withdrawn_reason TEXT')
    else:
        op.add_column('treatments', sa.Column('withdrawn_at', sa.DateTime(timezone=True), nullable=True))
        op.add_column('treatments', sa.Column('withdrawn_by_id', sa.Integer(), nullable=True))
        op.add_column('treatments', sa.Column('withdrawn_reason', sa.Text(), nullable=True))
        op.create_foreign_key(op.f('fk_treatments_withdrawn_by_id_users'), 'treatments', 'users',
                              ['withdrawn_by_id'], ['id'])
    _drop_triggers()
    for statement in _triggers():
        op.execute(statement)
    # The monthly report's covering index also carries withdrawn_at (a withdrawn treatment is not counted).
    op.drop_index('ix_treatments_report', table_name='treatments')
    op.create_index('ix_treatments_report', 'treatments', [*REPORT_INDEX, 'withdrawn_at'], unique=False)


def downgrade():
    op.drop_index('ix_treatments_report', table_name='treatments')
    op.create_index('ix_treatments_report', 'treatments', list(REPORT_INDEX), unique=False)
    _drop_triggers()
    if op.get_bind().dialect.name == 'sqlite':
        # SQLite drops a column with a foreign key only by rebuilding the table; its only triggers are the summary
        # triggers, put back below.
        with op.batch_alter_table('treatments', schema=None, recreate='always') as batch_op:
            batch_op.drop_column('withdrawn_reason')
            batch_op.drop_column('withdrawn_by_id')
            batch_op.drop_column('withdrawn_at')
    else:
        op.drop_constraint(op.f('fk_treatments_withdrawn_by_id_users'), 'treatments', type_='foreignkey')
        op.drop_column('treatments', 'withdrawn_reason')
        op.drop_column('treatments', 'withdrawn_by_id')
        op.drop_column('treatments', 'withdrawn_at')
    for statement in _triggers(OLD_COLUMNS):
        op.execute(statement)
