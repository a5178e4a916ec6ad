"""aftercare texts per technique and catalogue item

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 08:15:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('aftercare_texts',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('topic', sa.String(length=30), nullable=True),
    sa.Column('catalogue_item_id', sa.Integer(), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('expectations', sa.Text(), nullable=False),
    sa.Column('instructions', sa.Text(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("topic IN ('fractional_laser', 'laser_hair_removal', 'ipl', 'electrolysis', "
                       "'camouflage_lesson', 'lymph_drainage', 'peel', 'acne_treatment', 'general') "
                       "OR topic IS NULL", name=op.f('ck_aftercare_texts_topic_known')),
    sa.CheckConstraint('(topic IS NULL) <> (catalogue_item_id IS NULL)', name=op.f('ck_aftercare_texts_topic_or_item')),
    sa.ForeignKeyConstraint(['catalogue_item_id'], ['catalogue_items.id'], name=op.f('fk_aftercare_texts_catalogue_item_id_catalogue_items')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_aftercare_texts_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_aftercare_texts')),
    sa.UniqueConstraint('catalogue_item_id', name=op.f('uq_aftercare_texts_catalogue_item_id')),
    sa.UniqueConstraint('topic', name=op.f('uq_aftercare_texts_topic'))
    )
    # No rows: a topic without a stored text prints the default of backoffice/domain/aftercare.py.


def downgrade():
    op.drop_table('aftercare_texts')
