"""follow-ups (asking later whether a case worked out, late-order notices) and order watches

Revision ID: 460163be84b3
Revises: 5bc5328894ed
Create Date: 2026-12-02 17:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision: str = '460163be84b3'
down_revision: Union[str, None] = '5bc5328894ed'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    op.create_table('order_watches',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('channel', sa.String(length=40), nullable=True),
    sa.Column('late_when_asked', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name='fk_order_watches_order_id_orders'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('order_id', 'conversation_id', name='uq_order_watches_order_conversation')
    )
    op.create_index(op.f('ix_order_watches_created_at'), 'order_watches', ['created_at'], unique=False)
    op.create_index(op.f('ix_order_watches_order_id'), 'order_watches', ['order_id'], unique=False)
    op.create_table('follow_ups',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('case_key', sa.String(length=60), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('conversation_id', sa.String(length=128), nullable=False),
    sa.Column('decision_id', sa.Integer(), nullable=True),
    sa.Column('ticket_id', sa.Integer(), nullable=True),
    sa.Column('order_id', sa.Integer(), nullable=True),
    sa.Column('case_at', sa.DateTime(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('due_at', sa.DateTime(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('channel', sa.String(length=40), nullable=True),
    sa.Column('sent_at', sa.DateTime(), nullable=True),
    sa.Column('not_sent_reason', sa.String(length=40), nullable=True),
    sa.Column('outcome', sa.String(length=16), nullable=True),
    sa.Column('answered_at', sa.DateTime(), nullable=True),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('resolved', 'not_resolved', 'no_answer')",
                       name='ck_follow_up_outcome'),
    sa.CheckConstraint("status IN ('scheduled', 'sent', 'not_sent')", name='ck_follow_up_status'),
    sa.ForeignKeyConstraint(['decision_id'], ['decisions.id'], name='fk_follow_ups_decision_id_decisions'),
    sa.ForeignKeyConstraint(['order_id'], ['orders.id'], name='fk_follow_ups_order_id_orders'),
    sa.ForeignKeyConstraint(['ticket_id'], ['tickets.id'], name='fk_follow_ups_ticket_id_tickets'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('case_key')
    )
    op.create_index(op.f('ix_follow_ups_conversation_id'), 'follow_ups', ['conversation_id'], unique=False)
    op.create_index(op.f('ix_follow_ups_due_at'), 'follow_ups', ['due_at'], unique=False)
    op.create_index(op.f('ix_follow_ups_kind'), 'follow_ups', ['kind'], unique=False)
    op.create_index('ix_follow_ups_status_next_attempt_at', 'follow_ups', ['status', 'next_attempt_at'], unique=False)


def downgrade() -> None:
    op.drop_index('ix_follow_ups_status_next_attempt_at', table_name='follow_ups')
    op.drop_index(op.f('ix_follow_ups_kind'), table_name='follow_ups')
    op.drop_index(op.f('ix_follow_ups_due_at'), table_name='follow_ups')
    op.drop_index(op.f('ix_follow_ups_conversation_id'), table_name='follow_ups')
    op.drop_table('follow_ups')
    op.drop_index(op.f('ix_order_watches_order_id'), table_name='order_watches')
    op.drop_index(op.f('ix_order_watches_created_at'), table_name='order_watches')
    op.drop_table('order_watches')
