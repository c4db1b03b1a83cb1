"""desk_told: what a ticket's customer was told of a desk refund or waiver, one row per ticket and
reference (a unique key: of concurrent "Tell the customer" requests only the one that inserts it sends)

Revision ID: e4c7a9f2b180
Revises: 3b8e51d0c6fa
Create Date: 2026-12-15 09:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = 'e4c7a9f2b180'
down_revision: Union[str, None] = '3b8e51d0c6fa'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('desk_told',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=40), nullable=False),
    sa.Column('agent_id', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['agent_id'], ['agents.id'], ),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('ticket_id', 'reference', name='uq_desk_told_ticket_reference')
    )


def downgrade() -> None:
    op.drop_table('desk_told')
