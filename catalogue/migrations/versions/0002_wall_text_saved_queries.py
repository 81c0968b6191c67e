"""wall text on artworks; saved queries

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 20:45:00
"""
import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('artwork', schema=None) as batch_op:
        batch_op.add_column(sa.Column('artist', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('year', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('medium', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('wall_text', sa.Text(), server_default='', nullable=False))
    op.create_table('saved_query',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('text', sa.Text(), nullable=True),
    sa.Column('filters', sa.JSON(), nullable=False),
    sa.Column('limit', sa.Integer(), nullable=True),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.Column('updated', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('name')
    )


def downgrade() -> None:
    op.drop_table('saved_query')
    with op.batch_alter_table('artwork', schema=None) as batch_op:
        batch_op.drop_column('wall_text')
        batch_op.drop_column('medium')
        batch_op.drop_column('year')
        batch_op.drop_column('artist')
