"""access log: hash chain (prev_hash, row_hash)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05 17:40:00.000000

The entries already in the log are chained here, in id order, with the application's key (ACCESS_LOG_KEY, else
derived from SECRET_KEY: run `flask db upgrade` with the same settings as the app). The chain vouches for them only
from now on: a change made before this upgrade cannot be seen.
"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None

BATCH = 1000
# Frozen copies of the SQLite update guard (models/guards.py, migration 0001): lifted while the chain is filled in.
SQLITE_UPDATE_GUARD = ("CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
                       "BEGIN SELECT RAISE(ABORT, 'access_log is append-only'); END")


def _fill_chain():
    from flask import current_app

    from backoffice.audit_chain import GENESIS, HASHED_FIELDS, chain_key, row_hash

    key = chain_key(current_app.config)
    bind = op.get_bind()
    log = sa.table('access_log', sa.column('id', sa.Integer), sa.column('prev_hash', sa.String),
                   sa.column('row_hash', sa.String), sa.column('at', sa.DateTime(timezone=True)),
                   *(sa.column(name) for name in HASHED_FIELDS if name != 'at'))
    update = (sa.update(log).where(log.c.id == sa.bindparam('entry_id'))
              .values(prev_hash=sa.bindparam('new_prev'), row_hash=sa.bindparam('new_hash')))
    prev, after = GENESIS, 0
    while True:
        rows = bind.execute(sa.select(log).where(log.c.id > after).order_by(log.c.id).limit(BATCH)).all()
        if not rows:
            return
        changes = []
        for row in rows:
            digest = row_hash(key, row._mapping, prev)
            changes.append({'entry_id': row.id, 'new_prev': prev, 'new_hash': digest})
            prev = digest
        bind.execute(update, changes)
        after = rows[-1].id


def upgrade():
    op.add_column('access_log', sa.Column('prev_hash', sa.String(length=64), server_default='', nullable=False))
    op.add_column('access_log', sa.Column('row_hash', sa.String(length=64), server_default='', nullable=False))
    # The append-only guard refuses the UPDATE that fills in the chain: lifted for it, inside this transaction.
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('DROP TRIGGER access_log_no_update')
        _fill_chain()
        op.execute(SQLITE_UPDATE_GUARD)
    else:
        op.execute('ALTER TABLE access_log DISABLE TRIGGER access_log_no_change')
        _fill_chain()
        op.execute('ALTER TABLE access_log ENABLE TRIGGER access_log_no_change')


def downgrade():
    # Added columns only, dropped in place (SQLite >= 3.35): a rebuild would drop the table's triggers.
    op.drop_column('access_log', 'row_hash')
    op.drop_column('access_log', 'prev_hash')
