"""seen marks (what a website customer has seen) and reply notices (agent replies settled for email)

Revision ID: 9d2f6c1b7e4a
Revises: 460163be84b3
Create Date: 2026-12-10 09:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '9d2f6c1b7e4a'
down_revision: Union[str, None] = '460163be84b3'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('seen_marks',
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('seen_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('conversation_id')
    )
    op.create_table('reply_notices',
    sa.Column('ticket_id', sa.Integer(), nullable=False),
    sa.Column('through_event_id', sa.Integer(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name='fk_reply_notices_ticket_id_tickets'),
    sa.PrimaryKeyConstraint('ticket_id')
    )


def downgrade() -> None:
    op.drop_table('reply_notices')
    op.drop_table('seen_marks')
